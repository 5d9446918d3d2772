"""POST /orders on the outbox path against the dual write, and the time from commit to each broker.

Side by side in one run, on the default stack:
- requests/s and p50/p99 of `POST /orders` (wrk in the stack's network,
  through nginx to the 3 api replicas), with ORDERS_PUBLISH=outbox (the api
  stores the order and its outbox row in one transaction; the relay
  publishes) and ORDERS_PUBLISH=dual-write (the api stores, then publishes
  to RabbitMQ and Kafka itself and waits for both confirms). Rounds alternate,
  each set-up re-creating the api and the relay (scenarios/idempotency_and_outbox/
  outbox.py's publish_mode), so a machine that gets busier mid-run slows both
  alike; medians are reported;
- commit to broker, on the outbox path: for each order, from the commit of
  the transaction that stored it (pg_xact_commit_timestamp of the order row's
  xmin; track_commit_timestamp is on) to rabbitmq_published_at and
  kafka_published_at (written by the relay with clock_timestamp() once that
  broker confirmed): p50 and p99, at a steady PACED_RATE orders/s (the relay
  woken by NOTIFY at each commit), and for the rows of the last wrk run, where
  the relay works through a backlog. Both times are PostgreSQL's clock.

Targets (issue 26): the outbox's p99 at most 1.5x the dual write's; commit to
broker p99 under 100 ms at the steady rate.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import asdict
from typing import Any

from rich.table import Table

from bench.support.narrate import Verdict, measuring
from comms_sandbox.wrk import Load, wrk
from proxy.site import INTERNAL_PORT
from scenarios.idempotency_and_outbox import counting, outbox
from scenarios.result import percentiles_ms

NAME = "idempotency-and-outbox"  # python -m bench idempotency-and-outbox
LESSON = "idempotency-and-outbox"

URL = f"http://proxy:{INTERNAL_PORT}/orders"
SECONDS, CONNECTIONS, ROUNDS = 8, 16, 3
PACED_RATE, PACED_S, PACED_CUSTOMERS = 50.0, 10.0, 10
OUTBOX, DUAL_WRITE = "outbox (store + outbox row; the relay publishes)", "dual write"
TARGET_P99_RATIO = 1.5
TARGET_COMMIT_TO_BROKER_P99_MS = 100.0
BROKERS = ("rabbitmq", "kafka")


def body(customer: str) -> str:
    return json.dumps({"customer_id": customer, "sequence": 1, "amount_cents": 1999})


def measure(customer: str) -> Load:
    """wrk's closed loop on POST /orders, every order the same customer's (no key)."""
    wrk(URL, seconds=2, connections=CONNECTIONS, json_body=body(customer))  # warm-up
    return wrk(URL, seconds=SECONDS, connections=CONNECTIONS, json_body=body(customer))


def commit_to_broker(customers: list[str]) -> dict[str, dict[str, float]]:
    """Per broker, commit to *_published_at of these customers' outbox rows (ms)."""
    rows = counting.stored_events(customers)

    def delays_s(broker: str) -> list[float]:
        return [r[f"{broker}_at"] - (r["committed_at"] or r["created_at"])
                for r in rows if r[f"{broker}_at"] is not None]  # fmt: skip

    return {broker: {**percentiles_ms(delays_s(broker)), "events": len(delays_s(broker))}
            for broker in BROKERS}  # fmt: skip


def paced() -> dict[str, Any]:
    """PACED_RATE orders/s for PACED_S through nginx (the outbox path), then their latencies."""
    customers = counting.new_customers(PACED_CUSTOMERS)
    load = outbox.Load(customers, PACED_RATE, max_s=PACED_S)
    load.start()
    time.sleep(PACED_S)  # the load stops by itself at max_s; stop() joins it
    placed = load.stop()
    drained_s = outbox.wait_drained(customers)
    return {"orders": len(placed), "answers": outbox.answered(placed), "drained_after_s": drained_s,
            "commit_to_broker_ms": commit_to_broker(customers)}  # fmt: skip


def run() -> dict[str, Any]:
    runs: dict[str, list[dict[str, float]]] = {OUTBOX: [], DUAL_WRITE: []}
    under_load: dict[str, Any] = {}
    for round_ in range(1, ROUNDS + 1):
        with measuring(DUAL_WRITE, round_, ROUNDS, SECONDS + 2), outbox.publish_mode("dual-write"):
            runs[DUAL_WRITE].append(asdict(measure(counting.new_customers(1)[0])))
        customers = counting.new_customers(1)  # back on the default: the outbox
        with measuring(OUTBOX, round_, ROUNDS, SECONDS + 2):
            runs[OUTBOX].append(asdict(measure(customers[0])))
        under_load = {"drained_after_s": outbox.wait_drained(customers),
                      "commit_to_broker_ms": commit_to_broker(customers)}  # fmt: skip
    return summary({name: _median(loads) for name, loads in runs.items()}, paced(), under_load)


