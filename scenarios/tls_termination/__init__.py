"""TLS termination: where TLS ends, what was negotiated, and what is refused.

Three ways through the same proxy (proxy/tls_termination.py), certificates from a
throwaway local CA (.sandbox/tls/ca.pem, made by `make up`):
- termination, https://127.0.0.1:8443: nginx ends TLS and talks plain HTTP
  to the api replicas, which learn of it from X-Forwarded-Proto;
- passthrough, port 8444: nginx reads only the SNI name and passes the bytes
  to api-tls, which terminates TLS itself (you see its certificate);
- re-encryption, https://127.0.0.1:8443/reencrypt/: nginx ends the client's
  TLS and opens its own to api-tls, verifying that certificate.

What to look at: per path the negotiated version, cipher, ALPN protocol (h2
where nginx terminates), the certificate's subject, issuer and SANs, who
terminated TLS as the backend saw it, and a full handshake versus a resumed
one. Then the refusals: TLS 1.0/1.1, an unknown SNI name, a client that does
not trust the CA, plain HTTP on the TLS port (nginx's 400), plain HTTP on
8080 (a 308 to HTTPS), and re-encryption against the wrong CA (502).
"""

from __future__ import annotations

import ssl
from typing import Any

import httpx
from rich.console import Console

from comms_sandbox import config, ports
from comms_sandbox.health import require_proxy
from proxy import tls_termination as proxy_tls
from scenarios.report import records_table
from scenarios.result import ScenarioResult, all_hold
from scenarios.tls_termination.probes import (
    Target,
    backend_view,
    context,
    handshake,
    refusal,
    resumption,
    terminated_by,
)

NAME = "tls-termination"
ORDER = 30  # place in the syllabus
# What `make up LESSON=tls-termination` starts: nginx (terminating, passing through, re-encrypting)
# and api-tls.
SERVICES = ("proxy",)
# Files elsewhere that the lesson relies on (its page's `## Files` lists them).
SHARED_FILES = (
    "proxy/site.py",
    "proxy/nginx.conf",
    "comms_sandbox/certs.py",
    "services/api/",
    "tests/unit/test_certs.py",
)


def targets() -> tuple[Target, ...]:
    return (
        Target("termination", ports.PROXY_TLS.port, "localhost", "/whoami"),
        Target("passthrough", ports.PROXY_PASSTHROUGH.port, proxy_tls.PASSTHROUGH_SNI, "/whoami"),
        Target("re-encryption", ports.PROXY_TLS.port, "localhost", "/reencrypt/whoami"),
    )


def path_report(target: Target) -> dict[str, Any]:
    facts = handshake(target, context())
    facts.pop("session")
    view = backend_view(target)
    return facts | view | {"terminated_by": terminated_by(view)} | resumption(target)


def versions(target: Target) -> dict[str, str]:
    """Each protocol version alone: what happened."""
    outcome = {}
    for version in (
        ssl.TLSVersion.TLSv1_3,
        ssl.TLSVersion.TLSv1_2,
        ssl.TLSVersion.TLSv1_1,
        ssl.TLSVersion.TLSv1,
    ):
        old = version < ssl.TLSVersion.TLSv1_2
        error = refusal(target, context(version, old_protocols=old))
        outcome[version.name] = "accepted" if error is None else f"refused: {error}"
    return outcome


def refusals(termination: Target, passthrough: Target) -> dict[str, str]:
    plain_on_tls = httpx.get(f"http://{ports.HOST}:{ports.PROXY_TLS.port}/whoami", timeout=10)
    plain = httpx.get(f"{config.proxy_http_url()}/whoami", timeout=10)
    with httpx.Client(verify=context(), timeout=10) as client:
        wrong_ca = client.get(f"{config.proxy_url()}/reencrypt-wrong-ca/whoami")
    unknown_sni = Target("unknown SNI", passthrough.port, "unknown.localhost", "/")
    return {
        "unknown SNI on the passthrough port": str(refusal(unknown_sni, context())),
        "client without the local CA": str(refusal(termination, ssl.create_default_context())),
        "plain HTTP to the TLS port": f"{plain_on_tls.status_code}: {_title(plain_on_tls.text)}",
        "plain HTTP on 8080": f"{plain.status_code} -> {plain.headers.get('location')}",
        "re-encryption trusting the wrong CA": f"{wrong_ca.status_code}: {_title(wrong_ca.text)}",
    }


