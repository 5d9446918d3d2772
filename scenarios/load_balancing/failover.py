"""Failover: kill a replica under load, start it again, and count what the clients noticed.

While a bounded load runs, `docker kill` takes one replica down (SIGKILL, no
goodbye) and `docker start` brings it back. What keeps GETs whole:
- proxy_next_upstream error timeout: a request whose connect failed, or
  whose connection died before the response header, is sent to another
  replica (X-Upstream-Addr then lists both addresses);
- passive health checks (max_fails=1 fail_timeout=3s): after one failure
  nginx stops choosing that server for 3 s;
- Docker DNS re-resolution (`resolve`): a dead container leaves Docker's DNS
  and nginx drops it from the pool within a second; it rejoins the same way
  (if it has not answered by the end of the load, GETs go on until it does).
POSTs are not replayed once sent: see proxy/load_balancing.py RETRIES.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from comms_sandbox import config, docker
from proxy import load_balancing as lb
from scenarios.load import Burst, Call, Exchange, Progress, burst
from scenarios.load_balancing.methods import label, per_replica

REQUESTS = 2000
CONCURRENCY = 4
# How long before the kill was sent a GET may have started and still be on the
# replica when it died (the load's slowest answers take about 1 s).
IN_FLIGHT_S = 2.0
# Paced to 16 s of load: the replica dies at about 3 s, is started at about
# 6 s, and rejoins within start-up time plus fail_timeout, well before the end.
RATE_PER_S = 125
POST_EVERY = 20  # one POST /quotes in 20 calls, to show how they are treated
KILL_AT = 375  # calls done when the replica is killed
START_AT = 750  # calls done when it is started again
VICTIM_INDEX = 2
# On a busy machine the started replica may take longer than the load to answer
# again: GETs go on after it (REJOIN_ROUND at a time, paced) until it does, for
# at most REJOIN_WITHIN_S. Its return is judged from what it answered, not a clock.
REJOIN_ROUND = 50
REJOIN_RATE_PER_S = 50
REJOIN_WITHIN_S = 60

POST_POLICY = (
    "nginx passes a POST to another replica only if it could not send it at all "
    "(connection refused or timed out). Once a POST reached a replica it may have "
    "taken effect, so it is not replayed elsewhere (no `non_idempotent` in "
    "proxy_next_upstream): a client that must retry it needs an idempotency key."
)


# A broken connection mid-response is retried by the client (and counted, see report()).
GET = Call("/whoami", retry_broken_connection=True)


def calls() -> list[Call]:
    quote = Call("/quotes", method="POST", json={"sku": "BOOK-42", "quantity": 1})
    return [quote if n % POST_EVERY == 0 else GET for n in range(1, REQUESTS + 1)]


class Timeline:
    """When the replica was killed and started, in seconds since the load began."""

    def __init__(self, victim: str) -> None:
        self.victim = victim
        self.events: dict[str, float] = {}

    async def act(self, progress: Progress) -> None:
        await progress.reached(KILL_AT)
        await self._timed(progress, "kill", docker.kill)
        await progress.reached(START_AT)
        await self._timed(progress, "start", docker.start)
        await asyncio.to_thread(docker.wait_healthy, self.victim)
        self.events["healthy"] = progress.elapsed_s()

    async def _timed(self, progress: Progress, name: str, action: Any) -> None:
        self.events[f"{name}_sent"] = progress.elapsed_s()
        await asyncio.to_thread(action, self.victim)
        self.events[f"{name}_done"] = progress.elapsed_s()


def run(names: dict[str, str]) -> dict[str, Any]:
    victim = lb.replica_name(VICTIM_INDEX)
    victim_host = next(host for host, name in names.items() if name == victim)
    timeline = Timeline(victim)
    began = time.monotonic()
    try:
        result = burst(
            config.proxy_url(), calls(), CONCURRENCY, alongside=timeline.act, rate_per_s=RATE_PER_S
        )
    finally:
        _ensure_running(victim)
    findings = report(result, timeline.events, victim_host, names)
    if findings["victim_rejoined_s"] is None:
        findings["victim_rejoined_s"] = rejoined_after_the_load(victim_host, began)
        findings["rejoined_after_the_load"] = findings["victim_rejoined_s"] is not None
        findings["holds"] = judged(findings)
    return findings


def rejoined_after_the_load(victim_host: str, began: float) -> float | None:
    """Seconds since the load began until the started replica answered a GET, sent in
    paced rounds after the load; None if it did not within REJOIN_WITHIN_S."""
    while time.monotonic() - began < REJOIN_WITHIN_S:
        offset = time.monotonic() - began
        more = burst(config.proxy_url(), [GET] * REJOIN_ROUND, CONCURRENCY,
                     rate_per_s=REJOIN_RATE_PER_S, name="GETs until it answers")  # fmt: skip
        answered = _first_end([e for e in more.exchanges if e.served_by == victim_host])
        if answered is not None:
            return round(offset + answered, 3)
    return None


def report(
    result: Burst, events: dict[str, float], victim_host: str, names: dict[str, str]
) -> dict[str, Any]:
    served = [e for e in result.exchanges if e.served_by == victim_host]
    killed, started = events["kill_done"], events["start_sent"]
    while_down = [e for e in served if killed <= e.started_s and e.ended_s < started]
    before = [e for e in served if e.ended_s <= killed]
    after = [e for e in served if e.started_s >= started]
    failed_gets = result.failures("GET")
    findings = {
        "requests": len(result.exchanges),
        "concurrency": CONCURRENCY,
        "victim": label(victim_host, names),
        "events_s": {name: round(t, 3) for name, t in events.items()},
        "failed_gets": len(failed_gets),
        "posts": sum(1 for e in result.exchanges if e.method == "POST"),
        "failed_posts": len(result.failures("POST")),
        "post_policy": POST_POLICY,
        "retried_by_proxy": sum(1 for e in result.exchanges if e.upstream and "," in e.upstream),
        # Sent through nginx a second time after "no live upstreams" on a peer set that had
        # changed under the request (nginx/nginx#1656; proxy/site.py FRESH_PICK): " : "
        # separates the two passes in X-Upstream-Addr.
        "second_pass_after_peer_set_change": sum(
            1 for e in result.exchanges if e.upstream and " : " in e.upstream
        ),
        # Killed after nginx had passed on the response headers: nginx cannot
        # retry a response it already started, so the (idempotent) GET is
        # sent again by the client. Rare: the kill must land mid-response.
        "cut_mid_response_retried_by_client": [
            e.client_retry_after for e in result.exchanges if e.client_retry_after
        ],
        # A resend of a GET that was not in flight when the replica was killed: not
        # explained by the kill, so a failure of its own.
        "resent_not_at_the_kill": [
            round(e.started_s, 3)
            for e in result.exchanges
            if e.client_retry_after and not in_flight_at_the_kill(e, events)
        ],
        "victim_served_while_down": len(while_down),
        "victim_last_served_s": round(max((e.ended_s for e in before), default=0), 3),
        "victim_rejoined_s": _first_end(after),
        "per_replica": per_replica(result, names),
        "latency_ms": result.latency_ms(),
        "duration_s": round(result.duration_s, 2),
        "failures": [_brief(e) for e in result.failures()[:5]],
    }
    findings["holds"] = judged(findings)
    return findings


def in_flight_at_the_kill(exchange: Exchange, events: dict[str, float]) -> bool:
    """Did the GET start while it could still be on the replica when it was killed?"""
    return events["kill_sent"] - IN_FLIGHT_S <= exchange.started_s <= events["kill_done"]


def judged(findings: dict[str, Any]) -> bool:
    """No GET lost, nothing served by the dead replica, and it rejoined.

    A GET whose response nginx had started passing on when the replica died cannot
    be retried by nginx (proxy_next_upstream: only while nothing has been sent to
    the client); the client sends it again. That is allowed for GETs in flight at
    the kill, at most one per concurrent client; a resend at any other time fails.
    """
    return (
        not findings["failed_gets"]
        and not findings["resent_not_at_the_kill"]
        and len(findings["cut_mid_response_retried_by_client"]) <= CONCURRENCY
        and not findings["victim_served_while_down"]
        and findings["victim_rejoined_s"] is not None
    )


def _first_end(exchanges: list[Exchange]) -> float | None:
    return round(min(e.ended_s for e in exchanges), 3) if exchanges else None


def _brief(exchange: Exchange) -> dict[str, Any]:
    return {
        "method": exchange.method,
        "status": exchange.status,
        "upstream": exchange.upstream,
        "error": exchange.error,
    }


def _ensure_running(name: str) -> None:
    """Whatever happened, leave the replica running and healthy for whoever comes next."""
    if any(c.name == name and c.state != "running" for c in docker.containers("api")):
        docker.start(name)
    docker.wait_healthy(name)
