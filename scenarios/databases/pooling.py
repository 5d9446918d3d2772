"""Connection pooling: 200 clients straight to PostgreSQL, then through PgBouncer; what it breaks.

PostgreSQL runs one process per connection: "every client process connects
to exactly one backend process"
(https://www.postgresql.org/docs/17/connect-estab.html), and max_connections
caps how many there may be. PgBouncer (db-pooler, compose.yaml) in
transaction mode lends a client one of its server connections for the length
of a transaction only (https://www.pgbouncer.org/config.html#pool_mode), at
most DEFAULT_POOL_SIZE (20) of them here.

CLIENTS (200) threads, each with its own connection as lesson_crowd (a role
that may hold them: initdb/30-pooling.sh), connect at once, then each runs
TRANSACTIONS short transactions (a row in `pooling_visits` with the server's
pg_backend_pid(), and WORK_S of pg_sleep standing for the statement's own
time), first straight to db-primary, then through db-pooler. Measured from
the server and the pooler, not the clients:
- pg_stat_activity: lesson_crowd's backends, sampled every SAMPLE_EVERY_S,
  apart by address (the host's clients, the pooler's server connections);
- the rows: every transaction committed, and on how many distinct backends;
- the kernel: each backend's memory (/proc/PID/smaps_rollup in db-primary's
  container: Pss, and Private, which no other process shares) once all 200
  clients have run their transactions, and the containers' cgroup memory;
- PgBouncer's console (SHOW POOLS): clients active and waiting, server
  connections of each state;
- each client's connection set-up time and each transaction's time.

Then what transaction pooling breaks, shown once each way: one client's
transaction sets a session variable (SET lesson.customer), takes a
session-level advisory lock and PREPAREs a statement; meanwhile another client
gets the server connection that transaction ran on (PgBouncer reuses its
latest released server first: server_round_robin=0); the client's next
transaction runs on another backend and finds none of it, while the other
client finds all of it. Straight to PostgreSQL, the same steps keep the
state. A protocol-level prepared statement (psycopg's prepare=True), which
PgBouncer follows from server to server (max_prepared_statements), works both
ways.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo

from comms_sandbox import cgroups, docker
from comms_sandbox.credentials import setting
from comms_sandbox.ports import DATABASES, DATABASES_POOLER, HOST
from scenarios.result import Check, NotShown, percentiles_ms

from . import db

CLIENTS = 200
TRANSACTIONS = 3  # per client
WORK_S = 0.01  # pg_sleep in each transaction
POOL_SIZE = 20  # db-pooler's DEFAULT_POOL_SIZE (compose.yaml)
SAMPLE_EVERY_S = 0.02
ONE_BY_ONE = 20  # connections opened one after another, to time a set-up alone
WAIT_S = 60.0  # for every client at each step; a client that is not there fails the run
ROLE, ROLE_PASSWORD = "lesson_crowd", "DATABASES_CROWD_PASSWORD"
POOLER_USER, POOLER_PASSWORD = "lesson_pooler", "DATABASES_POOLER_PASSWORD"
WAYS = {"direct": DATABASES, "pooled": DATABASES_POOLER}
SETUP_SCRIPT = "/docker-entrypoint-initdb.d/30-pooling.sh"
SCHEMA = """CREATE TABLE IF NOT EXISTS pooling_visits (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  way text NOT NULL,
  client integer NOT NULL,
  backend_pid integer NOT NULL,
  at timestamptz NOT NULL DEFAULT clock_timestamp())"""
VISIT = "INSERT INTO pooling_visits (way, client, backend_pid) VALUES (%s, %s, pg_backend_pid())"
# lesson_crowd's client backends, apart by address: the host's (the owner's own
# address: the sampler runs on the host too) and everyone else's (the pooler's).
BACKENDS = """SELECT count(*) FILTER (WHERE client_addr = inet_client_addr()),
                     count(*) FILTER (WHERE client_addr IS DISTINCT FROM inet_client_addr()),
                     current_setting('max_connections')::int,
                     (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')
                FROM pg_stat_activity
               WHERE usename = %s AND backend_type = 'client backend'"""
PIDS = """SELECT pid FROM pg_stat_activity
           WHERE usename = %s AND backend_type = 'client backend'
             AND (client_addr = inet_client_addr()) = %s"""
MEMORY_KEYS = ("Rss", "Pss", "Private_Clean", "Private_Dirty")
SERVER_STATES = ("sv_active", "sv_active_cancel", "sv_being_canceled", "sv_idle", "sv_used",
                 "sv_tested", "sv_login")  # fmt: skip
# The containers whose memory each way is measured in (their cgroups).
WATCHED = {"direct": ("db-primary",), "pooled": ("db-primary", "db-pooler")}
CUSTOMER, LOCK_KEY, STATEMENT = "alice", 4242, "lesson_q"
PROTOCOL_PREPARED = "SELECT pg_backend_pid() AS prepared_on"


def run() -> dict[str, Any]:
    ensure_roles()
    with db.owner_session() as owner:
        owner.execute(SCHEMA)
    crowds = {way: crowd(way) for way in WAYS}
    setup = {way: one_by_one(way) for way in WAYS}
    state = {way: session_state(way) for way in WAYS}
    return {"clients": CLIENTS, "transactions_per_client": TRANSACTIONS,
            "work_ms": WORK_S * 1000, "pool_size": POOL_SIZE, **crowds,
            "connect_one_by_one_ms": setup, "session_state": state,
            "holds": holds(crowds, state)}  # fmt: skip


# Connections ----------------------------------------------------------------------------


def conninfo(way: str, user: str = ROLE, password_variable: str = ROLE_PASSWORD,
             dbname: str = db.DATABASE) -> str:  # fmt: skip
    return make_conninfo(host=HOST, port=WAYS[way].port, dbname=dbname, user=user,
                         password=setting(password_variable), connect_timeout=10,
                         application_name="databases-lesson-crowd")  # fmt: skip


def connect(way: str) -> psycopg.Connection:
    """lesson_crowd, autocommit: a transaction is only what `conn.transaction()` holds, so a
    pooled client keeps no server connection between its transactions."""
    return psycopg.connect(conninfo(way), autocommit=True)


def console() -> psycopg.Connection:
    """PgBouncer's admin console as its stats user. It speaks the simple query protocol
    only, hence psycopg's client-side binding cursor."""
    info = conninfo("pooled", POOLER_USER, POOLER_PASSWORD, dbname="pgbouncer")
    return psycopg.connect(info, autocommit=True, cursor_factory=psycopg.ClientCursor)


def pooler_console(way: str) -> contextlib.AbstractContextManager[psycopg.Connection | None]:
    return console() if way == "pooled" else contextlib.nullcontext()


def pooler_answers() -> bool:
    """db-pooler's console accepts its stats user (which needs no server connection)."""
    try:
        with console() as conn:
            return bool(conn.execute("SHOW VERSION").fetchall())
    except psycopg.OperationalError:
        return False


def ensure_roles() -> None:
    """lesson_crowd, lesson_pooler and the lookup function, also on a volume made before
    them: initdb/30-pooling.sh, idempotent, as the superuser on db-primary's own socket."""
    docker.run_in(container("db-primary"), "bash", SETUP_SCRIPT)


@functools.cache
def container(service: str) -> str:
    """The service's container name (Compose keeps it across re-creations)."""
    return docker.containers(service)[0].name


def show_pools(conn: psycopg.Connection) -> dict[str, int]:
    """SHOW POOLS' counts for lesson_crowd's pool (empty before its first client)."""
    cursor = conn.execute("SHOW POOLS")
    names = [column.name for column in cursor.description or ()]
    for row in cursor.fetchall():
        pool = dict(zip(names, row, strict=True))
        if pool["database"] == db.DATABASE and pool["user"] == ROLE:
            return {k: int(v) for k, v in pool.items() if k.startswith(("cl_", "sv_"))}
    return {}


def servers(pool: dict[str, int]) -> int:
    """The pool's server connections, in whatever state."""
    return sum(pool.get(state, 0) for state in SERVER_STATES)


# 200 clients ----------------------------------------------------------------------------


class Crowd:
    """CLIENTS threads that connect together, start their transactions together when told,
    and stay connected until told to leave: the server is measured with all of them there."""

    def __init__(self, way: str, transactions: int, work_s: float) -> None:
        self.way, self.transactions, self.work_s = way, transactions, work_s
        self.connected = threading.Barrier(CLIENTS + 1, timeout=WAIT_S)
        self.done = threading.Barrier(CLIENTS + 1, timeout=WAIT_S)
        self.go, self.leave = threading.Event(), threading.Event()
        self.lock = threading.Lock()
        self.connect_s: list[float] = []
        self.transaction_s: list[float] = []
        self.errors: list[str] = []
        self.threads = [threading.Thread(target=self._client, args=(n,), daemon=True)
                        for n in range(CLIENTS)]  # fmt: skip

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def finish(self) -> None:
        self.go.set()  # if the run stopped before the transactions
        self.leave.set()
        for thread in self.threads:
            thread.join(timeout=WAIT_S)

    def wait(self, barrier: threading.Barrier) -> None:
        """Wait at `barrier` with the others; a broken one (a client missing) is an error."""
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            self._failed(RuntimeError(f"not every client got there within {WAIT_S} s"))

    def _client(self, n: int) -> None:
        started = time.monotonic()
        try:
            conn = connect(self.way)
        except psycopg.OperationalError as exc:
            self._failed(exc)
            conn = None
        else:
            self._record(self.connect_s, time.monotonic() - started)
        with conn or contextlib.nullcontext():
            self.wait(self.connected)
            self.go.wait(WAIT_S)
            if conn is not None:
                self._work(conn, n)
            self.wait(self.done)
            self.leave.wait(WAIT_S)

    def _work(self, conn: psycopg.Connection, n: int) -> None:
        for _ in range(self.transactions):
            started = time.monotonic()
            try:
                with conn.transaction():
                    conn.execute(VISIT, (self.way, n))
                    if self.work_s:
                        conn.execute("SELECT pg_sleep(%s)", (self.work_s,))
            except psycopg.Error as exc:
                self._failed(exc)
                return
            self._record(self.transaction_s, time.monotonic() - started)

    def _record(self, values: list[float], value: float) -> None:
        with self.lock:
            values.append(value)

    def _failed(self, exc: Exception) -> None:
        with self.lock:
            self.errors.append(f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1]}")


