"""Unit tests of the generated nginx configuration (no Docker needed)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from proxy.__main__ import CONFIGS, main
from proxy.model import Location, NginxConfig, Server, Stream, Upstream
from proxy.nginx_builder import HEADER, render
from proxy.site import SITE
from tests.helpers import block, lines, server_block

COMMITTED = Path(__file__).resolve().parents[2] / "proxy" / "nginx.conf"


@pytest.fixture(scope="module")
def site_conf() -> str:
    return render(SITE)


@pytest.mark.parametrize(("name", "config"), CONFIGS.items())
def test_committed_confs_match_the_generator(name: str, config: NginxConfig) -> None:
    assert (COMMITTED.parent / name).read_text(encoding="utf-8") == render(config), (
        f"proxy/{name} is stale: run `python -m proxy generate`"
    )


def test_check_command_reports_drift(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "--dir", str(tmp_path)]) == 0
    conf = tmp_path / "nginx.conf"
    conf.write_text(render(SITE).replace("worker_processes 1;", "worker_processes 4;"))
    assert main(["check", "--dir", str(tmp_path)]) == 1
    assert "-worker_processes 4;\n+worker_processes 1;" in capsys.readouterr().out
    assert main(["generate", "--dir", str(tmp_path)]) == 0
    assert main(["check", "--dir", str(tmp_path)]) == 0


def test_output_is_deterministic_with_header_and_trailing_newline(site_conf: str) -> None:
    assert render(SITE) == site_conf
    assert site_conf.startswith(HEADER + "\n")
    assert site_conf.endswith("}\n") and not site_conf.endswith("\n\n")
    assert site_conf.count("{") == site_conf.count("}")


def test_main_context_runs_unprivileged(site_conf: str) -> None:
    top = site_conf.split("events {", maxsplit=1)[0]
    assert "worker_processes 1;" in lines(top)
    assert "pid /tmp/nginx.pid;" in lines(top)
    assert "include /etc/nginx/modules-enabled/*.conf;" in lines(top)
    assert "worker_connections 1024;" in lines(block(site_conf, "events"))


def test_temp_paths_are_under_tmp(site_conf: str) -> None:
    temp_paths = re.findall(r"^\s*(\w+)_temp_path (\S+);", site_conf, re.MULTILINE)
    assert {kind for kind, _ in temp_paths} == {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"}
    assert all(path.startswith("/tmp/") for _, path in temp_paths)


def test_access_log_is_json_on_stdout(site_conf: str) -> None:
    http = block(site_conf, "http")
    assert "access_log /dev/stdout json buffer=64k flush=1s;" in lines(http)
    log_format = next(line for line in lines(http) if line.startswith("log_format json"))
    for field in (
        "time",
        "request_id",
        "remote_addr",
        "request",
        "status",
        "request_time",
        "upstream_addr",
        "upstream_status",
        "upstream_response_time",
    ):
        assert f'"{field}":' in log_format


def test_api_upstream_keeps_connections_and_follows_docker_dns(site_conf: str) -> None:
    upstream = lines(block(site_conf, "upstream api"))
    assert "server api:8000 resolve max_fails=1 fail_timeout=3s;" in upstream
    assert "keepalive 16;" in upstream
    assert "zone api 64k;" in upstream  # `resolve` needs the upstream in shared memory
    assert "resolver 127.0.0.11 valid=1s ipv6=off;" in lines(block(site_conf, "http"))


def test_health_location_answers_without_logging(site_conf: str) -> None:
    health = lines(block(site_conf, "location = /nginx-health"))
    assert 'return 200 "ok";' in health
    assert "access_log off;" in health


def test_api_location_forwards_client_and_request_id(site_conf: str) -> None:
    api = lines(block(server_block(site_conf, "8443 ssl"), "location /"))
    for expected in (
        "proxy_pass http://api;",
        "proxy_http_version 1.1;",
        'proxy_set_header Connection "";',
        "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "proxy_set_header X-Forwarded-Proto $scheme;",
        "proxy_set_header X-Request-ID $sandbox_request_id;",
        "add_header X-Request-ID $sandbox_request_id always;",
        "proxy_set_header traceparent $sandbox_traceparent;",
        "proxy_set_header tracestate $sandbox_tracestate;",
        "add_header X-Upstream-Addr $upstream_addr always;",
        "proxy_next_upstream error timeout;",
    ):
        assert expected in api
    assert "proxy_set_header Early-Data $sandbox_early_data;" in api
    assert sum(line.startswith("proxy_set_header ") for line in api) == 10
    assert "proxy_next_upstream_tries 3;" in api
    # POSTs must not be replayed on another replica once sent.
    assert not any("non_idempotent" in line for line in api)


def test_many_servers_locations_and_upstreams_do_not_collapse() -> None:
    config = NginxConfig(
        upstreams=(
            Upstream("a", ("a1:80", "a2:80 weight=3"), balancing="least_conn", keepalive=4),
            Upstream("b", ("b1:80",), balancing="hash $request_uri consistent"),
            Upstream("c", ("c1:80",)),
        ),
        servers=(
            Server("8080", (Location("/a", "http://a"), Location("/b", "http://b"))),
            Server("8081", (Location("= /exact", directives=(("return", "204"),)),)),
            Server("8443 ssl", (Location("/grpc", grpc_pass="grpc://c"),), (("http2", "on"),)),
        ),
    )
    text = render(config)
    assert text.count("server {") == 3
    assert re.findall(r"upstream (\w+) \{", text) == ["a", "b", "c"]
    assert re.findall(r"location ([^{]+) \{", text) == ["/a", "/b", "= /exact", "/grpc"]
    assert re.findall(r"listen ([^;]+);", text) == ["8080", "8081", "8443 ssl"]
    assert lines(block(text, "upstream a")) == [
        "upstream a {",
        "least_conn;",
        "server a1:80;",
        "server a2:80 weight=3;",
        "keepalive 4;",
        "}",
    ]
    assert "hash $request_uri consistent;" in lines(block(text, "upstream b"))
    assert "grpc_pass grpc://c;" in lines(block(text, "location /grpc"))


def test_stream_block_renders_its_own_upstreams_and_servers() -> None:
    stream = Stream(
        upstreams=(Upstream("amqp", ("rabbitmq:5672",)), Upstream("kafka", ("kafka:9092",))),
        servers=(
            Server("5672", directives=(("proxy_pass", "amqp"),)),
            Server("9092", directives=(("proxy_pass", "kafka"),)),
        ),
    )
    text = render(NginxConfig(upstreams=(), servers=(), stream=stream))
    body = block(text, "stream")
    assert body.count("server {") == 2
    passes = [line for line in lines(body) if line.startswith("proxy_pass")]
    assert passes == ["proxy_pass amqp;", "proxy_pass kafka;"]


def test_quoted_arguments_are_kept_verbatim() -> None:
    spaced = 'fmt \'{"a":  "$x"}\''
    text = render(NginxConfig(upstreams=(), servers=(), http_directives=(("log_format", spaced),)))
    assert f"log_format {spaced};" in lines(text)


@pytest.mark.parametrize(
    "build",
    [
        lambda: Upstream("empty", ()),
        lambda: Location(""),
        lambda: Location("/", proxy_pass="http://a", grpc_pass="grpc://a"),
        lambda: Stream(servers=(Server("1", (Location("/"),)),)),
        lambda: NginxConfig(
            upstreams=(Upstream("a", ("x:1",)), Upstream("a", ("y:1",))), servers=()
        ),
    ],
)
def test_invalid_descriptions_are_rejected(build: object) -> None:
    with pytest.raises(ValueError):
        build()  # type: ignore[operator]
