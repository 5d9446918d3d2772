"""The auth lesson's verdicts, fed runs where the property failed (scenarios/auth/verdicts.py)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from api import session as api_session
from scenarios.auth import sessions
from scenarios.auth.verdicts import (
    EXPECTED_STATUS,
    REFUSED_TOKENS,
    authentication_holds,
    authorization_holds,
    code_flow_holds,
    csrf_holds,
    edge_holds,
    guessing_holds,
    limits_holds,
    mutual_tls_holds,
    privileges_holds,
    rotation_holds,
    secrets_holds,
    sessions_holds,
    token_holds,
)
from scenarios.result import outcome

ISSUER, AUDIENCE = "https://127.0.0.1:8443/", "https://api.comms-sandbox.test/orders"
INVALID = 'Bearer realm="comms-sandbox", error="invalid_token", error_description="why"'
CLAIMS = {"iss": ISSUER, "aud": [AUDIENCE], "iat": 1000, "exp": 1300}


def answer(status: int, challenge: str = "") -> dict[str, Any]:
    return {"status": status, "www_authenticate": challenge, "detail": "why"}


def good_authentication() -> dict[str, dict[str, Any]]:
    return {
        "no token": answer(401, 'Bearer realm="comms-sandbox"'),
        **{case: answer(401, INVALID) for case in REFUSED_TOKENS},
        "valid": answer(200),
    }


def good_authorization() -> dict[str, dict[str, Any]]:
    answers = {case: answer(status) for case, status in EXPECTED_STATUS.items()}
    answers["a token without orders.write places one"] = answer(
        403, 'Bearer error="insufficient_scope", scope="orders.write"'
    )
    return answers


def test_a_good_run_holds() -> None:
    assert all(token_holds({"alg": "ES256"}, CLAIMS, True, ISSUER, AUDIENCE).values())
    assert all(authentication_holds(good_authentication()).values())
    assert all(authorization_holds(good_authorization()).values())
    assert all(secrets_holds({"proxy": 0, "hydra": 0}, 12, {"proxy": 0, "hydra": 0}).values())


def test_a_token_that_does_not_verify_or_is_rs256_fails() -> None:
    assert not all(token_holds({"alg": "ES256"}, CLAIMS, False, ISSUER, AUDIENCE).values())
    assert not all(token_holds({"alg": "RS256"}, CLAIMS, True, ISSUER, AUDIENCE).values())


def test_a_token_for_another_audience_or_living_an_hour_fails() -> None:
    other = {**CLAIMS, "aud": ["https://billing.comms-sandbox.test/"]}
    assert not all(token_holds({"alg": "ES256"}, other, True, ISSUER, AUDIENCE).values())
    hour = {**CLAIMS, "exp": 1000 + 3600}
    assert not all(token_holds({"alg": "ES256"}, hour, True, ISSUER, AUDIENCE).values())


def test_a_bad_token_accepted_fails() -> None:
    for case in REFUSED_TOKENS:
        answers = good_authentication() | {case: answer(200)}
        assert not authentication_holds(answers)[f"{case}: 401 invalid_token, with why"]


def test_a_refusal_without_its_reason_or_error_code_fails() -> None:
    bare = good_authentication() | {"expired": answer(401, 'Bearer realm="comms-sandbox"')}
    assert not all(authentication_holds(bare).values())
    told = good_authentication() | {"no token": answer(401, INVALID)}  # no token: no error code
    assert not all(authentication_holds(told).values())


def test_another_customers_order_seen_fails() -> None:
    answers = good_authorization() | {"another customer reads it": answer(200)}
    assert not authorization_holds(answers)["another customer reads it: 404"]


def test_a_403_that_does_not_name_the_scope_fails() -> None:
    answers = good_authorization() | {"a token without orders.write places one": answer(403)}
    assert not all(authorization_holds(answers).values())


def test_a_secret_in_a_log_or_nothing_looked_for_fails() -> None:
    clean = {"proxy": 0, "hydra": 0}
    assert not all(secrets_holds({"proxy": 0, "hydra": 1}, 12, clean).values())
    assert not all(secrets_holds({"proxy": 0}, 0, clean).values())
    assert not all(secrets_holds(clean, 12, {"proxy": 0, "hydra": 1}).values())
    assert not all(secrets_holds(clean, 12, {}).values())


def good_edge() -> tuple[dict[str, dict[str, Any]], dict[str, int | str]]:
    answers = {
        "no token, through nginx's /edge/": answer(401, 'Bearer realm="comms-sandbox"'),
        "a token without the scope, through nginx's /edge/": answer(
            403, 'Bearer error="insufficient_scope", scope="quotes"'
        ),
        "a valid token, through nginx's /edge/": answer(200),
        "no token, on nginx's layer-4 port": answer(200),
    }
    inside: dict[str, int | str] = {"a default replica (checked at the edge)": 200,
                                    "api-auth (checked in the service)": 401,
                                    "api-auth, no client certificate": "refused"}  # fmt: skip
    return answers, inside


def test_the_edge_and_the_service_as_they_are_hold() -> None:
    assert all(edge_holds(*good_edge()).values())


def test_an_edge_that_lets_no_token_through_fails() -> None:
    answers, inside = good_edge()
    answers["no token, through nginx's /edge/"] = answer(200)
    assert not all(edge_holds(answers, inside).values())


def test_a_service_check_missed_inside_the_network_fails() -> None:
    answers, inside = good_edge()
    missed = inside | {"api-auth (checked in the service)": 200}
    assert not all(edge_holds(answers, missed).values())


def test_a_service_served_without_a_client_certificate_fails() -> None:
    answers, inside = good_edge()
    served = inside | {"api-auth, no client certificate": "served"}
    assert not all(edge_holds(answers, served).values())


Sent = list[tuple[float, int, str | None]]


def hammered(passed: int, refused: int, every_s: float = 0.01) -> Sent:
    answers = [200] * passed + [429] * refused
    return [(n * every_s, s, "7" if s == 429 else None) for n, s in enumerate(answers)]


def test_a_limit_that_holds_holds() -> None:
    checks = limits_holds(hammered(10, 5), other=200, limit=10, window_s=10)
    assert {outcome(c) for c in checks.values()} == {"holds"}


def test_more_answered_than_the_limit_fails() -> None:
    checks = limits_holds(hammered(15, 0), other=200, limit=10, window_s=10)
    assert outcome(checks["no 10 s held more than 10 answered requests of one identity"]) == "fails"


def test_a_429_without_retry_after_or_another_identity_held_back_fails() -> None:
    bare = [(at, status, None) for at, status, _ in hammered(10, 5)]
    checks = limits_holds(bare, other=429, limit=10, window_s=10)
    assert outcome(checks["past the limit: 429 with Retry-After, in 1 to 10 s"]) == "fails"
    assert outcome(checks["another identity meanwhile: 200"]) == "fails"


def test_requests_too_slow_to_reach_the_limit_are_not_shown() -> None:
    checks = limits_holds(hammered(15, 0, every_s=1.0), other=200, limit=10, window_s=10)
    assert outcome(checks["past the limit: 429 with Retry-After, in 1 to 10 s"]) == "not shown"


def test_a_challenge_given_twice_fails() -> None:
    answers, inside = good_edge()
    twice = 'Bearer realm="comms-sandbox", Bearer realm="comms-sandbox"'
    answers["no token, through nginx's /edge/"] = answer(401, twice)
    assert not all(edge_holds(answers, inside).values())


def rotated(**changes: Any) -> dict[str, bool]:
    """A rotation from key A to key B, as the run records it, with `changes`."""
    run: dict[str, Any] = {
        "old_kid": "A",
        "during_overlap": ["A", "B"],
        "after": ["B"],
        "tokens": [("before", "A"), ("overlap", "B"), ("retired", "B")],
        "answers": [("before", "A", 200), ("overlap", "A", 200), ("overlap", "B", 200),
                    ("retired", "B", 200)],
        "held": (200, 401, 12.0),
        "refused_within_s": 25.0,
    } | changes  # fmt: skip
    return rotation_holds(run.pop("old_kid"), **run)


def test_a_rotation_without_a_failed_request_holds() -> None:
    assert all(rotated().values())


@pytest.mark.parametrize(
    ("changes", "failing"),
    [
        ({"during_overlap": ["B"]}, "published the old key and a new one"),
        ({"after": ["A", "B"]}, "no longer published"),
        ({"tokens": [("before", "A"), ("overlap", "A")]}, "signed with a new key"),
        (
            {"answers": [("before", "A", 200), ("overlap", "B", 503), ("retired", "B", 200)]},
            "0 requests failed",
        ),
        ({"answers": [("before", "A", 200), ("overlap", "B", 200)]}, "0 requests failed"),
        ({"held": (401, 401, 1.0)}, "accepted in the overlap"),
        ({"held": (200, 200, 30.0)}, "then refused"),
        ({"held": (200, 401, 40.0)}, "then refused"),
    ],
)
def test_a_rotation_that_lost_a_request_or_kept_the_old_key_fails(
    changes: dict[str, Any], failing: str
) -> None:
    holds = rotated(**changes)
    assert [name for name, ok in holds.items() if not ok] == [
        name for name in holds if failing in name
    ]


REFUSED = {"status": 400, "error": "invalid_grant"}
GOOD_EXCHANGES = {
    "no verifier": REFUSED,
    "another verifier": REFUSED,
    "its verifier": {"status": 200, "error": ""},
    "its verifier, the code used again": REFUSED,
}
SIGNED_IN = {"sub": "C-001", "client_id": "signin-page", "scp": ["openid", "orders.read", "quotes"]}


def code_flow(**changes: Any) -> dict[str, bool]:
    run: dict[str, Any] = {
        "without_challenge": "invalid_request", "state_returned": True,
        "exchanges": GOOD_EXCHANGES, "claims": SIGNED_IN,
        "orders": {"C-001": 200, "C-002": 403},
    } | changes  # fmt: skip
    return code_flow_holds(**run)


def failing(holds: dict[str, bool]) -> list[str]:
    return [name for name, ok in holds.items() if not ok]


def test_a_code_flow_with_pkce_as_it_should_be_holds() -> None:
    assert failing(code_flow()) == []


@pytest.mark.parametrize(
    ("changes", "fails"),
    [
        ({"without_challenge": ""}, "without a PKCE challenge"),
        ({"state_returned": False}, "state"),
        ({"exchanges": GOOD_EXCHANGES | {"another verifier": {"status": 200, "error": ""}}},
         "another verifier"),
        ({"exchanges": GOOD_EXCHANGES | {"its verifier, the code used again": {"status": 200,
          "error": ""}}}, "same code again"),
        ({"claims": SIGNED_IN | {"sub": "signin-page"}}, "names the person"),
        ({"orders": {"C-001": 200, "C-002": 200}}, "the other customer's 403"),
    ],
)  # fmt: skip
def test_a_code_flow_that_lets_a_code_through_or_names_nobody_fails(
    changes: dict[str, Any], fails: str
) -> None:
    assert [name for name in failing(code_flow(**changes)) if fails in name]


FORGED = {"another site's Origin": 403, "a token that is not the cookie's": 403, "no cookie": 403}
STRICT = ["httponly", "path=/", "samesite=strict", "secure"]


def test_a_csrf_guard_that_refuses_every_forged_post_holds() -> None:
    assert failing(csrf_holds("__Host-sandbox-csrf", STRICT, FORGED)) == []


def test_a_lax_cookie_or_a_forged_post_let_through_fails() -> None:
    lax = ["httponly", "path=/", "samesite=lax", "secure"]
    assert failing(csrf_holds("__Host-sandbox-csrf", lax, FORGED))
    assert failing(csrf_holds("sandbox-csrf", STRICT, FORGED))
    assert failing(csrf_holds("__Host-sandbox-csrf", STRICT, FORGED | {"no cookie": 303}))
    assert failing(csrf_holds("__Host-sandbox-csrf", STRICT, {}))


POLICY = (5, 0.25, 4.0)


def guessed(took: list[float], locked: int = 1) -> list[dict[str, Any]]:
    wrong = [{"status": 403, "took_s": t, "retry_after": None} for t in took]
    return wrong + [{"status": 429, "took_s": 0.01, "retry_after": "600"}] * locked


def test_guessing_slowed_then_locked_holds() -> None:
    holds = guessing_holds(guessed([0.6, 0.8, 1.4, 2.3, 4.3]), 429, 5, 303, POLICY)
    assert failing(holds) == []


@pytest.mark.parametrize(
    ("args", "fails"),
    [
        ((guessed([0.6, 0.8, 0.9, 2.3, 4.3]), 429, 5, 303), "no sooner than its delay"),
        ((guessed([0.6, 0.8, 1.4, 2.3, 4.3], locked=0), 429, 5, 303), "429 with Retry-After"),
        ((guessed([0.6, 0.8, 1.4, 2.3, 4.3]), 303, 5, 303), "right password while locked"),
        ((guessed([0.6, 0.8, 1.4, 2.3, 4.3]), 429, 0, 303), "Redis counted"),
        ((guessed([0.6, 0.8, 1.4, 2.3, 4.3]), 429, 5, 429), "another user"),
    ],
)
def test_guessing_not_slowed_or_not_locked_fails(args: tuple[Any, ...], fails: str) -> None:
    assert [name for name in failing(guessing_holds(*args, POLICY)) if fails in name]


MADE = itertools.count()


def identity(
    expected: str, code: str, logged_in: bool = True, answer: str = "", system: str = "PostgreSQL"
) -> dict[str, Any]:
    """A row of the privileges part; each a new identity."""
    row = {"system": system, "identity": f"id-{next(MADE)}", "tries": "it", "expected": expected}
    return row | {"code": code, "logged_in": logged_in, "answer": answer}


TURNED_AWAY = identity("login", "login", False, "FATAL:  pg_hba.conf rejects connection")
KAFKA_REFUSED_LOGIN = identity("login", "login", False, "(the broker logged 1)", "Kafka")
GOOD_ROWS = [
    identity("403", "403"),
    identity("42501", "42501"),
    TURNED_AWAY,
    KAFKA_REFUSED_LOGIN,
    identity("29", "29", system="Kafka"),
    *(identity("403", "403", answer="x" * n) for n in range(1, 9)),
]


def test_every_identity_refused_its_way_holds() -> None:
    assert failing(privileges_holds(GOOD_ROWS)) == []


@pytest.mark.parametrize(
    "bad",
    [
        identity("403", ""),  # the broker allowed it
        identity("42501", "42501", logged_in=False),  # the role could not even log in
        identity("login", "ok", True),  # the superuser logged in over the network
        identity("login", "login", False, "password authentication failed"),  # not pg_hba's
        identity("login", "login", True, "", "Kafka"),  # the broker logged no refused login
        identity("30", "29", system="Kafka"),  # another refusal than the expected one
    ],
)
def test_an_allowed_attempt_or_a_wrong_refusal_fails(bad: dict[str, Any]) -> None:
    assert failing(privileges_holds([bad, *GOOD_ROWS]))


def test_too_few_identities_fails() -> None:
    assert failing(privileges_holds(GOOD_ROWS[:3]))


SERVED = {"outcome": "served", "detail": "a1"}
REFUSED_PEER = {"outcome": "refused", "detail": "TLSV13_ALERT_CERTIFICATE_REQUIRED"}
PROBES = {"no certificate": REFUSED_PEER, "another CA": REFUSED_PEER, "ours": SERVED}
BOTH = {"pricing-mtls": PROBES, "api-auth": PROBES}
LOGGED = ["PEER_DID_NOT_RETURN_A_CERTIFICATE", "CERTIFICATE_VERIFY_FAILED"]
ROTATED = {"served_before": {"pricing-mtls": SERVED, "api-auth": SERVED},
           "served_after": {"pricing-mtls": {"outcome": "served", "detail": "b2"},
                            "api-auth": {"outcome": "served", "detail": "c3"}},
           "new_serials": {"pricing-mtls": "b2", "api-auth": "c3", "proxy": "d4"},
           "nginx_presented_after": ["d4"],
           "lifetime_h": 24.08, "quotes": {"200": 90}}  # fmt: skip


def test_mutual_tls_that_refuses_strangers_and_rotates_holds() -> None:
    assert failing(mutual_tls_holds(BOTH, LOGGED, ROTATED)) == []


def after(server: str, probe: dict[str, str]) -> dict[str, Any]:
    return ROTATED | {"served_after": ROTATED["served_after"] | {server: probe}}


@pytest.mark.parametrize(
    ("probes", "logged", "rotation", "fails"),
    [
        (BOTH | {"api-auth": PROBES | {"no certificate": SERVED}}, LOGGED, ROTATED,
         "api-auth: no client certificate"),
        (BOTH | {"pricing-mtls": PROBES | {"another CA": SERVED}}, LOGGED, ROTATED,
         "pricing-mtls: a certificate from another CA"),
        (BOTH | {"api-auth": PROBES | {"ours": REFUSED_PEER}}, LOGGED, ROTATED,
         "api-auth: the sandbox's certificate"),
        (BOTH, LOGGED[:1], ROTATED, "logged why"),
        (BOTH, LOGGED, after("pricing-mtls", SERVED), "pricing-mtls re-issued"),
        (BOTH, LOGGED, after("api-auth", SERVED), "api-auth re-issued"),
        (BOTH, LOGGED, ROTATED | {"nginx_presented_after": ["a1"]}, "nginx reloaded"),
        (BOTH, LOGGED, ROTATED | {"lifetime_h": 2160.0}, "a day at most"),
        (BOTH, LOGGED, ROTATED | {"quotes": {"200": 80, "503": 1}}, "0 quotes failed"),
    ],
)  # fmt: skip
def test_mutual_tls_letting_a_stranger_in_or_failing_a_quote_fails(
    probes: dict[str, Any], logged: list[str], rotation: dict[str, Any], fails: str
) -> None:
    assert [name for name in failing(mutual_tls_holds(probes, logged, rotation)) if fails in name]


GOOD_SESSIONS: dict[str, Any] = {
    "trades": {"no Origin": 403, "this site's Origin": 201},
    "cookie": {"secure": True, "httponly": True, "samesite": "strict", "path": "/",
               "max_age_s": 299},
    "token_lifetime_s": 300,
    "feed_reads": {"with the cookie": 200, "without": 401},
    "websockets": {
        name: {"this site's page": first, "another site's page": "403", "no cookie": "403"}
        for name, first in (("feed", "subscribed"), ("signaling", "joined"))
    },
    "signed_out": 204,
    "replayed_after_sign_out": 401,
}  # fmt: skip


def test_a_session_kept_to_this_site_holds() -> None:
    assert failing(sessions_holds(GOOD_SESSIONS)) == []


def with_socket(name: str, case: str, outcome: str) -> dict[str, Any]:
    sockets = GOOD_SESSIONS["websockets"]
    return GOOD_SESSIONS | {"websockets": sockets | {name: sockets[name] | {case: outcome}}}


@pytest.mark.parametrize(
    ("measured", "fails"),
    [
        (GOOD_SESSIONS | {"trades": {"no Origin": 201, "this site's Origin": 201}}, "without"),
        (GOOD_SESSIONS | {"cookie": GOOD_SESSIONS["cookie"] | {"httponly": False}}, "HttpOnly"),
        (GOOD_SESSIONS | {"cookie": GOOD_SESSIONS["cookie"] | {"samesite": "none"}}, "SameSite"),
        (GOOD_SESSIONS | {"cookie": GOOD_SESSIONS["cookie"] | {"max_age_s": 86400}}, "longer"),
        (GOOD_SESSIONS | {"feed_reads": {"with the cookie": 200, "without": 200}}, "feed read"),
        (with_socket("feed", "another site's page", "subscribed"), "feed WebSocket from another"),
        (with_socket("signaling", "no cookie", "joined"), "signaling WebSocket with no cookie"),
        (with_socket("signaling", "this site's page", "403"), "signaling WebSocket from this"),
        (GOOD_SESSIONS | {"replayed_after_sign_out": 200}, "replayed"),
    ],
)
def test_a_session_that_leaks_to_another_site_or_outlives_sign_out_fails(
    measured: dict[str, Any], fails: str
) -> None:
    assert [name for name in failing(sessions_holds(measured)) if fails in name]


def test_the_run_looks_for_the_cookie_the_api_sets() -> None:
    assert sessions.COOKIE == api_session.COOKIE
