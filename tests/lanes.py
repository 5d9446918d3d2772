"""`make test`: the unit tests and the integration tests, in two lanes side by side
(`make test LANES=1` runs one lane, in order, about twice as long).

Most of the integration suite's time is spent waiting (a failover, a partition,
a kill schedule, a queue draining), not computing, so two lanes share the
machine's two cores well. What keeps them out of each other's way is a lock on
the default stack (StackLock), which each test takes by its lesson's role:

- ALONE: lessons (and modules) that kill, stop, pause or re-create what the
  default stack runs (api replicas, pricing, the brokers) hold it alone;
- SHARED: every other test that uses the default stack holds it shared, so it
  never runs while the other lane disrupts the stack;
- NONE: lessons on infrastructure of their own (OWN_INFRASTRUCTURE: their
  profile's services, and of the default stack at most nginx, which no lesson
  re-creates, stops or kills: a module after which nginx's container changed
  fails) and modules that touch no running service take no lock.

Lane "stack" runs its SHARED tests first, then every ALONE one; lane "own" runs
the unit tests, its SHARED tests, then the NONE ones. So the stack lane's
disruptions overlap the own lane's lessons of their own, and a lock is seldom
waited for; each wait is printed in the lesson's share.

This runner starts the stack once, as the session fixture does, together with
the lessons' services that nginx looks up only once a minute
(comms_sandbox.compose.proxied_services): with them already running, neither
lane has to restart nginx under the other. Afterwards it leaves the stack as it
found it (StackState). Each lane writes its lessons' time to a file; the
runner prints them together.

`make test LESSON=<name>` and a plain `pytest tests/integration` run one lane,
in order, with no lock.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from testcontainers.compose import DockerCompose

from comms_sandbox import REPO
from comms_sandbox.certs import ensure_certificates
from comms_sandbox.compose import (
    IMAGES_ENV,
    TEST_LANE_VARIABLE,
    build_images,
    import_rabbitmq_definitions,
    proxied_services,
    remove_cut_recreations,
    running_services,
    start_services,
    stop_profile_services,
    with_dependencies,
)
from comms_sandbox.credentials import ensure_credentials
from comms_sandbox.stack_state import StackState
from scenarios import lessons

LANE_VARIABLE = TEST_LANE_VARIABLE
SHARES_VARIABLE = "SANDBOX_TEST_SHARES"
LOCK_VARIABLE = "SANDBOX_TEST_STACK_LOCK"
OWN, STACK = "own", "stack"
WAITED = "waited for the other lane"
ALONE, SHARED, NONE = "alone", "shared", "none"
# Lessons whose services are their own profile's (plus nginx): checked by
# tests/unit/test_lanes.py against compose.yaml.
OWN_INFRASTRUCTURE = ("clusters", "databases", "execution-models", "proxies")
# (proxies beside the stack lane's disruptions: load-balancing's failover lost 3 GETs in
# ci-17 and ci-20 to nginx/nginx#1656, not to proxies; proxy/site.py FRESH_PICK.)
# Lessons and modules of no lesson that kill, stop, pause or re-create default
# services: their runs would cut the other lane's requests (http-versions got 502s
# and 504s while the stack lane re-created the api).
DISRUPTS_STACK = (
    "load-balancing",  # stops, kills and freezes api replicas
    "observability",  # re-creates the api and pricing to switch tracing
    "polling-and-push",  # kills an api replica under the feed's clients
    "pubsub-rabbitmq",  # kills RabbitMQ
    "pubsub-kafka",  # kills Kafka
    "idempotency-and-outbox",  # re-creates the api and the relay, stops Kafka
    "grpc",  # reloads nginx (draining)
    "test_self_healing.py",  # kills an api replica
    "test_orders.py",  # stops PostgreSQL
)
# Users of the default stack that run in the own lane, holding it shared: chosen to
# even out the lanes' time (`make test` prints each lesson's share).
OWN_LANE_USERS = (
    "http-versions", "webrtc", "request-response", "tls-termination", "auth",
    "test_reports.py", "test_proxy.py", "test_kafka.py", "test_rabbitmq.py",
    "test_api_fuzz.py", "test_scenarios_cli.py",
)  # fmt: skip
# (The last two moved from the stack lane when it took 1300 s and the own lane 1100 s
# in the project's CI. sidecar, about 30 s, moved to the stack lane: the own lane's
# shared tests, after 100 s of unit tests, still ended about 57 s after the stack
# lane's, and grpc, the stack lane's first ALONE lesson, waited for them.
# pubsub-compare stays there: beside network-faults it once counted network-faults'
# orders as its own, out of order; it now judges its own only.)
# test_reports.py reports on the runs of request-response and tls-termination: a
# session's run is shared by the modules of one lane (run_once), so all three go
# together.
NO_LESSON = "the stack (no lesson)"
# Run last in the stack lane, once the own lane is done: the outbox relay's
# broker-outage and re-creation timeline took 2.5 times as long beside the own
# lane's clusters (250 s) as alone (90 s), on the 2-core machine.
LAST_IN_STACK_LANE = ("idempotency-and-outbox",)
# Tests of no lesson that touch no running service: Compose's reading of the
# files, and a scratch Compose project of their own.
OWN_MODULES = ("test_compose_config.py", "test_stack_state.py")


def role_of(lesson: str, module: str = "") -> str:
    """How a test uses the default stack (ALONE, SHARED or NONE), by its lesson, or by
    its module for tests of no lesson."""
    if lesson in DISRUPTS_STACK or module in DISRUPTS_STACK:
        return ALONE
    if lesson in OWN_INFRASTRUCTURE or module in OWN_MODULES:
        return NONE
    return SHARED


def lane_of(lesson: str, module: str = "") -> str:
    """The lane a lesson's tests and page run in (NO_LESSON: by module)."""
    own = {*OWN_INFRASTRUCTURE, *OWN_LANE_USERS, *OWN_MODULES}
    return OWN if lesson in own or (lesson == NO_LESSON and module in own) else STACK


