"""The api's only gRPC dependency: a client for PricingService, with errors mapped to HTTP."""

import asyncio
import time
from dataclasses import dataclass

import grpc
from certificates import Folder
from fastapi import HTTPException, status
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sandbox.pricing.v1 import pricing_pb2, pricing_pb2_grpc
from telemetry import REQUEST_ID_HEADER, current_request_id

from api.resilience import (
    MAX_ATTEMPTS,
    NAIVE_ATTEMPTS,
    CircuitBreaker,
    RetryBudget,
    backoff_s,
)

# How long a channel replaced by a certificate rotation keeps serving the calls in flight.
ROTATION_GRACE_S = 10.0
CHECK_EVERY_S = 1.0  # how often a quote looks whether the certificate was re-issued

# Answers that say the request was wrong, not that pricing is unwell.
_NOT_PRICINGS_FAULT = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED}

# How a failed call to pricing reaches the HTTP client: the caller's own
# mistakes stay 4xx; a dependency that is down or slow is a 503/504, never a 500.
_HTTP_STATUS_FOR = {
    grpc.StatusCode.INVALID_ARGUMENT: status.HTTP_422_UNPROCESSABLE_CONTENT,
    grpc.StatusCode.DEADLINE_EXCEEDED: status.HTTP_504_GATEWAY_TIMEOUT,
    grpc.StatusCode.UNAVAILABLE: status.HTTP_503_SERVICE_UNAVAILABLE,
}


@dataclass(frozen=True)
class Quote:
    sku: str
    quantity: int
    unit_price_cents: int
    total_cents: int
    currency: str
    priced_by: str


class PricingClient:
    def __init__(
        self, target: str, timeout_s: float, resilience: str = "off", tls_dir: str = ""
    ) -> None:
        self._target = target
        # Lesson auth: this api's certificate and pricing's CA, re-issued by the host.
        self._certificate = Folder(tls_dir, CHECK_EVERY_S) if tls_dir else None
        self._retired: set[asyncio.Task[None]] = set()
        self._connect()
        self._timeout_s = timeout_s
        self.resilience = resilience
        self.breaker = CircuitBreaker("pricing")
        self.budget = RetryBudget()

    def _connect(self, files: tuple[bytes, bytes, bytes] | None = None) -> None:
        """A channel to pricing: plain, or mutual TLS with the folder's certificate
        (`files`, else as the folder holds them now)."""
        if self._certificate is None:
            self._channel = grpc.aio.insecure_channel(self._target)
        else:
            cert, key, ca = files or self._certificate.read()
            credentials = grpc.ssl_channel_credentials(
                root_certificates=ca, private_key=key, certificate_chain=cert
            )
            self._channel = grpc.aio.secure_channel(self._target, credentials)
        self._pricing = pricing_pb2_grpc.PricingServiceStub(self._channel)
        self._health = health_pb2_grpc.HealthStub(self._channel)

    def _follow_rotation(self) -> None:
        """A re-issued client certificate: new calls go on a new channel presenting it;
        the old channel closes once the calls in flight on it had time to end."""
        files = None if self._certificate is None else self._certificate.changed()
        if files is None:
            return
        old = self._channel
        self._connect(files)
        closing = asyncio.get_running_loop().create_task(old.close(grace=ROTATION_GRACE_S))
        self._retired.add(closing)
        closing.add_done_callback(self._retired.discard)

    async def quote(self, sku: str, quantity: int) -> Quote:
        self._follow_rotation()
        request = pricing_pb2.QuoteRequest(sku=sku, quantity=quantity)
        call = {"off": self._once, "naive": self._naive, "on": self._resilient}[self.resilience]
        try:
            reply = await call(request)
        except grpc.aio.AioRpcError as exc:
            raise _as_http_error(exc) from exc
        return Quote(
            sku=reply.sku,
            quantity=reply.quantity,
            unit_price_cents=reply.unit_price_cents,
            total_cents=reply.total_cents,
            currency=reply.currency,
            priced_by=reply.priced_by,
        )

    async def _once(
        self,
        request: pricing_pb2.QuoteRequest,
        timeout_s: float | None = None,
        wait_for_ready: bool = False,
    ) -> pricing_pb2.QuoteReply:
        return await self._pricing.Quote(
            request, timeout=timeout_s or self._timeout_s, metadata=_request_metadata(),
            wait_for_ready=wait_for_ready,
        )  # fmt: skip

    async def _naive(self, request: pricing_pb2.QuoteRequest) -> pricing_pb2.QuoteReply:
        """Up to NAIVE_ATTEMPTS at once, on any error: what not to do (the faults lesson).

        Each attempt waits for a connection (wait_for_ready) rather than failing
        in the client while the last one is torn down: every retry reaches pricing.
        """
        for attempt in range(1, NAIVE_ATTEMPTS + 1):
            try:
                return await self._once(request, wait_for_ready=True)
            except grpc.aio.AioRpcError:
                if attempt == NAIVE_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

    async def _resilient(self, request: pricing_pb2.QuoteRequest) -> pricing_pb2.QuoteReply:
        """Behind the breaker; retries of UNAVAILABLE with backoff, within budget and deadline."""
        deadline = time.monotonic() + self._timeout_s
        self.budget.earn()
        last_error: grpc.aio.AioRpcError | None = None
        for retry in range(MAX_ATTEMPTS):
            if not self.breaker.allow():
                if last_error is not None:  # it opened under this request: say what failed
                    raise last_error
                raise HTTPException(
                    status.HTTP_503_SERVICE_UNAVAILABLE,
                    detail="pricing: circuit open, not called (retry in a few seconds)",
                    headers={"X-Pricing-Breaker": self.breaker.state},
                )
            try:
                reply = await self._once(request, max(0.01, deadline - time.monotonic()))
            except grpc.aio.AioRpcError as exc:
                if exc.code() in _NOT_PRICINGS_FAULT:
                    self.breaker.succeeded()  # it answered: the caller's mistake
                    raise
                self.breaker.failed()
                wait = backoff_s(retry)
                retriable = exc.code() == grpc.StatusCode.UNAVAILABLE
                in_time = time.monotonic() + wait < deadline
                if not (retriable and in_time and retry + 1 < MAX_ATTEMPTS and self.budget.spend()):
                    raise
                last_error = exc
                await asyncio.sleep(wait)
                continue
            self.breaker.succeeded()
            return reply
        raise AssertionError("unreachable")

    async def health(self, timeout_s: float) -> str:
        """The health service's status name, or the gRPC error code when it cannot be asked."""
        try:
            reply = await self._health.Check(health_pb2.HealthCheckRequest(), timeout=timeout_s)
        except grpc.aio.AioRpcError as exc:
            return exc.code().name
        return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)

    async def close(self) -> None:
        await self._channel.close()


def _request_metadata() -> tuple[tuple[str, str], ...]:
    """This request's id as gRPC metadata: pricing logs and tags it too."""
    request_id = current_request_id.get()
    return ((REQUEST_ID_HEADER, request_id),) if request_id else ()


def _as_http_error(exc: grpc.aio.AioRpcError) -> HTTPException:
    code = exc.code()
    http_status = _HTTP_STATUS_FOR.get(code, status.HTTP_502_BAD_GATEWAY)
    return HTTPException(http_status, detail=f"pricing: {code.name}: {exc.details()}")
