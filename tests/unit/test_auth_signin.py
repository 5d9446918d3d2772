"""Signing people in (services/api/signin.py): passwords, the counter of failures, forms
and CSRF; and the host's copies of its numbers."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from api import signin
from comms_sandbox import credentials
from scenarios.auth import signin as signin_lesson

ORIGIN = "https://127.0.0.1:8443"


def users_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, signin.User]:
    """The users file as `make up` renders it, with the documented default passwords."""
    monkeypatch.setattr(credentials, "AUTH_USERS_FILE", tmp_path / "users.json")
    monkeypatch.setattr(credentials, "env_file", lambda path=None: {})
    for _, _, variable in credentials.AUTH_USERS:
        monkeypatch.delenv(variable, raising=False)
    path = tmp_path / "users.json"
    path.write_text(json.dumps(credentials.auth_users()))
    return signin.load_users(str(path))


def test_the_host_s_hash_verifies_in_the_service_and_nothing_else_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    users = users_file(tmp_path, monkeypatch)
    alice = signin.password_holds(users, "alice", credentials.DEFAULTS["AUTH_ALICE_PASSWORD"])
    assert alice is not None and alice.subject == "C-001"
    assert signin.password_holds(users, "alice", credentials.DEFAULTS["AUTH_BOB_PASSWORD"]) is None
    assert signin.password_holds(users, "mallory", "anything") is None
    assert signin.password_holds(users, "", "") is None  # the stand-in for unknown names


def test_a_salt_is_kept_while_the_password_is_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    users_file(tmp_path, monkeypatch)
    first = credentials.auth_users()
    credentials.AUTH_USERS_FILE.write_text(json.dumps(first))
    assert credentials.auth_users() == first
    monkeypatch.setenv("AUTH_BOB_PASSWORD", "changed-in-env")
    changed = credentials.auth_users()
    assert changed["alice"] == first["alice"] and changed["bob"] != first["bob"]


def test_each_failure_waits_longer_up_to_the_largest_delay() -> None:
    delays = [signin.failure_delay_s(n) for n in range(1, 8)]
    assert delays[:4] == [0.25, 0.5, 1.0, 2.0]
    assert delays == sorted(delays) and max(delays) == signin.MAX_DELAY_S


class FakePipeline:
    """What Throttle asks of a Redis pipeline, over a dict; `ttl` is fixed."""

    def __init__(self, store: dict[str, int], ttl: int) -> None:
        self.store, self.ttl_s, self.results = store, ttl, []  # type: list[Any]

    async def __aenter__(self) -> FakePipeline:
        return self

    async def __aexit__(self, *_: object) -> None:
        return None

    def get(self, key: str) -> FakePipeline:
        self.results.append(self.store.get(key))
        return self

    def ttl(self, key: str) -> FakePipeline:
        self.results.append(self.ttl_s if key in self.store else -2)
        return self

    def incr(self, key: str) -> FakePipeline:
        self.store[key] = self.store.get(key, 0) + 1
        self.results.append(self.store[key])
        return self

    def expire(self, *_: object, **__: object) -> FakePipeline:
        self.results.append(True)
        return self

    def delete(self, key: str) -> FakePipeline:
        self.results.append(int(self.store.pop(key, None) is not None))
        return self

    async def execute(self) -> list[Any]:
        return self.results


class FakeRedis:
    def __init__(self) -> None:
        self.store: dict[str, int] = {}

    def pipeline(self) -> FakePipeline:
        return FakePipeline(self.store, ttl=600)


def test_the_user_is_locked_after_lock_after_failures_and_freed_by_a_success() -> None:
    throttle = signin.Throttle(FakeRedis(), window_s=900)  # type: ignore[arg-type]

    async def scenario() -> int:
        for _ in range(signin.LOCK_AFTER - 1):
            await throttle.failed("bob")
        await throttle.check("bob")  # still allowed to try
        await throttle.failed("bob")
        with pytest.raises(signin.LockedError) as locked:
            await throttle.check("bob")
        await throttle.check("alice")  # another user is not held back
        await throttle.succeeded("bob")
        await throttle.check("bob")
        return locked.value.retry_after_s

    assert asyncio.run(scenario()) == 600


def test_no_redis_means_nobody_signs_in() -> None:
    with pytest.raises(signin.UnavailableError):
        asyncio.run(signin.Throttle(None, 900).check("bob"))


@pytest.mark.parametrize(
    ("cookie", "field", "origin", "holds"),
    [
        ("t0k3n", "t0k3n", ORIGIN, True),
        ("t0k3n", "t0k3n", None, True),  # no Origin: not a browser's cross-site post
        ("t0k3n", "t0k3n", "https://evil.example", False),
        ("t0k3n", "other", ORIGIN, False),
        (None, "t0k3n", ORIGIN, False),
        ("", "", ORIGIN, False),
    ],
)
def test_csrf_needs_the_cookie_s_token_and_no_foreign_origin(
    cookie: str | None, field: str, origin: str | None, holds: bool
) -> None:
    assert signin.csrf_holds(cookie, field, origin, ORIGIN) is holds


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"a=" + b"x" * signin.MAX_FORM_BYTES, "larger than"),
        (b"password=" + b"x" * 300, "password is longer"),
        (b"\xff\xfe", "not urlencoded"),
        (b"no-equals-sign", "not urlencoded"),
    ],
)
def test_a_form_that_cannot_be_read_is_a_400_with_why(body: bytes, reason: str) -> None:
    with pytest.raises(signin.FormError, match=reason):
        signin.form_fields(body)


def test_the_scenario_knows_the_service_s_numbers() -> None:
    """The host side cannot import services/: its copies are kept in step here."""
    assert credentials.SCRYPT == signin.SCRYPT
    ours = (signin.LOCK_AFTER, signin.FIRST_DELAY_S, signin.MAX_DELAY_S, signin.CSRF_COOKIE)
    theirs = (signin_lesson.LOCK_AFTER, signin_lesson.FIRST_DELAY_S, signin_lesson.MAX_DELAY_S,
              signin_lesson.CSRF_COOKIE)  # fmt: skip
    assert ours == theirs
