"""The observability lesson's verdicts, fed passing and failing evidence."""

from __future__ import annotations

from typing import Any

from scenarios.observability import evidence, trace


def span(
    sid: str, service: str, parent: str = "", kind: str = "", broker: str = "", *, db: str = ""
) -> dict:
    s: dict[str, Any] = {
        "traceId": "t1",
        "id": sid,
        "name": f"{service} {sid}",
        "localEndpoint": {"serviceName": service},
        "timestamp": int(sid, 16),
    }
    if parent:
        s["parentId"] = parent
    if kind:
        s["kind"] = kind
    if broker:
        s["tags"] = {"messaging.system": broker}
    if db:
        s["tags"] = {"db.system": db}
    return s


def good_trace() -> list[dict[str, Any]]:
    return [
        span("1", "api", kind="SERVER"),
        span("2", "api", "1", "CLIENT"),
        span("3", "pricing", "2", "SERVER"),
        span("4", "api", "1", "PRODUCER", "rabbitmq"),
        span("5", "shipping", "4", "CONSUMER", "rabbitmq"),
        span("6", "api", "1", "PRODUCER", "kafka"),
        span("7", "ledger", "6", "CONSUMER", "kafka"),
        span("8", "ledger", "6"),
        span("9", "api", "1", "CLIENT", db="postgresql"),
    ]


def test_a_complete_connected_trace_has_no_problems() -> None:
    spans = good_trace()
    assert trace.problems(spans) == []
    assert trace.crossed(spans) == [
        "api", "pricing", "rabbitmq", "shipping", "kafka", "ledger", "postgresql"]  # fmt: skip
    assert [row["depth"] for row in trace.tree_rows(spans)] == [0, 1, 2, 1, 2, 1, 2, 2, 1]


def test_a_consumer_that_started_its_own_trace_is_a_problem() -> None:
    spans = [s for s in good_trace() if s["id"] != "7"] + [
        span("7", "ledger", kind="CONSUMER", broker="kafka")
    ]
    found = trace.problems(spans)
    assert "2 root spans, expected 1" in found
    assert "the kafka consume span does not descend from its publish span" in found


def test_a_missing_service_broker_or_parent_is_a_problem() -> None:
    spans = [s for s in good_trace() if s["id"] not in ("4", "3")]
    found = trace.problems(spans)
    assert "no span from pricing" in found
    assert "no rabbitmq publish (PRODUCER) span" in found
    assert any(p.startswith("spans whose parent is not in the trace") for p in found)
    assert trace.problems([]) == ["no spans"]


def test_the_order_must_be_stored_under_the_request() -> None:
    without = [s for s in good_trace() if s["id"] != "9"]
    assert trace.problems(without) == ["no database (postgresql) span from the api"]
    elsewhere = [*without, span("9", "api", kind="CLIENT", db="postgresql")]  # its own root
    assert "the api's database spans are not under its request" in trace.problems(elsewhere)


def test_pricing_must_be_called_by_the_api() -> None:
    spans = [s for s in good_trace() if s["id"] != "3"] + [span("3", "pricing", "1", "SERVER")]
    assert trace.problems(spans) == [
        "pricing's server span is not a child of the api's gRPC client span"
    ]


def test_log_lines_must_come_from_every_service_with_the_traces_id() -> None:
    lines = [{"service": name, "trace_id": "t1"} for name in evidence.LOGGING_SERVICES]
    assert evidence.missing_log_services(lines) == []
    assert evidence.wrong_trace_ids(lines, "t1") == []
    assert evidence.missing_log_services(lines[1:]) == ["proxy"]
    lines[2]["trace_id"] = "other"
    assert evidence.wrong_trace_ids(lines, "t1") == [lines[2]["service"]]


def test_a_counter_must_move_by_exactly_the_expected_amount() -> None:
    before = {c.query: 10.0 for c in evidence.COUNTERS}
    after = {c.query: 10.0 + c.expected for c in evidence.COUNTERS}
    assert all(row["holds"] for row in evidence.counter_rows(before, after))
    first = evidence.COUNTERS[0].query
    for wrong in (10.0, 12.0):  # did not move; moved twice
        rows = evidence.counter_rows(before, {**after, first: wrong})
        assert not rows[0]["holds"]


def test_every_job_needs_a_target_up() -> None:
    targets = [{"job": job, "instance": "x", "health": "up", "error": ""} for job in evidence.JOBS]
    assert evidence.targets_down(targets) == []
    targets[0]["health"], targets[0]["error"] = "down", "connection refused"
    assert evidence.targets_down(targets[:-1]) == [
        f"{evidence.JOBS[-1]}: no target",
        f"{evidence.JOBS[0]} x: connection refused",
    ]
