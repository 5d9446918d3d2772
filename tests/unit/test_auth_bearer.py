"""The api's bearer-token checks (services/api/bearer.py), fed tokens made here: each refusal
the lesson auth shows, and the answers a client gets."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from api import bearer

ISSUER = "https://127.0.0.1:8443/"
AUDIENCE = "https://api.comms-sandbox.test/orders"
KID = "key-1"


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


SIGNER = new_key()


def jwks(*keys: tuple[str, ec.EllipticCurvePrivateKey]) -> dict[str, Any]:
    entries = []
    for kid, key in keys:
        entry = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
        entries.append({**entry, "kid": kid, "alg": "ES256", "use": "sig"})
    return {"keys": entries}


class Provider:
    """What the identity provider's JWKS endpoint answers, and how often it was asked."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.fetches = 0

    async def fetch(self) -> dict[str, Any]:
        self.fetches += 1
        return self.document


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"iss": ISSUER, "aud": [AUDIENCE], "sub": "C-001", "client_id": "C-001", "iat": now,
            "nbf": now, "exp": now + 300, "scp": ["orders.read", "orders.write"]}  # fmt: skip
    return {k: v for k, v in {**base, **changes}.items() if v is not None}


def token(key: Any = SIGNER, kid: str = KID, algorithm: str = "ES256", **changes: Any) -> str:
    return jwt.encode(claims(**changes), key, algorithm=algorithm, headers={"kid": kid})


def verifier(provider: Provider | None = None, clock: Any = time.monotonic) -> bearer.Verifier:
    provider = provider or Provider(jwks((KID, SIGNER)))
    return bearer.Verifier(ISSUER, AUDIENCE, bearer.KeySet(provider.fetch, clock))


def check(authorization: str | None, checker: bearer.Verifier | None = None) -> bearer.Caller:
    return asyncio.run((checker or verifier()).caller(authorization))


def refusal(authorization: str | None, checker: bearer.Verifier | None = None) -> str | None:
    with pytest.raises(bearer.TokenRefusedError) as refused:
        check(authorization, checker)
    return refused.value.reason


def test_a_valid_token_authenticates_its_subject_with_its_scopes() -> None:
    caller = check(f"Bearer {token()}")
    assert caller.subject == "C-001"
    assert caller.scopes == {"orders.read", "orders.write"}


def test_the_scheme_is_case_insensitive_and_a_scope_string_counts_too() -> None:
    caller = check(f"bearer {token(scp=None, scope='quotes orders.read')}")
    assert caller.scopes == {"quotes", "orders.read"}


def test_no_token_or_another_scheme_gets_a_challenge_without_an_error_code() -> None:
    for header in (None, "", "Basic dXNlcjpwYXNz"):
        assert refusal(header) is None
    assert bearer.TokenRefusedError(None).challenge() == 'Bearer realm="comms-sandbox"'


def unsigned(header: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(claims())}."


def test_alg_none_is_refused_before_any_key_is_looked_at() -> None:
    provider = Provider(jwks((KID, SIGNER)))
    reason = refusal(f"Bearer {unsigned({'alg': 'none', 'kid': KID})}", verifier(provider))
    assert reason is not None and "algorithm none" in reason
    assert provider.fetches == 0


def test_an_hs256_token_signed_with_the_public_key_is_refused() -> None:
    """Key confusion: a verifier that trusted the header would check the HMAC with the
    public key, which anybody has."""
    public_pem = SIGNER.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "kid": KID, "typ": "JWT"}
    body = ".".join(unsigned(header).split(".")[:2])
    forged = f"{body}.{hmac_sha256(public_pem, body)}"
    reason = refusal(f"Bearer {forged}")
    assert reason is not None and "HS256 is not accepted" in reason


def hmac_sha256(secret: bytes, message: str) -> str:
    digest = hmac.new(secret, message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"aud": ["https://billing.comms-sandbox.test/"]}, "another audience"),
        ({"iss": "https://elsewhere.test/"}, "another issuer"),
        ({"exp": int(time.time()) - bearer.LEEWAY_S - 5}, "expired"),
        ({"nbf": int(time.time()) + bearer.LEEWAY_S + 60}, "not valid yet"),
        ({"sub": None}, "lacks a required claim"),
    ],
)
def test_a_claim_that_does_not_hold_is_refused_and_named(
    changes: dict[str, Any], expected: str
) -> None:
    reason = refusal(f"Bearer {token(**changes)}")
    assert reason is not None and expected in reason


def test_clocks_may_differ_by_the_leeway() -> None:
    assert check(f"Bearer {token(exp=int(time.time()) - bearer.LEEWAY_S + 5)}").subject == "C-001"


def test_a_forged_signature_is_refused() -> None:
    reason = refusal(f"Bearer {token(key=new_key())}")  # the provider's kid, another key
    assert reason is not None and "signature does not verify" in reason


