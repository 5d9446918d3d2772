"""The identity provider and the api that requires its tokens, behind nginx (lesson auth).

    /oauth2/...                         ->  hydra:4444   Hydra's public API: the token
    /.well-known/jwks.json                               endpoint, its public keys and its
    /.well-known/openid-configuration                    discovery document
    /secure/...                         ->  api-auth     the api, every order and quote
                                                         route requiring a token

On the TLS port only: a token, or a client secret, never crosses plain HTTP.
Hydra's admin API (4445), which hands out private keys, is never proxied.
The services exist only with the Compose profile `auth`; until they run,
these paths answer 502.
"""

from __future__ import annotations

from proxy.load_balancing import LESSON_RESOLVER
from proxy.model import Directives, Location, Upstream

HYDRA = "auth_hydra"
API = "auth_api"
SECURE_PREFIX = "/secure/"


def _upstream(name: str, server: str) -> Upstream:
    return Upstream(
        name=name,
        servers=(f"{server} resolve",),
        keepalive=8,
        directives=(("zone", f"{name} 64k"), *LESSON_RESOLVER),
    )


UPSTREAMS = (_upstream(HYDRA, "hydra:4444"), _upstream(API, "api-auth:8000"))


def locations(settings: Directives) -> tuple[Location, ...]:
    """Every path above; `settings` are the TLS server's shared proxy settings."""
    hydra_paths = ("/oauth2/", "= /.well-known/jwks.json", "= /.well-known/openid-configuration")
    return (
        *(Location(path=p, proxy_pass=f"http://{HYDRA}", directives=settings) for p in hydra_paths),
        # The trailing slash replaces the matched prefix with "/".
        Location(path=SECURE_PREFIX, proxy_pass=f"http://{API}/", directives=settings),
    )
