"""The stack as Compose sees it: `docker compose` with the images `make images` chose.

Every host-side tool goes through compose() so that it runs the same images,
project and files as `make up` (.sandbox/images.env holds the image choice).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from comms_sandbox import REPO
from comms_sandbox.compose_model import load_model
from comms_sandbox.credentials import env_file
from comms_sandbox.images import ensure_images

IMAGES_ENV = REPO / ".sandbox" / "images.env"
NGINX_CONF = REPO / "proxy" / "nginx.conf"
# Set by tests/lanes.py in each of its two lanes of integration tests.
TEST_LANE_VARIABLE = "SANDBOX_TEST_LANE"
# Two of nginx's one-second lookups (proxy/load_balancing.py's RESOLVE_VALID).
FAST_LOOKUP_WAIT_S = 2.0
LEFT_OVER_S = 60
COMPOSE_FILE = REPO / "compose.yaml"
# compose.yaml's telemetry environment: the api, pricing and the consumers trace
# only when it is "on". Tracing follows the observability lesson (its profile).
TRACING_VARIABLE = "SANDBOX_TRACING"
TRACING_VALUES = ("on", "off")
TRACING_PROFILE = "observability"
# While re-creating a container, Compose first renames the old one to
# "<its id's first 12 hex digits>_<name>". An `up` cut short there (Ctrl-C, a
# failure, a clash with another `up`) leaves it behind, and every later `up`
# then stops with "Conflict. The container name ... is already in use".
LEFT_BY_A_CUT_RECREATE = re.compile(r"^[0-9a-f]{12}_")


def project_name() -> str:
    """compose.yaml's top-level `name:` (COMPOSE_PROJECT_NAME wins, as in Compose)."""
    return compose_env().get("COMPOSE_PROJECT_NAME") or compose_file()["name"]


