"""The clusters report: a table per part, the verdicts, and a PNG timeline around each failure."""

from __future__ import annotations

from collections import Counter
from typing import Any

from rich.console import Console

from comms_sandbox.config import RESULTS_DIR
from scenarios.charts import save_timeseries
from scenarios.report import print_checks, records_table
from scenarios.result import ScenarioResult

CHART = "clusters-timeline.png"
BUCKET_S = 0.5
STREAM_COLUMNS = ("stream", "sent", "acknowledged", "read", "lost", "duplicates", "out_of_order",
                  "partition_0_stalled_s")  # fmt: skip
TRAFFIC_COLUMNS = ("confirmed", "delivered", "lost", "redelivered", "publish_stalled_s")


def render(result: ScenarioResult, console: Console) -> None:
    m = result.metrics
    tables = (*kafka_failover(m["kafka_failover"]), kafka_min_isr(m["kafka_min_isr"]),
              *rabbitmq_failover(m["rabbitmq_failover"]),
              *partition(m["kafka_partition"], m["rabbitmq_partition"]),
              *cost(m["cost"]))  # fmt: skip
    for table in tables:
        console.print(table)
    print_checks(m["checks"], console)
    console.print(f"timeline: {chart(m)}")


def kafka_failover(k: dict[str, Any]) -> list[Any]:
    e = k["events"]
    streams = [{"stream": f"acks={acks}", **s} for acks, s in k["streams"].items()]
    return [
        records_table(f"Kafka: node {k['victim']} (leader of partition 0) killed at "
                      f"{e['killed']} s, started at {e['restarted']} s; "
                      f"{k['leaderless_s']} s until another led",
                      streams, STREAM_COLUMNS),
        records_table("Kafka: partition 0 as a live broker's metadata had it (changes only)",
                      transitions(k["timeline"]), ("t", "leader", "isr")),
    ]  # fmt: skip


def transitions(samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The samples where the leader or the in-sync set changed."""
    rows, last = [], None
    for sample in samples:
        if "isr" in sample and (sample["leader"], sample["isr"]) != last:
            last = (sample["leader"], sample["isr"])
            rows.append({"t": sample["t"], "leader": sample["leader"], "isr": sample["isr"]})
    return rows


def kafka_min_isr(k: dict[str, Any]) -> Any:
    return records_table(
        "Kafka below min.insync.replicas=2: nodes stopped one by one "
        f"(acks=1 records served with one node: {k['acks_1_read_with_one_node']}, "
        f"after the restart: {k['acks_1_read_after_restart']})",
        k["steps"], ("step", "isr", "acks", "sent", "acknowledged", "failed", "errors"),
    )  # fmt: skip


def rabbitmq_failover(r: dict[str, Any]) -> list[Any]:
    e, new = r["events"], r["new_leader"]
    return [
        records_table(f"RabbitMQ: {r['victim']} (quorum queue leader) killed at {e['killed']} s; "
                      f"{new['node']} led {new['after_s']} s later",
                      [r["traffic"]], TRAFFIC_COLUMNS),
        records_table("RabbitMQ: the classic queue that lived on the killed node",
                      [{"when": "node down", "answer": e["classic_queue_while_down"]},
                       {"when": "after restart", "answer": e["classic_queue_after_restart"]}],
                      ("when", "answer")),
    ]  # fmt: skip


def extended(events: dict[str, Any]) -> str:
    """How much longer the cut lasted, waiting for the majority to move on (a busy machine)."""
    more = events.get("cut_extended_s")
    return f" (cut {more} s longer: the majority moved on late)" if more else ""


def partition(k: dict[str, Any], r: dict[str, Any]) -> list[Any]:
    return [
        records_table(f"Kafka: {k['node']} cut off at {k['events']['cut']} s, back at "
                      f"{k['events']['rejoined']} s{extended(k['events'])}; another leader "
                      f"after {k['leaderless_s']} s, ISR meanwhile {k['isr_during_cut']}",
                      [{"stream": "acks=all", **k["stream"]}], STREAM_COLUMNS[:-1]),
        records_table(f"RabbitMQ: {r['node']} cut off at {r['events']['cut']} s, back at "
                      f"{r['events']['rejoined']} s{extended(r['events'])}; the majority's leader "
                      f"{r['events'].get('leader_during_cut')}, the node saw itself in the "
                      f"minority after {r['events'].get('minority_after_s')} s and stopped "
                      f"accepting clients after {r['events'].get('stopped_accepting_after_s')} s",
                      [r["traffic"]], TRAFFIC_COLUMNS),
    ]  # fmt: skip


def cost(c: dict[str, Any]) -> list[Any]:
    columns = ("configuration", "acknowledged", "per_s", "p50_ms", "p99_ms")
    return [
        records_table("Kafka: the cost of copies", [{"configuration": n, **r}
                      for n, r in c["kafka"].items()], columns),
        records_table("RabbitMQ: the cost of copies (each publish confirmed before the next)",
                      [{"configuration": n, **r} for n, r in c["rabbitmq"].items()], columns),
        records_table("ratios", [{"ratio": n, "value": v} for n, v in c["ratios"].items()],
                      ("ratio", "value")),
    ]  # fmt: skip


def per_bucket(times: list[float]) -> list[tuple[float, float]]:
    """Events per BUCKET_S-second bucket, as (bucket start, count), empty buckets included."""
    counts = Counter(int(t / BUCKET_S) for t in times)
    last = max(counts, default=0)
    return [(b * BUCKET_S, counts.get(b, 0)) for b in range(last + 1)]


def chart(m: dict[str, Any]) -> str:
    kf, rf = m["kafka_failover"], m["rabbitmq_failover"]
    kp, rp = m["kafka_partition"], m["rabbitmq_partition"]
    panels = {
        "Kafka kill: acks=all acks of partition 0 per 0.5 s": per_bucket(kf["acks"]["all"]),
        "Kafka kill: acks=1 acks of partition 0 per 0.5 s": per_bucket(kf["acks"]["1"]),
        "Kafka kill: in-sync replicas of partition 0": [
            (s["t"], len(s["isr"])) for s in kf["timeline"] if "isr" in s],
        "RabbitMQ kill: confirms per 0.5 s": per_bucket(rf["confirms"]),
        "RabbitMQ kill: deliveries per 0.5 s": per_bucket(rf["deliveries"]),
        "Kafka cut off: acks=all acks of partition 0 per 0.5 s": per_bucket(kp["acks"]),
        "RabbitMQ cut off: confirms per 0.5 s": per_bucket(rp["confirms"]),
    }  # fmt: skip
    kill = {"killed": kf["events"]["killed"], "restarted": kf["events"]["restarted"]}
    rabbit_kill = {"killed": rf["events"]["killed"], "restarted": rf["events"]["restarted"]}
    marks = {title: kill for title in list(panels)[:3]}
    marks.update({title: rabbit_kill for title in list(panels)[3:5]})
    marks[list(panels)[5]] = {"cut": kp["events"]["cut"], "rejoined": kp["events"]["rejoined"]}
    marks[list(panels)[6]] = {"cut": rp["events"]["cut"], "rejoined": rp["events"]["rejoined"]}
    path = save_timeseries(RESULTS_DIR / CHART,
                           "Around each failure (seconds from the start of its part)",
                           panels, marks)  # fmt: skip
    return str(path)
