"""The auth lesson's verdicts, from what the run measured: the token as the published key
verifies it, the status and challenge each request got, what the services logged."""

from __future__ import annotations

from typing import Any

from scenarios.result import Check, NotShown

TOKEN_LIFETIME_S = 300  # scenarios/auth/compose.yaml: TTL_ACCESS_TOKEN 5m
REFUSED_TOKENS = (
    "alg none",
    "HS256 signed with the public key",
    "another audience",
    "claims edited after signing",
    "expired",
)
# The authorization cases, and the status each must get (why: scenarios/auth/README.md).
EXPECTED_STATUS = {
    "the owner places an order": 201,
    "a token without orders.write places one": 403,
    "the owner reads it": 200,
    "another customer reads it": 404,
    "another customer lists the owner's orders": 403,
    "another customer places an order as the owner": 403,
}


def token_holds(
    header: dict[str, Any], claims: dict[str, Any], verified: bool, issuer: str, audience: str
) -> dict[str, bool]:
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    lifetime = claims.get("exp", 0) - claims.get("iat", 0)
    return {
        "an ES256 JWT whose signature verifies with a key the provider publishes": header.get("alg")
        == "ES256"
        and verified,
        "issued by the provider for the api's audience": claims.get("iss") == issuer
        and audience in audiences,
        f"it lives {TOKEN_LIFETIME_S} s at most": 0 < lifetime <= TOKEN_LIFETIME_S,
    }


def is_invalid_token(answer: dict[str, Any]) -> bool:
    """401 with `Bearer ... error="invalid_token"` and a reason (RFC 6750, 3.1)."""
    challenge = answer.get("www_authenticate", "")
    return (
        answer.get("status") == 401
        and challenge.startswith("Bearer ")
        and 'error="invalid_token"' in challenge
        and "error_description=" in challenge
    )


def authentication_holds(answers: dict[str, dict[str, Any]]) -> dict[str, bool]:
    missing = answers["no token"]
    holds = {
        "no token: 401, a Bearer challenge without an error code": missing["status"] == 401
        and missing["www_authenticate"].startswith("Bearer ")
        and "error=" not in missing["www_authenticate"],
    }
    holds |= {f"{case}: 401 invalid_token, with why": is_invalid_token(answers[case])
              for case in REFUSED_TOKENS}  # fmt: skip
    holds["a valid token: 200"] = answers["valid"]["status"] == 200
    return holds


def authorization_holds(answers: dict[str, dict[str, Any]]) -> dict[str, bool]:
    holds = {f"{case}: {status}": answers[case]["status"] == status
             for case, status in EXPECTED_STATUS.items()}  # fmt: skip
    scope_case = answers["a token without orders.write places one"]
    holds["the 403 names the missing scope (insufficient_scope)"] = (
        'error="insufficient_scope"' in scope_case["www_authenticate"]
        and 'scope="orders.write"' in scope_case["www_authenticate"]
    )
    return holds


def edge_holds(answers: dict[str, dict[str, Any]], inside: dict[str, int | str]) -> dict[str, bool]:
    refused = answers["no token, through nginx's /edge/"]
    return {
        "nginx refuses no token with 401 and the verifier's challenge, once": refused["status"]
        == 401
        and refused["www_authenticate"].count("Bearer ") == 1,
        "nginx refuses a token without the scope with 403 and insufficient_scope": answers[
            "a token without the scope, through nginx's /edge/"
        ]["status"]
        == 403
        and 'error="insufficient_scope"'
        in answers["a token without the scope, through nginx's /edge/"]["www_authenticate"],
        "nginx passes a valid token (200)": answers["a valid token, through nginx's /edge/"][
            "status"
        ]
        == 200,
        "the layer-4 port reaches the edge-checked replicas with no token (200)": answers[
            "no token, on nginx's layer-4 port"
        ]["status"]
        == 200,
        "inside the network, an edge-checked replica answers no token (200)": inside[
            "a default replica (checked at the edge)"
        ]
        == 200,
        "inside the network, api-auth refuses no token (401)": inside[
            "api-auth (checked in the service)"
        ]
        == 401,
        "inside the network, api-auth refuses a client without a certificate (handshake)": inside[
            "api-auth, no client certificate"
        ]
        == "refused",
    }


