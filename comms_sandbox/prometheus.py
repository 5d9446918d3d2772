"""Prometheus's HTTP API on the host (observability lesson): instant queries and targets."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from comms_sandbox import config
from comms_sandbox.health import url_answers


def query(expression: str) -> float:
    """An instant query's value, summed over the series it returns; 0 when there are none."""
    return value(expression) or 0.0


def value(expression: str) -> float | None:
    """An instant query's value, summed over its series; None when it returns no series."""
    response = httpx.get(
        f"{config.prometheus_url()}/api/v1/query", params={"query": expression}, timeout=5
    )
    response.raise_for_status()
    result = response.json()["data"]["result"]
    return sum(float(series["value"][1]) for series in result) if result else None


def targets() -> list[dict[str, Any]]:
    """The active scrape targets: job, instance, health ("up"/"down"), last error."""
    response = httpx.get(f"{config.prometheus_url()}/api/v1/targets", timeout=5)
    response.raise_for_status()
    return [
        {
            "job": target["labels"].get("job", ""),
            "instance": target["labels"].get("instance", ""),
            "health": target["health"],
            "error": target.get("lastError", ""),
        }
        for target in response.json()["data"]["activeTargets"]
    ]


def graph_link(expression: str) -> str:
    return f"{config.prometheus_url()}/graph?g0.expr={quote(expression)}&g0.tab=0"


def answers() -> bool:
    return url_answers(f"{config.prometheus_url()}/-/ready")
