"""The api in process, talking to a real in-process pricing gRPC server (no Docker)."""

import asyncio
import socket
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.events import Fanout, PublishError
from api.identity import HOSTNAME
from api.main import app
from api.settings import settings
from order_events.model import OrderPlaced
from pricing.server import build_server


@pytest.fixture(scope="module")
def pricing_port() -> Iterator[int]:
    server = build_server()
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield port
    server.stop(grace=None)


@pytest.fixture
def client(pricing_port: int, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setattr(settings, "pricing_target", f"127.0.0.1:{pricing_port}")
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def client_without_pricing(monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    # A loopback port held (bound, not listening) so nothing can answer on it.
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        monkeypatch.setattr(settings, "pricing_target", f"127.0.0.1:{unused.getsockname()[1]}")
        monkeypatch.setattr(settings, "pricing_timeout_s", 0.5)
        with TestClient(app, raise_server_exceptions=False) as test_client:
            yield test_client


def test_quote_goes_through_grpc(client: TestClient) -> None:
    response = client.post("/quotes", json={"sku": "BOOK-42", "quantity": 3})
    assert response.status_code == 200
    body = response.json()
    assert body["total_cents"] == 3 * body["unit_price_cents"]
    assert body["served_by"] == HOSTNAME
    assert body["priced_by"]
    assert response.headers["x-served-by"] == HOSTNAME


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"sku": "no spaces", "quantity": 1}, "sku"),
        ({"sku": "BOOK-42", "quantity": 0}, "quantity"),
        ({"sku": "BOOK-42", "quantity": 1001}, "quantity"),
        ({"sku": "BOOK-42", "quantity": "many"}, "quantity"),
        ({"sku": "BOOK-42"}, "quantity"),
        ({"sku": "BOOK-42", "quantity": 1, "discount": 50}, "discount"),
    ],
)
def test_invalid_bodies_get_422_with_the_field(
    client: TestClient, payload: dict[str, object], field: str
) -> None:
    response = client.post("/quotes", json=payload)
    assert response.status_code == 422
    assert field in {str(part) for error in response.json()["detail"] for part in error["loc"]}


@pytest.mark.parametrize("raw", [b"{not json", b"", b"[]", b"null", "\u00ff".encode("latin-1")])
def test_malformed_json_gets_4xx_with_a_reason(client: TestClient, raw: bytes) -> None:
    response = client.post("/quotes", content=raw, headers={"content-type": "application/json"})
    assert response.status_code in {400, 422}
    assert response.json()["detail"]


def test_readyz_reports_pricing(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"pricing": "SERVING"}}


def test_pricing_down_is_503_not_500(client_without_pricing: TestClient) -> None:
    assert client_without_pricing.get("/healthz").status_code == 200
    ready = client_without_pricing.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["pricing"] in {"UNAVAILABLE", "DEADLINE_EXCEEDED"}
    quote = client_without_pricing.post("/quotes", json={"sku": "BOOK-42", "quantity": 1})
    assert quote.status_code in {503, 504}
    assert quote.json()["detail"].startswith("pricing:")


def test_whoami_echoes_forwarded_headers(client: TestClient) -> None:
    response = client.get("/whoami", headers={"X-Forwarded-For": "203.0.113.9"})
    body = response.json()
    assert body["hostname"] == HOSTNAME
    assert body["pid"] > 0
    assert body["headers"]["x-forwarded-for"] == "203.0.113.9"
    assert isinstance(body["peer_port"], int)


