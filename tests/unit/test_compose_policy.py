"""The stack keeps the sandbox's promises: health, ordering, loopback-only ports (no Docker).

Every service counts, whichever file declares it: compose.yaml, or a lesson's
scenarios/<lesson>/compose.yaml that it includes (comms_sandbox/compose_model.py).
"""

import re
from pathlib import Path
from typing import Any

import pytest

from comms_sandbox import ports
from comms_sandbox.compose import compose_file
from order_events import kafka as kafka_events
from proxy import load_balancing

REPO = Path(__file__).resolve().parents[2]
COMPOSE = compose_file()
SERVICES: dict[str, Any] = COMPOSE["services"]
# One-shot tools (`docker compose run`), never started by `up`.
TOOLS = {name for name, service in SERVICES.items() if "tools" in service.get("profiles", [])}
# Jobs `up` runs to completion before the services that wait for them
# (condition: service_completed_successfully): the database migrations.
ONE_SHOT_JOBS = {name for name, service in SERVICES.items() if service.get("restart") == "no"}
LONG_RUNNING = sorted(set(SERVICES) - TOOLS - ONE_SHOT_JOBS)
# Init jobs set something up in another service, then stay up (an exited
# container fails `up --wait`) with a healthcheck that checks the outcome.
INIT_JOBS = {name for name in SERVICES if name.endswith("-init")}


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


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_rotates_its_logs(name: str) -> None:
    options = SERVICES[name]["logging"]["options"]
    assert options["max-size"] == "10m" and options["max-file"] == "3"


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_every_long_running_service_restarts_after_a_crash(name: str) -> None:
    # unless-stopped: back after a crash or an OOM kill; `docker stop`/`kill` still stop it.
    assert SERVICES[name]["restart"] == "unless-stopped"


def test_tools_are_only_one_shot_jobs() -> None:
    # loadgen: `make bench`'s wrk; rtc-peer-*: the WebRTC lesson's peers, one run each;
    # forward-client: the proxies lesson's client behind Squid, one run per use;
    # capture and pcap-reader: dumpcap and tshark, for any lesson's capture;
    # nagle-client, corners-client, fastopen-client, loss-client: the on-the-wire lesson's
    # clients, one run per case.
    assert {"loadgen", "rtc-peer-a", "rtc-peer-b", "forward-client", "capture", "pcap-reader",
            "nagle-client", "corners-client", "fastopen-client",
            "loss-client"} == TOOLS  # fmt: skip
    for name in TOOLS:
        assert SERVICES[name]["healthcheck"] == {"disable": True}
        assert "ports" not in SERVICES[name]
        assert SERVICES[name]["read_only"] is True


def test_init_jobs_are_known() -> None:
    assert {"kafka-init"} == INIT_JOBS
    assert not INIT_JOBS & TOOLS  # `up` must run them


def test_kafka_init_creates_the_topics_and_its_healthcheck_checks_them() -> None:
    init, kafka = SERVICES["kafka-init"], SERVICES["kafka"]
    assert init["image"] == kafka["image"]  # the same Kafka tools, upstream or local
    assert init["depends_on"] == {"kafka": {"condition": "service_healthy"}}
    script = "/usr/local/bin/sandbox-topics"
    assert f"./broker/kafka/topics.sh:{script}:ro" in init["volumes"]
    assert (REPO / "broker" / "kafka" / "topics.sh").is_file()
    assert [*init["entrypoint"], *init["command"]] == ["bash", script, "create"]
    # Healthy means "the topics exist with their partitions", not "the process runs".
    assert init["healthcheck"]["test"] == ["CMD", "bash", script, "check"]
    assert init["environment"]["KAFKA_BOOTSTRAP"] == "kafka:19092"


def test_kafka_init_creates_what_the_code_uses() -> None:
    declared = dict(
        spec.split(":") for spec in SERVICES["kafka-init"]["environment"]["SANDBOX_TOPICS"].split()
    )
    assert {name: int(n) for name, n in declared.items()} == kafka_events.TOPICS
    assert kafka_events.TOPICS[kafka_events.ORDERS_TOPIC] == 3


