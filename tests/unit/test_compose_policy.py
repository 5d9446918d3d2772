"""compose.yaml keeps the sandbox's promises: health, ordering, loopback-only ports (no Docker)."""

from pathlib import Path
from typing import Any

import pytest
import yaml

from proxy import load_balancing

REPO = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((REPO / "compose.yaml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
# One-shot tools (`docker compose run`), never started by `up`.
TOOLS = {name for name, service in SERVICES.items() if "tools" in service.get("profiles", [])}
LONG_RUNNING = sorted(set(SERVICES) - TOOLS)
EXPECTED_PUBLISHED = {
    "proxy": {"8080", "8081", "8443", "8444"},
    "rabbitmq": {"5672", "15672"},
    "kafka": {"9094"},
}


def test_no_version_key() -> None:
    assert "version" not in COMPOSE


def test_project_name_matches_the_replica_names_the_proxy_uses() -> None:
    # The weighted and hash upstreams list replicas as PROJECT-api-N.
    assert COMPOSE["name"] == load_balancing.COMPOSE_PROJECT
    assert load_balancing.replica_name(2) == f"{COMPOSE['name']}-api-2"


def test_api_port_matches_the_proxy_upstreams() -> None:
    assert f"--port {load_balancing.API_PORT}" in " ".join(SERVICES["api"]["command"])


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_every_service_has_a_healthcheck(name: str) -> None:
    assert SERVICES[name]["healthcheck"]["test"]


def test_tools_are_only_one_shot_jobs() -> None:
    assert {"loadgen"} == TOOLS
    for name in TOOLS:
        assert SERVICES[name]["healthcheck"] == {"disable": True}
        assert "ports" not in SERVICES[name]
        assert SERVICES[name]["read_only"] is True


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_dependencies_wait_for_health(name: str) -> None:
    for dependency in SERVICES[name].get("depends_on", {}).values():
        assert dependency["condition"] == "service_healthy"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_only_expected_ports_published_on_loopback(name: str) -> None:
    ports = SERVICES[name].get("ports", [])
    assert all(port.startswith("127.0.0.1:") for port in ports)
    assert {port.rsplit(":", 1)[1] for port in ports} == EXPECTED_PUBLISHED.get(name, set())


def test_back_network_is_internal() -> None:
    assert COMPOSE["networks"]["back"]["internal"] is True


def test_api_has_three_replicas_behind_the_proxy() -> None:
    assert SERVICES["api"]["deploy"]["replicas"] == load_balancing.REPLICAS == 3
    assert "ports" not in SERVICES["api"]
    assert SERVICES["proxy"]["depends_on"]["api"]["condition"] == "service_healthy"


@pytest.mark.parametrize("name", ["proxy", "api", "pricing"])
def test_own_services_run_hardened(name: str) -> None:
    service = SERVICES[name]
    assert service["read_only"] is True
    assert service["cap_drop"] == ["ALL"]


def test_upstream_images_are_pinned() -> None:
    for name in ("proxy", "rabbitmq", "kafka"):
        image = SERVICES[name]["image"]
        default = image.split(":-", 1)[1].rstrip("}")
        assert ":" in default
        assert not default.endswith(":latest")
