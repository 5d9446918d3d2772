"""The network-faults verdicts, fed passing and failing evidence."""

from __future__ import annotations

from scenarios.network_faults import deadlines, partition


def call(status: int, seconds: float = 0.1, answer: object = None) -> dict:
    return {"status": status, "seconds": seconds, "answer": answer or {}, "request_id": "r"}


def test_a_prompt_504_with_the_deadline_at_pricing_holds() -> None:
    slowed = [call(504, 2.05), call(504, 2.01)]
    seen = {"a": 1990, "b": 1985}
    assert all(deadlines.holds(slowed, seen, [call(200)]).values())


def test_hanging_answering_200_or_no_deadline_at_pricing_fail() -> None:
    seen = {"a": 1990}
    assert not deadlines.holds([call(504, 3.1)], seen, [call(200)])["answered_within_the_deadline"]
    assert not deadlines.holds([call(200, 3.1)], seen, [call(200)])["every_slowed_call_504"]
    no_deadline = deadlines.holds([call(504, 2.0)], {"a": None}, [call(200)])
    assert not no_deadline["deadline_reached_pricing"]
    assert not deadlines.holds([call(504, 2.0)], {}, [call(200)])["deadline_reached_pricing"]
    assert not deadlines.holds([call(504, 2.0)], seen, [call(504)])["healthy_again_after"]


def test_a_partition_verdict_needs_503s_naming_the_broker_convergence_and_no_loss() -> None:
    during = [call(503, answer={"published": {"rabbitmq": "failed: not confirmed"}})]
    after = [call(202)]
    good = partition.holds(during, 1.5, after, {"e1", "e2"}, delivered={"e1", "e2", "x"})
    assert all(good.values())
    assert not partition.holds(during, 1.5, after, {"e1", "e2"}, delivered={"e1"})[
        "no_accepted_order_lost"
    ]
    assert not partition.holds(during, None, after, {"e1"}, delivered={"e1"})[
        "converged_with_no_one_acting"
    ]
    wrong = [call(500, answer={"detail": "boom"})]
    assert not partition.holds(wrong, 1.5, after, {"e1"}, delivered={"e1"})[
        "503_naming_the_broker_while_cut_off"
    ]
