"""The properties the scenario demonstrates, each judged from its JSON metrics."""

from __future__ import annotations

from typing import Any


def verdicts(metrics: dict[str, Any]) -> dict[str, bool]:
    """Each property the scenario demonstrates, and whether it held."""
    found: dict[str, bool] = {}
    if "semantics" in metrics:
        s = metrics["semantics"]
        queue, fanout = s["queue"], s["fanout"]
        # Each check over a list needs the list: no rebalance seen is no rebalance shown.
        rebalances, lags = queue["timeline"][1:], s["lag"]["after the fanout group"].values()
        found |= {
            "queue: two members cover all partitions, no overlap": queue["two_members"]["holds"],
            "queue: every rebalance leaves all partitions covered": bool(rebalances)
            and all(step["coverage"]["holds"] for step in rebalances),
            "queue: processing goes on after each rebalance": bool(rebalances)
            and all(step["processed_after_settling"] > 0 for step in rebalances),
            "queue: every event processed (0 lost)": queue["lost"] == 0,
            "fanout: the second group got every event": fanout["lost"] == 0,
            "per-key order (0 violations)": queue["order_violations"] == 0
            and fanout["order_violations"] == 0,
            "lag 0 for both groups at the end": bool(lags)
            and all(lag["total"] == 0 for lag in lags),
            "poison dead-lettered with its reason, once per group": s["dead_letter"]["holds"],
            "replay from earliest returns every record published": metrics["replay"][
                "from_earliest"
            ]["holds"],
            "replay from a timestamp returns the later records": metrics["replay"][
                "from_timestamp"
            ]["holds"],
            "retention: consuming removed nothing": metrics["retention"]["log_start_before"]
            == metrics["retention"]["log_start_after"],
        }
    if "reliability" in metrics:
        found["broker restart: 0 acknowledged events lost"] = metrics["reliability"]["holds"]
    return found
