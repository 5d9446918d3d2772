"""The pooling verdicts, fed a clean run and, one property at a time, a broken one.

And the parsing of the kernel's smaps_rollup lines, and the pool's server count."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from scenarios.databases import pooling
from scenarios.result import outcome

CLIENTS, POOL = pooling.CLIENTS, pooling.POOL_SIZE
ROWS = CLIENTS * pooling.TRANSACTIONS
ONE_BACKEND_EACH, FEW_SERVERS = pooling.ONE_BACKEND_EACH, pooling.FEW_SERVERS
QUEUED, COMMITTED, MEMORY = pooling.QUEUED, pooling.COMMITTED, pooling.MEMORY_SAVED


def crowd(backends: int, pool_servers: int = 0, pool_waiting: int = 0) -> dict[str, Any]:
    pooled = pool_servers > 0
    return {
        "connected": CLIENTS, "errors": [], "transactions": ROWS,
        "most": {"direct_backends": 0 if pooled else backends,
                 "pooler_backends": backends if pooled else 0,
                 "pool_clients": CLIENTS if pooled else 0,
                 "pool_waiting": pool_waiting, "pool_servers": pool_servers},
        "rows": {"rows": ROWS, "clients": CLIENTS, "backends": backends},
        "backend_memory": {"backends": backends, "pss_mib": 1.4 * backends},
    }  # fmt: skip


def state(first: int, second: int, other: dict[str, Any] | None = None) -> dict[str, Any]:
    same = first == second
    return {
        "first_pid": first, "second_pid": second, "lock_taken": True,
        "first_protocol_prepared": {"pid": first, "error": None},
        "second": {"customer": pooling.CUSTOMER if same else None,
                   "lock_held_by_own_backend": same,
                   "sql_prepared": "ran: 42" if same else
                   '26000 prepared statement "lesson_q" does not exist',
                   "protocol_prepared": {"pid": second, "error": None}},
        "other_client": other,
    }  # fmt: skip


def clean() -> dict[str, Any]:
    leaked = {"pid": 471, "customer": pooling.CUSTOMER, "lock_held_by_own_backend": True}
    return {
        "crowds": {"direct": crowd(CLIENTS), "pooled": crowd(POOL, POOL, pool_waiting=180)},
        "state": {"direct": state(533, 533), "pooled": state(471, 474, leaked)},
    }


def judge(m: dict[str, Any]) -> dict[str, Any]:
    return pooling.holds(m["crowds"], m["state"])


def broken_only(breakage: Callable[[dict[str, Any]], None]) -> dict[str, str]:
    """The checks that do not hold once `breakage` changed a copy of the clean run."""
    assert {outcome(c) for c in judge(clean()).values()} == {"holds"}
    broken = copy.deepcopy(clean())
    breakage(broken)
    return {name: o for name, o in ((n, outcome(c)) for n, c in judge(broken).items())
            if o != "holds"}  # fmt: skip


def test_fewer_direct_backends_than_clients_fails() -> None:
    def shared(m: dict[str, Any]) -> None:
        m["crowds"]["direct"]["most"]["direct_backends"] = CLIENTS - 1

    def rows_on_fewer(m: dict[str, Any]) -> None:
        m["crowds"]["direct"]["rows"]["backends"] = POOL

    assert broken_only(shared) == {ONE_BACKEND_EACH: "fails"}
    assert broken_only(rows_on_fewer) == {ONE_BACKEND_EACH: "fails"}


def test_more_server_connections_than_the_pool_or_clients_missing_fails() -> None:
    def pool_grew(m: dict[str, Any]) -> None:
        m["crowds"]["pooled"]["most"]["pool_servers"] = POOL + 1

    def server_saw_more(m: dict[str, Any]) -> None:
        m["crowds"]["pooled"]["most"]["pooler_backends"] = POOL + 5

    def rows_on_more(m: dict[str, Any]) -> None:
        m["crowds"]["pooled"]["rows"]["backends"] = POOL + 1

    def clients_never_all_there(m: dict[str, Any]) -> None:
        m["crowds"]["pooled"]["most"]["pool_clients"] = CLIENTS - 10

    for breakage in (pool_grew, server_saw_more, rows_on_more, clients_never_all_there):
        assert broken_only(breakage) == {FEW_SERVERS: "fails"}, breakage.__name__


def test_no_client_seen_waiting_is_not_shown() -> None:
    def never_waited(m: dict[str, Any]) -> None:
        m["crowds"]["pooled"]["most"]["pool_waiting"] = 0

    assert broken_only(never_waited) == {QUEUED: "not shown"}


def test_a_lost_transaction_or_an_error_fails() -> None:
    def row_missing(m: dict[str, Any]) -> None:
        m["crowds"]["pooled"]["rows"]["rows"] = ROWS - 1

    def an_error(m: dict[str, Any]) -> None:
        m["crowds"]["direct"]["errors"] = ["OperationalError: FATAL:  sorry, too many clients"]

    assert broken_only(row_missing) == {COMMITTED: "fails"}
    assert broken_only(an_error) == {COMMITTED: "fails"}


def test_pooled_backends_as_heavy_as_direct_ones_fail() -> None:
    def as_heavy(m: dict[str, Any]) -> None:
        m["crowds"]["pooled"]["backend_memory"]["pss_mib"] = 100.0

    def unread(m: dict[str, Any]) -> None:
        m["crowds"]["direct"]["backend_memory"] = pooling.summarize_smaps("")

    assert broken_only(as_heavy) == {MEMORY: "fails"}
    assert broken_only(unread) == {MEMORY: "fails"}


def test_direct_session_state_lost_fails() -> None:
    def lost(m: dict[str, Any]) -> None:
        m["state"]["direct"]["second"]["customer"] = None

    def other_backend(m: dict[str, Any]) -> None:
        m["state"]["direct"]["second_pid"] = 534

    assert broken_only(lost) == {pooling.STATE_KEPT: "fails"}
    assert broken_only(other_backend) == {pooling.STATE_KEPT: "fails"}


def test_pooled_state_kept_fails_and_the_same_backend_is_not_shown() -> None:
    def kept(m: dict[str, Any]) -> None:
        m["state"]["pooled"]["second"]["customer"] = pooling.CUSTOMER

    def prepare_ran(m: dict[str, Any]) -> None:
        m["state"]["pooled"]["second"]["sql_prepared"] = "ran: 42"

    def same_backend(m: dict[str, Any]) -> None:
        m["state"]["pooled"]["second_pid"] = m["state"]["pooled"]["first_pid"]

    assert broken_only(kept) == {pooling.STATE_LOST: "fails"}
    assert broken_only(prepare_ran) == {pooling.STATE_LOST: "fails"}
    assert broken_only(same_backend) == {pooling.STATE_LOST: "not shown",
                                         pooling.PREPARED_FOLLOWED: "not shown"}  # fmt: skip


def test_the_other_client_without_the_state_fails_and_none_is_not_shown() -> None:
    def clean_server(m: dict[str, Any]) -> None:
        m["state"]["pooled"]["other_client"]["customer"] = None

    def nobody(m: dict[str, Any]) -> None:
        m["state"]["pooled"]["other_client"] = None

    assert broken_only(clean_server) == {pooling.STATE_LEAKED: "fails"}
    assert broken_only(nobody) == {pooling.STATE_LEAKED: "not shown"}


def test_a_protocol_prepared_statement_refused_on_the_other_backend_fails() -> None:
    def refused(m: dict[str, Any]) -> None:
        m["state"]["pooled"]["second"]["protocol_prepared"] = {
            "pid": None, "error": '26000 prepared statement "_pg3_0" does not exist'}  # fmt: skip

    assert broken_only(refused) == {pooling.PREPARED_FOLLOWED: "fails"}


def test_smaps_lines_are_summed_per_backend() -> None:
    text = "\n".join([
        "/proc/7/smaps_rollup:Rss:               16384 kB",
        "/proc/7/smaps_rollup:Pss:                1536 kB",
        "/proc/7/smaps_rollup:Private_Clean:         0 kB",
        "/proc/7/smaps_rollup:Private_Dirty:      1024 kB",
        "/proc/9/smaps_rollup:Rss:               16384 kB",
        "/proc/9/smaps_rollup:Pss:                2560 kB",
        "/proc/9/smaps_rollup:Private_Clean:       512 kB",
        "/proc/9/smaps_rollup:Private_Dirty:      1536 kB",
    ])  # fmt: skip
    assert pooling.summarize_smaps(text) == {
        "backends": 2, "rss_mib": 32.0, "pss_mib": 4.0, "private_mib": 3.0,
        "private_per_backend_mib": 1.5}  # fmt: skip
    assert pooling.summarize_smaps("")["backends"] == 0


def test_servers_counts_every_server_state() -> None:
    pool = {"cl_active": 200, "cl_waiting": 180, "sv_active": 12, "sv_idle": 3, "sv_used": 4,
            "sv_login": 1}  # fmt: skip
    assert pooling.servers(pool) == 20
