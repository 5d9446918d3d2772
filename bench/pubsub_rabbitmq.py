"""RabbitMQ throughput: pika (Python) against RabbitMQ PerfTest (Java), same broker, same run.

Everything runs on the isolated `perf` vhost (user sandbox-perf, which may
declare there and nowhere else), from the host to 127.0.0.1:5672: 1 KiB
transient messages to a classic queue, one producer and one consumer at the
same time, publisher confirms with at most CONFIRM_WINDOW unconfirmed, the
consumer acking every message with prefetch PREFETCH.
- PerfTest (com.rabbitmq:perf-test, fetched by images/perftest/fetch.sh)
  for SECONDS: its average sending and receiving rates.
- pika, the same shape: MESSAGES messages; the producer on pika's
  asynchronous adapter (SelectConnection, CONFIRM_WINDOW in flight), the
  consumer in another process (BlockingConnection, basic_consume).
- pika, one confirm at a time (BlockingConnection.confirm_delivery, as
  services/order_events/rabbit.py's Publisher does): the cost of waiting for each.
ROUNDS rounds interleave the three; the report gives medians and the ratios
pika / PerfTest. Target: pika's confirmed publishing reaches 40% of PerfTest's.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import statistics
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import pika
from pika.adapters.select_connection import SelectConnection
from pika.frame import Method
from rich.table import Table

from bench.support.narrate import Verdict, measuring
from comms_sandbox import REPO, ports
from comms_sandbox.credentials import setting

NAME = "pubsub-rabbitmq"  # python -m bench pubsub-rabbitmq
LESSON = "pubsub-rabbitmq"

PERF_VHOST = "perf"
PERF_USER = os.environ.get("RABBITMQ_PERF_USER", "sandbox-perf")
PERF_PASSWORD = setting("RABBITMQ_PERF_PASSWORD")
PERFTEST = REPO / "images" / "perftest"

MESSAGES = 20_000
SYNC_MESSAGES = 3_000  # one confirm at a time is slow: fewer, same measure
SIZE = 1024
CONFIRM_WINDOW = 100
PREFETCH = 100
SECONDS = 15  # PerfTest's average includes the JVM warming up: dilute it
ROUNDS = 2
TARGET_RATIO = 0.40
BODY = b"x" * SIZE


def perf_url() -> str:
    return f"amqp://{PERF_USER}:{PERF_PASSWORD}@{ports.HOST}:{ports.AMQP.port}/{PERF_VHOST}"


# --- PerfTest ---------------------------------------------------------------


def fetch_perftest() -> None:
    """Resolve PerfTest's jars with mvn on the host (a no-op once they match the pom)."""
    subprocess.run([str(PERFTEST / "fetch.sh")], check=True)


def perftest_command() -> list[str]:
    return [
        "java", "-cp", str(PERFTEST / "jars" / "*"), "com.rabbitmq.perf.PerfTest",
        "--uri", perf_url(), "--producers", "1", "--consumers", "1",
        "--confirm", str(CONFIRM_WINDOW), "--qos", str(PREFETCH),
        "--size", str(SIZE), "--time", str(SECONDS),
    ]  # fmt: skip


def run_perftest() -> dict[str, float]:
    """One PerfTest run; its summary lines give the average rates."""
    result = subprocess.run(
        perftest_command(), capture_output=True, text=True, timeout=SECONDS + 60, check=False
    )
    rates = dict(re.findall(r"(sending|receiving) rate avg: (\d+) msg/s", result.stdout))
    if result.returncode != 0 or len(rates) != 2:
        raise RuntimeError(f"PerfTest failed ({result.returncode}):\n{result.stdout[-2000:]}")
    return {"publish_per_s": float(rates["sending"]), "consume_per_s": float(rates["receiving"])}


# --- pika, windowed confirms --------------------------------------------------