class Sampler:
    """lesson_crowd's backends (pg_stat_activity) and, pooled, SHOW POOLS every
    SAMPLE_EVERY_S, in a thread of its own."""

    def __init__(self, way: str) -> None:
        self.way = way
        self.samples: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        with db.connect("owner", autocommit=True) as owner, pooler_console(self.way) as pooler:
            while not self._stop.is_set():
                self.samples.append(snapshot(owner, pooler))
                self._stop.wait(SAMPLE_EVERY_S)


def snapshot(owner: psycopg.Connection, pooler: psycopg.Connection | None) -> dict[str, Any]:
    direct, from_pooler, max_connections, everyone = owner.execute(BACKENDS, (ROLE,)).fetchone()
    found = {"direct_backends": direct, "pooler_backends": from_pooler,
             "client_backends": everyone, "max_connections": max_connections}  # fmt: skip
    if pooler is not None:
        found["pool"] = show_pools(pooler)
    return found


def crowd(way: str, transactions: int = TRANSACTIONS, work_s: float = WORK_S,
          measure_memory: bool = True) -> dict[str, Any]:  # fmt: skip
    """CLIENTS clients of `way` (direct or pooled): connect, transactions; the server and
    the kernel measured with all of them connected, at the end of their transactions."""
    with db.connect("owner", autocommit=True) as owner:
        owner.execute("DELETE FROM pooling_visits WHERE way = %s", (way,))
    memory_before = container_memory("db-primary") if measure_memory else {}
    clients = Crowd(way, transactions, work_s)
    with db.connect("owner", autocommit=True) as owner, pooler_console(way) as pooler:
        started = time.monotonic()
        clients.start()
        try:
            clients.wait(clients.connected)
            connect_all_s = time.monotonic() - started
            at_connect = snapshot(owner, pooler)
            with Sampler(way) as sampler:
                started = time.monotonic()
                clients.go.set()
                clients.wait(clients.done)
                work_taken_s = time.monotonic() - started
            at_peak = snapshot(owner, pooler)
            memory = peak_memory(owner, way) if measure_memory else {}
            memory_at_peak = container_memory(*WATCHED[way]) if measure_memory else {}
        finally:
            clients.finish()
    done = len(clients.transaction_s)
    return {
        "connected": len(clients.connect_s), "errors": clients.errors,
        "connect_all_s": round(connect_all_s, 3), "connect_ms": percentiles_ms(clients.connect_s),
        "transactions": done, "work_s": round(work_taken_s, 3),
        "transactions_per_s": round(done / work_taken_s, 1) if work_taken_s else 0.0,
        "transaction_ms": percentiles_ms(clients.transaction_s),
        "at_connect": at_connect, "at_peak": at_peak, "samples": sampler.samples,
        "most": most([at_connect, *sampler.samples, at_peak]), "rows": visits(way),
        "backend_memory": memory,
        "container_memory_mib": {"before": memory_before, "at_peak": memory_at_peak},
    }  # fmt: skip


