"""Every lesson's charts for its report, drawn from its result JSON's metrics alone.

A lesson that draws charts for the terminal (its render.py, or load-balancing's
save_chart) has them drawn again by the same function, from the JSON; the
lessons that draw none get theirs here. Each function takes the metrics and the
report's folder and returns the PNGs it wrote there; tests/unit/test_report_charts.py
checks that every lesson has one.
"""

from __future__ import annotations

import importlib
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scenarios.charts import save_bar_charts, save_phases

Metrics = dict[str, Any]
ChartMaker = Callable[[Metrics, Path], list[Path]]


def draw(lesson: str, metrics: Metrics, folder: Path) -> list[Path]:
    """The lesson's charts, written into `folder`; KeyError for a lesson with none."""
    folder.mkdir(parents=True, exist_ok=True)
    return CHARTS[lesson](metrics, folder)


def lessons_own(dotted: str, folder: Path, *args: Any) -> list[Path]:
    """Call a lesson's own chart function ("module:function") and copy what it drew into
    `folder`. Imported when drawn, not on top: importing it imports the lesson."""
    module, function = dotted.split(":")
    drawn = getattr(importlib.import_module(module), function)(*args)
    paths = drawn if isinstance(drawn, list) else [drawn]
    return [Path(shutil.copy(path, folder / Path(path).name)) for path in paths]


def request_response(m: Metrics, folder: Path) -> list[Path]:
    panels = {
        "status of each request": m["status_counts"],
        "requests per api replica (X-Served-By)": m["requests_per_replica"],
        "quotes per pricing replica (gRPC)": m["priced_by"],
        "latency (ms)": m["latency_ms"],
    }
    title = f"{m['requests']} POST /quotes, {m['concurrency']} at a time"
    return [save_bar_charts(folder / "request-response.png", title, panels, "")]


def grpc(m: Metrics, folder: Path) -> list[Path]:
    ways = m["rest_vs_grpc"]

    def each(value: Callable[[Metrics], float]) -> dict[str, float]:
        return {way.split(",")[0]: value(r) for way, r in ways.items()}

    panels = {f"{layer}: calls per replica": calls for layer, calls in m["balancing"].items()}
    panels |= {
        "latency p50 (ms)": each(lambda r: r["latency_ms"]["p50"]),
        "latency p99 (ms)": each(lambda r: r["latency_ms"]["p99"]),
        "calls per second": each(lambda r: r["per_s"]),
        "bytes on the wire per call (nginx)": each(
            lambda r: round(r["wire"]["request_bytes"] + r["wire"]["response_bytes"])
        ),
        "connections (nginx)": each(lambda r: r["wire"]["connections"]),
        f"draining: calls per connection (reload after {m['draining']['reloaded_after']})": {
            f"connection {n}": calls
            for n, calls in enumerate(m["draining"]["calls_per_connection"], 1)
        },
    }
    title = "gRPC: L7 against L4 balancing, REST against gRPC, a reload mid-stream"
    return [save_bar_charts(folder / "grpc.png", title, panels, "")]


def tls_termination(m: Metrics, folder: Path) -> list[Path]:
    paths = m["paths"]
    panels = {
        "full handshake (ms)": {name: p["full_ms"] for name, p in paths.items()},
        "resumed handshake (ms)": {name: p["resumed_ms"] for name, p in paths.items()},
        "sessions resumed": {name: p["resumed"] for name, p in paths.items()},
    }
    title = "TLS: terminated, passed through, re-encrypted"
    return [save_bar_charts(folder / "tls-termination.png", title, panels, "")]


