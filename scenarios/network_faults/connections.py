"""Cut and throttled broker connections: publishers reconnect, and nothing accepted is lost.

Toxiproxy resets every connection to a broker a second after it opens
(reset_peer), holds RabbitMQ's closing connections open 2 s (slow_close),
or throttles Kafka's answers to 2 KB/s (bandwidth), while the api accepts
orders. Some orders may be refused (503, the client retries);
every order the api accepted must reach both brokers, and orders go through
again once the fault is gone, with no one acting.
"""

from __future__ import annotations

from typing import Any

from comms_sandbox import toxiproxy
from scenarios.network_faults.client import fault
from scenarios.network_faults.partition import orders_under
from scenarios.result import all_hold

FAULTS = {
    "rabbitmq connections reset after 1 s": ("rabbitmq", "reset_peer", {"timeout": 1000}),
    "kafka connections reset after 1 s": ("kafka", "reset_peer", {"timeout": 1000}),
    "rabbitmq connections close 2 s late": ("rabbitmq", "slow_close", {"delay": 2000}),
    "kafka answers at 2 KB/s": ("kafka", "bandwidth", {"rate": 2}),
}


def run() -> dict[str, Any]:
    results = {}
    for name, (proxy, kind, attributes) in FAULTS.items():
        with toxiproxy.clean():
            toxic = fault(name, toxiproxy.toxic(proxy, "connection-fault", kind, attributes))
            result = orders_under(toxic, f"conn-{proxy}")
        accepted, delivered = result.pop("accepted_ids"), result.pop("delivered")
        result["holds"] = holds(result, accepted, delivered)
        results[name] = result
    return {"faults": results, "holds": {k: all_hold(r["holds"]) for k, r in results.items()}}


def holds(result: dict[str, Any], accepted: set[str], delivered: set[str]) -> dict[str, bool]:
    return {
        "no_accepted_order_lost": bool(accepted) and accepted <= delivered,
        "converged_with_no_one_acting": result["converged_s"] is not None
        and all(call["status"] == 201 for call in result["after"]),
        "refusals_are_503s": all(c["status"] in (201, 503) for c in result["during"]),
    }
