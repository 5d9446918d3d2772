"""Container healthcheck: ask the standard gRPC health service whether pricing is SERVING.

The server asks itself (watch(), a thread in the server process) over a real
channel to its own port every few seconds and touches the heartbeat file when
the answer is SERVING; compose's check is then a bash `stat` of that file
(services/telemetry/healthcheck.sh). Starting a Python process that imports
grpc for every check cost about 0.15 core per replica on a 2-core machine.
`python -m pricing.healthcheck` still asks once, by hand.
"""

import os
import sys
import threading

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from telemetry.heartbeat import beat


def check(target: str, service: str = "", timeout: float = 1.5) -> bool:
    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
        except grpc.RpcError:
            return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


def watch(target: str, every_s: float = 2.0) -> threading.Thread:
    """A daemon thread that checks `target` every `every_s` and beats while it is SERVING."""

    def loop() -> None:
        while True:
            if check(target):
                beat()
            threading.Event().wait(every_s)

    thread = threading.Thread(target=loop, name="health-watch", daemon=True)
    thread.start()
    return thread


if __name__ == "__main__":
    sys.exit(0 if check(os.environ.get("PRICING_HEALTH_TARGET", "127.0.0.1:50051")) else 1)