def pubsub_rabbitmq(m: Metrics, folder: Path) -> list[Path]:
    groups = m["pubsub"]["groups"]
    stream, restart = m["restart"]["stream"], m["restart"]["restart"]
    panels = {
        "fanout: events each subscriber got": {
            name: groups[name]["received_unique"] for name in ("notifier", "auditor")
        },
        "work queue: events per worker": groups["work"]["processed_per_consumer"],
        "the crash run": {"sent": stream["events"], "confirmed": stream["confirmed"],
                          "lost": m["restart"]["lost_total"],
                          "duplicates": m["restart"]["duplicates_total"]},
    }  # fmt: skip
    bars = save_bar_charts(folder / "pubsub-rabbitmq.png", "RabbitMQ: who got what", panels, "")
    phases = [
        (f"{stream['events']} events at {stream['rate_per_s']}/s", 0.0, stream["duration_s"]),
        ("docker kill, then docker start", restart["issued_at_s"],
         restart["restart_returned_at_s"]),
        ("the broker starting, until healthy", restart["restart_returned_at_s"],
         restart["healthy_at_s"]),
    ]  # fmt: skip
    marks = {f"SIGKILL after {restart['after_confirmed']} confirmed": restart["issued_at_s"],
             "healthy": restart["healthy_at_s"]}  # fmt: skip
    timeline = save_phases(folder / "pubsub-rabbitmq-crash.png",
                           "the crash run: RabbitMQ killed mid-stream", phases, marks,
                           "seconds since the stream started")  # fmt: skip
    return [bars, timeline]


def pubsub_kafka(m: Metrics, folder: Path) -> list[Path]:
    queue = m["semantics"]["queue"]
    rebalances = [
        (e["event"], e["t_s"], e["t_s"] + e["settled_after_s"]) for e in queue["timeline"]
    ]
    group = save_phases(folder / "pubsub-kafka-group.png",
                        "the queue group: each change until the assignment settled",
                        rebalances, {e["event"]: e["t_s"] for e in queue["timeline"]},
                        "seconds since the group started")  # fmt: skip
    r = m["reliability"]
    t = r["timeline_s"]
    phases = [(f"{r['events']} events at {r['rate_per_s']}/s", 0.0, t["stream_done"])]
    if "container_started" in t:
        phases.append(("restart sent, until the container started", t["restart_sent"],
                       t["container_started"]))  # fmt: skip
    if "healthy" in t:
        phases.append(("the broker starting, until healthy", t.get("container_started",
                       t["restart_sent"]), t["healthy"]))  # fmt: skip
    marks = {f"restart after {r['restart_after_sent']} sent": t["restart_sent"]}
    marks |= {"healthy": t["healthy"]} if "healthy" in t else {}
    restart = save_phases(folder / "pubsub-kafka-restart.png",
                          f"the broker restarted mid-stream: {r['lost']} acknowledged lost",
                          phases, marks, "seconds since the stream started")  # fmt: skip
    return [group, restart]


BROKERS = {"rabbitmq": "RabbitMQ", "kafka": "Kafka"}


def pubsub_compare(m: Metrics, folder: Path) -> list[Path]:
    def each(value: Callable[[Metrics], float]) -> dict[str, float]:
        return {label: value(m[broker]) for broker, label in BROKERS.items()}

    panels = {
        "order to subscriber, p50 (ms)": each(lambda b: b["delay_ms"]["p50"]),
        "order to subscriber, p99 (ms)": each(lambda b: b["delay_ms"]["p99"]),
        f"received, of {m['accepted']} accepted": each(lambda b: b["received"]),
        "lost + duplicates + order violations": each(
            lambda b: b["lost"] + b["duplicates"] + b["order_violations"]
        ),
        "Kafka: records per partition": m["kafka"]["per_partition"],
    }
    title = f"{m['orders']} orders, through RabbitMQ and Kafka"
    return [save_bar_charts(folder / "pubsub-compare.png", title, panels, "")]


def sidecar(m: Metrics, folder: Path) -> list[Path]:
    with_, bare = m["with_sidecar"], m["without_sidecar"]
    panels = {
        "a burst: statuses with the sidecar": with_["burst_statuses"],
        "a burst: statuses of the bare app": bare["burst_statuses"],
        "flaky calls: statuses with the sidecar": with_["flaky_statuses"],
        "flaky calls: statuses of the bare app": bare["flaky_statuses"],
        "a slow call: seconds to the answer": {
            f"sidecar ({with_['slow_status']})": with_["slow_s"],
            f"bare app ({bare['slow_status']})": bare["slow_s"],
        },
        "the app's requests: the adapter's count": {
            "expected": m["adapter"]["expected_after"],
            "counted": m["adapter"]["seen_after"],
        },
    }
    title = "the same app behind its sidecars and alone"
    return [save_bar_charts(folder / "sidecar.png", title, panels, "")]