def order_in_lane(lesson: str, module: str = "") -> int:
    """A lane's tests sort by this (stable): in the stack lane SHARED, then ALONE, then
    LAST_IN_STACK_LANE; in the own lane SHARED, then NONE."""
    role = role_of(lesson, module)
    if lane_of(lesson, module) == OWN:
        return 0 if role == SHARED else 1
    return 2 if lesson in LAST_IN_STACK_LANE else (1 if role == ALONE else 0)


class StackLock:
    """The lanes' lock on the default stack (flock on one file): held shared or alone
    from a test's setup until a test of another role, or the end of the session."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file: IO[str] | None = None
        self.role = NONE

    def hold(self, role: str) -> float:
        """Hold it as `role` wants (NONE: release it); the seconds spent waiting."""
        if role == self.role:
            return 0.0
        self.release()
        if role == NONE:
            return 0.0
        started = time.monotonic()
        self.file = self.path.open("a")
        fcntl.flock(self.file, fcntl.LOCK_EX if role == ALONE else fcntl.LOCK_SH)
        self.role = role
        return time.monotonic() - started

    def release(self) -> None:
        if self.file is not None:
            self.file.close()  # closing drops the flock
        self.file, self.role = None, NONE


def prestarted_services() -> list[str]:
    """The lessons' services nginx looks up once a minute: started with the stack, so
    that starting them later never restarts nginx under the other lane."""
    slow = {name for name, once_a_minute in proxied_services().items() if once_a_minute}
    wanted = {s for lesson in lessons.discover().values() for s in lesson.services}
    return sorted(slow & wanted)


@dataclass
class Lane:
    name: str
    commands: list[list[str]]
    needs_stack_from: int  # the index of its first command that needs the stack
    shares: Path
    failed: list[str] = field(default_factory=list)
    failing_tests: list[str] = field(default_factory=list)  # pytest's short summary lines
    seconds: float = 0.0

    def run(self, stack_ready: threading.Event, stack_failed: threading.Event) -> None:
        started = time.monotonic()
        for index, command in enumerate(self.commands):
            if index >= self.needs_stack_from:
                stack_ready.wait()
                if stack_failed.is_set():
                    self.failed.append(" ".join(command) + " (the stack did not start)")
                    break
            if self.run_one(command) != 0:
                self.failed.append(" ".join(command))
        self.seconds = time.monotonic() - started

    def run_one(self, command: list[str]) -> int:
        env = os.environ | {LANE_VARIABLE: self.name, SHARES_VARIABLE: str(self.shares),
                            LOCK_VARIABLE: str(self.shares.parent / "stack.lock")}  # fmt: skip
        say(self.name, "$ " + " ".join(command))
        with subprocess.Popen(
            command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        ) as process:
            assert process.stdout is not None
            for line in process.stdout:
                say(self.name, line.rstrip("\n"))
                if is_failure_summary(line):
                    self.failing_tests.append(line.strip())
            return process.wait()


def is_failure_summary(line: str) -> bool:
    """pytest's short test summary line of a failed or errored test ("FAILED tests/...")."""
    return line.startswith(("FAILED tests/", "ERROR tests/"))


