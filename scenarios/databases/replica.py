"""A replica that lags: a hot standby of db-primary, its lag under writes, stale reads, the fix.

db-replica (compose.yaml, replica.sh) is a physical streaming replica: a copy
of the primary made by pg_basebackup that replays the primary's WAL as it
arrives and answers reads (a hot standby). Replication is asynchronous (the
default): the primary's COMMIT returns once its own WAL is flushed, before
the replica has received it
(https://www.postgresql.org/docs/17/warm-standby.html#STREAMING-REPLICATION).

Under a write load (LOAD_ROWS rows every LOAD_EVERY_S, in one transaction
each, by lesson_app on the primary) the part measures:
- the lag, every SAMPLE_EVERY_S: the primary's pg_stat_replication (state,
  replay_lag) and how many bytes of WAL the replica's replay position
  (pg_last_wal_replay_lsn() on the replica) is behind the primary's
  pg_current_wal_lsn();
- read-your-writes: PROBES times, a row inserted and committed on the
  primary, then read at once on the replica: absent is a stale read;
- the fix: the same, but after the commit the writer takes the primary's
  pg_current_wal_lsn() (at or past its commit record) and the reader waits
  until the replica's pg_last_wal_replay_lsn() has reached it: 0 stale, at
  the cost of the wait (counted). Reading the writer's own rows from the
  primary is the other fix.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg

from scenarios.result import Check, NotShown, percentiles_ms

from . import db

LOAD_ROWS, LOAD_EVERY_S = 200, 0.01  # about 20,000 rows/s offered, one transaction each time
SAMPLE_EVERY_S = 0.05
PROBES = 200
WAIT_LIMIT_S = 5.0
CATCH_UP_S = 10.0
SCHEMA = """CREATE TABLE IF NOT EXISTS ledger (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  note text NOT NULL,
  at timestamptz NOT NULL DEFAULT clock_timestamp())"""
LAG = """SELECT state, sync_state, extract(epoch FROM replay_lag) * 1000,
                pg_current_wal_lsn()::text
           FROM pg_stat_replication LIMIT 1"""


def run() -> dict[str, Any]:
    with db.owner_session() as owner:
        owner.execute(SCHEMA)
        owner.execute("TRUNCATE ledger")
    stop = threading.Event()
    load = threading.Thread(target=write_load, args=(stop,), daemon=True)
    sampler = Sampler()
    started = time.monotonic()
    load.start()
    sampler.start()
    try:
        time.sleep(0.5)  # the load under way before the probes
        naive = probe(wait_for_lsn=False)
        waited = probe(wait_for_lsn=True)
    finally:
        stop.set()
        load.join(timeout=10)
        sampler.stop()
    seconds = time.monotonic() - started
    caught_up_s = catch_up_seconds()
    samples = sampler.samples
    behind = [s["bytes_behind"] for s in samples if s["bytes_behind"] is not None]
    lags = [s["replay_lag_ms"] / 1000 for s in samples if s["replay_lag_ms"] is not None]
    return {
        "load": f"{LOAD_ROWS} rows every {LOAD_EVERY_S * 1000:.0f} ms, one transaction each",
        "seconds": round(seconds, 2),
        "load_rows_per_s": round(rows_written("load") / seconds),
        "states": sorted({f"{s['state']}/{s['sync_state']}" for s in samples}),
        "bytes_behind_max": max(behind, default=None),
        "replay_lag_ms": percentiles_ms(lags),
        "samples": samples, "naive": naive, "waited": waited, "caught_up_s": caught_up_s,
        "holds": holds(samples, naive, waited, caught_up_s),
    }  # fmt: skip


def write_load(stop: threading.Event) -> None:
    insert = "INSERT INTO ledger (note) SELECT 'load' FROM generate_series(1, %s)"
    with db.connect("app", autocommit=True) as conn:
        while not stop.is_set():
            conn.execute(insert, (LOAD_ROWS,))
            stop.wait(LOAD_EVERY_S)


class Sampler:
    """The lag every SAMPLE_EVERY_S, from both servers, in a thread of its own."""

    def __init__(self) -> None:
        self.samples: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        started = time.monotonic()
        with db.connect("owner", autocommit=True) as primary, \
             db.connect("app", autocommit=True, server="replica") as replica:  # fmt: skip
            while not self._stop.is_set():
                self.samples.append({"t_s": round(time.monotonic() - started, 3),
                                     **lag_sample(primary, replica)})  # fmt: skip
                self._stop.wait(SAMPLE_EVERY_S)


def lag_sample(primary: psycopg.Connection, replica: psycopg.Connection) -> dict[str, Any]:
    row = primary.execute(LAG).fetchone()
    if row is None:  # no replica connected at this moment
        return {"state": None, "sync_state": None, "replay_lag_ms": None, "bytes_behind": None}
    state, sync_state, replay_lag_ms, primary_lsn = row
    query = "SELECT pg_wal_lsn_diff(%s::pg_lsn, pg_last_wal_replay_lsn())"
    behind = replica.execute(query, (primary_lsn,)).fetchone()[0]
    return {"state": state, "sync_state": sync_state,
            "replay_lag_ms": None if replay_lag_ms is None else round(float(replay_lag_ms), 2),
            "bytes_behind": max(int(behind), 0)}  # fmt: skip


def probe(wait_for_lsn: bool) -> dict[str, Any]:
    """PROBES writes on the primary, each read at once on the replica (after its LSN if asked)."""
    stale, waits, timeouts = 0, [], 0
    with db.connect("app", autocommit=True) as writer, \
         db.connect("app", autocommit=True, server="replica") as reader:  # fmt: skip
        for n in range(PROBES):
            (row_id,) = writer.execute("INSERT INTO ledger (note) VALUES (%s) RETURNING id",
                                       (f"probe {n}",)).fetchone()  # fmt: skip
            if wait_for_lsn:
                (lsn,) = writer.execute("SELECT pg_current_wal_lsn()::text").fetchone()
                waited = wait_for_replay(reader, lsn)
                timeouts += waited is None
                waits.append(waited or WAIT_LIMIT_S)
            query = "SELECT EXISTS (SELECT FROM ledger WHERE id = %s)"
            stale += not reader.execute(query, (row_id,)).fetchone()[0]
    return {"reads": PROBES, "stale": stale, "wait_timeouts": timeouts,
            "wait_ms": percentiles_ms(waits) if wait_for_lsn else None}  # fmt: skip


def wait_for_replay(replica: psycopg.Connection, lsn: str) -> float | None:
    """Seconds until the replica has replayed up to `lsn`, or None past WAIT_LIMIT_S."""
    started = time.monotonic()
    query = "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn"
    while time.monotonic() - started < WAIT_LIMIT_S:
        if replica.execute(query, (lsn,)).fetchone()[0]:
            return time.monotonic() - started
        time.sleep(0.0005)
    return None


def catch_up_seconds() -> float | None:
    """Once the load stopped: seconds until the replica replayed all the primary wrote."""
    with db.connect("owner", autocommit=True) as primary, \
         db.connect("app", autocommit=True, server="replica") as replica:  # fmt: skip
        (lsn,) = primary.execute("SELECT pg_current_wal_lsn()::text").fetchone()
        waited = wait_for_replay(replica, lsn)
    return None if waited is None else round(waited, 3)


def rows_written(note: str) -> int:
    with db.connect("app", autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM ledger WHERE note = %s", (note,)).fetchone()[0]


def holds(samples: list[dict[str, Any]], naive: dict[str, Any], waited: dict[str, Any],
          caught_up_s: float | None) -> dict[str, Check]:  # fmt: skip
    states = {(s["state"], s["sync_state"]) for s in samples}
    return {
        "the replica streams from the primary, asynchronously (pg_stat_replication)": (
            bool(samples) and states == {("streaming", "async")}),
        "under the write load the replica's replay falls behind the primary": lag_seen(samples),
        "reads right after a write, from the replica, are sometimes stale": stale_seen(naive),
        "waiting for the replica to replay the writer's LSN: 0 stale reads": (
            waited["stale"] == 0 and waited["wait_timeouts"] == 0 and waited["reads"] > 0),
        "after the load the replica catches up with the primary": caught_up_s is not None,
    }  # fmt: skip


def lag_seen(samples: list[dict[str, Any]]) -> Check:
    if any((s["bytes_behind"] or 0) > 0 for s in samples):
        return True
    return NotShown("the replica replayed every sample's WAL before it was measured")


def stale_seen(naive: dict[str, Any]) -> Check:
    if naive["stale"] > 0:
        return True
    return NotShown("the replica replayed every write before its read arrived")