def most(samples: list[dict[str, Any]]) -> dict[str, int]:
    """The largest of each count over the samples."""
    pools = [s.get("pool") or {} for s in samples]
    return {
        "direct_backends": max(s["direct_backends"] for s in samples),
        "pooler_backends": max(s["pooler_backends"] for s in samples),
        "client_backends": max(s["client_backends"] for s in samples),
        "pool_clients": max(p.get("cl_active", 0) + p.get("cl_waiting", 0) for p in pools),
        "pool_waiting": max(p.get("cl_waiting", 0) for p in pools),
        "pool_servers": max(servers(p) for p in pools),
    }


def visits(way: str) -> dict[str, int]:
    """What the server recorded of `way`'s transactions: rows, clients, distinct backends."""
    query = """SELECT count(*), count(DISTINCT client), count(DISTINCT backend_pid)
                 FROM pooling_visits WHERE way = %s"""
    with db.connect("owner", autocommit=True) as owner:
        rows, clients, backends = owner.execute(query, (way,)).fetchone()
    return {"rows": rows, "clients": clients, "backends": backends}


def one_by_one(way: str) -> dict[str, float]:
    """ONE_BY_ONE connections, each opened and asked its first query alone (no crowd to
    queue behind): what one set-up costs, a new backend's or a pooled login's."""
    times = []
    for _ in range(ONE_BY_ONE):
        started = time.monotonic()
        with connect(way) as conn:
            conn.execute("SELECT 1")
            times.append(time.monotonic() - started)
    return percentiles_ms(times)


