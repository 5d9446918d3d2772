"""Lesson auth on the real stack: Hydra issuing ES256 JWTs, api-auth checking them itself.

The lesson's services (hydra, its one-shot setup, api-auth) sit behind the `auth`
profile; conftest's `lesson_services` starts them for this module.
"""

from __future__ import annotations

import httpx

from comms_sandbox import auth, docker
from scenarios.auth import QUOTE
from scenarios.auth.verdicts import REFUSED_TOKENS
from scenarios.result import ScenarioResult
from tests.helpers import assert_holds, failed


def test_hydra_issues_es256_jwts_that_verify_with_its_published_key(
    result: ScenarioResult,
) -> None:
    tokens = result.metrics["tokens"]
    assert failed(tokens) == [], tokens
    assert tokens["header"]["alg"] == "ES256"
    assert tokens["header"]["kid"] in tokens["published_kids"]


def test_each_bad_token_is_refused_with_401_and_the_reason(result: ScenarioResult) -> None:
    answers = result.metrics["authentication"]["answers"]
    assert failed(result.metrics["authentication"]) == [], answers
    reasons = {case: answers[case]["detail"] for case in REFUSED_TOKENS}
    assert "algorithm none" in reasons["alg none"]
    assert "HS256" in reasons["HS256 signed with the public key"]
    assert "audience" in reasons["another audience"]
    assert "signature" in reasons["claims edited after signing"]
    assert "expired" in reasons["expired"]


def test_scopes_and_ownership_decide_what_a_valid_token_may_do(result: ScenarioResult) -> None:
    assert failed(result.metrics["authorization"]) == [], result.metrics["authorization"]
    assert_holds(result)


def test_no_token_or_client_secret_reaches_a_log(result: ScenarioResult) -> None:
    secrets = result.metrics["secrets"]
    assert secrets["secrets_looked_for"] >= 10
    assert set(secrets["found_per_service"].values()) == {0}, secrets


def test_a_token_in_the_query_string_is_not_taken(proxy: httpx.Client) -> None:
    """RFC 6750 section 2.3 allows `?access_token=`; this api reads only the header (a URL
    lands in access logs, histories and Referer headers)."""
    token = auth.token("C-001", "quotes")
    answer = proxy.post("/secure/quotes", params={"access_token": token}, json=QUOTE)
    assert answer.status_code == 401, answer.text
    assert token not in answer.text


def test_the_default_replicas_ask_for_no_token(proxy: httpx.Client) -> None:
    assert proxy.post("/quotes", json=QUOTE).status_code == 200


def test_the_admin_api_is_neither_proxied_nor_published(proxy: httpx.Client) -> None:
    """Hydra's admin API hands out private keys: nginx does not route to it, Docker
    publishes no port of Hydra's."""
    answer = proxy.get("/admin/keys/hydra.jwt.access-token")
    assert answer.status_code == 404 and '"d"' not in answer.text
    (hydra,) = docker.containers("hydra")
    assert docker.inspect(hydra.name, "{{json .NetworkSettings.Ports}}").strip() in ("{}", "null")


def test_the_openapi_document_offers_a_bearer_scheme(proxy: httpx.Client) -> None:
    document = proxy.get("/secure/openapi.json").raise_for_status().json()
    schemes = document["components"]["securitySchemes"]
    assert {s["scheme"] for s in schemes.values()} == {"bearer"}
    assert any("security" in op for op in document["paths"]["/quotes"].values())