def limits_holds(
    sent: list[tuple[float, int, str | None]], other: int, limit: int, window_s: float
) -> dict[str, Check]:
    """`sent`: (seconds since the first, status, Retry-After) of one identity's requests.
    A run too slow to send limit + 1 of them within the window shows no refusal: not
    shown, machine busy, rather than failed."""
    passed = [at for at, status, _ in sent if status == 200]
    refused = [after for _, status, after in sent if status == 429]
    within = all(sum(1 for b in passed if a - window_s < b <= a) <= limit for a in passed)
    refusal: Check = bool(refused) and all(retry_after_fits(a, window_s) for a in refused)
    if len(sent) <= limit or sent[limit][0] >= window_s:
        refusal = NotShown(f"machine busy: {limit + 1} requests took {window_s:.0f} s or more")
    return {
        f"no {window_s:.0f} s held more than {limit} answered requests of one identity": within,
        f"past the limit: 429 with Retry-After, in 1 to {window_s:.0f} s": refusal,
        "every answer 200 or 429": len(passed) + len(refused) == len(sent),
        "another identity meanwhile: 200": other == 200,
    }


def retry_after_fits(after: str | None, window_s: float) -> bool:
    return after is not None and after.isdigit() and 1 <= int(after) <= window_s


def secrets_holds(
    logged: dict[str, int], looked_for: int, in_environment: dict[str, int]
) -> dict[str, bool]:
    return {
        "no token or secret in the logs of nginx, Hydra or the apis": looked_for > 0
        and bool(logged)
        and all(count == 0 for count in logged.values()),
        "no secret in their containers' environment (docker inspect)": looked_for > 0
        and bool(in_environment)
        and all(count == 0 for count in in_environment.values()),
    }


def rotation_holds(
    old_kid: str,
    *,
    during_overlap: list[str],
    after: list[str],
    tokens: list[tuple[str, str]],
    answers: list[tuple[str, str, int]],
    held: tuple[int, int, float],
    refused_within_s: float,
) -> dict[str, bool]:
    """`tokens`: (phase, kid) of each token the client got; `answers`: (phase, kid of the
    token sent, status) of its requests; `held`: the old token's status in the overlap,
    after retiring its key, and how long after retiring it was refused."""
    later_kids = [kid for phase, kid in tokens if phase != "before"]
    accepted_kids = {kid for _, kid, status in answers if status == 200}
    phases = {phase for phase, _, _ in answers}
    in_overlap, after_retiring, refused_after_s = held
    return {
        "during the overlap the JWKS published the old key and a new one": old_kid in during_overlap
        and len(set(during_overlap) - {old_kid}) >= 1,
        "after retiring, the JWKS no longer published the old key": bool(after)
        and old_kid not in after,
        "every token issued after the new key was added is signed with a new key": bool(later_kids)
        and old_kid not in later_kids,
        "requests with tokens of the old key and of the new one were answered": old_kid
        in accepted_kids
        and len(accepted_kids - {old_kid}) >= 1,
        "0 requests failed under load, in each phase (before, overlap, retired)": phases
        == {"before", "overlap", "retired"}
        and all(status == 200 for _, _, status in answers),
        "a token of the old key: accepted in the overlap": in_overlap == 200,
        f"then refused (401) within {refused_within_s:.0f} s of retiring its key": after_retiring
        == 401
        and refused_after_s <= refused_within_s,
    }


