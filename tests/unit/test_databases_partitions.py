"""The databases lesson's partitions verdicts, and the plan reading they rest on.

A clean run, then one property broken at a time: exactly its check fails.
"""

from __future__ import annotations

from typing import Any

from scenarios.databases import partitions
from tests.unit.verdict_cases import Breakage, verdict_tests

MONTHS = [f"orders_by_month_2026_{m:02d}" for m in range(1, 13)]
MARCH = [partitions.MONTH_PARTITION]
MARCH_ROWS = 10_223


def plan(in_plan: list[str], scanned: list[str], removed: int = 0,
         rows_read: int = MARCH_ROWS) -> dict[str, Any]:  # fmt: skip
    return {"in_plan": in_plan, "scanned": scanned, "subplans_removed": removed,
            "rows_read": rows_read}  # fmt: skip


def clean_run() -> dict[str, Any]:
    return {
        "partitions": 12,
        "month_rows": MARCH_ROWS,
        "plans": {
            partitions.CONSTANTS: plan(MARCH, MARCH),
            partitions.GENERIC: plan(MARCH, MARCH, removed=11),
            partitions.SUBQUERY: plan(MONTHS, MARCH),
            partitions.BY_CUSTOMER: plan(MONTHS, MONTHS, rows_read=12),
        },
    }


def checks(m: dict[str, Any]) -> dict[str, Any]:
    return partitions.holds(m["partitions"], m["month_rows"], m["plans"])


def replace_plan(query: str, **changes: Any) -> Breakage:
    return lambda m: m["plans"][query].update(changes)


CONSTANTS_PRUNED = "March by constants: 1 partition of 12 in the plan, the others pruned"
GENERIC_PRUNED = "March by a generic plan: 11 Subplans Removed, 1 partition scanned"
SUBQUERY_PRUNED = "March by a subquery: all 12 in the plan, 1 executed"
ALL_SCANNED = "by customer (not the partition key): all 12 partitions scanned"
SAME_ROWS = "every March query read its partition's rows, and only those"
BROKEN: dict[str, tuple[Breakage, str]] = {
    "no pruning while planning (enable_partition_pruning off)": (
        replace_plan(partitions.CONSTANTS, in_plan=MONTHS, scanned=MONTHS), CONSTANTS_PRUNED),
    "the constants' plan kept a second month": (
        replace_plan(partitions.CONSTANTS, in_plan=MARCH + MONTHS[3:4]), CONSTANTS_PRUNED),
    "the generic plan scanned every month": (
        replace_plan(partitions.GENERIC, in_plan=MONTHS, scanned=MONTHS, subplans_removed=0),
        GENERIC_PRUNED),
    "the generic plan removed fewer subplans": (
        replace_plan(partitions.GENERIC, subplans_removed=10), GENERIC_PRUNED),
    "the generic plan scanned the wrong month": (
        replace_plan(partitions.GENERIC, in_plan=MONTHS[3:4], scanned=MONTHS[3:4]),
        GENERIC_PRUNED),
    "the subquery's plan executed every month": (
        replace_plan(partitions.SUBQUERY, scanned=MONTHS), SUBQUERY_PRUNED),
    "the subquery's plan was pruned while planning": (
        replace_plan(partitions.SUBQUERY, in_plan=MARCH), SUBQUERY_PRUNED),
    "the customer's query skipped a month": (
        replace_plan(partitions.BY_CUSTOMER, scanned=MONTHS[1:]), ALL_SCANNED),
    "a March query read rows of another month": (
        replace_plan(partitions.SUBQUERY, rows_read=MARCH_ROWS + 9), SAME_ROWS),
    "an empty March": (
        lambda m: [m.update(month_rows=0)]
        + [p.update(rows_read=0) for q, p in m["plans"].items() if q != partitions.BY_CUSTOMER],
        SAME_ROWS),
}  # fmt: skip


test_each_breakage_fails_its_own_check, test_every_check_has_a_failing_case = verdict_tests(
    checks, clean_run, BROKEN
)


def test_a_table_without_its_twelve_months_fails_the_pruning_check() -> None:
    m = clean_run()
    m["partitions"] = 11
    assert not checks(m)["March by constants: 1 partition of 11 in the plan, the others pruned"]


# Reading a plan -------------------------------------------------------------------------


def scan(relation: str, loops: int, rows: int = 0, hit: int = 0) -> dict[str, Any]:
    return {"Node Type": "Seq Scan", "Relation Name": relation, "Actual Loops": loops,
            "Actual Rows": rows, "Shared Hit Blocks": hit, "Shared Read Blocks": 0}  # fmt: skip


def test_a_scan_never_executed_is_in_the_plan_but_not_scanned() -> None:
    found = {"Execution Time": 1.234, "Plan": {
        "Node Type": "Aggregate", "Actual Loops": 1, "Actual Rows": 1,
        "Plans": [{"Node Type": "Append", "Actual Loops": 1, "Subplans Removed": 2, "Plans": [
            scan(MONTHS[1], 0), scan(MONTHS[2], 1, rows=MARCH_ROWS, hit=76)]}]}}  # fmt: skip
    read = partitions.summary(found, MONTHS)
    assert read["in_plan"] == MONTHS[1:3] and read["scanned"] == MARCH
    assert (read["subplans_removed"], read["rows_read"], read["buffers"]) == (2, MARCH_ROWS, 76)
    assert read["nodes"] == ["Aggregate", "Append", "Seq Scan", "Seq Scan"]


def test_parallel_workers_rows_are_counted_per_loop() -> None:
    found = {"Execution Time": 2.0, "Plan": scan(MONTHS[2], 3, rows=3408)}
    assert partitions.summary(found, MONTHS)["rows_read"] == 10_224


def test_a_table_that_is_not_a_partition_is_not_counted() -> None:
    found = {"Execution Time": 2.0, "Plan": scan("orders", 1, rows=5)}
    assert partitions.summary(found, MONTHS)["in_plan"] == []


def test_twelve_monthly_partitions_cover_2026_without_gaps() -> None:
    statements = partitions.generate()
    bounds = [s.split("FROM ('")[1].split("')")[0] for s in statements if "FOR VALUES" in s]
    ends = [s.split("TO ('")[1].split("')")[0] for s in statements if "FOR VALUES" in s]
    assert len(bounds) == 12 and bounds[0].startswith("2026-01-01") and bounds[1:] == ends[:-1]
    assert ends[-1].startswith("2027-01-01")
