"""The databases lesson's shards verdicts, and how a shard's statistics are read.

A clean run, then one property broken at a time: exactly its check fails.
"""

from __future__ import annotations

import re
from typing import Any

from comms_sandbox import REPO
from comms_sandbox.compose import compose_file
from scenarios.databases import shards
from tests.unit.verdict_cases import Breakage, verdict_tests

KEYED_REMOTE = "SELECT id, created_at, amount_cents FROM shard.orders WHERE ((customer_id = 42))"
UNKEYED_REMOTE = "SELECT customer_id, created_at FROM shard.orders WHERE ((id = 1234))"


def work(scans: int = 0, rows_sent: int = 0) -> dict[str, Any]:
    return {"scans": scans, "rows_sent": rows_sent, "statements": []}


def clean_run() -> dict[str, Any]:
    return {
        "placement": {"shard_1": 1130, "shard_2": 870},
        "queries": {
            shards.KEYED: {"rows": 10, "plan": [{"shard": "shard_1", "remote_sql": KEYED_REMOTE}],
                           "shards": {"shard_1": work(1, 10), "shard_2": work()}},
            shards.UNKEYED: {"rows": 1,
                             "plan": [{"shard": s, "remote_sql": UNKEYED_REMOTE}
                                      for s in shards.SHARDS],
                             "shards": {"shard_1": work(1, 1), "shard_2": work(1, 0)}},
        },
    }  # fmt: skip


def checks(m: dict[str, Any]) -> dict[str, Any]:
    return shards.holds(m["placement"], m["queries"])


def on(query: str, shard: str, **changes: Any) -> Breakage:
    return lambda m: m["queries"][query]["shards"][shard].update(changes)


SPREAD = "the coordinator's hash spread the orders over every shard"
ONE = "with the shard key: 1 of 2 shard servers ran a scan (their statistics)"
NAMED = "the shard the coordinator's plan named sent the customer's rows"
ALL = "without it: every one of the 2 shard servers ran a scan"
ONCE = "the order was found once, sent by one shard"
BROKEN: dict[str, tuple[Breakage, str]] = {
    "every order on one shard": (
        lambda m: m.update(placement={"shard_1": 2000, "shard_2": 0}), SPREAD),
    "orders lost on the way": (
        lambda m: m.update(placement={"shard_1": 1130, "shard_2": 800}), SPREAD),
    "the keyed query reached both shards (no pruning)": (
        on(shards.KEYED, "shard_2", scans=1), ONE),
    "the keyed query reached no shard (answered from elsewhere)": (
        on(shards.KEYED, "shard_1", scans=0), ONE),
    "the keyed query scanned its shard twice": (on(shards.KEYED, "shard_1", scans=2), ONE),
    "the plan named the other shard": (
        lambda m: m["queries"][shards.KEYED]["plan"][0].update(shard="shard_2"), NAMED),
    "the shard sent fewer rows than the customer has": (
        on(shards.KEYED, "shard_1", rows_sent=9), NAMED),
    "the coordinator returned other rows than the shard sent": (
        lambda m: m["queries"][shards.KEYED].update(rows=11), NAMED),
    "the unkeyed query skipped a shard": (on(shards.UNKEYED, "shard_2", scans=0), ALL),
    "the unkeyed plan named one partition only": (
        lambda m: m["queries"][shards.UNKEYED]["plan"].pop(), ALL),
    "the order came back twice": (
        lambda m: [m["queries"][shards.UNKEYED].update(rows=2),
                   m["queries"][shards.UNKEYED]["shards"]["shard_2"].update(rows_sent=1)], ONCE),
    "the order was not found": (
        lambda m: [m["queries"][shards.UNKEYED].update(rows=0),
                   m["queries"][shards.UNKEYED]["shards"]["shard_1"].update(rows_sent=0)], ONCE),
}  # fmt: skip


test_each_breakage_fails_its_own_check, test_every_check_has_a_failing_case = verdict_tests(
    checks, clean_run, BROKEN
)


# A shard's statistics -------------------------------------------------------------------

DECLARE = "DECLARE c1 CURSOR FOR\nSELECT id, created_at, amount_cents FROM shard.orders WHERE ((customer_id = $1))"  # noqa: E501
OTHER_DECLARE = "DECLARE c2 CURSOR FOR\nSELECT customer_id FROM shard.orders WHERE ((id = $1))"


def stat(calls: int, rows: int = 0) -> dict[str, int]:
    return {"calls": calls, "rows": rows}


def test_the_scans_and_rows_between_two_snapshots_are_counted() -> None:
    before = {DECLARE: stat(3), "FETCH 100 FROM c1": stat(12, 870), "COMMIT TRANSACTION": stat(5)}
    after = {DECLARE: stat(4), "FETCH 100 FROM c1": stat(13, 880), "COMMIT TRANSACTION": stat(6),
             "START TRANSACTION ISOLATION LEVEL REPEATABLE READ": stat(1)}  # fmt: skip
    statement = " ".join(DECLARE.split())
    assert shards.remote_work(before, after) == {
        "scans": 1, "rows_sent": 10, "statements": [statement]}  # fmt: skip


def test_a_statement_first_seen_after_the_query_counts_whole() -> None:
    after = {OTHER_DECLARE: stat(1), "FETCH 100 FROM c2": stat(1, 1)}
    assert shards.remote_work({}, after)["scans"] == 1
    assert shards.remote_work({}, after)["rows_sent"] == 1


def test_a_shard_that_ran_nothing_new_shows_no_work() -> None:
    same = {DECLARE: stat(3), "FETCH 100 FROM c1": stat(12, 870)}
    assert shards.remote_work(same, same) == {"scans": 0, "rows_sent": 0, "statements": []}


def test_only_cursors_over_the_shards_table_are_scans() -> None:
    assert shards.is_scan(DECLARE)
    assert not shards.is_scan("DECLARE c1 CURSOR FOR\nSELECT 1 FROM pg_catalog.pg_class")
    assert not shards.is_scan("INSERT INTO shard.orders(id) VALUES ($1)")
    assert not shards.is_scan("TRUNCATE shard.orders CONTINUE IDENTITY RESTRICT")


# The shards as set up ---------------------------------------------------------------------


def test_the_coordinators_set_up_and_compose_name_the_same_shards() -> None:
    script = (REPO / "scenarios" / "databases" / "initdb" / "20-shards.sh").read_text()
    found = re.search(r"^shards=\(([^)]*)\)$", script, re.MULTILINE)
    assert found is not None
    numbers = found[1].split()
    assert [f"shard_{n}" for n in numbers] == list(shards.SHARDS)
    assert [f"db-shard-{n}" for n in numbers] == list(shards.SHARDS.values())
    assert "host 'db-shard-$n'" in script
    assert set(shards.SHARDS.values()) <= set(compose_file()["services"])


def test_the_shards_are_internal_bounded_and_checked() -> None:
    model = compose_file()
    assert model["networks"]["databases-shards"]["internal"] is True
    assert "databases-shards" in model["services"]["db-primary"]["networks"]
    for service in shards.SHARDS.values():
        shard = model["services"][service]
        assert shard["networks"] == ["databases-shards"] and "ports" not in shard
        assert shard["read_only"] is True and shard["cap_drop"] == ["ALL"]
        assert shard["deploy"]["resources"]["limits"]["memory"] == "128m"
        assert "pg_isready" in shard["healthcheck"]["test"]
        assert "shared_preload_libraries=pg_stat_statements" in shard["command"]
