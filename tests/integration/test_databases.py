"""Databases lesson, on its own real PostgreSQL (db-primary): each behaviour asserted on run().

The lesson's server sits behind the `databases` profile; conftest's
`lesson_services` starts it for this module (as `make up LESSON=databases`
does) and stops it after.
"""

from __future__ import annotations

from scenarios.result import ScenarioResult
from tests.helpers import assert_holds, failed


def test_plain_read_then_write_loses_updates_and_the_three_fixes_lose_none(
    result: ScenarioResult,
) -> None:
    part = result.metrics["isolation"]
    assert failed(part) == [], part["lost_updates"]
    fixed = {way: run["lost"] for way, run in part["lost_updates"].items() if way != "plain"}
    assert fixed == {"for update": 0, "atomic": 0, "serializable": 0}


def test_only_serializable_stops_the_write_skew(result: ScenarioResult) -> None:
    skew = result.metrics["isolation"]["write_skew"]
    after = {level: run["on_call_after"] for level, run in skew.items()}
    assert after == {"read committed": 0, "repeatable read": 0, "serializable": 1}, skew


def test_the_right_composite_index_reads_a_handful_of_pages_and_the_wrong_order_many(
    result: ScenarioResult,
) -> None:
    part = result.metrics["indexes"]
    assert failed(part) == [], part["plans"]
    assert part["plans"]["(customer_id, created_at)"]["rows"] > 0


def test_each_secondary_index_costs_the_inserts_wal(result: ScenarioResult) -> None:
    writes = result.metrics["indexes"]["writes"]
    per_row = [writes[k]["wal_records_per_row"] for k in sorted(writes, key=int)]
    assert per_row == sorted(per_row) and per_row[0] < per_row[-1], writes


def test_the_replica_lags_serves_stale_reads_and_none_after_waiting_for_the_lsn(
    result: ScenarioResult,
) -> None:
    part = result.metrics["replica"]
    assert failed(part) == [], {k: v for k, v in part.items() if k != "samples"}
    assert part["waited"]["stale"] == 0 and part["states"] == ["streaming/async"]


def test_bad_input_gets_postgresqls_own_refusals_and_the_server_keeps_serving(
    result: ScenarioResult,
) -> None:
    part = result.metrics["limits"]
    assert failed(part) == [], part
    assert part["runaway"]["error"]["sqlstate"] == "57014"


def test_the_whole_run_holds(result: ScenarioResult) -> None:
    assert_holds(result)


def test_a_months_query_prunes_to_one_partition_and_a_customers_scans_all_twelve(
    result: ScenarioResult,
) -> None:
    part = result.metrics["partitions"]
    assert failed(part) == [], part["plans"]
    scanned = {query: len(plan["scanned"]) for query, plan in part["plans"].items()}
    assert list(scanned.values()) == [1, 1, 1, 12], scanned
    removed = [plan["subplans_removed"] for plan in part["plans"].values()]
    assert removed == [0, 11, 0, 0], removed  # the generic plan's, as execution starts


def test_the_shard_key_reaches_one_shard_server_and_an_order_id_reaches_both(
    result: ScenarioResult,
) -> None:
    part = result.metrics["shards"]
    assert failed(part) == [], part["queries"]
    keyed, unkeyed = (
        sorted(shard for shard, work in q["shards"].items() if work["scans"])
        for q in part["queries"].values()
    )
    assert len(keyed) == 1 and unkeyed == sorted(part["shards"]), part["queries"]


def pooling_summary(part: dict) -> dict:
    """The pooling part without its samples, for an assertion's message."""
    return {way: {k: v for k, v in part[way].items() if k != "samples"}
            for way in ("direct", "pooled")} | {"holds": part["holds"]}  # fmt: skip


def test_200_clients_are_200_backends_direct_and_at_most_20_through_pgbouncer(
    result: ScenarioResult,
) -> None:
    part = result.metrics["pooling"]
    assert failed(part) == [], pooling_summary(part)
    direct, pooled = part["direct"], part["pooled"]
    assert direct["most"]["direct_backends"] >= 200 and direct["rows"]["backends"] == 200
    assert pooled["most"]["pool_clients"] >= 200 and pooled["most"]["pool_servers"] <= 20
    assert pooled["rows"]["backends"] <= 20 and pooled["rows"]["rows"] == direct["rows"]["rows"]


def test_transaction_pooling_loses_a_session_set_lock_and_prepare_between_transactions(
    result: ScenarioResult,
) -> None:
    state = result.metrics["pooling"]["session_state"]
    assert state["direct"]["second"]["customer"] == "alice", state["direct"]
    pooled = state["pooled"]
    assert pooled["second_pid"] != pooled["first_pid"], pooled
    assert pooled["second"]["customer"] is None, pooled
    assert pooled["second"]["sql_prepared"].startswith("26000"), pooled
