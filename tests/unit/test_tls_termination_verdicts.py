"""The TLS termination lesson's checks, fed a clean run and runs where one property failed."""

from __future__ import annotations

from typing import Any

from proxy import tls_termination as proxy_tls
from scenarios import tls_termination
from tests.unit.verdict_cases import Breakage, verdict_tests

REFUSED = "refused: SSLError: [SSL: TLSV1_ALERT_PROTOCOL_VERSION] tlsv1 alert protocol version"


def path(**facts: Any) -> dict[str, Any]:
    return {"alpn": "http/1.1", "subject": "localhost", "backend_scheme": "http",
            "status": 200, "resumed": 15, "rounds": 15} | facts  # fmt: skip


def clean_run() -> dict[str, Any]:
    return {
        "paths": {
            "termination": path(alpn="h2"),
            "passthrough": path(subject=proxy_tls.BACKEND, backend_scheme="https"),
            "re-encryption": path(alpn="h2", backend_scheme="https"),
        },
        "versions": {
            "TLSv1_3": "accepted",
            "TLSv1_2": "accepted",
            "TLSv1_1": REFUSED,
            "TLSv1": REFUSED,
        },
        "refusals": {
            "unknown SNI on the passthrough port": "SSLError: [SSL] unrecognized name",
            "client without the local CA": "SSLCertVerificationError: unable to get issuer",
            "plain HTTP to the TLS port": "400: 400 The plain HTTP request was sent to HTTPS port",
            "plain HTTP on 8080": "308 -> https://localhost:8443/whoami",
            "re-encryption trusting the wrong CA": "502: 502 Bad Gateway",
        },
    }


def failing(metrics: dict[str, Any]) -> list[str]:
    return [check for check, holds in tls_termination.checks(metrics).items() if not holds]


def test_a_clean_run_holds() -> None:
    assert failing(clean_run()) == []


BROKEN: dict[str, tuple[Breakage, str]] = {
    "no h2 where nginx terminates": (
        lambda m: m["paths"]["termination"].update(alpn="http/1.1"),
        "termination: nginx negotiates h2",
    ),
    "termination shows the backend's certificate": (
        lambda m: m["paths"]["termination"].update(subject=proxy_tls.BACKEND),
        "termination: nginx shows the localhost certificate",
    ),
    "passthrough shows nginx's certificate": (
        lambda m: m["paths"]["passthrough"].update(subject="localhost"),
        "passthrough: the backend shows its own certificate",
    ),
    "re-encryption talks plain HTTP": (
        lambda m: m["paths"]["re-encryption"].update(backend_scheme="http"),
        "re-encryption: the backend is reached over https",
    ),
    "a session not resumed": (
        lambda m: m["paths"]["passthrough"].update(resumed=14),
        "every path answers 200 and resumes every session",
    ),
    "a path answering 502": (
        lambda m: m["paths"]["re-encryption"].update(status=502),
        "every path answers 200 and resumes every session",
    ),
    "TLS 1.2 refused": (
        lambda m: m["versions"].update(TLSv1_2=REFUSED),
        "TLS 1.3 and 1.2 accepted",
    ),
    "TLS 1.0 accepted": (
        lambda m: m["versions"].update(TLSv1="accepted"),
        "TLS 1.1 and 1.0 refused",
    ),
    "plain HTTP served on the TLS port": (
        lambda m: m["refusals"].update({"plain HTTP to the TLS port": "200: ok"}),
        "plain HTTP to the TLS port gets 400",
    ),
    "plain HTTP on 8080 served": (
        lambda m: m["refusals"].update({"plain HTTP on 8080": "200 -> None"}),
        "plain HTTP on 8080 gets a 308",
    ),
    "the wrong CA trusted": (
        lambda m: m["refusals"].update({"re-encryption trusting the wrong CA": "200: whoami"}),
        "re-encryption trusting the wrong CA gets 502",
    ),
    "an unknown SNI name served": (
        lambda m: m["refusals"].update({"unknown SNI on the passthrough port": "None"}),
        "an unknown SNI name is refused",
    ),
    "an untrusting client connected": (
        lambda m: m["refusals"].update({"client without the local CA": "None"}),
        "a client without the local CA is refused",
    ),
}


test_each_breakage_fails_its_own_check, test_every_check_has_a_failing_case = verdict_tests(
    tls_termination.checks, clean_run, BROKEN
)