class Clock:
    """Time that moves only when somebody sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def paced(provider: Provider, clock: Clock) -> bearer.Verifier:
    return bearer.Verifier(
        ISSUER, AUDIENCE, bearer.KeySet(provider.fetch, clock, sleep=clock.sleep)
    )


def test_a_new_kid_waits_for_the_next_fetch_rather_than_being_refused() -> None:
    """Hydra signs with a key the moment it is added: the first such token, arriving
    just after a fetch, waits for the next one (a refusal would fail a good client)."""
    clock, provider = Clock(), Provider(jwks((KID, SIGNER)))
    checker = paced(provider, clock)
    check(f"Bearer {token()}", checker)
    rotated = new_key()
    provider.document = jwks((KID, SIGNER), ("key-2", rotated))
    assert check(f"Bearer {token(key=rotated, kid='key-2')}", checker).subject == "C-001"
    assert clock.slept == [bearer.KEYS_REFRESH_S]
    assert provider.fetches == 2


def test_made_up_kids_share_one_fetch_and_are_paced() -> None:
    clock, provider = Clock(), Provider(jwks((KID, SIGNER)))
    checker = paced(provider, clock)
    check(f"Bearer {token()}", checker)

    async def at_once(count: int) -> list[BaseException | bearer.Caller]:
        made_up = [checker.caller(f"Bearer {token(kid=f'made-up-{n}')}") for n in range(count)]
        return await asyncio.gather(*made_up, return_exceptions=True)

    answers = asyncio.run(at_once(20))
    assert all(isinstance(a, bearer.TokenRefusedError) for a in answers)
    assert provider.fetches == 2  # the first use, then one for all 20
    for n in range(5):  # one after the other: one fetch each, KEYS_REFRESH_S apart
        refusal(f"Bearer {token(kid=f'later-{n}')}", checker)
    assert provider.fetches == 7
    assert clock.now - 1000.0 == pytest.approx(6 * bearer.KEYS_REFRESH_S)


def test_a_retired_key_stops_verifying_once_the_key_set_is_older_than_its_max_age() -> None:
    now = [1000.0]
    provider = Provider(jwks((KID, SIGNER)))
    checker = verifier(provider, clock=lambda: now[0])
    check(f"Bearer {token()}", checker)
    provider.document = jwks(("key-2", new_key()))  # the provider retired KID
    now[0] += bearer.KEYS_MAX_AGE_S - 1
    assert check(f"Bearer {token()}", checker).subject == "C-001"  # still trusted
    now[0] += 1
    assert "key id" in (refusal(f"Bearer {token()}", checker) or "")
    assert provider.fetches == 2


def test_a_stale_key_set_is_kept_while_the_provider_cannot_be_reached() -> None:
    now = [1000.0]
    provider = Provider(jwks((KID, SIGNER)))
    checker = verifier(provider, clock=lambda: now[0])
    check(f"Bearer {token()}", checker)

    async def down() -> dict[str, Any]:
        raise ConnectionRefusedError("connection refused")

    checker.keys.fetch = down
    now[0] += bearer.KEYS_MAX_AGE_S
    assert check(f"Bearer {token()}", checker).subject == "C-001"
    assert checker.keys.stale()  # and tried again once KEYS_REFRESH_S has passed


def test_a_malformed_key_entry_verifies_nothing_and_breaks_nothing() -> None:
    provider = Provider({"keys": [{**jwks((KID, SIGNER))["keys"][0], "alg": "RS256"}]})
    reason = refusal(f"Bearer {token()}", verifier(provider))
    assert reason is not None and "key id" in reason  # an EC key labelled RS256 is skipped


def test_a_provider_that_cannot_be_reached_is_a_503_not_a_refusal() -> None:
    async def down() -> dict[str, Any]:
        raise ConnectionRefusedError("connection refused")

    checker = bearer.Verifier(ISSUER, AUDIENCE, bearer.KeySet(down))
    with pytest.raises(bearer.KeysUnavailableError):
        check(f"Bearer {token()}", checker)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Bearer not-a-jwt", "not a JWT"),
        ("Bearer a.b.c d", "b64token"),
        ("Bearer " + "a" * (bearer.MAX_TOKEN_CHARS + 1), "longer than"),
    ],
)
def test_garbage_gets_a_reason_not_an_error(header: str, expected: str) -> None:
    reason = refusal(header)
    assert reason is not None and expected in reason


def test_a_missing_scope_is_a_403_challenge_naming_it() -> None:
    caller = check(f"Bearer {token(scp=['orders.read'])}")
    with pytest.raises(bearer.ScopeMissingError) as missing:
        caller.require("orders.write")
    challenge = missing.value.challenge()
    assert 'error="insufficient_scope"' in challenge and 'scope="orders.write"' in challenge


def test_a_reason_never_breaks_the_header_quoting() -> None:
    challenge = bearer.TokenRefusedError('say "hi"\\\n').challenge()
    assert challenge.endswith('error_description="say hi"')
