"""Credentials: documented defaults, overridable from the environment or .env (no Docker)."""

import json
from pathlib import Path

import pytest

from comms_sandbox import credentials


@pytest.fixture
def local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(credentials, "ENV_FILE", tmp_path / ".env")
    monkeypatch.setattr(credentials, "DEFINITIONS", tmp_path / "rabbitmq" / "definitions.json")
    monkeypatch.setattr(credentials, "API_KEYS_MAP", tmp_path / "sidecar" / "api-keys.map")
    for name in credentials.DEFAULTS:
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def hashes(path: Path) -> dict[str, str]:
    return {u["name"]: u["password_hash"] for u in json.loads(path.read_text())["users"]}


def test_the_committed_hashes_are_the_documented_defaults() -> None:
    for name, stored in hashes(credentials.DEFINITIONS_TEMPLATE).items():
        default = credentials.DEFAULTS[credentials.RABBITMQ_USERS[name]]
        assert credentials.hash_matches(default, stored)
        assert not credentials.hash_matches(default + "x", stored)


def test_the_environment_wins_over_dot_env_which_wins_over_the_default(
    local: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert credentials.setting("REDIS_PASSWORD") == "sandbox-redis-dev"
    (local / ".env").write_text("# local\nREDIS_PASSWORD='from-dot-env'\n")
    assert credentials.setting("REDIS_PASSWORD") == "from-dot-env"
    monkeypatch.setenv("REDIS_PASSWORD", "from-env")
    assert credentials.setting("REDIS_PASSWORD") == "from-env"


def test_an_overridden_password_is_hashed_into_the_rendered_definitions(
    local: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RABBITMQ_APP_PASSWORD", "a-new-secret")
    rendered = hashes(credentials.render_definitions())
    assert credentials.hash_matches("a-new-secret", rendered["sandbox-app"])
    assert not credentials.hash_matches("sandbox-app-dev", rendered["sandbox-app"])
    assert credentials.hash_matches("sandbox-admin-dev", rendered["sandbox-admin"])
    assert hashes(credentials.render_definitions()) == rendered  # unchanged: same salts
    assert credentials.render_definitions() == local / "rabbitmq" / "definitions.json"


def test_the_api_key_map_accepts_only_a_plain_key(
    local: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert credentials.render_api_keys().read_text() == '"sandbox-inventory-key" 1;\n'
    monkeypatch.setenv("INVENTORY_API_KEY", 'evil" 1; default 1')
    with pytest.raises(ValueError):
        credentials.render_api_keys()
