"""What the host can reach: only the documented ports, and only on 127.0.0.1."""

import subprocess

from testcontainers.compose import DockerCompose

from comms_sandbox.compose import compose_file

SERVICES = compose_file()["services"]
STARTED = {name: s for name, s in SERVICES.items() if not s.get("profiles")}
# Those that stay up: a one-shot job (the migrations) has exited once `up` returns.
RUNNING = {name: s for name, s in STARTED.items() if s.get("restart") != "no"}


def declared_ports() -> set[tuple[str, int, str]]:
    """(service, container port, protocol) for each port compose.yaml publishes (checked
    against comms_sandbox/ports.py by a unit test)."""
    declared = set()
    for name, service in STARTED.items():
        for port in service.get("ports", []):
            target, _, protocol = port.rsplit(":", 1)[1].partition("/")
            declared.add((name, int(target), protocol or "tcp"))
    return declared


def default_stack_containers(stack: DockerCompose) -> list:
    """The default stack's containers: the other test lane's lessons (tests/lanes.py) may
    run beside them; compose policy unit tests check every service's ports."""
    return [c for c in stack.get_containers() if c.Service in STARTED]


def test_only_documented_ports_are_published_on_loopback(stack: DockerCompose) -> None:
    published = set()
    for container in default_stack_containers(stack):
        for publisher in container.Publishers or []:
            if publisher.PublishedPort:
                assert publisher.URL == "127.0.0.1", (container.Service, publisher)
                published.add((container.Service, publisher.TargetPort, publisher.Protocol))
    assert published == declared_ports()


def test_every_container_is_healthy(stack: DockerCompose) -> None:
    containers = default_stack_containers(stack)
    expected = sum(s.get("deploy", {}).get("replicas", 1) for s in RUNNING.values())
    assert len(containers) == expected
    assert {c.Service: c.Health for c in containers} == {c.Service: "healthy" for c in containers}


def test_loopback_ports_are_not_reachable_from_the_lan(stack: DockerCompose) -> None:
    """Engines before 28.0 route packets for 127.0.0.1 that arrive on another interface
    into published ports (moby#45610): the kernel's ruleset must drop them."""
    version = subprocess.run(
        ["docker", "version", "--format", "{{.Server.Version}}"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    if int(version.split(".")[0]) >= 28:
        return  # Docker drops them itself since 28.0
    rule = ["PREROUTING", "!", "-i", "lo", "-d", "127.0.0.0/8", "-j", "DROP"]
    check = subprocess.run(["iptables", "-t", "raw", "-C", *rule], capture_output=True, check=False)
    assert check.returncode == 0, (
        "no raw PREROUTING drop rule: run scripts/ensure-docker.sh as root"
    )