@pytest.mark.parametrize("name", sorted(INIT_JOBS))
def test_init_jobs_are_small_and_internal(name: str) -> None:
    service = SERVICES[name]
    assert "ports" not in service
    assert service["networks"] == ["back"]
    assert service["read_only"] is True
    assert service["cap_drop"] == ["ALL"]
    # Kafka's tools are JVMs: a small heap inside a small memory limit.
    assert service["environment"]["KAFKA_HEAP_OPTS"] == "-Xmx128m"
    limit = service["deploy"]["resources"]["limits"]["memory"]
    assert limit.endswith("m") and int(limit[:-1]) <= 256


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_dependencies_wait_for_health(name: str) -> None:
    for dependency, how in SERVICES[name].get("depends_on", {}).items():
        wanted = (
            "service_completed_successfully" if dependency in ONE_SHOT_JOBS else "service_healthy"
        )
        assert how["condition"] == wanted, (name, dependency)


def test_one_shot_jobs_are_the_migrations_and_the_auth_lesson_s_setups() -> None:
    assert {"migrate", "hydra-setup", "kafka-auth-setup"} == ONE_SHOT_JOBS
    for setup, after in (("hydra-setup", "hydra"), ("kafka-auth-setup", "kafka")):
        job = SERVICES[setup]
        assert job["depends_on"] == {after: {"condition": "service_healthy"}}
        assert job["read_only"] is True and job["networks"] == ["back"]
        assert SERVICES["api-auth"]["depends_on"][setup] == {
            "condition": "service_completed_successfully"
        }


def test_the_migrations_run_before_the_api() -> None:
    migrate = SERVICES["migrate"]
    assert migrate["healthcheck"] == {"disable": True} or migrate["healthcheck"]["disable"] is True
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert migrate["read_only"] is True and migrate["networks"] == ["back"]
    # Every api (the replicas, api-tls, the faults lesson's) waits for the tables.
    apis = [n for n, s in SERVICES.items() if "API_DATABASE_URL" in (s.get("environment") or {})]
    assert {"api", "api-tls", "api-faults"} <= set(apis)
    for name in apis:
        assert SERVICES[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }


def test_postgres_is_internal_bounded_and_keeps_its_data_in_a_volume() -> None:
    postgres = SERVICES["postgres"]
    assert postgres["networks"] == ["back"] and "ports" not in postgres
    assert postgres["user"] == "999:999" and postgres["read_only"] is True
    assert "postgres-data:/var/lib/postgresql/data" in postgres["volumes"]
    flags = dict(
        arg.split("=", 1) for arg in postgres["command"] if "=" in arg and not arg.startswith("-")
    )
    assert {"max_connections", "statement_timeout", "idle_in_transaction_session_timeout"} <= set(
        flags
    )
    assert postgres["healthcheck"]["test"][1] == "pg_isready"
    # The api connects as its least-privileged role, never as the superuser or the owner.
    url = SERVICES["api"]["environment"]["API_DATABASE_URL"]
    assert url.startswith("postgresql://sandbox_api:")


PUBLISHED = re.compile(
    r"^127\.0\.0\.1:\$\{(?P<variable>[A-Z0-9_]+):-(?P<default>\d+)\}:\d+(/(?P<protocol>udp))?$"
)


def published_in_compose() -> set[tuple[str, str, int, str]]:
    """(service, variable, default, protocol) for every port compose.yaml publishes."""
    found = set()
    for name, service in SERVICES.items():
        for port in service.get("ports", []):
            match = PUBLISHED.match(port)
            assert match, f"{name}: {port!r} is not 127.0.0.1:${{VARIABLE:-default}}:port"
            found.add((name, match["variable"], int(match["default"]), match["protocol"] or "tcp"))
    return found


def test_compose_publishes_exactly_the_ports_of_comms_sandbox_ports() -> None:
    # comms_sandbox/ports.py is the one source of truth; compose.yaml must agree.
    declared = {(p.service, p.variable, p.default, p.protocol) for p in ports.PUBLISHED_PORTS}
    assert published_in_compose() == declared


def test_published_port_variables_are_unique_per_protocol() -> None:
    variables = [(p.variable, p.protocol) for p in ports.PUBLISHED_PORTS]
    assert len(variables) == len(set(variables))


