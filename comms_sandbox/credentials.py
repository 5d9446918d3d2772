"""Development credentials: documented defaults, each overridable from the environment or .env.

Compose reads .env for compose.yaml; the host side reads it here, so both
agree. RabbitMQ stores only salted hashes of its users' passwords: `make up`
renders broker/rabbitmq/definitions.json (the committed topology, with the
default passwords' hashes) into .sandbox/rabbitmq/definitions.json with the
passwords in force. The inventory ambassador's API key goes the same way,
into a small nginx map file. Both are git-ignored, like the certificates.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from comms_sandbox import REPO, ports

ENV_FILE = REPO / ".env"
LOCAL = REPO / ".sandbox"
DEFINITIONS_TEMPLATE = REPO / "broker" / "rabbitmq" / "definitions.json"
DEFINITIONS = LOCAL / "rabbitmq" / "definitions.json"
API_KEYS_MAP = LOCAL / "sidecar" / "api-keys.map"
# Lesson clusters: the three-node RabbitMQ cluster's users, and the Erlang
# cookie its nodes share (a secret: generated here, never committed).
CLUSTER_DEFINITIONS_TEMPLATE = REPO / "scenarios" / "clusters" / "rabbitmq" / "definitions.json"
CLUSTER_DEFINITIONS = LOCAL / "rabbitmq" / "cluster-definitions.json"
CLUSTER_COOKIE = LOCAL / "rabbitmq" / "cluster.cookie"
# Lesson webrtc: the secret the api signs TURN credentials with and coturn checks.
TURN_SECRET = LOCAL / "webrtc" / "turn.secret"

# Variable -> documented default. A sandbox on loopback: fixed, known, local only.
DEFAULTS = {
    "RABBITMQ_APP_PASSWORD": "sandbox-app-dev",
    "RABBITMQ_ADMIN_PASSWORD": "sandbox-admin-dev",
    "RABBITMQ_PERF_PASSWORD": "sandbox-perf-dev",
    # A RabbitMQ identity per service, each allowed only what it does (lesson auth).
    "RABBITMQ_API_PASSWORD": "sandbox-rmq-api-dev",
    "RABBITMQ_RELAY_PASSWORD": "sandbox-rmq-relay-dev",
    "RABBITMQ_SHIPPING_PASSWORD": "sandbox-rmq-shipping-dev",
    "REDIS_PASSWORD": "sandbox-redis-dev",
    "INVENTORY_API_KEY": "sandbox-inventory-key",
    "RABBITMQ_CLUSTER_PASSWORD": "sandbox-cluster-dev",
    # PostgreSQL's roles (compose.yaml, services/orders_db/initdb/10-roles.sh).
    "POSTGRES_PASSWORD": "sandbox-postgres-dev",
    "POSTGRES_OWNER_PASSWORD": "sandbox-owner-dev",
    "POSTGRES_API_PASSWORD": "sandbox-api-dev",
    "POSTGRES_RELAY_PASSWORD": "sandbox-relay-dev",
    # Lesson databases: its own server's roles (scenarios/databases/initdb/10-roles.sh).
    "DATABASES_OWNER_PASSWORD": "sandbox-db-owner-dev",
    "DATABASES_APP_PASSWORD": "sandbox-db-app-dev",
    "DATABASES_REPLICATION_PASSWORD": "sandbox-db-replication-dev",
    # Its shards' role, which the coordinator's postgres_fdw logs in as.
    "DATABASES_SHARD_PASSWORD": "sandbox-db-shard-dev",
    # Lesson databases, pooling: the 200 clients' role and PgBouncer's own login.
    "DATABASES_CROWD_PASSWORD": "sandbox-db-crowd-dev",
    "DATABASES_POOLER_PASSWORD": "sandbox-db-pooler-dev",
    # Lesson auth: the people who sign in on its browser page (AUTH_USERS below).
    "AUTH_ALICE_PASSWORD": "sandbox-alice-dev",
    "AUTH_BOB_PASSWORD": "sandbox-bob-dev",
    # Lesson auth: Kafka principals on the broker's SASL/SCRAM listener (KAFKA_USERS).
    "KAFKA_AUTH_PRODUCER_PASSWORD": "sandbox-kafka-producer-dev",
    "KAFKA_AUTH_CONSUMER_PASSWORD": "sandbox-kafka-consumer-dev",
}
RABBITMQ_USERS = {
    "sandbox-app": "RABBITMQ_APP_PASSWORD",
    "sandbox-admin": "RABBITMQ_ADMIN_PASSWORD",
    "sandbox-perf": "RABBITMQ_PERF_PASSWORD",
    "sandbox-api": "RABBITMQ_API_PASSWORD",
    "sandbox-relay": "RABBITMQ_RELAY_PASSWORD",
    "sandbox-shipping": "RABBITMQ_SHIPPING_PASSWORD",
    "sandbox-cluster": "RABBITMQ_CLUSTER_PASSWORD",
}


# Lesson auth: the Kafka principals (SCRAM-SHA-512) scenarios/auth/kafka-setup.sh makes.
KAFKA_USERS = {
    "sandbox-auth-producer": "KAFKA_AUTH_PRODUCER_PASSWORD",
    "sandbox-auth-consumer": "KAFKA_AUTH_CONSUMER_PASSWORD",
}


def env_file(path: Path | None = None) -> dict[str, str]:
    """KEY=value lines of a .env file (comments and blanks skipped, quotes removed)."""
    path = path or ENV_FILE
    if not path.exists():
        return {}
    pairs = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            pairs[key.strip()] = value.strip().strip("'\"")
    return pairs


def setting(name: str) -> str:
    """The environment's value, else .env's, else the documented default."""
    return os.environ.get(name) or env_file().get(name) or DEFAULTS[name]


def rabbitmq_hash(password: str, salt: bytes | None = None) -> str:
    """RabbitMQ's rabbit_password_hashing_sha256: base64(salt + sha256(salt + password))."""
    salt = salt if salt is not None else secrets.token_bytes(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def hash_matches(password: str, stored: str) -> bool:
    salt = base64.b64decode(stored)[:4]
    return rabbitmq_hash(password, salt) == stored


def write_if_changed(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
        path.chmod(0o644)  # read by the broker's and nginx's own users in their containers
    return path


def render_definitions(template: Path | None = None, target: Path | None = None) -> Path:
    """The committed definitions, with each user's hash for the password in force.

    The paths default to the module's at call time, not at definition time, so that
    a test pointing DEFINITIONS elsewhere never writes over the stack's file."""
    template = template or DEFINITIONS_TEMPLATE
    target = target or DEFINITIONS
    definitions = json.loads(template.read_text())
    current = json.loads(target.read_text()) if target.exists() else {}
    kept = {u["name"]: u["password_hash"] for u in current.get("users", [])}
    for user in definitions["users"]:
        password = setting(RABBITMQ_USERS[user["name"]])
        # A fresh salt only when the password changed: the file stays stable.
        same = kept.get(user["name"]) and hash_matches(password, kept[user["name"]])
        user["password_hash"] = kept[user["name"]] if same else rabbitmq_hash(password)
    return write_if_changed(target, json.dumps(definitions, indent=2) + "\n")


def render_api_keys() -> Path:
    """The ambassador's accepted key, as lines of an nginx map."""
    key = setting("INVENTORY_API_KEY")
    if not key.isprintable() or '"' in key or "\\" in key:
        raise ValueError("INVENTORY_API_KEY must be printable, without quotes or backslashes")
    return write_if_changed(API_KEYS_MAP, f'"{key}" 1;\n')


def ensure_cluster_cookie() -> Path:
    """The RabbitMQ cluster's Erlang cookie: made once per machine, kept across restarts.

    Any process that knows it may join the cluster or run code on its nodes, so
    it is random, lives only in the git-ignored .sandbox/, and reaches the
    nodes as a compose secret. Its folder is private to this user (the engine
    mounts it as root); the file itself is readable because the mount hands it
    to the nodes' uid 999, which installs an owner-only copy
    (scenarios/clusters/rabbitmq/cluster-node.sh).
    """
    return ensure_secret_file(CLUSTER_COOKIE)


def ensure_secret_file(path: Path) -> Path:
    """A random secret made once per machine in a private folder (the engine mounts it as root;
    the file stays readable for the container user it is handed to as a compose secret)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(24))
    path.chmod(0o444)
    path.parent.chmod(0o700)
    return path


# Lesson auth (scenarios/auth/): the OAuth 2.0 clients hydra-setup registers in Hydra,
# from clients.json with a random secret per client (made once per machine), and
# Hydra's system secret, in a config file Hydra reads. A client's id is the customer
# it acts for: the api lets a token's subject reach that customer's orders only.
AUTH_DIR = LOCAL / "auth"
AUTH_CLIENTS = AUTH_DIR / "clients.json"
AUTH_CLIENT_SECRETS = AUTH_DIR / "client-secrets.json"
HYDRA_SECRETS = AUTH_DIR / "hydra-secrets.yaml"
HYDRA_SYSTEM_SECRET = AUTH_DIR / "hydra-system.secret"
AUTH_USERS_FILE = AUTH_DIR / "users.json"
KAFKA_USERS_FILE = AUTH_DIR / "kafka-users"  # "name password" lines, for kafka-setup.sh
# What the api-auth replica accepts (scenarios/auth/compose.yaml), and an audience
# Hydra may also issue tokens for, which the api must refuse. Hydra compares
# audiences as URLs, by scheme, host and path prefix: hence https names under
# .test (RFC 2606), which resolve nowhere.
AUDIENCE = "https://api.comms-sandbox.test/orders"
ELSEWHERE = "https://billing.comms-sandbox.test/"


@dataclass(frozen=True)
class Client:
    client_id: str
    scope: str
    audiences: tuple[str, ...] = (AUDIENCE,)
    lifespan: str = ""  # its tokens' lifetime, when not Hydra's TTL_ACCESS_TOKEN


ALL_SCOPES = "orders.read orders.write quotes"
CLIENTS = (
    Client("C-001", ALL_SCOPES, (AUDIENCE, ELSEWHERE)),  # may ask for the other audience too
    Client("C-002", ALL_SCOPES),
    Client("reader", "orders.read"),  # reads, never writes
    Client("brief", "quotes", lifespan="2s"),  # tokens that expire while the lesson watches
)


# The people who sign in on the lesson's browser page: user name, the customer (token
# subject) they are, the setting holding their password (a local default, .env may
# override it). Only scrypt hashes reach the container (services/api/signin.py).
AUTH_USERS = (("alice", "C-001", "AUTH_ALICE_PASSWORD"), ("bob", "C-002", "AUTH_BOB_PASSWORD"))
# services/api/signin.py's SCRYPT (a unit test keeps them equal).
SCRYPT = {"n": 2**14, "r": 8, "p": 5, "dklen": 32, "maxmem": 64 * 1024 * 1024}
# The sign-in page's OAuth 2.0 client: public (a browser keeps no secret), so Hydra
# requires PKCE of it (OAUTH2_PKCE_ENFORCED_FOR_PUBLIC_CLIENTS, scenarios/auth/compose.yaml).
BROWSER_CLIENT_ID = "signin-page"
BROWSER_SCOPES = "openid orders.read orders.write quotes"
SIGNIN_PATH = "/secure/signin"


def ensure_auth_files() -> None:
    """The clients (with their secrets), the users' password hashes and Hydra's system
    secret, as compose mounts them."""
    chosen = auth_client_secrets()
    documents = [*(hydra_client(c, chosen[c.client_id]) for c in CLIENTS), browser_client()]
    write_private(AUTH_CLIENTS, json.dumps(documents, indent=2) + "\n")
    write_private(AUTH_USERS_FILE, json.dumps(auth_users(), indent=2) + "\n")
    kafka = "".join(f"{name} {setting(key)}\n" for name, key in KAFKA_USERS.items())
    write_private(KAFKA_USERS_FILE, kafka)
    system = ensure_secret_file(HYDRA_SYSTEM_SECRET).read_text().strip()
    write_private(HYDRA_SECRETS, f"secrets:\n  system:\n    - {system}\n")


def auth_client_secrets() -> dict[str, str]:
    """Each client's secret: made once per machine, kept across runs."""
    known = json.loads(AUTH_CLIENT_SECRETS.read_text()) if AUTH_CLIENT_SECRETS.exists() else {}
    chosen = {c.client_id: known.get(c.client_id) or secrets.token_urlsafe(24) for c in CLIENTS}
    if chosen != known:
        write_private(AUTH_CLIENT_SECRETS, json.dumps(chosen, indent=2) + "\n")
    return chosen


def write_private(path: Path, text: str) -> None:
    """As ensure_secret_file: a private folder, a file its container user may read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    if not path.exists() or path.read_text() != text:
        if path.exists():
            path.chmod(0o600)
        path.write_text(text)
    path.chmod(0o444)


def hydra_client(client: Client, secret: str) -> dict[str, Any]:
    """What `hydra import oauth2-client` reads: one client-credentials client."""
    return {
        "client_id": client.client_id,
        "client_secret": secret,
        "client_name": f"lesson auth: {client.client_id}",
        "grant_types": ["client_credentials"],
        "response_types": ["token"],
        "scope": client.scope,
        "audience": list(client.audiences),
        "token_endpoint_auth_method": "client_secret_basic",
    } | (
        {"client_credentials_grant_access_token_lifespan": client.lifespan}
        if client.lifespan
        else {}
    )


def browser_client() -> dict[str, Any]:
    """The sign-in page: authorization code with PKCE, back to the page itself."""
    return {
        "client_id": BROWSER_CLIENT_ID,
        "client_name": "lesson auth: the sign-in page",
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "scope": BROWSER_SCOPES,
        "audience": [AUDIENCE],
        "redirect_uris": [signin_page_url()],
        "token_endpoint_auth_method": "none",
    }


def signin_page_url() -> str:
    return f"https://{ports.HOST}:{ports.PROXY_TLS.port}{SIGNIN_PATH}"


def user_password(name: str) -> str:
    return setting(next(variable for user, _, variable in AUTH_USERS if user == name))


def scrypt_hex(password: str, salt: bytes) -> str:
    return hashlib.scrypt(password.encode(), salt=salt, **SCRYPT).hex()  # type: ignore[arg-type]


def auth_users() -> dict[str, dict[str, str]]:
    """Each user's subject and scrypt hash; a salt is kept while its password is the same
    (the file, and the container reading it, change only when a password does)."""
    known = json.loads(AUTH_USERS_FILE.read_text()) if AUTH_USERS_FILE.exists() else {}
    users = {}
    for name, subject, _ in AUTH_USERS:
        password, before = user_password(name), known.get(name, {})
        salt = bytes.fromhex(before.get("salt", "")) or secrets.token_bytes(16)
        if before.get("scrypt") != scrypt_hex(password, salt):
            salt = secrets.token_bytes(16)
        users[name] = {"subject": subject, "salt": salt.hex(), "scrypt": scrypt_hex(password, salt)}
    return users


def ensure_credentials() -> None:
    """What `make up` and the tests render before Compose mounts it."""
    render_definitions()
    render_definitions(CLUSTER_DEFINITIONS_TEMPLATE, CLUSTER_DEFINITIONS)
    render_api_keys()
    ensure_cluster_cookie()
    ensure_secret_file(TURN_SECRET)
    ensure_auth_files()