def remove_cut_recreations() -> list[str]:
    """Remove the project's containers a cut-short re-creation left behind (see
    LEFT_BY_A_CUT_RECREATE); the names removed. Their replacements, if any, stay."""
    listed = subprocess.run(
        ["docker", "ps", "--all", "--filter", f"label=com.docker.compose.project={project_name()}",
         "--format", "{{.Names}}"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    stale = [name for name in listed if LEFT_BY_A_CUT_RECREATE.match(name) and left_over(name)]
    if stale:
        subprocess.run(["docker", "rm", "--force", *stale], capture_output=True, check=True)
    return stale


def compose_env() -> dict[str, str]:
    """The process environment plus the chosen images; what the user set explicitly wins."""
    return env_file(IMAGES_ENV) | dict(os.environ)


def compose(
    *args: str,
    capture: bool = False,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """`docker compose ARGS` in the repository, with the chosen images (and `env` on top);
    subprocess.TimeoutExpired past `timeout` seconds (None: no bound)."""
    return subprocess.run(
        ["docker", "compose", *args],
        cwd=REPO,
        env=compose_env() | (env or {}),
        text=True,
        capture_output=capture,
        check=False,
        timeout=timeout,
    )


def compose_ps(*flags: str) -> list[dict[str, Any]]:
    """`docker compose ps` as dicts. Compose prints one JSON object per line
    (newer releases) or one JSON list (older ones): accept both."""
    result = compose("ps", *flags, "--format", "json", capture=True)
    containers: list[dict[str, Any]] = []
    for line in result.stdout.splitlines():
        parsed = json.loads(line)
        containers += parsed if isinstance(parsed, list) else [parsed]
    return containers


def engine_answers() -> bool:
    """Does a Docker engine answer? (The client alone is not enough.)"""
    try:
        result = subprocess.run(["docker", "info"], capture_output=True, check=False)
    except FileNotFoundError:
        return False
    return result.returncode == 0


def compose_file() -> dict[str, Any]:
    """The stack as data: compose.yaml with the lessons' files it includes and the
    templates their services extend, merged (comms_sandbox/compose_model.py)."""
    return load_model(COMPOSE_FILE, REPO)


def active_profiles() -> set[str]:
    """The profiles Compose enables by itself: COMPOSE_PROFILES, comma-separated."""
    return {p.strip() for p in compose_env().get("COMPOSE_PROFILES", "").split(",") if p.strip()}


def profile_flags(services: Iterable[str] = ()) -> list[str]:
    """`--profile P` for each profile of `services`; every profile when none are named."""
    defined = compose_file()["services"]
    names = list(services) or list(defined)
    profiles = sorted({p for name in names for p in defined[name].get("profiles", ())})
    return [flag for profile in profiles for flag in ("--profile", profile)]


def with_dependencies(services: Iterable[str]) -> set[str]:
    """`services` and everything they depend on, as Compose would start them.

    No services means the whole stack: every service not behind a profile,
    and those of the profiles COMPOSE_PROFILES enables.
    """
    defined = compose_file()["services"]
    enabled = active_profiles()
    wanted = list(services) or [
        n for n, s in defined.items() if not s.get("profiles") or enabled & set(s["profiles"])
    ]
    unknown = set(wanted) - set(defined)
    if unknown:
        raise ValueError(f"not services of compose.yaml: {sorted(unknown)}")
    closure: set[str] = set()
    while wanted:
        name = wanted.pop()
        if name not in closure:
            closure.add(name)
            wanted += list(defined[name].get("depends_on", {}))
    return closure


def build_images(services: Iterable[str]) -> list[str]:
    """Build the images `services` run from this repository, each image once; the
    services built. Then `up --no-build`: in an `up --build`, Compose builds every
    service of the 19 that share comms-sandbox/service:dev, and the builds left
    several image ids behind with the tag moving between them, so a later `up`
    re-created services whose container held another id (the api, and nginx with it)."""
    defined = compose_file()["services"]
    first_of: dict[str, str] = {}
    for name in sorted(services):
        if defined[name].get("build"):
            first_of.setdefault(defined[name].get("image", name), name)
    builders = sorted(first_of.values())
    if builders:
        result = compose(*profile_flags(builders), "build", *builders, capture=True)
        if result.returncode != 0:
            raise RuntimeError(f"building {', '.join(builders)} failed:\n{result.stderr}")
    return builders


def all_healthy(services: Iterable[str]) -> bool:
    """Is every container of `services` running, and healthy where it has a check, or,
    for a one-shot job (restart "no": the migrations), has it run and exited 0?"""
    wanted = list(services)
    states = compose_ps("--all", *wanted) if wanted else []
    defined = compose_file()["services"]
    return (
        bool(states)
        and {c["Service"] for c in states} >= set(wanted)
        and all(is_done(c, defined.get(c["Service"], {})) for c in states)
    )


def is_done(state: dict[str, Any], service: dict[str, Any]) -> bool:
    if service.get("restart") == "no":
        return state.get("State") == "exited" and state.get("ExitCode") == 0
    return state.get("State") == "running" and state.get("Health", "") in ("healthy", "")


def recovered_after_restarts(services: Iterable[str], timeout_s: float = 120) -> bool:
    """After a failed `up --wait`: did a container crash, come back by its restart policy,
    and is everything now healthy? `--wait` gives up on the first exit it sees, but a
    node that loses a start-up race and restarts once is what the restart policy is for
    (a RabbitMQ 3.10 node can lose the feature-flag sync race when its cluster boots
    at once). False when nothing restarted: a real failure."""
    names = [c["Name"] for c in compose_ps("--all", *services)]
    counts = subprocess.run(["docker", "inspect", "--format", "{{.RestartCount}}", *names],
                            capture_output=True, text=True, check=False).stdout.split()  # fmt: skip
    if not names or not any(int(n) > 0 for n in counts):
        return False
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if all_healthy(services):
            return True
        time.sleep(1)
    return False


def left_over(name: str) -> bool:
    """A renamed container stopped for over LEFT_OVER_S: an `up` running now (the other
    test lane's, say) holds its own renamed container for a few seconds only."""
    state = "{{.State.Running}} {{.State.FinishedAt}}"
    inspected = subprocess.run(["docker", "inspect", "--format", state, name],
                               capture_output=True, text=True, check=False)  # fmt: skip
    finished = inspected.stdout.split()
    if len(finished) != 2 or finished[0] != "false":
        return False
    stopped_at = datetime.fromisoformat(finished[1][:26].rstrip("Z") + "+00:00")
    return (datetime.now(UTC) - stopped_at).total_seconds() > LEFT_OVER_S


def proxied_services() -> dict[str, bool]:
    """The services nginx proxies to, each with whether nginx looks it up only once a
    minute (an upstream with its own `resolver`: a lesson's service, proxy/
    load_balancing.py's LESSON_RESOLVER); the others it looks up every second. Read
    from the generated proxy/nginx.conf, which a test keeps in step with proxy/."""
    text = NGINX_CONF.read_text()
    defined = compose_file()["services"]
    found: dict[str, bool] = {}
    for body in re.findall(r"\bupstream \w+ \{(.*?)\}", text, re.DOTALL):
        slow = re.search(r"^\s*resolver ", body, re.MULTILINE) is not None
        for host in re.findall(r"^\s*server ([\w.-]+):\d+", body, re.MULTILINE):
            if host in defined:
                found[host] = found.get(host, False) or slow
    return found


def let_proxy_follow(changed: Iterable[str]) -> None:
    """After `changed` services were started or re-created: restart nginx when one of
    them is looked up once a minute (it would wait that long to reach it), otherwise
    give nginx's one-second lookups time to see the new addresses. Restarting only
    when needed keeps connections to everything else open (the other test lane's)."""
    proxied = proxied_services()
    names = [name for name in changed if name in proxied]
    if any(proxied[name] for name in names):
        restart_proxy()
    elif names:
        time.sleep(FAST_LOOKUP_WAIT_S)


PROXY_RESTART_TIMEOUT_S = 60.0


def restart_proxy() -> None:
    """Restart nginx, if it runs, and wait until it is healthy again: it then looks up
    every upstream's name afresh, so a lesson's services just started (or re-created
    with new addresses, or scaled) are reached now. A reload would not do: resolved
    addresses live in shared memory until their lookup expires (proxy/
    load_balancing.py's LESSON_RESOLVER asks once a minute)."""
    running = [c["Name"] for c in compose_ps("proxy") if c.get("State") == "running"]
    if not running:
        return
    compose("restart", "proxy", capture=True)
    # Waited for by its healthcheck, not by `up --no-deps --wait proxy`: that `up`
    # re-creates nginx (its config hash counts only the depends_on an `up` includes),
    # and the next ordinary `up` re-creates it again.
    for name in running:
        wait_until_healthy(name, PROXY_RESTART_TIMEOUT_S)


def wait_until_healthy(container: str, timeout_s: float) -> None:
    """Until Docker reports the container's healthcheck passing; RuntimeError after
    `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    status = "not inspected"
    while time.monotonic() < deadline:
        status = subprocess.run(
            ["docker", "inspect", "--format", "{{.State.Health.Status}}", container],
            capture_output=True, text=True, check=False,
        ).stdout.strip()  # fmt: skip
        if status == "healthy":
            return
        time.sleep(0.2)
    raise RuntimeError(f"{container} not healthy after {timeout_s:.0f} s: {status}")


def tracing_env(services: Iterable[str]) -> dict[str, str]:
    """SANDBOX_TRACING for a `compose up` after which `services` run: "on" exactly when
    the observability lesson's services are among them (its Zipkin collects the spans
    and its page reads them), "off" otherwise, so nothing else pays for tracing.

    A value set in the environment wins: `SANDBOX_TRACING=on make up` forces it on.
    """
    forced = os.environ.get(TRACING_VARIABLE, "").strip().lower()
    if forced:
        if forced not in TRACING_VALUES:
            raise ValueError(f"{TRACING_VARIABLE} must be one of {TRACING_VALUES}, not {forced!r}")
        return {TRACING_VARIABLE: forced}
    return {TRACING_VARIABLE: "on" if has_tracing_lesson(services) else "off"}


def has_tracing_lesson(services: Iterable[str]) -> bool:
    """Are any of `services` the observability lesson's own (its profile's)?"""
    defined = compose_file()["services"]
    return any(TRACING_PROFILE in defined.get(name, {}).get("profiles", ()) for name in services)


def traced_services() -> set[str]:
    """The services whose environment carries the tracing switch."""
    defined = compose_file()["services"]
    return {name for name, s in defined.items() if TRACING_VARIABLE in (s.get("environment") or {})}


def running_services() -> set[str]:
    return {c["Service"] for c in compose_ps()}


class BrokerImportError(RuntimeError):
    """The running RabbitMQ did not take the rendered definitions."""


def import_rabbitmq_definitions() -> bool:
    """The rendered definitions (users and passwords in force) into a RabbitMQ that
    already runs, as its boot does: a user added since (a service's own identity) or a
    password changed in .env would otherwise wait for its next restart. False when it
    does not run healthy (starting, it imports them as it boots)."""
    running = [c for c in compose_ps() if c.get("Service") == "rabbitmq"]
    if not running or not all(c.get("Health") == "healthy" for c in running):
        return False
    done = compose("exec", "-T", "rabbitmq", "rabbitmqctl", "import_definitions",
                   "/etc/rabbitmq/definitions.json", capture=True)  # fmt: skip
    if done.returncode != 0:
        raise BrokerImportError(f"rabbitmqctl import_definitions: {done.stderr.strip()[:300]}")
    return True


def containers_by_service(services: Iterable[str]) -> dict[str, frozenset[str]]:
    """The ids of each of `services`' running containers."""
    wanted = set(services)
    found: dict[str, set[str]] = {}
    for container in compose_ps():
        if container["Service"] in wanted:
            found.setdefault(container["Service"], set()).add(container["ID"])
    return {service: frozenset(ids) for service, ids in found.items()}


def changed_services(before: dict[str, frozenset[str]], services: Iterable[str]) -> list[str]:
    """Those of `services` started, stopped, re-created or scaled since `before`
    (containers_by_service)."""
    now = containers_by_service(services)
    return sorted(s for s in set(services) if before.get(s, frozenset()) != now.get(s, frozenset()))


def follow_tracing(starting: Iterable[str] = (), beside: Iterable[str] = ()) -> None:
    """Re-create the running services that trace if their SANDBOX_TRACING no longer matches
    what runs once `starting` runs too (the observability lesson's services were stopped,
    say), then let_proxy_follow() what was re-created; a no-op when all match. RuntimeError
    when they fail to start.

    Never within an `up` that also names nginx: Compose re-creates every service in an
    `up` that depends on one it re-creates (nginx depends on the api), and a re-created
    nginx drops every connection a test in the other lane holds. Not `--no-deps` either:
    Compose hashes a service's config with only the `depends_on` entries the `up`
    includes, so the next ordinary `up` would find the api changed and re-create it
    (and nginx with it).

    `beside`: services started in the same `up` when there is a switch (the lesson's
    Zipkin starts while the api is re-created, not after it); none may need nginx."""
    traced, wanted = tracers_to_switch(starting)
    if not traced:
        return
    before = containers_by_service(traced)
    together = [*traced, *(s for s in beside if s not in traced)]
    if "proxy" in with_dependencies(together):
        raise ValueError(f"an `up` of {together} would re-create nginx with the api")
    result = compose(*profile_flags(together), "up", "--detach", "--no-build", "--wait",
                     *together, capture=True, env=wanted)  # fmt: skip
    if result.returncode != 0 and not recovered_after_restarts(traced):
        raise RuntimeError(f"re-creating {', '.join(traced)} failed:\n{result.stderr}")
    let_proxy_follow(changed_services(before, traced))


def switch_tracing_for(services: Iterable[str]) -> dict[str, str]:
    """Before an `up` of `services`: SANDBOX_TRACING for that `up` (tracing_env of what
    runs afterwards), already applied to the running services that trace.

    The switch comes first, on its own: the `up` then finds the api as it should be
    and leaves nginx (which depends on it) as it runs. Only when that `up` touches a
    traced service: a lesson of its own (the other test lane's) leaves the api alone."""
    affected = with_dependencies(services)
    if traced_services() & affected:
        follow_tracing(starting=affected, beside=startable_beside_the_switch(services))
    return tracing_env(affected | running_services())


def startable_beside_the_switch(services: Iterable[str]) -> list[str]:
    """Those of a lesson's own (profile) services that need no nginx: started in the
    tracing switch's `up`, at the same time as the re-created api."""
    return [s for s in profile_services(services) if "proxy" not in with_dependencies([s])]


def tracing_follows(services: Iterable[str]) -> bool:
    """Do the running services that trace trace as they should once `services` run?"""
    return not tracers_to_switch(with_dependencies(services))[0]


def tracers_to_switch(starting: Iterable[str]) -> tuple[list[str], dict[str, str]]:
    """The running services that trace and whose SANDBOX_TRACING differs from what it
    should be once `starting` runs too; that SANDBOX_TRACING (tracing_env)."""
    running = running_services()
    wanted = tracing_env(running | set(starting))
    return tracing_differs(sorted(running & traced_services()), wanted[TRACING_VARIABLE]), wanted


def tracing_differs(services: list[str], value: str) -> list[str]:
    """Those of `services` with a container whose SANDBOX_TRACING is not `value`: the
    ones an `up` would re-create. Asking Docker costs far less than an `up` that finds
    nothing to do (it still waits for every dependency to be healthy)."""
    now = tracing_now(services)
    if now is None:  # Docker did not answer: let `up` decide
        return services
    return sorted(service for service, values in now.items() if values != {value})


def tracing_now(services: list[str]) -> dict[str, set[str]] | None:
    """Each of `services`' SANDBOX_TRACING values, over its running containers; None
    when Docker could not say.

    A container that went away between the listing and the inspection (one the other
    test lane's `up` is re-creating, with its own environment) is left out: counted as
    differing, it would make this `up` re-create that service too, under the other
    `up`, which then fails with "No such container"."""
    ids = [c["ID"] for c in compose_ps() if c["Service"] in services]
    if not ids:
        return {}
    template = '{{index .Config.Labels "com.docker.compose.service"}} {{json .Config.Env}}'
    inspected = subprocess.run(["docker", "inspect", "--format", template, *ids],
                               capture_output=True, text=True, check=False)  # fmt: skip
    if inspected.returncode != 0 and not only_gone(inspected.stderr):
        return None
    return tracing_values(inspected.stdout)


def only_gone(stderr: str) -> bool:
    """Did `docker inspect` fail only because some of the containers no longer exist?"""
    errors = [line for line in stderr.splitlines() if line.strip()]
    return bool(errors) and all("No such" in line for line in errors)


def tracing_values(inspected: str) -> dict[str, set[str]]:
    """service -> SANDBOX_TRACING values, from `docker inspect`'s "service [env...]" lines."""
    now: dict[str, set[str]] = {}
    for line in inspected.splitlines():
        service, env = line.split(" ", 1)
        values = [
            v.split("=", 1)[1] for v in json.loads(env) if v.startswith(f"{TRACING_VARIABLE}=")
        ]
        now.setdefault(service, set()).update(values or [""])
    return now


def start_services(services: Iterable[str]) -> None:
    """`up --wait` of `services`, their profiles enabled, then let_proxy_follow(); RuntimeError
    with Compose's output when they do not become healthy. Tracing is switched on or off
    (tracing_env) for what runs afterwards: Compose re-creates the api and pricing when
    the value changes."""
    wanted = list(services)
    ensure_images(with_dependencies(wanted))  # a lesson's images, on its first use
    affected = sorted(with_dependencies(wanted))
    if not os.environ.get(TEST_LANE_VARIABLE):
        # Not beside the other test lane: its `up` may be re-creating a container stopped
        # for minutes, renamed for the moment, and removing it breaks that `up` ("No such
        # container", ci-30). tests/lanes.py removes what earlier runs left, before both.
        remove_cut_recreations()
    tracing = switch_tracing_for(wanted)
    before = containers_by_service(affected)
    result = compose(*profile_flags(wanted), "up", "--detach", "--no-build", "--wait", *wanted,
                     capture=True, env=tracing)  # fmt: skip
    if result.returncode != 0 and not recovered_after_restarts(wanted):
        raise RuntimeError(f"starting {', '.join(wanted)} failed:\n{result.stderr}")
    let_proxy_follow(changed_services(before, affected))


def profile_services(services: Iterable[str]) -> list[str]:
    """Those of `services` that run only under a Compose profile (a lesson's own)."""
    declared = compose_file()["services"]
    return [name for name in services if declared.get(name, {}).get("profiles")]


def has_profile_services(services: Iterable[str]) -> bool:
    return bool(profile_services(services))


def stop_profile_services(services: Iterable[str]) -> None:
    """Stop those of `services` that run only under a profile (a lesson's own); the
    default stack's stay up. What a test leaves running slows every test after it.
    Stopping the observability lesson's services switches tracing off (follow_tracing)."""
    optional = profile_services(services)
    if optional:
        compose(*profile_flags(optional), "stop", *optional, capture=True)
    if has_tracing_lesson(optional):
        follow_tracing()
