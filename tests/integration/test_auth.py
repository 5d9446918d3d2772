"""Lesson auth on the real stack: Hydra issuing ES256 JWTs, api-auth checking them itself.

The lesson's services (hydra, its one-shot setup, api-auth) sit behind the `auth`
profile; conftest's `lesson_services` starts them for this module.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
from playwright.sync_api import Browser, BrowserContext, Page

from comms_sandbox import auth, config, docker
from comms_sandbox.credentials import user_password
from scenarios.auth import QUOTE
from scenarios.auth.verdicts import REFUSED_TOKENS
from scenarios.result import ScenarioResult
from tests.helpers import assert_holds, failed
from tests.integration.browser import goto
from tests.integration.test_polling_and_push_browser import (
    PUBLISH_RESULT_JS,
    all_once_up_to,
    page_finished_publishing,
    wait_for_panels,
)


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


def test_pkce_csrf_and_guessing_hold(result: ScenarioResult) -> None:
    for part in ("signin", "csrf", "guessing"):
        assert failed(result.metrics[part]) == [], result.metrics[part]


def test_each_service_identity_is_refused_what_its_service_never_does(
    result: ScenarioResult,
) -> None:
    privileges = result.metrics["privileges"]
    assert failed(privileges) == [], privileges
    services = {row["used_by"] for row in privileges["identities"]}
    assert {"api", "outbox-relay", "shipping"} <= services


def test_api_auth_and_pricing_require_a_client_certificate_from_the_sandbox_s_ca(
    result: ScenarioResult,
) -> None:
    mtls = result.metrics["mtls"]
    assert failed(mtls) == [], mtls
    for server in ("api-auth", "pricing-mtls"):
        outcomes = {mode: probe["outcome"] for mode, probe in mtls["probes"][server].items()}
        assert outcomes == {"no certificate": "refused", "another CA": "refused", "ours": "served"}


def test_a_session_cookie_opens_the_feed_and_signaling_from_this_site_only(
    result: ScenarioResult,
) -> None:
    sessions = result.metrics["sessions"]
    assert failed(sessions) == [], sessions
    assert {name: opened["another site's page"] for name, opened in
            sessions["websockets"].items()} == {"feed": "403", "signaling": "403"}  # fmt: skip


def test_the_signing_key_rotates_under_load_with_no_failed_request(result: ScenarioResult) -> None:
    rotation = result.metrics["rotation"]
    assert failed(rotation) == [], rotation
    assert rotation["published_during_overlap"] != rotation["published_after_retiring"]


SESSION_JS = "() => ({...document.getElementById('session').dataset})"
CALLS_JS = """() => Object.fromEntries([...document.querySelectorAll('#answers tr')]
  .map(row => [row.dataset.call, row.dataset.status]))"""


def wait_for(
    page: Page, script: str, condition: Callable[[dict[str, str]], bool], timeout_s: float = 20
) -> dict[str, str]:
    """Poll the page (its CSP forbids the eval that wait_for_function needs)."""
    deadline = time.monotonic() + timeout_s
    while not condition(state := page.evaluate(script)):
        assert time.monotonic() < deadline, f"the page did not get there: {page.evaluate(script)}"
        page.wait_for_timeout(100)
    return state


def sign_in(page: Page, context: BrowserContext) -> None:
    """alice through the page, Hydra, api-auth's login and consent pages."""
    goto(page, f"{config.proxy_url()}/secure/signin")
    page.click("#signin")
    page.wait_for_url("**/secure/login?login_challenge=*")
    csrf = next(c for c in context.cookies() if c["name"] == "__Host-sandbox-csrf")
    assert (csrf["sameSite"], csrf["httpOnly"], csrf["secure"]) == ("Strict", True, True)
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", user_password("alice"))
    page.click("button[type=submit]")
    page.wait_for_url("**/secure/consent?consent_challenge=*")
    page.click("button[value=allow]")
    session = wait_for(page, SESSION_JS, lambda s: s.get("state") != "signed-out")
    assert session == {"state": "signed-in", "subject": "C-001",
                       "scopes": "openid orders.read orders.write quotes"}, session  # fmt: skip
    assert "code=" not in page.url  # the page took the single-use code off its URL


@contextmanager
def signed_in(browser: Browser) -> Iterator[tuple[Page, BrowserContext]]:
    """A new browser context, alice signed in on its page; no script error on it."""
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        sign_in(page, context)
        yield page, context
    finally:
        context.close()
    assert errors == []


def test_a_person_signs_in_on_the_page_and_calls_the_api_with_its_token(browser: Browser) -> None:
    """The browser page (services/api/static/signin.html): authorization code with PKCE
    through Hydra, api-auth's login and consent pages, then calls with the token."""
    with signed_in(browser) as (page, _):
        for button in ("#quote", "#mine", "#theirs"):
            page.click(button)
        calls = wait_for(page, CALLS_JS, lambda c: len(c) == 3)
        assert calls == {"quote": "200", "mine": "200", "theirs": "403"}, calls
        stored = page.evaluate("() => JSON.stringify([{...localStorage}, {...sessionStorage}])")
        assert "eyJ" not in stored, "the token was kept in storage a script can read later"
        page.screenshot(path=str(config.RESULTS_DIR / "auth-signin.png"), full_page=True)


# In the page: a WebSocket to signaling under /secure/; resolves with its first message,
# or "refused" when it closes without opening (the handshake got an HTTP error).
JOIN_JS = """async (room) => new Promise((resolve) => {
  const ws = new WebSocket(`wss://${location.host}/secure/signal/ws?room=${room}&peer=alice`);
  ws.onmessage = (event) => { resolve(JSON.parse(event.data).type); ws.close(); };
  ws.onclose = () => resolve("refused");
})"""
FETCH_STATUS_JS = "async (path) => (await fetch(path, {cache: 'no-store'})).status"


def test_the_feed_and_signaling_work_signed_in_and_refuse_a_browser_that_is_not(
    browser: Browser,
) -> None:
    """Signed in, the page trades its token for a session cookie; the feed page under
    /secure/feed/ then gets every event by all four methods, and signaling's WebSocket
    joins a room. Another browser with no session gets 401 and a refused WebSocket."""
    with signed_in(browser) as (page, context):
        page.click("#session-start")
        assert wait_for(page, CALLS_JS, lambda c: "session" in c) == {"session": "201"}
        cookie = next(c for c in context.cookies() if c["name"] == "__Host-sandbox-session")
        assert (cookie["sameSite"], cookie["httpOnly"], cookie["secure"]) == ("Strict", True, True)
        goto(page, f"{config.proxy_url()}/secure/feed/")
        start = int(wait_for(page, "() => ({...document.body.dataset})",
                             lambda d: "latestAtLoad" in d)["latestAtLoad"])  # fmt: skip
        page.click("#publish-ten")
        assert page_finished_publishing(page)["busy"] is False
        published = page.evaluate(PUBLISH_RESULT_JS)["published"]
        assert published == 10, page.evaluate(PUBLISH_RESULT_JS)
        wait_for_panels(page, all_once_up_to(start, start + 10), "got the ten once", 30)
        assert page.evaluate(JOIN_JS, "auth-test") == "joined"
        page.screenshot(path=str(config.RESULTS_DIR / "auth-feed-signed-in.png"), full_page=True)
    stranger = browser.new_context()
    try:
        page = stranger.new_page()
        goto(page, f"{config.proxy_url()}/secure/feed/")
        assert page.evaluate(FETCH_STATUS_JS, "/secure/feed/events?after=0") == 401
        assert page.evaluate(JOIN_JS, "auth-test") == "refused"
    finally:
        stranger.close()
