"""The failover verdict: no GET lost, and a GET the client had to resend only when the kill
cut it mid-response (in flight at the kill, at most one per concurrent client)."""

import time

import pytest

from scenarios.load import Burst, Exchange
from scenarios.load_balancing import failover
from scenarios.load_balancing.failover import report

NAMES = {"h1": "comms-sandbox-api-1", "h2": "comms-sandbox-api-2"}
EVENTS = {"kill_sent": 1.0, "kill_done": 1.1, "start_sent": 3.0, "start_done": 3.2}


def exchange(index: int, started: float, host: str, retried: str | None = None) -> Exchange:
    return Exchange(
        index, "GET", "/whoami", 200, started, 0.01, host, "10.0.0.1:8000", "id",
        client_retry_after=retried,
    )  # fmt: skip


def calm_burst(*extra: Exchange) -> Burst:
    served = [exchange(0, 0.5, "h2"), exchange(1, 2.0, "h1"), exchange(2, 3.5, "h2")]
    return Burst([*served, *extra], 4.0)


def test_the_verdict_holds_when_nginx_routed_around_the_kill() -> None:
    assert report(calm_burst(), EVENTS, "h2", NAMES)["holds"]


CUT = "RemoteProtocolError: cut mid-response"


def test_a_get_cut_mid_response_by_the_kill_and_resent_holds() -> None:
    resent = exchange(3, 1.05, "h1", retried=CUT)  # started between kill sent and done
    findings = report(calm_burst(resent), EVENTS, "h2", NAMES)
    assert findings["cut_mid_response_retried_by_client"] == [CUT]
    assert findings["resent_not_at_the_kill"] == []
    assert findings["holds"]


def test_a_get_resent_away_from_the_kill_fails_the_verdict() -> None:
    resent = exchange(3, 2.5, "h1", retried=CUT)  # started after the replica was dead
    findings = report(calm_burst(resent), EVENTS, "h2", NAMES)
    assert findings["resent_not_at_the_kill"] == [2.5]
    assert not findings["holds"]


def test_more_resends_than_concurrent_clients_fail_the_verdict() -> None:
    resent = [exchange(3 + n, 1.0 + n / 100, "h1", retried=CUT)
              for n in range(failover.CONCURRENCY + 1)]  # fmt: skip
    assert not report(calm_burst(*resent), EVENTS, "h2", NAMES)["holds"]


def test_a_victim_answering_while_down_fails_the_verdict() -> None:
    ghost = exchange(3, 2.0, "h2")  # answered between the kill and the start
    assert not report(calm_burst(ghost), EVENTS, "h2", NAMES)["holds"]


def test_a_victim_that_never_answered_again_fails_the_verdict() -> None:
    served_before_only = Burst([exchange(0, 0.5, "h2"), exchange(1, 3.5, "h1")], 4.0)
    findings = report(served_before_only, EVENTS, "h2", NAMES)
    assert findings["victim_rejoined_s"] is None and not findings["holds"]


def test_a_victim_that_answers_after_the_load_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    """A busy machine started it too slowly for the load: the GETs after it count."""
    served_before_only = Burst([exchange(0, 0.5, "h2"), exchange(1, 3.5, "h1")], 4.0)
    rounds = iter([Burst([exchange(0, 0.1, "h1")], 1.0), Burst([exchange(0, 0.2, "h2")], 1.0)])
    monkeypatch.setattr(failover, "burst", lambda *args, **kwargs: next(rounds))
    findings = report(served_before_only, EVENTS, "h2", NAMES)
    findings["victim_rejoined_s"] = failover.rejoined_after_the_load("h2", time.monotonic() - 5)
    assert findings["victim_rejoined_s"] is not None and findings["victim_rejoined_s"] > 5
    assert failover.judged(findings)
