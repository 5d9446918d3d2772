"""The lock files agree with pyproject.toml and with each other (no Docker, no network)."""

import tomllib

import pytest
from packaging.requirements import Requirement

from scripts.locks import HOST_LOCK, LOCKS, REPO, Lock, normalize, pinned

GROUPS = tomllib.loads((REPO / "pyproject.toml").read_text())["dependency-groups"]


def direct_requirements(group: str) -> list[Requirement]:
    requirements = []
    for item in GROUPS[group]:
        if isinstance(item, dict):  # {include-group = "..."}
            requirements += direct_requirements(item["include-group"])
        else:
            requirements.append(Requirement(item))
    return requirements


@pytest.mark.parametrize("lock", LOCKS, ids=lambda lock: lock.group)
def test_lock_pins_every_direct_requirement_within_its_specifier(lock: Lock) -> None:
    pins = pinned(lock.path)
    for requirement in direct_requirements(lock.group):
        name = normalize(requirement.name)
        assert name in pins, f"{lock.path} lacks {name}: run `make lock`"
        assert requirement.specifier.contains(pins[name]), (
            f"{lock.path} pins {name}=={pins[name]}, pyproject wants {requirement}: run `make lock`"
        )


@pytest.mark.parametrize("lock", LOCKS[1:], ids=lambda lock: lock.group)
def test_images_use_the_hosts_versions(lock: Lock) -> None:
    host = pinned(HOST_LOCK)
    assert {name: host.get(name) for name in pinned(lock.path)} == pinned(lock.path)


@pytest.mark.parametrize("lock", LOCKS, ids=lambda lock: lock.group)
def test_locks_are_hash_pinned_and_name_no_index(lock: Lock) -> None:
    text = (REPO / lock.path).read_text()
    assert "--hash=sha256:" in text
    assert "://" not in text