def failure_lines(lanes: list[Lane], width: int = 220, most: int = 12) -> list[str]:
    """The failed tests, one short line each, for the end of the output: a CI log is often
    read from its tail, which the time table would otherwise fill."""
    failing = [f"[{lane.name}] {line}" for lane in lanes for line in lane.failing_tests]
    lines = [line if len(line) <= width else line[: width - 3] + "..." for line in failing]
    hidden = len(lines) - most
    return lines[:most] + ([f"... and {hidden} more failed tests above"] if hidden > 0 else [])


PRINTING = threading.Lock()


def say(lane: str, line: str) -> None:
    with PRINTING:
        print(f"[{lane:5}] {line}", flush=True)


def pytest_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "pytest", *args]


def stack_compose(wait: bool = False) -> DockerCompose:
    """The default stack as testcontainers' DockerCompose sees it."""
    return DockerCompose(context=REPO, compose_file_name="compose.yaml", wait=wait,
                         env_file=str(IMAGES_ENV) if IMAGES_ENV.exists() else None)  # fmt: skip


def start_default_stack() -> DockerCompose:
    """As `make up` does: certificates, credentials, the services' images built (each
    once: compose.build_images), the default stack up and healthy."""
    ensure_certificates()  # compose bind-mounts them
    ensure_credentials()
    import_rabbitmq_definitions()  # a running broker learns users added since it booted
    remove_cut_recreations()  # an earlier run cut short mid re-creation
    build_images(with_dependencies([]))
    sandbox = stack_compose(wait=True)
    sandbox.start()
    return sandbox


def start_stack() -> None:
    """What the session fixture does for a single run, plus prestarted_services()."""
    start_default_stack()
    stop_profile_services(running_services())  # a lesson left running by hand
    start_services(prestarted_services())  # restarts nginx once, before any lane uses it


def describe_parts(parts: dict[str, float]) -> str:
    """Where part of a lesson's time went: starting and stopping its services
    ("start", "stop"), waiting for the other lane's hold on the stack (WAITED)."""
    services = [f"{what} {s:.0f} s" for what, s in parts.items() if what in ("start", "stop")]
    said = ([f"its services: {', '.join(services)}"] if services else []) + [
        f"{what} {s:.0f} s" for what, s in parts.items() if what not in ("start", "stop")
    ]
    return f"  ({'; '.join(said)})" if said else ""


def print_shares(lanes: list[Lane]) -> None:
    """Each lesson's time (setup, tests, page) in its lane, and each lane's wall time."""
    print("\n=== time per lesson, in two lanes side by side ===")
    for lane in lanes:
        shares = json.loads(lane.shares.read_text()) if lane.shares.exists() else {}
        for lesson, seconds in sorted(shares.get("lessons", {}).items(), key=lambda i: -i[1]):
            own = shares.get("services", {}).get(lesson, {})
            print(f"{lane.name:5}  {lesson:28} {seconds:7.1f} s{describe_parts(own)}")
    for lane in lanes:
        print(f"lane {lane.name}: {lane.seconds:.0f} s wall")


def main(argv: list[str]) -> int:
    with_unit = "--no-unit" not in argv
    found = StackState.now()
    shares_dir = Path(tempfile.mkdtemp(prefix="sandbox-lanes-"))
    integration = ["tests/integration", "--durations=10"]
    unit = [pytest_command("tests/unit")] if with_unit else []
    own = Lane(OWN, [*unit, pytest_command(*integration)], len(unit), shares_dir / "own.json")
    stack = Lane(STACK, [pytest_command(*integration)], 0, shares_dir / "stack.json")
    ready, failed = threading.Event(), threading.Event()
    started = time.monotonic()
    threads = [threading.Thread(target=own.run, args=(ready, failed))]
    threads[0].start()  # the unit tests need no stack
    try:
        say("stack", "starting the stack (and the own lane's lessons behind nginx)")
        start_stack()
    except Exception as exc:  # reported, and both lanes' integration tests count as failed
        say("stack", f"the stack did not start: {exc}")
        failed.set()
    ready.set()
    threads.append(threading.Thread(target=stack.run, args=(ready, failed)))
    threads[1].start()
    try:
        for thread in threads:
            thread.join()
    finally:
        stop_profile_services(running_services())
        found.restore()
    print_shares([own, stack])
    print(f"make test: {time.monotonic() - started:.0f} s wall")
    problems = own.failed + stack.failed + (["the stack did not start"] if failed.is_set() else [])
    for problem in problems:
        print(f"FAILED: {problem}")
    for line in failure_lines([own, stack]):
        print(line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
