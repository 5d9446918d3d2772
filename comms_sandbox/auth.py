"""Lesson auth from the host: tokens for its OAuth 2.0 clients, through nginx.

The clients, their secrets and Hydra's system secret are written by `make up`
(comms_sandbox/credentials.py, CLIENTS) and registered in Hydra by the one-shot
hydra-setup service (scenarios/auth/hydra-setup.sh).
"""

from __future__ import annotations

import httpx

from comms_sandbox import config
from comms_sandbox.credentials import AUDIENCE, auth_client_secrets

SECURE_PREFIX = "/secure"  # nginx: /secure/... to api-auth (proxy/auth.py)


def issuer() -> str:
    """Hydra's URLS_SELF_ISSUER: its public API through nginx's TLS port."""
    return f"{config.proxy_url()}/"


class TokenDeniedError(RuntimeError):
    """Hydra refused to issue a token (an unknown client, a scope it may not have)."""


def token(client_id: str, scope: str, audience: str = AUDIENCE) -> str:
    """An access token for `client_id` (client-credentials grant, through nginx)."""
    secret = auth_client_secrets()[client_id]
    answer = httpx.post(
        f"{config.proxy_url()}/oauth2/token",
        auth=(client_id, secret),
        data={"grant_type": "client_credentials", "scope": scope, "audience": audience},
        verify=config.tls_context(),
        timeout=10,
    )
    if answer.status_code != 200:
        raise TokenDeniedError(f"{answer.status_code}: {answer.text[:200]}")
    return str(answer.json()["access_token"])
