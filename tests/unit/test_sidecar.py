"""The ambassador's generated config, the adapter's parsing and the app-code check (no Docker)."""

from __future__ import annotations

import ast

import pytest
from prometheus_client import REGISTRY

from adapter import log_metrics
from proxy.nginx_builder import render
from proxy.sidecar import SIDECAR
from scenarios.sidecar.probes import SIDECAR_WORDS, code_words
from tests.helpers import block, lines


@pytest.fixture(scope="module")
def conf() -> str:
    return render(SIDECAR)


def test_the_ambassador_owns_the_service_port_and_reaches_the_app_on_loopback(conf: str) -> None:
    assert "listen 8000;" in lines(conf)
    assert lines(block(conf, "upstream app"))[1:3] == [
        "server 127.0.0.1:9000 max_fails=0;",
        "server 127.0.0.1:9000 max_fails=0;",
    ]


def test_the_ambassador_adds_what_the_app_does_not(conf: str) -> None:
    location = lines(block(conf, "location /"))
    assert location[1] == "if ($api_key_ok = 0) {"
    assert location[2].startswith("return 401 ")
    for expected in (
        "limit_req zone=per_client burst=10 nodelay;",
        "proxy_set_header X-Request-ID $sidecar_request_id;",
        'proxy_set_header X-API-Key "";',
        "proxy_read_timeout 2s;",
        "proxy_next_upstream error http_502 http_503;",
        "proxy_next_upstream_tries 2;",
    ):
        assert expected in location
    assert "access_log /dev/stdout sidecar;" in lines(conf)
    assert "limit_req_status 429;" in lines(conf)


def test_the_adapter_counts_lines_and_survives_garbage() -> None:
    def sample(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    before = sample("app_log_unreadable_lines_total")
    line = '{"method": "GET", "path": "/items/A-1", "route": "/items/{sku}", "status": 200, '
    log_metrics.record(line + '"duration_ms": 3}\n')
    log_metrics.record("not json\n")
    assert sample("app_requests_total", method="GET", route="/items/{sku}", status="200") >= 1
    assert sample("app_log_unreadable_lines_total") == before + 1


def test_the_adapters_labels_stay_a_bounded_set() -> None:
    # Raw paths, invented methods and odd statuses must not each make a new series.
    assert log_metrics.labels({"method": "GET", "route": "/items/{sku}", "status": 200}) == (
        "GET", "/items/{sku}", "200")  # fmt: skip
    wild = {"method": "BREW", "path": "/x/" + "y" * 500, "route": None, "status": 999}
    assert log_metrics.labels(wild) == ("other", "other", "other")


@pytest.mark.parametrize(
    ("code", "flagged"),
    [
        ('"""Knows nothing of its sidecar."""\nx = 1\n', False),  # docstrings do not count
        ("# a retry would be nice\nx = 1\n", False),  # neither do comments
        ('key = request.headers["X-API-Key"]\n', True),
        ("def retry(): pass\n", True),
    ],
)
def test_the_app_code_check_reads_code_not_prose(code: str, flagged: bool) -> None:
    words = code_words(ast.parse(code))
    assert any(SIDECAR_WORDS.search(word) for word in words) is flagged
