"""One order's trace, as Zipkin returns it: the span tree, what it crossed, and what is missing."""

from __future__ import annotations

from typing import Any

Span = dict[str, Any]

# The services whose spans one priced order must have, and the brokers it must cross.
SERVICES = ("api", "pricing", "shipping", "ledger")
BROKERS = ("rabbitmq", "kafka")
DATABASE = "postgresql"  # the db.system of the api's query spans (psycopg's instrumentation)


def service_of(span: Span) -> str:
    return (span.get("localEndpoint") or {}).get("serviceName", "?")


def system_of(span: Span) -> str | None:
    """What a span talked to: the broker of a PRODUCER or CONSUMER span (messaging.system),
    the database of a query's CLIENT span (db.system, or db.system.name in the newer
    conventions), else None."""
    tags = span.get("tags") or {}
    return tags.get("messaging.system") or tags.get("db.system") or tags.get("db.system.name")


def ancestors(span: Span, by_id: dict[str, Span]) -> list[Span]:
    """Parent, grandparent, ... as far as the trace holds them."""
    chain, seen = [], {span["id"]}
    while (parent := by_id.get(span.get("parentId", ""))) and parent["id"] not in seen:
        chain.append(parent)
        seen.add(parent["id"])
        span = parent
    return chain


def problems(spans: list[Span]) -> list[str]:
    """What keeps these spans from being one connected trace of a priced order; [] if nothing."""
    if not spans:
        return ["no spans"]
    by_id = {span["id"]: span for span in spans}
    found = []
    if len({span["traceId"] for span in spans}) != 1:
        found.append("spans from more than one trace")
    roots = [span for span in spans if not span.get("parentId")]
    if len(roots) != 1:
        found.append(f"{len(roots)} root spans, expected 1")
    orphans = sorted({s["name"] for s in spans if s.get("parentId") and s["parentId"] not in by_id})
    if orphans:
        found.append(f"spans whose parent is not in the trace: {', '.join(orphans)}")
    present = {service_of(span) for span in spans}
    found += [f"no span from {name}" for name in SERVICES if name not in present]
    found += [gap for broker in BROKERS if (gap := _broker_gap(broker, spans, by_id))]
    if gap := _database_gap(spans, by_id):
        found.append(gap)
    if not _descends(spans, by_id, ("pricing", "SERVER"), ("api", "CLIENT")):
        found.append("pricing's server span is not a child of the api's gRPC client span")
    return found


def _broker_gap(broker: str, spans: list[Span], by_id: dict[str, Span]) -> str | None:
    sent = [s for s in spans if s.get("kind") == "PRODUCER" and system_of(s) == broker]
    received = [s for s in spans if s.get("kind") == "CONSUMER" and system_of(s) == broker]
    if not sent:
        return f"no {broker} publish (PRODUCER) span"
    if not received:
        return f"no {broker} consume (CONSUMER) span"
    sent_ids = {span["id"] for span in sent}
    if not any(sent_ids & {a["id"] for a in ancestors(span, by_id)} for span in received):
        return f"the {broker} consume span does not descend from its publish span"
    return None


def _database_gap(spans: list[Span], by_id: dict[str, Span]) -> str | None:
    """The api stores the order: at least one of its query spans, under its server span."""
    queries = [
        s for s in spans
        if service_of(s) == "api" and s.get("kind") == "CLIENT" and system_of(s) == DATABASE
    ]  # fmt: skip
    if not queries:
        return f"no database ({DATABASE}) span from the api"
    under_the_request = any(
        any((service_of(a), a.get("kind")) == ("api", "SERVER") for a in ancestors(q, by_id))
        for q in queries
    )
    return None if under_the_request else "the api's database spans are not under its request"


def _descends(
    spans: list[Span], by_id: dict[str, Span], child: tuple[str, str], parent: tuple[str, str]
) -> bool:
    def matches(span: Span, who: tuple[str, str]) -> bool:
        return (service_of(span), span.get("kind")) == who

    return any(
        any(matches(a, parent) for a in ancestors(span, by_id))
        for span in spans
        if matches(span, child)
    )


def crossed(spans: list[Span]) -> list[str]:
    """Services and brokers in the order the trace first reached them."""
    order: list[str] = []
    for span in sorted(spans, key=lambda s: s.get("timestamp", 0)):
        for name in (service_of(span), system_of(span)):
            if name and name not in order:
                order.append(name)
    return order


def tree_rows(spans: list[Span]) -> list[dict[str, Any]]:
    """Depth-first rows (depth, service, span, kind, broker, start and duration in ms)."""
    children: dict[str, list[Span]] = {}
    for span in spans:
        children.setdefault(span.get("parentId", ""), []).append(span)
    start = min((span.get("timestamp", 0) for span in spans), default=0)
    rows: list[dict[str, Any]] = []

    def visit(span: Span, depth: int) -> None:
        rows.append({
            "depth": depth, "service": service_of(span), "span": span.get("name", ""),
            "kind": span.get("kind", "INTERNAL"), "broker": system_of(span),
            "start_ms": round((span.get("timestamp", 0) - start) / 1000, 2),
            "duration_ms": round(span.get("duration", 0) / 1000, 2),
        })  # fmt: skip
        for child in sorted(children.get(span["id"], []), key=lambda s: s.get("timestamp", 0)):
            visit(child, depth + 1)

    ids = {span["id"] for span in spans}
    for root in (s for s in spans if s.get("parentId", "") not in ids):
        visit(root, 0)
    return rows
