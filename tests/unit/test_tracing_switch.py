"""Tracing follows the observability lesson (no Docker).

Services: with SANDBOX_TRACING off (the default) the api and pricing load
neither OpenTelemetry's tracing SDK, nor its exporter, nor an
instrumentation, checked in a fresh interpreter each; on, they load them.
(Libraries import other parts on their own: FastAPI 0.165 the API, whose
calls do nothing without a provider; redis-py 8 the SDK's metrics package
when installed, used only if an application initialises it.) Host: `make up` and the tests' lesson
switching turn it on exactly when the lesson's services run afterwards.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from typing import Any

import pytest
from telemetry import bound_request_id
from telemetry.logs import JsonFormatter
from telemetry.setup import tracing_enabled

from bench import observability as bench_observability
from comms_sandbox import REPO, compose
from comms_sandbox.docker import Container
from scenarios import lessons
from scenarios import observability as observability_scenario
from scripts import stack

# The service's start, as its container runs it (without serving), then the modules loaded.
STARTS = {
    "api": "import api.main",
    "pricing": "from pricing import server; server.make_server()",
}
PROBE = """
{start}
import json, sys
print(json.dumps(sorted(m for m in sys.modules if m.startswith("opentelemetry"))))
"""
# The tracing SDK, the Zipkin exporter, the instrumentations: what tracing adds.
NOT_WHEN_OFF = ("opentelemetry.sdk.trace", "opentelemetry.exporter", "opentelemetry.instr")
# Nothing listens on the discard port, and no span is made during a start anyway.
UNUSED_ENDPOINT = "http://127.0.0.1:9/api/v2/spans"


def opentelemetry_loaded_by(service: str, tracing: str | None) -> list[str]:
    """The opentelemetry modules in sys.modules once `service` has started, in a fresh process."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("SANDBOX_TRACING", "OTEL_SDK_DISABLED", "METRICS_PORT")}  # fmt: skip
    env |= {"PYTHONPATH": os.pathsep.join(sys.path),
            "OTEL_EXPORTER_ZIPKIN_ENDPOINT": UNUSED_ENDPOINT}  # fmt: skip
    if tracing is not None:
        env["SANDBOX_TRACING"] = tracing
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(start=STARTS[service])],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])  # after the service's own log lines


@pytest.mark.parametrize("service", sorted(STARTS))
def test_with_tracing_off_no_tracing_module_is_loaded(service: str) -> None:
    loaded = opentelemetry_loaded_by(service, None)  # unset: compose.yaml's default, off
    assert [m for m in loaded if m.startswith(NOT_WHEN_OFF)] == []


@pytest.mark.parametrize("service", sorted(STARTS))
def test_with_tracing_on_the_sdk_and_the_instrumentations_are_loaded(service: str) -> None:
    loaded = opentelemetry_loaded_by(service, "on")
    assert "opentelemetry.sdk.trace" in loaded
    assert "opentelemetry.instrumentation.grpc" in loaded
    if service == "api":
        assert {"opentelemetry.instrumentation.fastapi", "opentelemetry.instrumentation.pika",
                "opentelemetry.instrumentation.aiokafka"} <= set(loaded)  # fmt: skip


