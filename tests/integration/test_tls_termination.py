"""TLS on the real proxy: termination on 8443, passthrough on 8444, re-encryption to api-tls."""

from __future__ import annotations

import ssl

import httpx
import pytest
from testcontainers.compose import DockerCompose

from comms_sandbox import config, ports
from comms_sandbox.compose import compose
from proxy import tls_termination as proxy_tls
from scenarios import tls_termination
from scenarios.tls_termination import probes
from tests.helpers import assert_holds

HOST = ports.HOST


def target(port: int, sni: str = "localhost") -> probes.Target:
    return probes.Target("test", port, sni, "/whoami")


@pytest.fixture(scope="module")
def https(stack: DockerCompose) -> httpx.Client:
    with httpx.Client(base_url=config.proxy_url(), verify=probes.context(), timeout=10) as c:
        yield c


@pytest.mark.parametrize(
    ("version", "name"), [(ssl.TLSVersion.TLSv1_3, "TLSv1.3"), (ssl.TLSVersion.TLSv1_2, "TLSv1.2")]
)
def test_modern_handshakes_succeed_with_the_local_ca(
    stack: DockerCompose, version: ssl.TLSVersion, name: str
) -> None:
    facts = probes.handshake(target(ports.PROXY_TLS.port), probes.context(version=version))
    assert facts["version"] == name
    assert "GCM" in facts["cipher"] or "CHACHA20" in facts["cipher"]  # AEAD only
    assert facts["issuer"] == "comms-sandbox local CA"


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
def test_tls11_is_refused_by_the_server(stack: DockerCompose) -> None:
    # old_protocols: let this client offer TLS 1.1 at all.
    context = probes.context(version=ssl.TLSVersion.TLSv1_1, old_protocols=True)
    with pytest.raises(ssl.SSLError) as refused:
        probes.handshake(target(ports.PROXY_TLS.port), context)
    # The server's protocol_version alert, not a client that never sent a hello.
    assert "NO_PROTOCOLS_AVAILABLE" not in str(refused.value)
    assert "VERSION" in str(refused.value).upper() or "PROTOCOL" in str(refused.value).upper()


def test_alpn_negotiates_http2(stack: DockerCompose) -> None:
    assert probes.ALPN_OFFER == ["h2", "http/1.1"]
    assert probes.handshake(target(ports.PROXY_TLS.port), probes.context())["alpn"] == "h2"


def test_hsts_and_forwarded_proto_reach_the_right_places(https: httpx.Client) -> None:
    response = https.get("/whoami")
    assert response.status_code == 200
    assert response.headers["strict-transport-security"] == "max-age=300"
    seen = response.json()["headers"]
    assert seen["x-forwarded-proto"] == "https"
    assert seen["x-forwarded-for"]  # the client's address, as nginx saw it


def test_passthrough_presents_the_backends_certificate(stack: DockerCompose) -> None:
    passthrough = target(ports.PROXY_PASSTHROUGH.port, proxy_tls.PASSTHROUGH_SNI)
    facts = probes.handshake(passthrough, probes.context())
    assert facts["subject"] == proxy_tls.BACKEND  # api-tls's, not the proxy's "localhost"
    with httpx.Client(verify=probes.context(), timeout=10) as client:
        response = client.get(
            f"https://{HOST}:{ports.PROXY_PASSTHROUGH.port}/whoami",
            extensions={"sni_hostname": proxy_tls.PASSTHROUGH_SNI},
        )
    assert response.status_code == 200
    assert "x-forwarded-proto" not in response.json()["headers"]  # nginx never saw HTTP


def test_unknown_sni_fails_the_handshake_and_the_proxy_keeps_serving(
    stack: DockerCompose, https: httpx.Client
) -> None:
    with pytest.raises((ssl.SSLError, ConnectionError)):
        probes.handshake(
            target(ports.PROXY_PASSTHROUGH.port, "unknown.localhost"), probes.context()
        )
    assert https.get("/whoami").status_code == 200


def test_reencryption_verifies_the_backend(https: httpx.Client) -> None:
    response = https.get("/reencrypt/whoami")
    assert response.status_code == 200
    assert response.json()["headers"]["x-forwarded-proto"] == "https"


def test_reencryption_with_the_wrong_ca_is_a_502_and_logged(https: httpx.Client) -> None:
    response = https.get("/reencrypt-wrong-ca/whoami")
    assert response.status_code == 502
    logs = compose("logs", "--no-log-prefix", "--since=2m", "proxy", capture=True).stdout
    assert "upstream SSL certificate verify error" in logs


def test_a_client_without_the_ca_is_refused(stack: DockerCompose) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        probes.handshake(target(ports.PROXY_TLS.port), ssl.create_default_context())


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_plain_http_gets_a_308_to_https_that_keeps_the_method(
    stack: DockerCompose, method: str
) -> None:
    response = httpx.request(method, f"{config.proxy_http_url()}/whoami?a=1", timeout=10)
    assert response.status_code == 308  # unlike 301, a 308 is repeated with the same method
    assert response.headers["location"] == f"https://{HOST}:{proxy_tls.TLS_PORT}/whoami?a=1"


@pytest.mark.parametrize("path", ["/nginx-health", "/healthz", "/readyz"])
def test_health_endpoints_answer_over_plain_http(stack: DockerCompose, path: str) -> None:
    assert httpx.get(f"{config.proxy_http_url()}{path}", timeout=10).status_code == 200


def test_plain_http_to_the_tls_port_gets_nginx_400(https: httpx.Client) -> None:
    response = httpx.get(f"http://{HOST}:{ports.PROXY_TLS.port}/whoami", timeout=10)
    assert response.status_code == 400
    assert "plain HTTP request was sent to HTTPS port" in response.text
    assert https.get("/whoami").status_code == 200


def test_tls_termination_scenario_reports_where_tls_ends(stack: DockerCompose) -> None:
    result = tls_termination.run()
    paths = result.metrics["paths"]
    assert paths["termination"]["alpn"] == "h2"
    assert (paths["termination"]["backend_scheme"], paths["termination"]["x_forwarded_proto"]) == (
        "http",
        "https",
    )
    assert paths["passthrough"]["subject"] == proxy_tls.BACKEND
    assert paths["passthrough"]["x_forwarded_proto"] is None
    assert paths["re-encryption"]["backend_scheme"] == "https"
    assert all(p["resumed"] == p["rounds"] for p in paths.values())  # every resumption took
    assert result.metrics["versions"]["TLSv1_1"].startswith("refused")
    assert result.metrics["refusals"]["plain HTTP to the TLS port"].startswith("400")
    assert_holds(result)
