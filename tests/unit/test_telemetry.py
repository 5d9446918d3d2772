"""services/telemetry: the request id rule, JSON log lines, a trace backend that is away, and
consumer spans linked to their message's producer."""

from __future__ import annotations

import asyncio
import json
import logging
from types import SimpleNamespace

import pytest
import requests
from opentelemetry import propagate
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExportResult
from telemetry import bound_request_id, checked_request_id, current_request_id
from telemetry.links import creation_links
from telemetry.logs import JsonFormatter
from telemetry.messaging import _tag_amqp_consume, _tag_kafka_receive
from telemetry.tracing import QuietExporter


@pytest.mark.parametrize("good", ["abc", "obs-1234", "a" * 64, "9f8e:1.2_x-y"])
def test_a_plain_short_request_id_is_kept(good: str) -> None:
    assert checked_request_id(good) == good
    assert checked_request_id(good.encode()) == good


@pytest.mark.parametrize(
    "bad", [None, "", "a" * 65, 'x"y', "x y", "line\nbreak", "-leading", "ü", "{}", "a;b"]
)
def test_anything_else_is_replaced_by_a_fresh_id(bad: str | None) -> None:
    replaced = checked_request_id(bad)
    assert replaced != bad and len(replaced) == 32 and int(replaced, 16) >= 0


def test_the_bound_id_is_in_every_log_line_and_control_characters_stay_escaped() -> None:
    formatter = JsonFormatter("api")
    record = logging.LogRecord("x", logging.INFO, "f", 1, 'said "hi"\nforged', None, None)
    with bound_request_id("req-1"):
        line = formatter.format(record)
    assert "\n" not in line  # one log line, whatever the message holds
    entry = json.loads(line)
    assert entry["request_id"] == "req-1" and entry["service"] == "api"
    assert entry["message"] == 'said "hi"\nforged'
    assert current_request_id.get() == ""  # unbound after the block


class Unreachable:
    calls = 0

    def export(self, spans: object) -> SpanExportResult:
        self.calls += 1
        raise requests.ConnectionError("no zipkin")

    def shutdown(self) -> None: ...


def test_an_unreachable_trace_backend_fails_the_batch_and_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    inner = Unreachable()
    exporter = QuietExporter(inner, "http://zipkin:9411")  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger="telemetry"):
        results = [exporter.export([]) for _ in range(3)]
    assert results == [SpanExportResult.FAILURE] * 3 and inner.calls == 3
    assert len([r for r in caplog.records if "unreachable" in r.message]) == 1


# The consumers' spans link to the message's creation context (the producer's span).

PRODUCER_TRACE = "0af7651916cd43dd8448eb211c80319c"
PRODUCER_SPAN = "b7ad6b7169203331"
TRACEPARENT = f"00-{PRODUCER_TRACE}-{PRODUCER_SPAN}-01"


def test_a_message_with_trace_context_gives_one_link_to_its_producer() -> None:
    for headers in ([("traceparent", TRACEPARENT)], [("traceparent", TRACEPARENT.encode())]):
        (link,) = creation_links(headers)
        assert f"{link.context.trace_id:032x}" == PRODUCER_TRACE
        assert f"{link.context.span_id:016x}" == PRODUCER_SPAN


@pytest.mark.parametrize("headers", [[], [("traceparent", "not-a-context")], [("x", "y")]])
def test_a_message_without_valid_trace_context_gives_no_link(headers: list) -> None:
    assert creation_links(headers) == []


def test_the_consume_hooks_link_the_consumer_span_and_keep_its_parent() -> None:
    tracer = TracerProvider().get_tracer("test")
    parent = propagate.extract({"traceparent": TRACEPARENT})
    properties = SimpleNamespace(headers={"traceparent": TRACEPARENT, "x-request-id": "r-1"})
    record = SimpleNamespace(headers=[("traceparent", TRACEPARENT.encode())])
    with tracer.start_as_current_span("receive", context=parent) as amqp_span:
        _tag_amqp_consume(amqp_span, b"", properties)
    with tracer.start_as_current_span("receive", context=parent) as kafka_span:
        asyncio.run(_tag_kafka_receive(kafka_span, record, (), {}))
    for span in (amqp_span, kafka_span):
        (link,) = span.links
        assert link.context.span_id == span.parent.span_id == int(PRODUCER_SPAN, 16)
