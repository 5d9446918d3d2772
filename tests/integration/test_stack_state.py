"""`make test` destroys nothing it did not create: proven on a scratch Compose project.

The same StackState the session fixture uses, pointed at another project
name (COMPOSE_PROJECT_NAME wins over compose.yaml's name, as for Compose):
a volume with data made before survives; what the tests made goes.
"""

import subprocess
import uuid
from collections.abc import Iterator

import pytest
from testcontainers.compose import DockerCompose

from comms_sandbox.compose import compose
from comms_sandbox.stack_state import StackState, project_volumes

DATA = "published before the tests"


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True).stdout


def redis_image() -> str:
    """The Redis image compose.yaml resolves to here (upstream or built locally)."""
    images = compose("config", "--images", capture=True).stdout.split()
    return next(image for image in images if "redis" in image)


def labelled_volume(project: str, name: str) -> str:
    volume = f"{project}_{name}"
    docker("volume", "create", "--label", f"com.docker.compose.project={project}", volume)
    return volume


@pytest.fixture
def scratch(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    project = f"comms-sandbox-proof-{uuid.uuid4().hex[:6]}"
    monkeypatch.setenv("COMPOSE_PROJECT_NAME", project)
    yield project
    compose("down", "--volumes", "--remove-orphans", capture=True)
    for volume in project_volumes():
        subprocess.run(["docker", "volume", "rm", volume], capture_output=True, check=False)


def test_a_users_volume_and_its_data_survive_the_tests(stack: DockerCompose, scratch: str) -> None:
    image = redis_image()
    users = labelled_volume(scratch, "user-data")
    docker("run", "--rm", "-v", f"{users}:/data", "--user", "0", "--entrypoint", "sh", image,
           "-c", f"echo '{DATA}' > /data/kept")  # fmt: skip
    found = StackState.now()  # nothing runs, no containers: only the user's volume
    assert (found.running, found.stopped, found.volumes) == (False, False, frozenset({users}))

    # What a test session does: start something, make a volume of its own.
    assert compose("up", "--detach", "--no-build", "--wait", "redis", capture=True).returncode == 0
    ours = labelled_volume(scratch, "made-by-tests")
    found.restore()

    assert set(project_volumes()) == {users}  # ours is gone, the user's stays
    assert ours not in project_volumes()
    assert compose("ps", "--all", "--quiet", capture=True).stdout.strip() == ""
    kept = docker("run", "--rm", "-v", f"{users}:/data", "--entrypoint", "cat", image, "/data/kept")
    assert kept.strip() == DATA