# Memory, from the kernel ------------------------------------------------------------------


def peak_memory(owner: psycopg.Connection, way: str) -> dict[str, Any]:
    """The kernel's figures for lesson_crowd's backends of `way`: the direct clients' (the
    host's address) or the pooler's server connections."""
    pids = [pid for (pid,) in owner.execute(PIDS, (ROLE, way == "direct")).fetchall()]
    return backend_memory(pids)


def backend_memory(pids: list[int]) -> dict[str, Any]:
    """Sums of the backends' /proc/PID/smaps_rollup, read inside db-primary's container."""
    if not pids:
        return summarize_smaps("")
    pattern = "^(" + "|".join(MEMORY_KEYS) + "):"
    paths = [f"/proc/{pid}/smaps_rollup" for pid in pids]
    # A backend may exit meanwhile: grep says so on stderr, and the others still count.
    script = 'grep -E "$0" "$@" 2>/dev/null || true'
    return summarize_smaps(docker.run_in(container("db-primary"), "sh", "-c", script,
                                         pattern, *paths))  # fmt: skip


def summarize_smaps(text: str) -> dict[str, Any]:
    """Lines of `grep -E` over several smaps_rollup files ("/proc/7/smaps_rollup:Pss: 12 kB"):
    the backends counted, and Rss, Pss (each shared page split among its sharers) and
    Private (pages no other process maps) summed, in MiB."""
    per_pid: dict[str, dict[str, int]] = {}
    for line in text.splitlines():
        path, key, value = line.split(":", 2)
        per_pid.setdefault(path, {})[key] = int(value.split()[0])
    kib = {key: sum(p.get(key, 0) for p in per_pid.values()) for key in MEMORY_KEYS}
    private, count = kib["Private_Clean"] + kib["Private_Dirty"], len(per_pid)
    return {"backends": count, "rss_mib": round(kib["Rss"] / 1024, 1),
            "pss_mib": round(kib["Pss"] / 1024, 1), "private_mib": round(private / 1024, 1),
            "private_per_backend_mib": round(private / 1024 / max(count, 1), 2)}  # fmt: skip


