"""The feed without Redis: backpressure, exactly-once resume, message checks, the verdicts."""

import asyncio
import json
from collections import Counter

import pytest
from fastapi import HTTPException
from feed.hub import QUEUE_SIZE, Hub, SlowConsumerError, Subscription
from feed.model import FeedEvent, NewEvent, body_after_id
from pydantic import ValidationError

from api.routes.feed import InvalidMessageError, parse_message, resume_point
from comms_sandbox.feed import Receiver
from scenarios.polling_and_push import verdicts


def event(n: int) -> FeedEvent:
    return FeedEvent(id=n, order_id="A-1", status="paid", published_at=1.0)


class History:
    """The store's read side, in memory: the feed's events by id."""

    def __init__(self, ids: range) -> None:
        self.events = [event(n) for n in ids]

    async def after(self, after: int, limit: int) -> list[FeedEvent]:
        return [e for e in self.events if e.id > after][:limit]


def hub_with(history: History) -> Hub:
    hub = Hub.__new__(Hub)  # no Redis: only follow() and replay() are used
    hub.store = history  # type: ignore[assignment]
    return hub


def test_a_slow_client_is_cut_off_not_buffered_without_bound() -> None:
    async def scenario() -> None:
        subscription = Subscription()
        for n in range(1, QUEUE_SIZE + 10):
            subscription.offer(event(n))
        assert subscription.queue.qsize() == QUEUE_SIZE  # bounded
        assert subscription.overflowed
        with pytest.raises(SlowConsumerError):
            await subscription.next()

    asyncio.run(scenario())


def test_follow_replays_history_then_news_once_each_and_fills_gaps() -> None:
    async def scenario() -> list[int]:
        hub = hub_with(History(range(1, 6)))  # the feed holds 1..5
        subscription = Subscription()
        for n in (2, 3, 5):  # news: 2 and 3 already replayed, 4 missed by this replica
            subscription.offer(event(n))
        got: list[int] = []
        hub.store.events = hub.store.events[:3]  # history at connect time: 1..3
        follow = hub.follow(subscription, after=0)
        for _ in range(3):
            got.append((await anext(follow)).id)
        hub.store.events = [event(n) for n in range(1, 6)]  # 4 and 5 appended meanwhile
        for _ in range(2):
            got.append((await anext(follow)).id)
        return got

    assert asyncio.run(scenario()) == [1, 2, 3, 4, 5]


def test_new_events_are_validated() -> None:
    assert NewEvent(order_id="A-1001", status="shipped")
    for bad in ({"order_id": "no spaces", "status": "paid"}, {"order_id": "A", "status": "lost"},
                {"order_id": "A", "status": "paid", "extra": 1}):  # fmt: skip
        with pytest.raises(ValidationError):
            NewEvent(**bad)


def test_the_stored_json_is_complete_once_the_id_is_prepended() -> None:
    body = body_after_id(NewEvent(order_id="A-1", status="paid"), 1733060000.1234567)
    parsed = json.loads('{"id":7,' + body)
    assert parsed == {
        "id": 7,
        "order_id": "A-1",
        "status": "paid",
        "published_at": 1733060000.123457,
    }


@pytest.mark.parametrize("header", ["abc", "-1", "1.5", "9" * 20])
def test_a_malformed_last_event_id_is_a_400_with_a_reason(header: str) -> None:
    with pytest.raises(HTTPException) as refused:
        resume_point(None, header)
    assert refused.value.status_code == 400
    assert "Last-Event-ID" in refused.value.detail


def test_last_event_id_wins_over_the_query() -> None:
    assert resume_point(3, "7") == 7
    assert resume_point(3, None) == 3


def test_websocket_messages_are_checked() -> None:
    assert parse_message({"text": '{"type": "subscribe", "after": 3}'})["after"] == 3
    with pytest.raises(TypeError):
        parse_message({"bytes": b"\x00"})
    for text in ("not json", "[]", '{"type": "unsubscribe"}'):
        with pytest.raises(InvalidMessageError):
            parse_message({"text": text})


def receiver(name: str, ids: list[int], served_by: str = "r1", reconnects: int = 0) -> Receiver:
    rx = Receiver("sse", name, 0, ids=ids, served_by=Counter({served_by: len(ids)}))
    rx.reconnects = reconnects
    return rx


def test_delivery_verdict_fails_on_a_missing_or_repeated_event() -> None:
    expected = [1, 2, 3]
    assert verdicts.every_event_to_every_client([receiver("a", [1, 2, 3])], expected)
    assert not verdicts.every_event_to_every_client([receiver("a", [1, 3])], expected)
    assert not verdicts.every_event_to_every_client([receiver("a", [1, 2, 2, 3])], expected)
    assert not verdicts.every_event_to_every_client([receiver("a", [])], [])


def test_short_polling_verdict_fails_past_one_poll_cycle() -> None:
    assert verdicts.short_poll_delay_bounded([0.2, 0.9], windows_s=[1.1, 1.1])
    assert not verdicts.short_poll_delay_bounded(
        [0.2, 2.2], windows_s=[1.1, 1.1]
    )  # a poll missed it
    assert not verdicts.short_poll_delay_bounded([], windows_s=[])


def test_short_polling_verdict_holds_on_a_busy_machine_whose_cycles_are_longer() -> None:
    # Requests and wake-ups take longer, and so does the cycle: delays past the interval
    # and its old 0.5 s of slack (1.84 s seen with stress-ng --cpu 1), each within its cycle.
    assert verdicts.short_poll_delay_bounded([0.77, 1.84], windows_s=[1.6, 1.9])


def test_long_polling_verdict_fails_when_answers_are_mostly_empty() -> None:
    assert verdicts.long_poll_rarely_empty(empty_answers=2, clients=5)
    assert not verdicts.long_poll_rarely_empty(empty_answers=30, clients=5)


def test_failover_verdict_needs_a_hit_a_reconnect_and_no_loss() -> None:
    expected = [1, 2]
    hit = receiver("a", [1, 2], served_by="dead", reconnects=1)
    assert verdicts.resumed_after_the_kill([hit], "dead", expected)
    assert not verdicts.resumed_after_the_kill([receiver("a", [1, 2])], "dead", expected)
    stuck = receiver("a", [1, 2], served_by="dead", reconnects=0)
    assert not verdicts.resumed_after_the_kill([stuck], "dead", expected)
    lost = receiver("a", [1], served_by="dead", reconnects=1)
    assert not verdicts.resumed_after_the_kill([lost], "dead", expected)
