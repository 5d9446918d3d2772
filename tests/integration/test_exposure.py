"""What the host can reach: only the documented ports, and only on 127.0.0.1."""

from testcontainers.compose import DockerCompose

EXPECTED = {
    ("proxy", 8080),
    ("proxy", 8081),
    ("proxy", 8443),
    ("proxy", 8444),
    ("proxy", 8445),
    ("inventory", 8000),  # the ambassador's port, in the app's network namespace
    ("inventory-metrics", 9102),
    ("rabbitmq", 5672),
    ("rabbitmq", 15672),
    ("kafka", 9094),
}


def test_only_documented_ports_are_published_on_loopback(stack: DockerCompose) -> None:
    published = set()
    for container in stack.get_containers():
        for publisher in container.Publishers or []:
            if publisher.PublishedPort:
                assert publisher.URL == "127.0.0.1", (container.Service, publisher)
                published.add((container.Service, publisher.TargetPort))
    assert published == EXPECTED


def test_every_container_is_healthy(stack: DockerCompose) -> None:
    containers = stack.get_containers()
    # proxy, 3 x api, api-tls, pricing, rabbitmq, kafka, kafka-init (healthy: topics exist),
    # inventory with its ambassador and its metrics adapter
    assert len(containers) == 13  # and a second pricing replica
    assert {c.Service: c.Health for c in containers} == {c.Service: "healthy" for c in containers}