def container_memory(*services: str) -> dict[str, float]:
    """Each service's memory as its container's cgroup counts it (as docker stats does)."""
    return {name: cgroups.memory_mib(container(name)) for name in services}


# What transaction pooling breaks ------------------------------------------------------------


def session_state(way: str) -> dict[str, Any]:
    """Session state set in one transaction, looked for in the client's next one, and by
    the client handed the first transaction's server connection, if one was."""
    swept_before = sweep_servers() if way == "pooled" else None
    with connect(way) as client, contextlib.ExitStack() as held:
        with client.transaction():
            first_pid = backend_pid(client)
            first_prepared = protocol_prepared(client)
            client.execute(f"SET lesson.customer = '{CUSTOMER}'")
            locked = client.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()[0]
            client.execute(f"PREPARE {STATEMENT} AS SELECT 42")
        other = take_server(held, way, first_pid)
        with client.transaction():
            second_pid = backend_pid(client)
            second = session_view(client) | {
                "sql_prepared": execute_prepared(client),
                "protocol_prepared": protocol_prepared(client),
            }
        other_view = None if other is None else {"pid": other[1], **session_view(other[0])}
        # A backend releases its locks as it exits, a moment after the client closed:
        # unlocked now, the next client (the pooled run) finds the key free at once.
        client.execute("SELECT pg_advisory_unlock_all()")
    swept = sweep_servers() if way == "pooled" else None
    return {"first_pid": first_pid, "second_pid": second_pid, "lock_taken": locked,
            "first_protocol_prepared": first_prepared, "second": second,
            "other_client": other_view, "servers_swept": [swept_before, swept]}  # fmt: skip


def backend_pid(conn: psycopg.Connection) -> int:
    return conn.execute("SELECT pg_backend_pid()").fetchone()[0]


def protocol_prepared(conn: psycopg.Connection) -> dict[str, Any]:
    """A protocol-level prepared statement: psycopg prepares it on first use (Parse), then
    only names it (Bind, Execute). Through PgBouncer the name may reach a server connection
    that never saw the Parse; PgBouncer prepares it there first. Which backend ran it, or
    the server's refusal."""
    try:
        with conn.transaction():  # a savepoint: a refusal does not end the transaction
            pid = conn.execute(PROTOCOL_PREPARED, prepare=True).fetchone()[0]
    except psycopg.errors.InvalidSqlStatementName as exc:  # 26000
        return {"pid": None, "error": f"{exc.sqlstate} {exc.diag.message_primary}"}
    return {"pid": pid, "error": None}


