"""A replica that crashes comes back by itself and serves again (restart: unless-stopped)."""

import os
import signal
import time

import httpx
import pytest
from testcontainers.compose import DockerCompose

from comms_sandbox import docker

RECOVERY_S = 60


def crash_from_outside(name: str) -> None:
    """SIGKILL to the replica's process from the host, as the kernel's OOM killer would."""
    pid = int(docker.inspect(name, "{{.State.Pid}}"))
    # Docker says 0 for a container that is not running, and kill(0) would SIGKILL
    # this test's own process group (make, pytest, the other test lane).
    assert pid > 0, f"{name} is not running: no process to crash"
    os.kill(pid, signal.SIGKILL)


def crash_from_inside(name: str) -> None:
    """The process ends itself (PID 1 ignores SIGKILL sent from inside its namespace)."""
    docker.exec_python(name, "import os, signal; os.kill(1, signal.SIGTERM)")


def serves_again(proxy: httpx.Client, hostname: str) -> bool:
    """Within RECOVERY_S, a request through nginx is answered by `hostname`."""
    deadline = time.monotonic() + RECOVERY_S
    while time.monotonic() < deadline:
        try:
            if proxy.get("/whoami").headers.get("x-served-by") == hostname:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False


CRASHES = {"outside": crash_from_outside, "inside": crash_from_inside}


@pytest.mark.parametrize("how", list(CRASHES))
def test_a_crashed_replica_restarts_and_rejoins_the_pool(
    stack: DockerCompose, proxy: httpx.Client, how: str
) -> None:
    replica = docker.containers("api")[-1]
    restarts = int(docker.inspect(replica.name, "{{.RestartCount}}"))
    CRASHES[how](replica.name)
    deadline = time.monotonic() + RECOVERY_S
    while int(docker.inspect(replica.name, "{{.RestartCount}}")) == restarts:
        assert time.monotonic() < deadline, f"{replica.name} was not restarted"
        time.sleep(0.2)
    docker.wait_healthy(replica.name, timeout_s=RECOVERY_S)
    assert serves_again(proxy, replica.hostname)
