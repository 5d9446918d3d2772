"""The model the host reads without Docker (comms_sandbox/compose_model.py) is the one
Compose itself builds from compose.yaml, its includes and the templates."""

from __future__ import annotations

import json
from typing import Any

import pytest

from comms_sandbox.compose import compose, compose_file, profile_flags
from comms_sandbox.compose_model import with_defaults

# What the policy tests and the host's tools read: they must agree with Compose.
COMPARED = ("cap_drop", "read_only", "restart", "security_opt", "profiles", "tmpfs", "user",
            "network_mode", "hostname")  # fmt: skip


@pytest.fixture(scope="module")
def resolved() -> dict[str, Any]:
    result = compose(*profile_flags(), "config", "--format", "json", capture=True)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_same_services_networks_and_volumes(resolved: dict[str, Any]) -> None:
    ours = compose_file()
    assert set(ours["services"]) == set(resolved["services"])
    assert set(ours["networks"]) == set(resolved["networks"]) - {"default"}
    assert set(ours["volumes"]) == set(resolved["volumes"])
    assert set(ours["secrets"]) == set(resolved["secrets"])


def test_each_service_as_compose_resolves_it(resolved: dict[str, Any]) -> None:
    ours = compose_file()["services"]
    different = []
    for name, theirs in resolved["services"].items():
        mine = ours[name]
        for key in COMPARED:
            if key in theirs and with_defaults(mine.get(key)) != theirs[key]:
                different.append((name, key, mine.get(key), theirs[key]))
        networks = mine.get("networks", [])
        if "network_mode" not in theirs and sorted(networks) != sorted(theirs["networks"]):
            different.append((name, "networks", networks, theirs["networks"]))
        if sorted(mine.get("depends_on", {})) != sorted(theirs.get("depends_on", {})):
            different.append((name, "depends_on", mine.get("depends_on"), theirs["depends_on"]))
        if mine.get("healthcheck", {}).get("test") != theirs.get("healthcheck", {}).get("test"):
            different.append((name, "healthcheck", mine.get("healthcheck"), theirs["healthcheck"]))
        if mine["logging"] != theirs["logging"]:
            different.append((name, "logging", mine["logging"], theirs["logging"]))
    assert not different, different