def summary(medians: dict[str, dict[str, float]], steady: dict[str, Any],
            under_load: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    outbox_run, dual = medians[OUTBOX], medians[DUAL_WRITE]
    return {
        "tool": f"wrk, {CONNECTIONS} connections, {SECONDS} s x {ROUNDS} rounds, POST /orders",
        "runs": medians,
        "outbox_vs_dual_write": {
            "per_s": round(outbox_run["requests_per_s"] / dual["requests_per_s"], 3),
            "p99": round(outbox_run["p99_ms"] / dual["p99_ms"], 3),
        },
        "paced": {"rate_per_s": PACED_RATE, "seconds": PACED_S, **steady},
        "last_wrk_run_on_the_outbox": under_load,
        "targets": {"p99_ratio_at_most": TARGET_P99_RATIO,
                    "commit_to_broker_p99_ms_under": TARGET_COMMIT_TO_BROKER_P99_MS},
    }  # fmt: skip


def _median(loads: list[dict[str, float]]) -> dict[str, float]:
    return {
        field: round(statistics.median(load[field] for load in loads), 2)
        for field in ("requests_per_s", "p50_ms", "p99_ms", "errors")
    }


def verdicts(result: dict[str, Any]) -> list[Verdict]:
    return [
        Verdict(f"the outbox's p99 at most {TARGET_P99_RATIO}x the dual write's",
                meets_p99_target(result), f"{result['outbox_vs_dual_write']['p99']}x"),
        Verdict(f"commit to broker p99 under {TARGET_COMMIT_TO_BROKER_P99_MS:.0f} ms",
                meets_commit_to_broker_target(result),
                ", ".join(f"{b} {result['paced']['commit_to_broker_ms'][b]['p99']} ms"
                          for b in BROKERS)),
    ]  # fmt: skip


def meets_p99_target(result: dict[str, Any]) -> bool:
    return result["outbox_vs_dual_write"]["p99"] <= TARGET_P99_RATIO


def meets_commit_to_broker_target(result: dict[str, Any]) -> bool:
    """Every broker confirmed events of the steady run, p99 under the target."""
    latencies = result["paced"]["commit_to_broker_ms"]
    return all(latencies[b]["events"] > 0 and latencies[b]["p99"] < TARGET_COMMIT_TO_BROKER_P99_MS
               for b in BROKERS)  # fmt: skip


def tables(result: dict[str, Any]) -> list[Table]:
    return [_throughput_table(result), _commit_to_broker_table(result)]


def _throughput_table(result: dict[str, Any]) -> Table:
    ratios = result["outbox_vs_dual_write"]
    target = "meets" if meets_p99_target(result) else "MISSES"
    table = Table(title=f"POST /orders, the outbox against the dual write: {result['tool']} "
                        f"(medians; target: the outbox's p99 at most {TARGET_P99_RATIO}x: "
                        f"{target})")  # fmt: skip
    for column in ("", "req/s", "p50 ms", "p99 ms", "errors"):
        table.add_column(column, justify="right")
    for name, r in result["runs"].items():
        table.add_row(name, f"{r['requests_per_s']:.0f}", f"{r['p50_ms']:.1f}",
                      f"{r['p99_ms']:.1f}", f"{r['errors']:.0f}")  # fmt: skip
    table.add_row("outbox / dual write", f"{ratios['per_s']:.2f}", "", f"{ratios['p99']:.2f}", "")
    return table


def _commit_to_broker_table(result: dict[str, Any]) -> Table:
    target = "meets" if meets_commit_to_broker_target(result) else "MISSES"
    table = Table(title=f"commit to broker on the outbox path (the order's commit to the "
                        f"relay's mark after the confirm; target at the steady rate: p99 under "
                        f"{TARGET_COMMIT_TO_BROKER_P99_MS:.0f} ms: {target})")  # fmt: skip
    for column in ("", "broker", "events", "p50 ms", "p99 ms", "max ms"):
        table.add_column(column, justify="right")
    paced_run, loaded = result["paced"], result["last_wrk_run_on_the_outbox"]
    rows = {f"steady, {paced_run['rate_per_s']:.0f} orders/s": paced_run,
            f"last wrk run (drained {loaded['drained_after_s']} s after)": loaded}  # fmt: skip
    for label, measured in rows.items():
        for broker, r in measured["commit_to_broker_ms"].items():
            table.add_row(label, broker, str(r["events"]), f"{r['p50']:.1f}", f"{r['p99']:.1f}",
                          f"{r['max']:.1f}")  # fmt: skip
    return table