@pytest.mark.parametrize(
    ("environment", "enabled"),
    [
        ({}, False),
        ({"SANDBOX_TRACING": "off"}, False),
        ({"SANDBOX_TRACING": "on"}, True),
        ({"SANDBOX_TRACING": " ON "}, True),
        ({"SANDBOX_TRACING": "on", "OTEL_SDK_DISABLED": "true"}, False),
        ({"SANDBOX_TRACING": "on", "OTEL_EXPORTER_ZIPKIN_ENDPOINT": ""}, False),
    ],
)
def test_the_switch_turns_tracing_on_only_when_on(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], enabled: bool
) -> None:
    for name in ("SANDBOX_TRACING", "OTEL_SDK_DISABLED"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OTEL_EXPORTER_ZIPKIN_ENDPOINT", UNUSED_ENDPOINT)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert tracing_enabled() is enabled


def test_a_switch_value_that_is_neither_on_nor_off_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SANDBOX_TRACING", "yes")
    with pytest.raises(ValueError, match="SANDBOX_TRACING"):
        tracing_enabled()


def log_entry(formatter: JsonFormatter) -> dict[str, Any]:
    record = logging.LogRecord("x", logging.INFO, "f", 1, "quote", None, None)
    with bound_request_id("req-7"):
        return json.loads(formatter.format(record))


def test_without_tracing_log_lines_keep_the_request_id_and_have_no_trace_id() -> None:
    entry = log_entry(JsonFormatter("pricing"))
    assert entry["request_id"] == "req-7"
    assert entry["trace_id"] is None and entry["span_id"] is None


def test_with_tracing_log_lines_carry_the_trace_ids_they_are_given() -> None:
    ids = {"trace_id": "ab" * 16, "span_id": "cd" * 8}
    entry = log_entry(JsonFormatter("pricing", trace_ids=lambda: ids))
    assert entry["request_id"] == "req-7" and entry["trace_id"] == "ab" * 16


# Host side: which value `make up` and the tests pass to Compose.

OBSERVABILITY = lessons.get("observability").services


@pytest.fixture
def no_forced_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SANDBOX_TRACING", raising=False)
    monkeypatch.delenv("COMPOSE_PROFILES", raising=False)


def value_for(services: set[str]) -> str:
    return compose.tracing_env(services)["SANDBOX_TRACING"]


@pytest.mark.usefixtures("no_forced_value")
def test_the_default_stack_runs_without_tracing() -> None:
    assert value_for(compose.with_dependencies(())) == "off"


@pytest.mark.usefixtures("no_forced_value")
def test_the_observability_lesson_turns_tracing_on() -> None:
    assert value_for(compose.with_dependencies(OBSERVABILITY)) == "on"


def test_the_whole_stack_with_the_observability_profile_traces(
    no_forced_value: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMPOSE_PROFILES", "observability")
    assert value_for(compose.with_dependencies(())) == "on"


@pytest.mark.usefixtures("no_forced_value")
@pytest.mark.parametrize(
    "lesson", sorted(name for name in lessons.discover() if name != "observability")
)
def test_no_other_lesson_turns_tracing_on(lesson: str) -> None:
    assert value_for(compose.with_dependencies(lessons.get(lesson).services)) == "off"


@pytest.mark.parametrize(
    ("forced", "services"), [("on", set()), ("off", set(OBSERVABILITY)), ("ON", set())]
)
def test_a_value_set_by_the_user_wins(
    monkeypatch: pytest.MonkeyPatch, forced: str, services: set[str]
) -> None:
    monkeypatch.setenv("SANDBOX_TRACING", forced)
    assert value_for(services) == forced.lower()


def test_a_forced_value_that_is_neither_on_nor_off_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SANDBOX_TRACING", "1")
    with pytest.raises(ValueError, match="SANDBOX_TRACING"):
        compose.tracing_env(())


def test_the_services_that_trace_are_the_api_pricing_and_the_consumers() -> None:
    assert {"api", "api-tls", "pricing", "shipping", "ledger"} <= compose.traced_services()
    assert not {"proxy", "zipkin", "rabbitmq", "kafka"} & compose.traced_services()


class FakeCompose:
    """`docker compose` as the functions below call it: records each command and its
    SANDBOX_TRACING, answers `ps` with the services said to run (no Docker)."""

    def __init__(self, running: set[str]) -> None:
        self.running = set(running)
        self.calls: list[tuple[tuple[str, ...], str | None]] = []
        self.tracing: dict[str, str] = {}  # per service, as its containers run now

    def tracing_now(self, services: list[str]) -> dict[str, set[str]]:
        return {s: {self.tracing.get(s, "off")} for s in services if s in self.running}

    def __call__(
        self, *args: str, capture: bool = False, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        tracing = (env or {}).get("SANDBOX_TRACING")
        self.calls.append((args, tracing))
        if "up" in args and tracing:
            self.tracing |= {s: tracing for s in args if s in self.running}
        if "stop" in args:
            self.running -= set(args[args.index("stop") + 1 :])
        return subprocess.CompletedProcess(args, 0, "", "")

    def ps(self, *_flags: str) -> list[dict[str, Any]]:
        return [{"Service": s, "ID": f"{s}-id", "State": "running"} for s in self.running]

    def ups(self) -> list[tuple[tuple[str, ...], str | None]]:
        return [(args, tracing) for args, tracing in self.calls if "up" in args]


@pytest.fixture
def fake_compose(no_forced_value: None, monkeypatch: pytest.MonkeyPatch) -> FakeCompose:
    fake = FakeCompose(compose.with_dependencies(()))  # the default stack runs
    monkeypatch.setattr(compose, "compose", fake)
    monkeypatch.setattr(compose, "compose_ps", fake.ps)
    monkeypatch.setattr(compose, "ensure_images", lambda services: None)  # no image builds
    monkeypatch.setattr(compose, "tracing_now", fake.tracing_now)
    # It lists and removes real containers: in a clean-clone run it once raced the other
    # lane's re-creation of api-faults (`docker rm` of a container already gone).
    monkeypatch.setattr(compose, "remove_cut_recreations", lambda: [])
    return fake


def test_starting_the_lesson_passes_tracing_on(fake_compose: FakeCompose) -> None:
    compose.start_services(OBSERVABILITY)
    *_, (args, tracing) = fake_compose.ups()
    assert "zipkin" in args and tracing == "on"


def test_the_tracing_switch_comes_first_in_an_up_that_leaves_nginx_alone(
    fake_compose: FakeCompose,
) -> None:
    """Compose re-creates nginx in any `up` that names it and re-creates the api."""
    compose.start_services(OBSERVABILITY)
    (switch, tracing), *_ = fake_compose.ups()
    assert tracing == "on" and {"api", "pricing"} <= set(switch)
    assert "proxy" not in switch and "--no-deps" not in switch


def test_zipkin_starts_while_the_api_is_re_created(fake_compose: FakeCompose) -> None:
    """One `up` after the other took 68 s on a busy machine: the JVM's start waited for
    the api's re-creation, which does not need it."""
    compose.start_services(OBSERVABILITY)
    (switch, _), *_ = fake_compose.ups()
    assert {"zipkin", "prometheus", "api"} <= set(switch) and "proxy" not in switch


def test_nothing_that_needs_nginx_is_started_beside_the_switch(
    fake_compose: FakeCompose,
) -> None:
    assert "proxy" not in compose.startable_beside_the_switch(OBSERVABILITY)
    with pytest.raises(ValueError, match="nginx"):
        compose.follow_tracing(starting=compose.with_dependencies(OBSERVABILITY),
                               beside=["proxy"])  # fmt: skip
    assert fake_compose.ups() == []


def test_starting_another_lesson_while_the_observability_lesson_runs_keeps_it_on(
    fake_compose: FakeCompose,
) -> None:
    fake_compose.running |= set(OBSERVABILITY)
    compose.start_services(lessons.get("grpc").services)
    assert {tracing for _, tracing in fake_compose.ups()} == {"on"}


def test_starting_a_lesson_of_its_own_leaves_the_tracers_alone(fake_compose: FakeCompose) -> None:
    """What the own test lane starts: the stack lane may be running the observability
    lesson meanwhile, and re-creating the api under it broke every lesson after."""
    fake_compose.running |= compose.with_dependencies(OBSERVABILITY)
    compose.start_services(compose.profile_services(lessons.get("execution-models").services))
    assert not any({"api", "pricing"} & set(args) for args, _ in fake_compose.ups())


def test_starting_another_lesson_alone_passes_tracing_off(fake_compose: FakeCompose) -> None:
    compose.start_services(lessons.get("grpc").services)
    assert {tracing for _, tracing in fake_compose.ups()} == {"off"}


def test_stopping_the_lesson_recreates_the_running_tracers_with_tracing_off(
    fake_compose: FakeCompose,
) -> None:
    fake_compose.running |= set(OBSERVABILITY)
    fake_compose.tracing = dict.fromkeys(fake_compose.running, "on")  # as started with it
    compose.stop_profile_services(OBSERVABILITY)
    ((args, tracing),) = fake_compose.ups()
    assert tracing == "off" and "proxy" not in args
    assert {"api", "api-tls", "pricing"} <= set(args)
    assert not {"shipping", "ledger", "zipkin"} & set(args)  # stopped: not started again


def test_tracers_already_as_wanted_are_not_brought_up_again(fake_compose: FakeCompose) -> None:
    """An `up` that finds nothing to change still waits for every dependency: skipped."""
    compose.follow_tracing(starting=["grpc-client"])  # the default stack: off, as it runs
    assert fake_compose.ups() == []
    fake_compose.tracing["pricing"] = "on"  # one left behind
    compose.follow_tracing()
    ((args, tracing),) = fake_compose.ups()
    assert tracing == "off" and "pricing" in args and "api" not in args


def test_make_up_lesson_observability_on_a_running_stack_turns_tracing_on(
    fake_compose: FakeCompose, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default stack runs, so `make up LESSON=observability` starts only the
    lesson's own services (--no-deps): found by hand, they used to start with tracing
    off and leave the api and pricing off too, and the scenario refused to run."""
    monkeypatch.setattr(stack, "compose", fake_compose)
    monkeypatch.setattr(stack, "ensure_images", lambda services: None)
    monkeypatch.setattr(stack, "let_proxy_follow", lambda services: None)
    own = compose.profile_services(compose.with_dependencies(OBSERVABILITY))
    stack.start_own(own, build=False)
    switch, lesson = fake_compose.ups()
    assert switch[1] == "on" and {"api", "pricing"} <= set(switch[0])
    assert lesson[1] == "on" and {"zipkin", "shipping"} <= set(lesson[0])


def test_stopping_another_lesson_leaves_tracing_alone(fake_compose: FakeCompose) -> None:
    services = lessons.get("network-faults").services
    fake_compose.running |= compose.with_dependencies(services)
    compose.stop_profile_services(services)
    assert fake_compose.ups() == []


# nginx after services started or re-created: restarted only when it would otherwise
# wait a minute to find one (a lesson's upstream), so other connections stay open.


@pytest.fixture
def proxy_actions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    done: list[str] = []
    monkeypatch.setattr(compose, "restart_proxy", lambda: done.append("restart"))
    monkeypatch.setattr(compose.time, "sleep", lambda s: done.append(f"wait {s:g} s"))
    return done


def test_nginx_looks_up_lesson_upstreams_once_a_minute_and_the_default_ones_every_second() -> None:
    proxied = compose.proxied_services()
    assert proxied["exec-async"] and proxied["echo"]
    assert not proxied["api"] and not proxied["pricing"]


def test_a_lesson_upstream_started_restarts_nginx(proxy_actions: list[str]) -> None:
    compose.let_proxy_follow(["exec-async", "redis"])
    assert proxy_actions == ["restart"]


def test_restarting_nginx_waits_by_its_healthcheck_not_by_an_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`up --no-deps --wait proxy` after the restart re-created nginx (its config hash
    without depends_on), and the next ordinary `up` re-created it and the api again."""
    calls: list[tuple[str, ...]] = []
    waited: list[str] = []
    monkeypatch.setattr(compose, "compose_ps", lambda *a: [{"Name": "p-1", "State": "running"}])
    monkeypatch.setattr(compose, "compose", lambda *args, **kw: calls.append(args))
    monkeypatch.setattr(compose, "wait_until_healthy", lambda name, timeout: waited.append(name))
    compose.restart_proxy()
    assert calls == [("restart", "proxy")]
    assert waited == ["p-1"]


def test_a_default_upstream_recreated_only_waits_for_the_next_lookups(
    proxy_actions: list[str],
) -> None:
    compose.let_proxy_follow(["api", "pricing"])
    assert proxy_actions == [f"wait {compose.FAST_LOOKUP_WAIT_S:g} s"]


def test_services_nginx_does_not_reach_change_nothing(proxy_actions: list[str]) -> None:
    compose.let_proxy_follow(["zipkin", "redis"])
    assert proxy_actions == []


def test_a_lesson_already_running_leaves_nginx_alone(
    fake_compose: FakeCompose, proxy_actions: list[str]
) -> None:
    services = lessons.get("execution-models").services
    fake_compose.running |= set(services)
    compose.start_services(services)
    assert proxy_actions == []


def test_starting_a_lesson_behind_nginx_restarts_it_once(
    fake_compose: FakeCompose, proxy_actions: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    services = lessons.get("execution-models").services
    real_call = fake_compose.__call__

    def up_starts(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
        if "up" in args and set(services) <= set(args):
            fake_compose.running |= set(services)
        return real_call(*args, **kwargs)

    monkeypatch.setattr(compose, "compose", up_starts)
    compose.start_services(services)
    assert proxy_actions == ["restart"]


# The benchmark's verdict: tracing's cost as ratios to tracing off.


def medians(per_s: float, p99_ms: float) -> dict[str, float]:
    return {"requests_per_s": per_s, "p50_ms": p99_ms / 4, "p99_ms": p99_ms, "errors": 0}


def test_the_benchmark_reports_each_set_up_against_tracing_off() -> None:
    result = bench_observability.summary({
        bench_observability.OFF: medians(1000, 20),
        bench_observability.EVERY_REQUEST: medians(600, 30),
        bench_observability.SAMPLED: medians(900, 22),
    })  # fmt: skip
    every, sampled = (result["vs_off"][name] for name in
                      (bench_observability.EVERY_REQUEST, bench_observability.SAMPLED))  # fmt: skip
    assert every == {"per_s": 0.6, "p99": 1.5} and sampled == {"per_s": 0.9, "p99": 1.1}
    assert not bench_observability.meets_target(every)  # 40% fewer requests/s: misses
    assert bench_observability.meets_target(sampled)
    (table,) = bench_observability.tables(result)
    assert table.row_count == 3


@pytest.mark.parametrize(("per_s", "p99"), [(0.84, 1.0), (1.0, 1.16)])
def test_the_target_fails_past_15_percent_either_way(per_s: float, p99: float) -> None:
    assert not bench_observability.meets_target({"per_s": per_s, "p99": p99})


def test_the_benchmark_compares_tracing_off_with_on_as_the_lesson_runs_it() -> None:
    setups = bench_observability.SETUPS
    assert setups[bench_observability.OFF] == {"SANDBOX_TRACING": "off"}
    every_request = setups[bench_observability.EVERY_REQUEST]
    assert every_request["SANDBOX_TRACING"] == "on"
    assert every_request["OTEL_TRACES_SAMPLER"] == "parentbased_always_on"


def test_the_scenario_names_the_containers_that_run_without_tracing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    switches = {"comms-sandbox-api-1": "on", "comms-sandbox-api-2": "off",
                "comms-sandbox-pricing-1": None}  # fmt: skip

    def containers(service: str) -> list[Container]:
        return [Container(name[-12:], name, "running", "healthy")
                for name in switches if f"-{service}-" in name]  # fmt: skip

    def environment(name: str) -> dict[str, str]:
        switch = switches[name]
        return {"PATH": "/usr/bin"} | ({"SANDBOX_TRACING": switch} if switch else {})

    monkeypatch.setattr(observability_scenario.docker, "containers", containers)
    monkeypatch.setattr(observability_scenario.docker, "environment", environment)
    assert observability_scenario.untraced_containers() == [
        "comms-sandbox-api-2",
        "comms-sandbox-pricing-1",
    ]
    switches |= {"comms-sandbox-api-2": "on", "comms-sandbox-pricing-1": "on"}
    assert observability_scenario.untraced_containers() == []


def test_services_sharing_an_image_build_it_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """19 services run comms-sandbox/service:dev: Compose built it 19 times in an
    `up --build`, and the tag moved between the image ids those builds left."""
    calls: list[tuple[str, ...]] = []
    monkeypatch.setattr(compose, "compose", lambda *args, **kw: calls.append(args)
                        or subprocess.CompletedProcess(args, 0, "", ""))  # fmt: skip
    built = compose.build_images(["api", "pricing", "migrate", "postgres", "rtc-peer-a",
                                  "rtc-peer-b"])  # fmt: skip
    assert built == ["api", "rtc-peer-a"]  # one service per image; postgres is not ours
    assert len(calls) == 1 and calls[0][-3:] == ("build", "api", "rtc-peer-a")


def inspected(stdout: str, stderr: str) -> subprocess.CompletedProcess[str]:
    """A failed `docker inspect` (exit 1) that printed these."""
    return subprocess.CompletedProcess([], 1, stdout, stderr)


def test_a_container_gone_meanwhile_is_not_counted_as_differing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The other lane re-creates api-faults between the listing and the inspection: this
    `up` must not re-create it too (its own `up` then fails with "No such container")."""
    listed = [{"ID": "aaa", "Service": "api"}, {"ID": "bbb", "Service": "api-faults"}]
    monkeypatch.setattr(compose, "compose_ps", lambda: listed)
    found = 'api ["SANDBOX_TRACING=off","PATH=/usr/bin"]\n'
    gone = "Error: No such object: bbb\n"
    monkeypatch.setattr(compose.subprocess, "run", lambda *_a, **_k: inspected(found, gone))
    assert compose.tracing_now(["api", "api-faults"]) == {"api": {"off"}}
    assert compose.tracing_differs(["api", "api-faults"], "off") == []
    daemon_down = "Cannot connect to the Docker daemon\n"
    monkeypatch.setattr(compose.subprocess, "run", lambda *_a, **_k: inspected("", daemon_down))
    assert compose.tracing_now(["api"]) is None