def test_redis_is_internal_authenticated_and_keeps_nothing_on_disk() -> None:
    redis = SERVICES["redis"]
    assert redis["networks"] == ["back"] and "ports" not in redis
    command = redis["command"]
    assert "--requirepass" in command
    assert command[command.index("--save") + 1] == ""  # no RDB snapshots
    assert command[command.index("--appendonly") + 1] == "no"


def test_back_network_is_internal() -> None:
    assert COMPOSE["networks"]["back"]["internal"] is True


def test_api_has_three_replicas_behind_the_proxy() -> None:
    assert SERVICES["api"]["deploy"]["replicas"] == load_balancing.REPLICAS == 3
    assert "ports" not in SERVICES["api"]
    assert SERVICES["proxy"]["depends_on"]["api"]["condition"] == "service_healthy"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_no_service_has_capabilities_or_can_gain_privileges(name: str) -> None:
    service = SERVICES[name]
    assert service["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in service["security_opt"]


def test_only_the_capture_and_loss_tools_have_capabilities_and_only_for_that() -> None:
    # dumpcap needs NET_RAW for its packet socket; the loss client NET_ADMIN for its iptables
    # rules and its NFQUEUE delay line, and NET_RAW for legacy iptables' socket, in its own
    # network namespace: nothing else, and only while they run.
    granted = {name: s["cap_add"] for name, s in SERVICES.items() if s.get("cap_add")}
    assert granted == {"capture": ["NET_RAW"], "loss-client": ["NET_ADMIN", "NET_RAW"]}
    lossy = SERVICES["loss-client"]
    assert "network_mode" not in lossy and lossy["networks"] == ["front"]  # its own namespace
    assert lossy["read_only"] is True
    assert all(v.get("read_only") for v in lossy["volumes"])  # the CA certificate only
    capture, reader = SERVICES["capture"], SERVICES["pcap-reader"]
    assert capture["network_mode"].startswith("container:")  # another's namespace, no network
    assert reader["network_mode"] == "none"
    assert all(v.get("read_only") for v in reader["volumes"])
    assert "volumes" not in capture  # it writes nothing but its stdout


@pytest.mark.parametrize("name", ["proxy", "api", "pricing", "redis", "postgres", "migrate"])
def test_own_services_run_hardened(name: str) -> None:
    service = SERVICES[name]
    assert service["read_only"] is True
    assert service["cap_drop"] == ["ALL"]


def test_upstream_images_are_pinned() -> None:
    for name in ("proxy", "rabbitmq", "kafka", "redis", "postgres"):
        image = SERVICES[name]["image"]
        default = image.split(":-", 1)[1].rstrip("}")
        assert ":" in default
        assert not default.endswith(":latest")


def test_the_whole_stack_fits_in_2_3_gib() -> None:
    # Replicas count once each; one-shot tools and jobs are not part of the running stack.
    # 2 GiB until PostgreSQL joined the default stack (160 MiB; about 30 MiB idle), 2.25 GiB
    # until the outbox relay did (2 x 64 MiB; about 36 MiB each after a load).
    def mib(name: str) -> int:
        service = SERVICES[name]
        limit = service["deploy"]["resources"]["limits"]["memory"]
        assert limit.endswith("m"), (name, limit)
        return int(limit[:-1]) * service["deploy"].get("replicas", 1)

    started_by_up = [name for name in LONG_RUNNING if not SERVICES[name].get("profiles")]
    assert sum(mib(name) for name in started_by_up) <= 2355
    # The observability lesson's own services: a budget of 600 MiB on top.
    observability = [n for n in LONG_RUNNING if "observability" in SERVICES[n].get("profiles", ())]
    assert observability and sum(mib(name) for name in observability) <= 600


def test_fast_open_is_served_in_the_proxys_namespace_only() -> None:
    # nginx's `listen 8443 ssl fastopen=N` needs the server bit (2) of net.ipv4.tcp_fastopen
    # in the proxy's namespace (proxy/on_the_wire.py); no other service changes it but the
    # lesson's client, which says the default (1, client) out loud.
    changed = {name: s["sysctls"]["net.ipv4.tcp_fastopen"] for name, s in SERVICES.items()
               if "net.ipv4.tcp_fastopen" in s.get("sysctls", {})}  # fmt: skip
    assert changed == {"proxy": "3", "fastopen-client": "1"}
    assert "listen 8443 ssl fastopen=" in (REPO / "proxy" / "nginx.conf").read_text()
