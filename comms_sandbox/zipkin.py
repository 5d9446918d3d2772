"""Zipkin's API v2 on the host (observability lesson): find a trace by a tag, read its spans."""

from __future__ import annotations

from typing import Any

import httpx

from comms_sandbox import config
from comms_sandbox.health import url_answers

Span = dict[str, Any]  # Zipkin's v2 JSON span: traceId, id, parentId, name, kind, ...


def traces_tagged(tag: str, value: str, lookback_s: int = 900) -> list[list[Span]]:
    """The traces that have a span whose tag `tag` equals `value` (annotationQuery)."""
    response = httpx.get(
        f"{config.zipkin_url()}/api/v2/traces",
        params={
            "annotationQuery": f"{tag}={value}",
            "lookback": lookback_s * 1000,
            "limit": 10,
        },
        timeout=5,
    )
    response.raise_for_status()
    return response.json()


def trace(trace_id: str) -> list[Span]:
    """Every span Zipkin holds for one trace (empty when it holds none)."""
    response = httpx.get(f"{config.zipkin_url()}/api/v2/trace/{trace_id}", timeout=5)
    if response.status_code == 404:
        return []
    response.raise_for_status()
    return response.json()


def ui_link(trace_id: str) -> str:
    return f"{config.zipkin_url()}/zipkin/traces/{trace_id}"


def answers() -> bool:
    return url_answers(f"{config.zipkin_url()}/health")