class WindowedPublisher:
    """Publishes `count` messages keeping `window` unconfirmed, like PerfTest's --confirm."""

    def __init__(self, url: str, queue: str, count: int, window: int) -> None:
        self.queue, self.count, self.window = queue, count, window
        self.sent = 0
        self.unconfirmed: set[int] = set()
        self.nacked = 0
        self.started = self.finished = 0.0
        self.connection = SelectConnection(
            pika.URLParameters(url),
            on_open_callback=lambda conn: conn.channel(on_open_callback=self._on_channel),
            on_close_callback=lambda conn, _reason: conn.ioloop.stop(),
        )

    def run(self) -> float:
        """Seconds from the first publish to the last confirm."""
        self.connection.ioloop.start()
        if self.sent < self.count or self.unconfirmed:
            raise RuntimeError(f"connection closed after {self.sent} of {self.count} publishes")
        return self.finished - self.started

    def _on_channel(self, channel: Any) -> None:
        self.channel = channel
        channel.confirm_delivery(self._on_confirm, callback=lambda _frame: self._start())

    def _start(self) -> None:
        self.started = time.perf_counter()
        self._pump()

    def _pump(self) -> None:
        while self.sent < self.count and len(self.unconfirmed) < self.window:
            self.channel.basic_publish("", self.queue, BODY, mandatory=True)
            self.sent += 1
            self.unconfirmed.add(self.sent)  # delivery tags count from 1 per channel

    def _on_confirm(self, frame: Method) -> None:
        tag, multiple = frame.method.delivery_tag, frame.method.multiple
        self.nacked += isinstance(frame.method, pika.spec.Basic.Nack)
        if multiple:  # the broker confirms every tag up to this one at once
            self.unconfirmed = {t for t in self.unconfirmed if t > tag}
        else:
            self.unconfirmed.discard(tag)
        if self.sent == self.count and not self.unconfirmed:
            self.finished = time.perf_counter()
            self.connection.close()
        else:
            self._pump()


