"""The databases verdicts, fed a clean run and, one property at a time, a broken one."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from scenarios.databases import indexes, isolation, limits, replica
from scenarios.result import outcome

SALES = isolation.CLIENTS * isolation.SALES


def outcomes(checks: dict[str, Any]) -> dict[str, str]:
    return {name: outcome(check) for name, check in checks.items()}


def broken_only(judge: Callable[[Any], dict[str, Any]], clean: Any,
                breakage: Callable[[Any], None]) -> dict[str, str]:  # fmt: skip
    """The checks that do not hold once `breakage` changed a copy of the clean run."""
    assert set(outcomes(judge(clean)).values()) == {"holds"}
    broken = copy.deepcopy(clean)
    breakage(broken)
    return {name: o for name, o in outcomes(judge(broken)).items() if o != "holds"}


# Isolation ------------------------------------------------------------------------------


def sold(lost: int = 0, recorded: int = SALES, failures: int = 0) -> dict[str, Any]:
    final = isolation.START_STOCK - (recorded - lost)
    return {"expected_stock": isolation.START_STOCK - SALES, "final_stock": final,
            "sales_recorded": recorded, "lost": lost,
            "serialization_failures": failures}  # fmt: skip


def skew(on_call_after: int, errors: list[str] | None = None) -> dict[str, Any]:
    return {"on_call_seen": [2, 2], "errors": errors or [], "on_call_after": on_call_after}


def clean_isolation() -> dict[str, Any]:
    return {
        "lost_updates": {"plain": sold(lost=37), "for update": sold(), "atomic": sold(),
                         "serializable": sold(failures=120)},
        "write_skew": {"read committed": skew(0), "repeatable read": skew(0),
                       "serializable": skew(1, ["40001: could not serialize access"])},
    }  # fmt: skip


def judge_isolation(m: dict[str, Any]) -> dict[str, Any]:
    return isolation.holds(m["lost_updates"], m["write_skew"])


def test_a_lost_update_under_for_update_atomic_or_serializable_fails_its_check() -> None:
    for way, check in (("for update", "SELECT ... FOR UPDATE loses none"),
                       ("atomic", "an atomic UPDATE loses none"),
                       ("serializable",
                        "SERIALIZABLE with retry on 40001 loses none")):  # fmt: skip

        def lose_one(m: dict[str, Any], way: str = way) -> None:
            m["lost_updates"][way]["lost"] = 1

        assert broken_only(judge_isolation, clean_isolation(), lose_one) == {check: "fails"}


def test_plain_clients_that_never_raced_are_not_shown_and_a_missing_sale_fails() -> None:
    plain = "plain read-then-write under READ COMMITTED loses updates"

    def no_race(m: dict[str, Any]) -> None:
        m["lost_updates"]["plain"] = sold()

    def sale_missing(m: dict[str, Any]) -> None:
        m["lost_updates"]["plain"] = sold(lost=5, recorded=SALES - 1)

    assert broken_only(judge_isolation, clean_isolation(), no_race) == {plain: "not shown"}
    assert broken_only(judge_isolation, clean_isolation(), sale_missing) == {plain: "fails"}


def test_serializable_with_no_conflict_is_not_shown_and_an_uncommitted_sale_fails() -> None:
    check = "SERIALIZABLE failed conflicts with 40001, their retries committed"

    def no_conflict(m: dict[str, Any]) -> None:
        m["lost_updates"]["serializable"] = sold()

    def gave_up(m: dict[str, Any]) -> None:
        m["lost_updates"]["serializable"] = sold(recorded=SALES - 1, failures=9)

    assert broken_only(judge_isolation, clean_isolation(), no_conflict) == {check: "not shown"}
    assert broken_only(judge_isolation, clean_isolation(), gave_up) == {
        check: "fails", "SERIALIZABLE with retry on 40001 loses none": "fails"}  # fmt: skip


def test_write_skew_not_shown_under_repeatable_read_or_not_caught_by_serializable_fails() -> None:
    def nobody_skewed(m: dict[str, Any]) -> None:
        m["write_skew"]["repeatable read"] = skew(1)

    def not_caught(m: dict[str, Any]) -> None:
        m["write_skew"]["serializable"] = skew(0)

    def caught_but_nobody_stayed(m: dict[str, Any]) -> None:
        m["write_skew"]["serializable"] = skew(0, ["40001: could not serialize access"])

    skewed = "write skew leaves nobody on call under REPEATABLE READ"
    caught = "SERIALIZABLE catches the write skew (40001, one stays on call)"
    assert broken_only(judge_isolation, clean_isolation(), nobody_skewed) == {skewed: "fails"}
    assert broken_only(judge_isolation, clean_isolation(), not_caught) == {caught: "fails"}
    assert broken_only(judge_isolation, clean_isolation(), caught_but_nobody_stayed) == {
        caught: "fails"}  # fmt: skip


# Indexes --------------------------------------------------------------------------------

PAGES = 7500


def plan(nodes: list[str], buffers: int, index: str | None = None, rows: int = 8) -> dict:
    return {"nodes": nodes, "index": index, "rows": rows, "buffers": buffers}


def clean_indexes() -> dict[str, Any]:
    return {
        "plans": {"no index": plan(["Gather", "Parallel Seq Scan"], PAGES),
                  "(customer_id, created_at)": plan(["Index Scan"], 12, indexes.RIGHT),
                  "(created_at, customer_id)": plan(["Index Scan"], 1000, indexes.WRONG)},
        "writes": {k: {"wal_records": 50_000 * (1 + k) + 100} for k in (0, 1, 3)},
    }  # fmt: skip


def judge_indexes(m: dict[str, Any]) -> dict[str, Any]:
    return indexes.holds(PAGES, m["plans"], m["writes"])


def test_an_index_used_without_one_or_a_partial_scan_fails() -> None:
    def index_scan(m: dict[str, Any]) -> None:
        m["plans"]["no index"] = plan(["Index Scan"], PAGES)

    def partial(m: dict[str, Any]) -> None:
        m["plans"]["no index"]["buffers"] = PAGES // 2

    check = "without an index: a sequential scan reading every page"
    assert broken_only(judge_indexes, clean_indexes(), index_scan) == {check: "fails"}
    assert broken_only(judge_indexes, clean_indexes(), partial) == {check: "fails"}


def test_the_right_index_unused_or_reading_many_pages_fails() -> None:
    check = "with (customer_id, created_at): an index scan reading under 1% of the pages"

    def seq_scan(m: dict[str, Any]) -> None:
        m["plans"]["(customer_id, created_at)"] = plan(["Seq Scan"], 12)

    def other_index(m: dict[str, Any]) -> None:
        m["plans"]["(customer_id, created_at)"]["index"] = indexes.WRONG

    def many_pages(m: dict[str, Any]) -> None:
        m["plans"]["(customer_id, created_at)"]["buffers"] = 80

    for breakage in (seq_scan, other_index, many_pages):
        assert broken_only(judge_indexes, clean_indexes(), breakage) == {check: "fails"}


def test_the_wrong_order_as_cheap_as_the_right_one_or_other_rows_fail() -> None:
    def as_cheap(m: dict[str, Any]) -> None:
        m["plans"]["(created_at, customer_id)"]["buffers"] = 30

    def other_rows(m: dict[str, Any]) -> None:
        m["plans"]["no index"]["rows"] = 7

    wrong = "(created_at, customer_id) reads at least 10x the pages of the right order"
    same = "the three plans return the same rows"
    assert broken_only(judge_indexes, clean_indexes(), as_cheap) == {wrong: "fails"}
    assert broken_only(judge_indexes, clean_indexes(), other_rows) == {same: "fails"}


def test_an_index_that_adds_no_wal_fails() -> None:
    def free_index(m: dict[str, Any]) -> None:
        m["writes"][3]["wal_records"] = m["writes"][1]["wal_records"]

    check = "each secondary index adds WAL records to the same inserts"
    assert broken_only(judge_indexes, clean_indexes(), free_index) == {check: "fails"}


# Limits ---------------------------------------------------------------------------------

REFUSAL = 'connection failed: FATAL:  too many connections for role "lesson_app"'


def clean_limits() -> dict[str, Any]:
    denied = {"sqlstate": "42501", "message": "permission denied for table payroll"}
    return {
        "runaway": {"error": {"sqlstate": "57014",
                              "message": "canceling statement due to statement timeout"},
                    "seconds": 1.01, "session_answers_after": True},
        "denied": {"read": denied, "create": {**denied, "message": "permission denied for "
                                                                   "schema lesson"}},
        "connections": {"role_limit": 20, "attempts": 23, "opened": 20,
                        "app_connections_at_server": 20, "refusals": [REFUSAL] * 3,
                        "owner_served_meanwhile": True, "app_served_after": True},
    }  # fmt: skip


def judge_limits(m: dict[str, Any]) -> dict[str, Any]:
    return limits.holds(m["runaway"], m["denied"], m["connections"])


def test_a_runaway_query_that_finishes_or_is_cut_late_fails() -> None:
    def finished(m: dict[str, Any]) -> None:
        m["runaway"]["error"] = None

    def late(m: dict[str, Any]) -> None:
        m["runaway"]["seconds"] = 9.0

    def dead_session(m: dict[str, Any]) -> None:
        m["runaway"]["session_answers_after"] = False

    cancelled = "a runaway query is cancelled by statement_timeout (57014)"
    promptly = "it is cut within 3 s of its 1 s limit, and the session answers after"
    assert broken_only(judge_limits, clean_limits(), finished) == {cancelled: "fails"}
    assert broken_only(judge_limits, clean_limits(), late) == {promptly: "fails"}
    assert broken_only(judge_limits, clean_limits(), dead_session) == {promptly: "fails"}


def test_a_statement_that_ran_where_it_should_be_denied_fails() -> None:
    def ran(m: dict[str, Any]) -> None:
        m["denied"]["read"] = {"sqlstate": None, "message": "it ran"}

    check = "lesson_app is refused another role's table and creating one (42501)"
    assert broken_only(judge_limits, clean_limits(), ran) == {check: "fails"}


def test_connections_past_the_limit_accepted_or_others_refused_fail() -> None:
    def all_accepted(m: dict[str, Any]) -> None:
        m["connections"].update(opened=23, app_connections_at_server=23, refusals=[])

    def other_message(m: dict[str, Any]) -> None:
        m["connections"]["refusals"] = ["connection timeout expired"] * 3

    def owner_refused(m: dict[str, Any]) -> None:
        m["connections"]["owner_served_meanwhile"] = False

    refused = "connections past the role's limit are refused with PostgreSQL's message"
    others = "the server serves others meanwhile, and the client again after"
    assert broken_only(judge_limits, clean_limits(), all_accepted) == {refused: "fails"}
    assert broken_only(judge_limits, clean_limits(), other_message) == {refused: "fails"}
    assert broken_only(judge_limits, clean_limits(), owner_refused) == {others: "fails"}


# Replica --------------------------------------------------------------------------------


def sample(behind: int, state: str = "streaming", sync: str = "async") -> dict[str, Any]:
    return {"state": state, "sync_state": sync, "replay_lag_ms": 1.0, "bytes_behind": behind}


def clean_replica() -> dict[str, Any]:
    return {"samples": [sample(0), sample(880_328), sample(0)],
            "naive": {"reads": 200, "stale": 130, "wait_timeouts": 0},
            "waited": {"reads": 200, "stale": 0, "wait_timeouts": 0},
            "caught_up_s": 0.001}  # fmt: skip


def judge_replica(m: dict[str, Any]) -> dict[str, Any]:
    return replica.holds(m["samples"], m["naive"], m["waited"], m["caught_up_s"])


def test_a_replica_not_streaming_or_synchronous_fails() -> None:
    def gone(m: dict[str, Any]) -> None:
        m["samples"] = []

    def catching_up(m: dict[str, Any]) -> None:
        m["samples"][0] = sample(0, state="catchup")

    def synchronous(m: dict[str, Any]) -> None:
        m["samples"] = [sample(10, sync="sync")]

    check = "the replica streams from the primary, asynchronously (pg_stat_replication)"
    for breakage in (catching_up, synchronous):
        assert broken_only(judge_replica, clean_replica(), breakage) == {check: "fails"}
    assert broken_only(judge_replica, clean_replica(), gone) == {
        check: "fails",
        "under the write load the replica's replay falls behind the primary": "not shown",
    }


def test_no_lag_and_no_stale_read_are_not_shown() -> None:
    def never_behind(m: dict[str, Any]) -> None:
        m["samples"] = [sample(0)]

    def never_stale(m: dict[str, Any]) -> None:
        m["naive"]["stale"] = 0

    lag = "under the write load the replica's replay falls behind the primary"
    stale = "reads right after a write, from the replica, are sometimes stale"
    assert broken_only(judge_replica, clean_replica(), never_behind) == {lag: "not shown"}
    assert broken_only(judge_replica, clean_replica(), never_stale) == {stale: "not shown"}


def test_a_stale_read_after_waiting_or_a_replica_that_never_catches_up_fails() -> None:
    def stale_after_wait(m: dict[str, Any]) -> None:
        m["waited"]["stale"] = 1

    def wait_timed_out(m: dict[str, Any]) -> None:
        m["waited"]["wait_timeouts"] = 1

    def never_caught_up(m: dict[str, Any]) -> None:
        m["caught_up_s"] = None

    fixed = "waiting for the replica to replay the writer's LSN: 0 stale reads"
    caught = "after the load the replica catches up with the primary"
    assert broken_only(judge_replica, clean_replica(), stale_after_wait) == {fixed: "fails"}
    assert broken_only(judge_replica, clean_replica(), wait_timed_out) == {fixed: "fails"}
    assert broken_only(judge_replica, clean_replica(), never_caught_up) == {caught: "fails"}
