"""Liveness for services with no HTTP port of their own: a file touched by the working loop.

The consumers touch it each time their loop proves it is alive (a poll that
returned, a broker query that answered); compose's healthcheck
(telemetry/healthcheck.sh) fails when it is older than a few seconds.
"""

from pathlib import Path

HEARTBEAT = Path("/tmp/heartbeat")


def beat() -> None:
    HEARTBEAT.touch()
