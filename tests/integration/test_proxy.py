"""nginx in front of the api replicas: balancing, forwarded headers, docs, its own config."""

import time

import httpx
import pytest
from testcontainers.compose import DockerCompose

from proxy.nginx_builder import render
from proxy.site import SITE


def test_all_three_replicas_answer_through_the_proxy(proxy: httpx.Client) -> None:
    # A replica an earlier test killed and restarted may still sit out nginx's
    # fail_timeout (3 s) after it turned healthy: give the proxy that long.
    deadline = time.monotonic() + 10
    while True:
        responses = [proxy.get("/whoami") for _ in range(30)]
        if len({r.json()["hostname"] for r in responses}) == 3 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert {r.status_code for r in responses} == {200}
    hostnames = {r.json()["hostname"] for r in responses}
    upstreams = {r.headers["x-upstream-addr"] for r in responses}
    assert len(hostnames) == 3
    assert len(upstreams) == 3
    assert {r.headers["x-served-by"] for r in responses} == hostnames


def test_replica_sees_the_headers_the_proxy_forwarded(proxy: httpx.Client) -> None:
    response = proxy.get("/whoami", headers={"X-Forwarded-For": "203.0.113.9"})
    seen = response.json()["headers"]
    assert seen["x-request-id"] == response.headers["x-request-id"]
    assert len(seen["x-request-id"]) == 32
    # nginx appends the address it saw to what the client already claimed.
    assert seen["x-forwarded-for"].startswith("203.0.113.9, ")
    assert seen["x-forwarded-proto"] == "https"  # TLS ended at the proxy
    assert seen["x-real-ip"] == seen["x-forwarded-for"].split(", ")[-1]
    # The replica's TCP peer is the proxy, not the client.
    assert response.json()["peer"] != seen["x-real-ip"]


def test_openapi_docs_through_the_proxy(proxy: httpx.Client) -> None:
    assert "swagger" in proxy.get("/docs").text.lower()
    paths = proxy.get("/openapi.json").json()["paths"]
    assert {"/quotes", "/whoami", "/healthz", "/readyz"} <= set(paths)


@pytest.mark.parametrize("service", ["proxy", "inventory-ambassador"])
def test_nginx_accepts_the_generated_config(stack: DockerCompose, service: str) -> None:
    stdout, stderr, code = stack.exec_in_container(["nginx", "-t"], service_name=service)
    assert code == 0
    assert "test is successful" in stdout + stderr


def test_running_config_is_the_generated_one(stack: DockerCompose) -> None:
    stdout, _, _ = stack.exec_in_container(["cat", "/etc/nginx/nginx.conf"], service_name="proxy")
    assert stdout == render(SITE)


def test_proxy_runs_as_non_root(stack: DockerCompose) -> None:
    stdout, _, _ = stack.exec_in_container(["id", "-u"], service_name="proxy")
    assert stdout.strip() == "101"
