"""The properties the lesson claims, each a function of what the clients measured."""

from __future__ import annotations

from collections.abc import Iterable

from comms_sandbox.feed import Receiver

# A short-polled event waits at most one interval, plus the request's own time.
POLL_SLACK_S = 0.5


def gaps(receivers: Iterable[Receiver], expected: list[int]) -> dict[str, dict[str, int]]:
    """Per client: events missing and events received twice (both should be 0)."""
    return {
        rx.name: {"missing": len(set(expected) - set(rx.ids)), "duplicates": rx.duplicates()}
        for rx in receivers
    }


def every_event_to_every_client(receivers: Iterable[Receiver], expected: list[int]) -> bool:
    """Each client got each expected event exactly once."""
    found = gaps(receivers, expected)
    return bool(expected) and all(g == {"missing": 0, "duplicates": 0} for g in found.values())


def short_poll_delay_bounded(delays_s: list[float], interval_s: float) -> bool:
    """No short-polled event waited longer than one polling interval (plus the request)."""
    return bool(delays_s) and max(delays_s) <= interval_s + POLL_SLACK_S


def long_poll_rarely_empty(empty_answers: int, clients: int) -> bool:
    """Long polling answers when there is news: at most one empty answer (a timeout) per client."""
    return empty_answers <= clients


def resumed_after_the_kill(receivers: Iterable[Receiver], killed: str, expected: list[int]) -> bool:
    """The killed replica had clients, they all reconnected, and nobody lost or repeated one."""
    receivers = list(receivers)
    hit = [rx for rx in receivers if killed in rx.served_by]
    return (
        bool(hit)
        and all(rx.reconnects >= 1 for rx in hit)
        and every_event_to_every_client(receivers, expected)
    )