def session_view(conn: psycopg.Connection) -> dict[str, Any]:
    """What this session has: lesson.customer, and whether its backend holds the lock."""
    customer = conn.execute("SELECT current_setting('lesson.customer', true)").fetchone()[0]
    query = "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = %s AND granted"
    holders = [pid for (pid,) in conn.execute(query, (LOCK_KEY,)).fetchall()]
    return {"customer": customer or None, "lock_holders": holders,
            "lock_held_by_own_backend": backend_pid(conn) in holders}  # fmt: skip


def execute_prepared(conn: psycopg.Connection) -> str:
    """EXECUTE the SQL-level prepared statement: its result, or the server's refusal."""
    try:
        with conn.transaction():  # a savepoint: a refusal does not end the transaction
            return f"ran: {conn.execute(f'EXECUTE {STATEMENT}').fetchone()[0]}"
    except psycopg.errors.InvalidSqlStatementName as exc:  # 26000
        return f"{exc.sqlstate} {exc.diag.message_primary}"


def take_server(held: contextlib.ExitStack, way: str,
                pid: int) -> tuple[psycopg.Connection, int] | None:  # fmt: skip
    """Other clients, each in an open transaction, until one runs on backend `pid` (pooled:
    PgBouncer hands out its latest released server first); at most POOL_SIZE - 1, so the
    first client still gets a server. Straight to PostgreSQL, no other client can."""
    for _ in range(POOL_SIZE - 1 if way == "pooled" else 1):
        conn = held.enter_context(connect(way))
        held.enter_context(conn.transaction())
        other_pid = backend_pid(conn)
        if other_pid == pid:
            return conn, other_pid
    return None


def sweep_servers() -> int:
    """Leave no server connection with the lesson's state (a later run would find it):
    POOL_SIZE clients, each in an open transaction, so each on a server of its own (all of
    the pool's), each clearing that server's session. Returns the servers swept."""
    pids = set()
    exists = "SELECT EXISTS (SELECT FROM pg_prepared_statements WHERE name = %s)"
    with contextlib.ExitStack() as held:
        for _ in range(POOL_SIZE):
            conn = held.enter_context(connect("pooled"))
            held.enter_context(conn.transaction())
            pids.add(backend_pid(conn))
            conn.execute("RESET lesson.customer")
            conn.execute("SELECT pg_advisory_unlock_all()")
            if conn.execute(exists, (STATEMENT,)).fetchone()[0]:
                conn.execute(f"DEALLOCATE {STATEMENT}")
    return len(pids)


# Verdicts ---------------------------------------------------------------------------------

ONE_BACKEND_EACH = (
    f"straight to PostgreSQL: {CLIENTS} clients are {CLIENTS} backends "
    "(pg_stat_activity, the rows' pg_backend_pid)"
)
FEW_SERVERS = (
    f"through PgBouncer: {CLIENTS} clients on at most {POOL_SIZE} server connections "
    "(pg_stat_activity, SHOW POOLS, the rows)"
)
QUEUED = "through PgBouncer: clients waited for a server (SHOW POOLS cl_waiting)"
COMMITTED = "every transaction committed, both ways (rows counted in the table)"
MEMORY_SAVED = (
    f"the pooled backends hold under a fifth of the {CLIENTS} direct backends' memory "
    "(the kernel's Pss)"
)
STATE_KEPT = "straight to PostgreSQL: the next transaction finds the SET, the lock, the PREPARE"
STATE_LOST = "through PgBouncer: the next transaction ran on another backend, without them"
STATE_LEAKED = "the client handed the first server connection found the SET and the lock"
PREPARED_FOLLOWED = (
    "a protocol-level prepared statement ran on the other backend (max_prepared_statements)"
)