def code_flow_holds(
    without_challenge: str,
    state_returned: bool,
    exchanges: dict[str, dict[str, Any]],
    claims: dict[str, Any],
    orders: dict[str, int],
) -> dict[str, bool]:
    """`exchanges`: the token endpoint's status and error for the code traded with no
    verifier, another one, its own; `orders`: the token's GET of each customer's orders."""
    return {
        "an authorization request without a PKCE challenge: refused (invalid_request)": (
            without_challenge == "invalid_request"
        ),
        "the state came back unchanged": state_returned,
        "the code without its verifier: refused (400)": exchanges["no verifier"]["status"] == 400,
        "the code with another verifier: refused (400 invalid_grant)": exchanges["another verifier"]
        == {"status": 400, "error": "invalid_grant"},
        "the code with its verifier: a token (200)": exchanges["its verifier"]["status"] == 200,
        "the same code again: refused (400 invalid_grant)": exchanges[
            "its verifier, the code used again"
        ]
        == {"status": 400, "error": "invalid_grant"},
        "the token names the person (C-001), the page's client and the scopes allowed": claims.get(
            "sub"
        )
        == "C-001"
        and claims.get("client_id") == "signin-page"
        and {"orders.read", "quotes"} <= set(claims.get("scp") or []),
        "with it: her orders 200, the other customer's 403": orders == {"C-001": 200, "C-002": 403},
    }


def csrf_holds(cookie: str, attributes: list[str], answers: dict[str, int]) -> dict[str, bool]:
    """`attributes`: the CSRF cookie's, lower case; `answers`: each forged post's status."""
    holds = {
        "the CSRF cookie is __Host-, Secure, HttpOnly, SameSite=Strict": cookie.startswith(
            "__Host-"
        )
        and {"secure", "httponly", "samesite=strict", "path=/"} <= set(attributes),
    }
    holds |= {f"{case}: 403": status == 403 for case, status in answers.items()}
    holds["three forged posts tried"] = len(answers) == 3
    return holds


def guessing_holds(
    attempts: list[dict[str, Any]],
    right_while_locked: int,
    counted: int,
    another_user: int,
    policy: tuple[int, float, float],
) -> dict[str, bool]:
    """`attempts`: status, seconds and Retry-After of each wrong password in a row;
    `policy`: failures before the lock, the first delay, the largest delay."""
    lock_after, first_s, max_s = policy
    delays = [min(max_s, first_s * 2**n) for n in range(lock_after)]
    wrong, locked = attempts[:lock_after], attempts[lock_after:]
    return {
        f"the first {lock_after} wrong passwords: 403, each answered no sooner than its delay "
        f"({', '.join(f'{d:g}' for d in delays)} s)": len(wrong) == lock_after
        and all(
            a["status"] == 403 and a["took_s"] >= d for a, d in zip(wrong, delays, strict=True)
        ),
        "then: 429 with Retry-After": bool(locked)
        and all(a["status"] == 429 and str(a["retry_after"] or "").isdigit() for a in locked),
        "the right password while locked: 429": right_while_locked == 429,
        f"Redis counted {lock_after} failures": counted == lock_after,
        "another user meanwhile signs in (303 to Hydra)": another_user == 303,
    }


def privileges_holds(rows: list[dict[str, Any]]) -> dict[str, bool]:
    """Each identity logged in with its own password, then got its system's refusal
    code; or, expected "login" (PostgreSQL's superuser over the network, a wrong Kafka
    password), was turned away before anything else (by pg_hba.conf; by the broker,
    which logged it)."""
    holds = {}
    for row in rows:
        if row["expected"] == "login":
            # PostgreSQL's own words; Kafka's refusals are counted in the broker's log.
            said = row["system"] != "PostgreSQL" or "pg_hba.conf rejects" in row["answer"]
            refused = not row["logged_in"] and said
        else:
            refused = row["logged_in"] and row["code"] == row["expected"]
        holds[f"{row['system']} {row['identity']}: {row['tries']}: refused ({row['expected']})"] = (
            refused and row["code"] == row["expected"]
        )
    holds["every identity tried"] = len(rows) >= 13
    return holds