def test_openapi_documents_the_resources(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/healthz", "/readyz", "/whoami", "/quotes", "/delay"} <= set(paths)


def test_delay_sleeps_only_on_the_named_replica(client: TestClient) -> None:
    assert client.get("/delay", params={"ms": 20, "only": HOSTNAME}).json() == {
        "hostname": HOSTNAME,
        "slept_ms": 20,
    }
    elsewhere = client.get("/delay", params={"ms": 20, "only": "some-other-replica"})
    assert elsewhere.json()["slept_ms"] == 0
    assert client.get("/delay", params={"ms": 5}).json()["slept_ms"] == 5


@pytest.mark.parametrize(
    ("params", "field"),
    [({"ms": -1}, "ms"), ({"ms": 5001}, "ms"), ({"ms": "soon"}, "ms"), ({"only": "a b/c"}, "only")],
)
def test_delay_rejects_bad_parameters_with_422(
    client: TestClient, params: dict[str, object], field: str
) -> None:
    response = client.get("/delay", params=params)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", field]


class RecordingSink:
    """Stands in for a broker in unit tests: records events, or fails like a broker that is down."""

    def __init__(self, name: str, fail: bool = False) -> None:
        self.name, self.fail, self.events = name, fail, []

    async def publish(self, event: object) -> None:
        if self.fail:
            raise PublishError(f"{self.name} is restarting")
        self.events.append(event)

    async def close(self) -> None:
        pass


def use_sinks(client: TestClient, *sinks: RecordingSink) -> None:
    client.app.state.events = Fanout(list(sinks))


def test_the_fanout_publishes_each_event_to_every_broker() -> None:
    rabbit, kafka = RecordingSink("rabbitmq"), RecordingSink("kafka")
    event = OrderPlaced(order_id="O-0123456789ab", customer_id="C-001", sequence=1,
                        amount_cents=1999)  # fmt: skip
    outcome = asyncio.run(Fanout([rabbit, kafka]).publish(event))
    assert outcome == {"rabbitmq": "confirmed", "kafka": "confirmed"}
    assert rabbit.events == kafka.events == [event]


def test_the_fanout_names_the_broker_that_did_not_confirm() -> None:
    event = OrderPlaced(order_id="O-0123456789ab", customer_id="C-001", sequence=1,
                        amount_cents=1999)  # fmt: skip
    fanout = Fanout([RecordingSink("rabbitmq"), RecordingSink("kafka", fail=True)])
    outcome = asyncio.run(fanout.publish(event))
    assert outcome == {"rabbitmq": "confirmed", "kafka": "failed: kafka is restarting"}


def test_orders_without_a_database_are_a_503_saying_so(client: TestClient) -> None:
    # Orders live in PostgreSQL (tests/integration/test_orders.py has the real one);
    # an api told of none answers 503 with the reason, and publishes nothing.
    sink = RecordingSink("rabbitmq")
    use_sinks(client, sink)
    body = {"customer_id": "C-001", "sequence": 1, "amount_cents": 1999}
    response = client.post("/orders", json=body)
    assert response.status_code == 503
    assert "API_DATABASE_URL" in response.json()["detail"]
    assert client.get("/orders/O-0123456789ab").status_code == 503
    assert sink.events == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"customer_id": "bob", "sequence": 1, "amount_cents": 1}, "customer_id"),
        ({"customer_id": "C-001", "sequence": 0, "amount_cents": 1}, "sequence"),
        ({"customer_id": "C-001", "sequence": 1, "amount_cents": 0}, "amount_cents"),
        ({"customer_id": "C-001", "sequence": 1, "amount_cents": 1, "coupon": "x"}, "coupon"),
    ],
)
def test_invalid_orders_get_422_and_publish_nothing(
    client: TestClient, body: dict[str, object], field: str
) -> None:
    sink = RecordingSink("rabbitmq")
    use_sinks(client, sink)
    response = client.post("/orders", json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == field
    assert sink.events == []


@pytest.mark.parametrize("key", ["not-a-uuid", "spaces are not allowed here", "x" * 65])
def test_a_malformed_idempotency_key_is_400_with_the_published_format(
    client: TestClient, key: str
) -> None:
    # draft-ietf-httpapi-idempotency-key-header-06, section 5: validate the key's format.
    body = {"customer_id": "C-001", "sequence": 1, "amount_cents": 1}
    response = client.post("/orders", json=body, headers={"Idempotency-Key": key})
    assert response.status_code == 400
    assert "16 to 64" in response.json()["detail"]
