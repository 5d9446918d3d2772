"""HTTP/3, 0-RTT and the echo ports in the generated nginx.conf (no Docker needed)."""

from __future__ import annotations

import re

import pytest

from proxy import http_versions, tls_termination
from proxy.nginx_builder import render
from proxy.site import SITE
from tests.helpers import block, lines, server_block


@pytest.fixture(scope="module")
def conf() -> str:
    return render(SITE)


@pytest.fixture(scope="module")
def https_server(conf: str) -> list[str]:
    return lines(server_block(conf, "8443 ssl"))


def test_quic_listens_on_the_https_port_in_the_same_server(https_server: list[str]) -> None:
    assert http_versions.QUIC_PORT == tls_termination.TLS_PORT
    assert f"listen {tls_termination.TLS_PORT} quic reuseport;" in https_server
    assert "http3 on;" in https_server and "ssl_early_data on;" in https_server


def test_every_proxied_https_location_advertises_h3_and_marks_early_data(conf: str) -> None:
    https = server_block(conf, "8443 ssl")
    paths = re.findall(r"^\s*location ([^{]+) \{$", https, flags=re.MULTILINE)
    # An `internal` location (auth_request's subrequest) never answers a client itself.
    proxied = [p for p in paths if "proxy_pass" in block(https, f"location {p}")
               and "internal;" not in lines(block(https, f"location {p}"))]  # fmt: skip
    assert len(proxied) >= 10
    for path in proxied:
        location = lines(block(https, f"location {path}"))
        assert "add_header Alt-Svc 'h3=\":8443\"; ma=86400' always;" in location, path
        assert "proxy_set_header Early-Data $sandbox_early_data;" in location, path


def test_plain_http_ports_also_drop_a_client_sent_early_data_header(conf: str) -> None:
    internal = server_block(conf, "8090")
    location = lines(block(internal, "location /"))
    assert "proxy_set_header Early-Data $sandbox_early_data;" in location


def test_the_echo_service_is_behind_nginx_on_tcp_and_udp(conf: str) -> None:
    stream = block(conf, "stream")
    tcp, udp = server_block(stream, "8447"), server_block(stream, "8447 udp")
    assert "proxy_pass echo_tcp;" in lines(tcp)
    assert "proxy_pass echo_udp;" in lines(udp)
    for name in ("echo_tcp", "echo_udp"):
        assert "server echo:7000 resolve;" in lines(block(stream, f"upstream {name}"))


def test_the_access_log_records_protocol_alpn_early_data_and_client_port(conf: str) -> None:
    log_format = next(line for line in lines(conf) if line.startswith("log_format json"))
    fields = ('"protocol":"$server_protocol"', '"alpn":"$ssl_alpn_protocol"',
              '"early_data":"$sandbox_early_data"', '"remote_port":"$remote_port"')  # fmt: skip
    for field in fields:
        assert field in log_format


def test_early_data_is_read_once_per_request_through_a_map(conf: str) -> None:
    early = lines(block(block(conf, "http"), "map $ssl_early_data $sandbox_early_data"))
    assert early[1:3] == ['"1" 1;', 'default "";']
