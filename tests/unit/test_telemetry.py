"""services/telemetry: the request id rule, JSON log lines, and a trace backend that is away."""

from __future__ import annotations

import json
import logging

import pytest
import requests
from opentelemetry.sdk.trace.export import SpanExportResult
from telemetry import bound_request_id, checked_request_id, current_request_id
from telemetry.logs import JsonFormatter
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