def _title(html: str) -> str:
    start = html.find("<title>")
    return html[start + 7 : html.find("</title>")] if start >= 0 else html[:60]


def run() -> ScenarioResult:
    require_proxy()
    termination, passthrough, _ = targets()
    paths = {target.name: path_report(target) for target in targets()}
    metrics = {
        "paths": paths,
        "versions": versions(termination),
        "refusals": refusals(termination, passthrough),
    }
    metrics["checks"] = checks(metrics)
    return ScenarioResult(NAME, all_hold(metrics["checks"]), metrics)


def checks(m: dict[str, Any]) -> dict[str, bool]:
    """Each property the scenario demonstrates, judged from its metrics."""
    paths, versions_, refused = m["paths"], m["versions"], m["refusals"]
    return {
        "termination: nginx negotiates h2": paths["termination"]["alpn"] == "h2",
        "termination: nginx shows the localhost certificate":
            paths["termination"]["subject"] == "localhost",
        "passthrough: the backend shows its own certificate":
            paths["passthrough"]["subject"] == proxy_tls.BACKEND,
        "re-encryption: the backend is reached over https":
            paths["re-encryption"]["backend_scheme"] == "https",
        "every path answers 200 and resumes every session": all(
            p["status"] == 200 and p["resumed"] == p["rounds"] for p in paths.values()
        ),
        "TLS 1.3 and 1.2 accepted": versions_["TLSv1_3"] == versions_["TLSv1_2"] == "accepted",
        "TLS 1.1 and 1.0 refused": versions_["TLSv1_1"].startswith("refused")
            and versions_["TLSv1"].startswith("refused"),
        "plain HTTP to the TLS port gets 400":
            refused["plain HTTP to the TLS port"].startswith("400"),
        "plain HTTP on 8080 gets a 308": refused["plain HTTP on 8080"].startswith("308"),
        "re-encryption trusting the wrong CA gets 502":
            refused["re-encryption trusting the wrong CA"].startswith("502"),
        "an unknown SNI name is refused": refused["unknown SNI on the passthrough port"] != "None",
        "a client without the local CA is refused":
            refused["client without the local CA"] != "None",
    }  # fmt: skip


PATH_ROWS = (
    *("version", "cipher", "alpn", "subject", "issuer", "sans", "terminated_by"),
    *("backend", "x_forwarded_proto", "hsts", "full_ms", "resumed_ms", "resumed"),
)


def render(result: ScenarioResult, console: Console) -> None:
    m = result.metrics
    console.print(f"trusting the local CA {config.ca_cert()}")
    rows = [
        {"": row} | {name: _cell(p[row]) for name, p in m["paths"].items()} for row in PATH_ROWS
    ]
    console.print(records_table("per path (TLS 1.3 offered with h2 and http/1.1)", rows,
                                ("", *m["paths"])))  # fmt: skip
    versions_ = [{"protocol": v, "outcome": o} for v, o in m["versions"].items()]
    console.print(records_table("one protocol version at a time, to 8443", versions_,
                                ("protocol", "outcome")))  # fmt: skip
    refused = [{"attempt": k, "answer": v} for k, v in m["refusals"].items()]
    console.print(records_table("bad input gets a defined answer", refused, ("attempt", "answer")))


def _cell(value: Any) -> str:
    return ", ".join(value) if isinstance(value, list) else str(value)