def holds(crowds: dict[str, dict[str, Any]], state: dict[str, dict[str, Any]]) -> dict[str, Check]:
    direct, pooled = crowds["direct"], crowds["pooled"]
    return {
        ONE_BACKEND_EACH: one_backend_each(direct),
        FEW_SERVERS: few_servers(pooled),
        QUEUED: queued(pooled),
        COMMITTED: committed(crowds),
        MEMORY_SAVED: memory_saved(direct, pooled),
        STATE_KEPT: state_kept(state["direct"]),
        STATE_LOST: state_lost(state["pooled"]),
        STATE_LEAKED: state_leaked(state["pooled"]),
        PREPARED_FOLLOWED: prepared_followed(state["pooled"]),
    }


def one_backend_each(direct: dict[str, Any]) -> bool:
    return (direct["connected"] == CLIENTS and direct["most"]["direct_backends"] >= CLIENTS
            and direct["rows"]["backends"] == CLIENTS)  # fmt: skip


def few_servers(pooled: dict[str, Any]) -> bool:
    most = pooled["most"]
    return (pooled["connected"] == CLIENTS and most["pool_clients"] >= CLIENTS
            and 0 < most["pool_servers"] <= POOL_SIZE and most["pooler_backends"] <= POOL_SIZE
            and 0 < pooled["rows"]["backends"] <= POOL_SIZE)  # fmt: skip


def queued(pooled: dict[str, Any]) -> Check:
    if pooled["most"]["pool_waiting"] > 0:
        return True
    return NotShown("no sample caught a client waiting for a server")


def committed(crowds: dict[str, dict[str, Any]]) -> bool:
    return all(c["rows"]["rows"] == CLIENTS * TRANSACTIONS == c["transactions"]
               and c["rows"]["clients"] == CLIENTS and not c["errors"]
               for c in crowds.values())  # fmt: skip


def memory_saved(direct: dict[str, Any], pooled: dict[str, Any]) -> bool:
    many, few = direct["backend_memory"], pooled["backend_memory"]
    return (many["backends"] == CLIENTS and 0 < few["backends"] <= POOL_SIZE
            and few["pss_mib"] * 5 < many["pss_mib"])  # fmt: skip


def state_kept(direct: dict[str, Any]) -> bool:
    second = direct["second"]
    return (direct["second_pid"] == direct["first_pid"] and direct["lock_taken"]
            and second["customer"] == CUSTOMER and second["lock_held_by_own_backend"]
            and second["sql_prepared"].startswith("ran"))  # fmt: skip


def state_lost(pooled: dict[str, Any]) -> Check:
    if pooled["second_pid"] == pooled["first_pid"]:
        return NotShown("the next transaction ran on the same server connection")
    second = pooled["second"]
    return (second["customer"] is None and not second["lock_held_by_own_backend"]
            and second["sql_prepared"].startswith("26000"))  # fmt: skip


def state_leaked(pooled: dict[str, Any]) -> Check:
    other = pooled["other_client"]
    if other is None:
        return NotShown("no other client was handed the first transaction's server connection")
    return (other["pid"] == pooled["first_pid"] and pooled["lock_taken"]
            and other["customer"] == CUSTOMER and other["lock_held_by_own_backend"])  # fmt: skip


def prepared_followed(pooled: dict[str, Any]) -> Check:
    if pooled["second_pid"] == pooled["first_pid"]:
        return NotShown("the next transaction ran on the same server connection")
    first, second = pooled["first_protocol_prepared"], pooled["second"]["protocol_prepared"]
    return (first["pid"] == pooled["first_pid"] and second["error"] is None
            and second["pid"] == pooled["second_pid"])  # fmt: skip