# BoringSSL's reasons, in pricing-mtls's log, for a client without a certificate and
# for one whose certificate another CA signed.
NO_CERTIFICATE = "PEER_DID_NOT_RETURN_A_CERTIFICATE"
UNTRUSTED = "CERTIFICATE_VERIFY_FAILED"


def mutual_tls_holds(
    probes: dict[str, dict[str, dict[str, str]]], logged: list[str], rotation: dict[str, Any]
) -> dict[str, bool]:
    """`probes`: per server, each connection's outcome (served or refused) and detail
    (the served certificate's serial, or what the client saw); `logged`:
    pricing-mtls's reason for each handshake it refused; `rotation`: per server the
    probes before and after re-issuing, the new serials (per leaf: the servers' and
    nginx's), which serials api-auth saw nginx present after its reload, the
    lifetime, the quotes' statuses meanwhile."""
    holds: dict[str, bool] = {}
    for server, tried in probes.items():
        holds |= {
            f"{server}: no client certificate, refused in the handshake": tried["no certificate"][
                "outcome"
            ]
            == "refused",
            f"{server}: a certificate from another CA, refused in the handshake": tried[
                "another CA"
            ]["outcome"]
            == "refused",
            f"{server}: the sandbox's certificate, served": tried["ours"]["outcome"] == "served",
        }
    for server, before in rotation["served_before"].items():
        after = rotation["served_after"][server]
        holds[f"{server} re-issued: a new connection is served the new certificate"] = before[
            "outcome"
        ] == after["outcome"] == "served" and before["detail"] != after["detail"] == rotation[
            "new_serials"
        ].get(server)
    quotes = rotation["quotes"]
    return holds | {
        f"pricing-mtls logged why: {NO_CERTIFICATE}, {UNTRUSTED}": {NO_CERTIFICATE, UNTRUSTED}
        <= set(logged),
        "nginx reloaded: api-auth saw it present its new certificate": rotation["new_serials"].get(
            "proxy"
        )
        in rotation["nginx_presented_after"],
        "the certificates live a day at most": 0 < rotation["lifetime_h"] <= 24.1,
        "0 quotes failed while the three certificates were re-issued": bool(quotes)
        and set(quotes) == {"200"},
    }


def sessions_holds(measured: dict[str, Any]) -> dict[str, bool]:
    """The token traded for a cookie (and not without the page's Origin); what the
    cookie lets in, from where; and that signing out ends it on the server.
    `measured`: scenarios/auth/sessions.py's result, without its verdicts."""
    trades, cookie, reads = measured["trades"], measured["cookie"], measured["feed_reads"]
    token_lifetime_s, sockets = measured["token_lifetime_s"], measured["websockets"]
    signed_out, replayed = measured["signed_out"], measured["replayed_after_sign_out"]
    first = {"feed": "subscribed", "signaling": "joined"}
    holds = {
        "a token traded without the page's Origin: 403": trades.get("no Origin") == 403,
        "a token traded from the page: 201 and a session cookie": trades.get("this site's Origin")
        == 201
        and bool(cookie),
        "the cookie is Secure, HttpOnly, SameSite=Strict, Path=/": bool(cookie)
        and (cookie["secure"], cookie["httponly"], cookie["samesite"], cookie["path"])
        == (True, True, "strict", "/"),
        "the cookie lives no longer than the token": bool(cookie)
        and 0 < cookie["max_age_s"] <= token_lifetime_s,
        "the feed read with the cookie: 200, without: 401": reads
        == {"with the cookie": 200, "without": 401},
    }
    for name, opened in sockets.items():
        holds |= {
            f"{name} WebSocket from this site's page: {first[name]}": opened["this site's page"]
            == first[name],
            f"{name} WebSocket from another site's page, with the cookie: 403": opened[
                "another site's page"
            ]
            == "403",
            f"{name} WebSocket with no cookie: 403": opened["no cookie"] == "403",
        }
    return holds | {
        "signed out (204), the same cookie replayed: 401": signed_out == 204 and replayed == 401
    }