def consume(url: str, queue: str, count: int, ready: Any, rates: Any) -> None:
    """In its own process: consume `count` messages, ack each, send back messages per second."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.basic_qos(prefetch_count=PREFETCH)
    times: list[float] = []

    def on_message(ch: Any, method: Any, _props: Any, _body: bytes) -> None:
        ch.basic_ack(method.delivery_tag)
        times.append(time.perf_counter())
        if len(times) == count:
            ch.stop_consuming()

    channel.basic_consume(queue, on_message)
    ready.set()
    channel.start_consuming()
    connection.close()
    rates.send((count - 1) / (times[-1] - times[0]))


def run_pika_windowed() -> dict[str, float]:
    """Producer here, consumer in a forked process (no shared GIL), on a fresh queue."""
    # fork, not spawn: spawn re-imports the caller's __main__, which may not be guarded.
    ctx = multiprocessing.get_context("fork")
    with perf_queue("bench.pika") as queue:
        ready, (rates, sender) = ctx.Event(), ctx.Pipe(duplex=False)
        consumer = ctx.Process(target=consume, args=(perf_url(), queue, MESSAGES, ready, sender))
        consumer.start()
        if not ready.wait(30):
            raise RuntimeError("the pika consumer process did not start consuming within 30 s")
        publish_s = WindowedPublisher(perf_url(), queue, MESSAGES, CONFIRM_WINDOW).run()
        if not rates.poll(120):
            consumer.kill()
            raise RuntimeError(f"the pika consumer did not finish (exit code {consumer.exitcode})")
        consume_per_s = rates.recv()
        consumer.join(30)
    return {"publish_per_s": MESSAGES / publish_s, "consume_per_s": consume_per_s}


# --- pika, one confirm at a time (the services' Publisher) -------------------


def run_pika_one_at_a_time() -> dict[str, float]:
    """BlockingConnection with confirm_delivery: each publish waits for its confirm.

    The same calls as services/order_events/rabbit.py's Publisher, with transient
    messages like the other runs (its persistent ones would add an fsync here).
    """
    with perf_queue("bench.pika-sync") as queue:
        connection = pika.BlockingConnection(pika.URLParameters(perf_url()))
        channel = connection.channel()
        channel.confirm_delivery()
        started = time.perf_counter()
        for _ in range(SYNC_MESSAGES):
            channel.basic_publish("", queue, BODY, mandatory=True)
        elapsed = time.perf_counter() - started
        connection.close()
    return {"publish_per_s": SYNC_MESSAGES / elapsed}


@contextmanager
def perf_queue(prefix: str) -> Iterator[str]:
    """A fresh classic queue on the perf vhost, deleted afterwards.

    Durable because RabbitMQ 4 deprecates transient shared queues; the messages
    are transient (as PerfTest's), so they are not written to disk for it.
    """
    name = f"{prefix}.{uuid.uuid4().hex[:8]}"
    connection = pika.BlockingConnection(pika.URLParameters(perf_url()))
    try:
        connection.channel().queue_declare(name, durable=True)
        yield name
    finally:
        with suppress(pika.exceptions.AMQPError):
            connection.channel().queue_delete(name)
        connection.close()


# --- the benchmark ------------------------------------------------------------


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: round(statistics.median(r[key] for r in runs), 1) for key in runs[0]}


def run() -> dict[str, Any]:
    """ROUNDS rounds of PerfTest, pika windowed and pika one-at-a-time; medians and ratios."""
    fetch_perftest()
    measures = {
        "perftest": run_perftest,
        "pika_windowed": run_pika_windowed,
        "pika_one_at_a_time": run_pika_one_at_a_time,
    }
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in measures}
    for round_ in range(1, ROUNDS + 1):
        for name, measure in measures.items():
            with measuring(name, round_, ROUNDS, SECONDS if name == "perftest" else None):
                runs[name].append(measure())
    medians = {name: _median(results) for name, results in runs.items()}
    return {
        "tool": f"PerfTest {SECONDS} s vs pika {MESSAGES} messages, 1 producer + 1 consumer, "
        f"{SIZE} B, confirm window {CONFIRM_WINDOW}, prefetch {PREFETCH}, {ROUNDS} rounds",
        "perftest_command": " ".join(perftest_command()).replace(PERF_PASSWORD, "***"),
        "runs": medians,
        "all_runs": runs,
        "ratios": _ratios(medians),
        "target_ratio": TARGET_RATIO,
    }


def _ratios(m: dict[str, dict[str, float]]) -> dict[str, float]:
    perftest = m["perftest"]
    return {
        "publish: pika windowed / PerfTest": round(
            m["pika_windowed"]["publish_per_s"] / perftest["publish_per_s"], 3
        ),
        "consume: pika / PerfTest": round(
            m["pika_windowed"]["consume_per_s"] / perftest["consume_per_s"], 3
        ),
        "publish: pika one at a time / PerfTest": round(
            m["pika_one_at_a_time"]["publish_per_s"] / perftest["publish_per_s"], 3
        ),
    }


def verdicts(result: dict[str, Any]) -> list[Verdict]:
    """pika windowed against PerfTest: the ratios the target applies to."""
    target = result["target_ratio"]
    return [Verdict(f"{label} >= {target:.2f}", value >= target, f"{value:.2f}")
            for label, value in result["ratios"].items() if "windowed" in label]  # fmt: skip


def tables(result: dict[str, Any]) -> list[Table]:
    """Rates per client (medians), then the ratios against the target."""
    runs = Table(title=f"RabbitMQ throughput: {result['tool']}")
    for column in ("client", "publish (msg/s)", "consume (msg/s)"):
        runs.add_column(column, justify="right")
    labels = {
        "perftest": "PerfTest (Java)",
        "pika_windowed": f"pika, {CONFIRM_WINDOW} confirms in flight",
        "pika_one_at_a_time": "pika, one confirm at a time",
    }
    for name, m in result["runs"].items():
        consume_rate = f"{m['consume_per_s']:.0f}" if "consume_per_s" in m else "-"
        runs.add_row(labels[name], f"{m['publish_per_s']:.0f}", consume_rate)
    ratios = Table(title="ratios, same run")
    for column in ("ratio", "value", "target"):
        ratios.add_column(column, justify="right")
    for label, value in result["ratios"].items():
        target = f">= {result['target_ratio']:.2f}" if "windowed" in label else "-"
        ratios.add_row(label, f"{value:.2f}", target)
    return [runs, ratios]