def webrtc(m: Metrics, folder: Path) -> list[Path]:
    c = m["comparison"]
    panels = {
        "round trip p50 (ms)": c["rtt_p50_ms"],
        "servers on the data's path": c["servers_on_the_data_path"],
        "data channel open after (ms)": {
            way: m[way]["open_ms"] for way in ("direct", "relayed") if way in m
        },
    }
    title = "WebRTC: direct, relayed, and the same messages through the servers"
    return [save_bar_charts(folder / "webrtc.png", title, panels, "")]


# The auth lesson's cases, as short bar labels (two lines, so six fit side by side).
AUTH_LABELS = {
    "no token": "none", "alg none": "alg\nnone", "HS256 signed with the public key": "HS256",
    "another audience": "aud", "claims edited after signing": "edited",
    "expired": "expired", "valid": "valid",
    "the owner places an order": "place\nown", "a token without orders.write places one":
    "no\nscope", "the owner reads it": "read\nown", "another customer reads it": "read\nother's",
    "another customer lists the owner's orders": "list\nother's",
    "another customer places an order as the owner": "place as\nother",
    "no token, through nginx's /edge/": "edge\nnone", "a valid token, through nginx's /edge/":
    "edge\nvalid", "no token, on nginx's layer-4 port": "L4\nnone",
    "a token without the scope, through nginx's /edge/": "edge\nno scope",
}  # fmt: skip


def auth(m: Metrics, folder: Path) -> list[Path]:
    panels = {
        f"{part}: HTTP status": {
            AUTH_LABELS.get(case, case): answer["status"]
            for case, answer in m[part]["answers"].items()
        }
        for part in ("authentication", "authorization", "edge")
    }
    panels[f"limits: {m['limits']['sent']} requests of one identity"] = {
        f"status {status}": count for status, count in m["limits"]["statuses"].items()
    }
    panels["rotation: requests per phase and status"] = {
        f"{phase}\n{status}": count
        for phase, statuses in m["rotation"]["requests"].items()
        for status, count in statuses.items()
    }
    panels["guessing: seconds to each answer (status)"] = {
        f"#{n}\n{a['status']}": a["took_s"] for n, a in enumerate(m["guessing"]["attempts"], 1)
    }
    title = "auth: what each token, key and password got"
    return [save_bar_charts(folder / "auth.png", title, panels, "")]


CHARTS: dict[str, ChartMaker] = {
    "auth": auth,
    "request-response": request_response,
    "grpc": grpc,
    "tls-termination": tls_termination,
    "pubsub-rabbitmq": pubsub_rabbitmq,
    "pubsub-kafka": pubsub_kafka,
    "pubsub-compare": pubsub_compare,
    "sidecar": sidecar,
    "webrtc": webrtc,
    # The lessons' own, drawn by the functions their terminal reports call.
    "load-balancing": lambda m, f: lessons_own("scenarios.load_balancing:save_chart", f, m),
    "execution-models": lambda m, f: lessons_own("scenarios.execution_models.render:chart", f, m),
    "http-versions": lambda m, f: lessons_own("scenarios.http_versions.render:chart", f, m),
    "network-faults": lambda m, f: lessons_own(
        "scenarios.network_faults.render:timeline_chart", f, m
    ),
    "clusters": lambda m, f: lessons_own("scenarios.clusters.render:chart", f, m),
    "databases": lambda m, f: lessons_own("scenarios.databases.render:charts", f, m),
    "proxies": lambda m, f: lessons_own("scenarios.proxies.render:chart", f, m),
    # Drawn straight into the report's folder from the arrows the run kept.
    "on-the-wire": lambda m, f: importlib.import_module("scenarios.on_the_wire").charts(m, f),
    "idempotency-and-outbox": lambda m, f: lessons_own(
        "scenarios.idempotency_and_outbox.render:faults_chart", f, m["relay and broker faults"]
    ),
    "polling-and-push": lambda m, f: lessons_own(
        "scenarios.polling_and_push.render:save_chart", f, m["side_by_side"]
    ),
    "observability": lambda m, f: (
        lessons_own("scenarios.observability.render:timeline_chart", f, m["tree"], m["trace_id"])
        if m["tree"]
        else []
    ),
}
