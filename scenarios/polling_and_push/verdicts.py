"""The properties the lesson claims, each a function of what the clients measured."""

from __future__ import annotations

from collections.abc import Iterable

from comms_sandbox.feed import Receiver

# The feed stamps published_at just before it appends the event to Redis: an
# event stamped before a poll was sent may still be missed by it, by that much.
APPEND_SLACK_S = 0.5


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


def short_poll_delay_bounded(delays_s: list[float], windows_s: list[float]) -> bool:
    """Each short-polled event came with the first poll sent after it: within one poll cycle.

    A cycle is the interval plus the requests' own time, measured per event
    (`windows_s`: from the previous poll's request to the answer), not
    assumed: on a busy machine requests and wake-ups take longer, and the
    cycle with them. An event a poll missed although it was there waits a
    cycle more, and fails this.
    """
    return (
        bool(delays_s)
        and len(delays_s) == len(windows_s)
        and all(d <= w + APPEND_SLACK_S for d, w in zip(delays_s, windows_s, strict=True))
    )


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
