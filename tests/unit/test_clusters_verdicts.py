"""The clusters lesson's verdicts, each fed a run where the property failed."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from scenarios.clusters import cost, kafka_failover, kafka_min_isr, partition, rabbitmq_failover
from scenarios.clusters.kafka_stream import Stream, check, stalls
from scenarios.clusters.rabbitmq_stream import Traffic
from scenarios.clusters.render import per_bucket, transitions


def stream_of(values: list[str], acks: str = "all") -> Stream:
    stream = Stream(acks)
    stream.sent = len(values)
    stream.acked = {v: (i * 0.01, 0) for i, v in enumerate(values)}
    return stream


# ---- reading back what was acknowledged


def test_check_counts_an_acknowledged_record_missing_from_the_read_as_lost() -> None:
    checked = check(stream_of(["k0:0", "k0:1", "k1:0"]), ["k0:0", "k1:0"])
    assert (checked["lost"], checked["lost_examples"]) == (1, ["k0:1"])


def test_check_counts_duplicates_and_a_key_going_backwards() -> None:
    checked = check(stream_of(["k0:0", "k0:1"]), ["k0:0", "k0:1", "k0:0"])
    assert checked["duplicates"] == 1
    assert checked["out_of_order"] == 1
    assert check(stream_of(["k0:0", "k0:1"]), ["k0:1", "k0:0"])["out_of_order"] == 1


def test_check_of_a_clean_read() -> None:
    checked = check(stream_of(["k0:0", "k1:0", "k0:1"]), ["k0:0", "k0:1", "k1:0"])
    assert (checked["lost"], checked["duplicates"], checked["out_of_order"]) == (0, 0, 0)


def test_stalls_is_the_longest_wait_between_two_acks_of_the_partition() -> None:
    stream = Stream("all")
    stream.acked = {"a": (1.0, 0), "b": (1.5, 0), "c": (7.5, 0), "d": (3.0, 1)}
    assert stalls(stream, 0) == 6.0


# ---- Kafka: leader killed


def kafka_failover_result() -> dict[str, Any]:
    clean = {"acknowledged": 2000, "lost": 0, "out_of_order": 0, "duplicates": 0}
    return {
        "victim": 1,
        "events": {"killed": 2.0},
        "streams": {"all": dict(clean), "1": dict(clean)},
        "leaderless_s": 6.2,
        "timeline": [
            {"t": 1.0, "leader": 1, "isr": [1, 2, 3]},
            {"t": 8.2, "leader": 2, "isr": [2, 3]},
            {"t": 20.0, "leader": 2, "isr": [1, 2, 3]},
        ],
    }


def test_kafka_failover_holds_on_a_clean_run() -> None:
    assert all(kafka_failover.holds(kafka_failover_result()).values())


@pytest.mark.parametrize(
    ("spoil", "verdict"),
    [
        (lambda r: r["streams"]["all"].update(lost=3), "acks=all: no acknowledged record lost"),
        (
            lambda r: r["streams"]["all"].update(acknowledged=0),
            "acks=all: no acknowledged record lost",
        ),
        (
            lambda r: r["streams"]["all"].update(out_of_order=1),
            "acks=all: every key in order, no duplicates",
        ),
        (
            lambda r: r["streams"]["all"].update(duplicates=2),
            "acks=all: every key in order, no duplicates",
        ),
        (lambda r: r.update(leaderless_s=None), "another node took over as leader"),
        (lambda r: r["timeline"][1].update(isr=[1, 2, 3]), "the ISR dropped the killed node"),
        (lambda r: r["timeline"][2].update(isr=[2, 3]), "the ISR grew back to 3 after the restart"),
    ],
)
def test_kafka_failover_fails_when_the_property_did_not_hold(spoil: Any, verdict: str) -> None:
    result = kafka_failover_result()
    spoil(result)
    assert kafka_failover.holds(result)[verdict] is False


def test_leaderless_ignores_samples_before_the_kill_and_errors_and_no_leader() -> None:
    samples = [
        {"t": 1.0, "leader": 2},  # before the kill: not a takeover
        {"t": 3.0, "error": "KafkaConnectionError"},
        {"t": 4.0, "leader": -1},
        {"t": 5.0, "leader": 1},
        {"t": 8.5, "leader": 3},
    ]
    assert kafka_failover.leaderless_s(samples, 2.0, 1) == 6.5
    assert kafka_failover.leaderless_s(samples[:4], 2.0, 1) is None


# ---- Kafka: below min.insync.replicas


def min_isr_result() -> tuple[dict[str, Any], Stream]:
    refused = Stream("all")
    refused.sent = 20
    refused.failed = {f"ck0:{i}": "NotEnoughReplicasError" for i in range(20)}
    result = {
        "isr_with_one_node": [3],
        "refused_errors": ["NotEnoughReplicasError"],
        "refused_in_log": 0,
        "acknowledged_before": 120,
        "acknowledged_missing": 0,
        "isr_after_restart": [1, 2, 3],
    }
    return result, refused


def test_min_isr_holds_on_a_clean_run() -> None:
    assert all(kafka_min_isr.holds(*min_isr_result()).values())


@pytest.mark.parametrize(
    ("spoil", "verdict"),
    [
        (lambda r, s: r.update(isr_with_one_node=[2, 3]), "the in-sync set was the leader alone"),
        (
            lambda r, s: s.acked.update({"ck0:0": (1.0, 0)}),
            "acks=all refused with NotEnoughReplicasError",
        ),
        (
            lambda r, s: r.update(refused_errors=["KafkaTimeoutError"]),
            "acks=all refused with NotEnoughReplicasError",
        ),
        (lambda r, s: r.update(refused_in_log=1), "refused records are not in the log"),
        (
            lambda r, s: r.update(acknowledged_missing=1),
            "a consumer still read every acknowledged record",
        ),
        (lambda r, s: r.update(isr_after_restart=[3]), "the ISR grew back to 3"),
    ],
)
def test_min_isr_fails_when_the_property_did_not_hold(spoil: Any, verdict: str) -> None:
    result, refused = min_isr_result()
    spoil(result, refused)
    assert kafka_min_isr.holds(result, refused)[verdict] is False


# ---- RabbitMQ: leader killed


def rabbit_failover_result() -> dict[str, Any]:
    return {
        "leader_before": "rabbit@rabbitmq-3",
        "victim": "rabbit@rabbitmq-3",
        "events": {"killed": 2.0, "classic_queue_while_down": "(404, NOT_FOUND - home node ...)"},
        "traffic": {"confirmed": 1200, "lost": 0},
        "new_leader": {"node": "rabbit@rabbitmq-1", "after_s": 1.1},
        "timeline": [{"t": 20.0, "leader": "rabbit@rabbitmq-1", "online": ["a", "b", "c"]}],
    }


def test_rabbitmq_failover_holds_on_a_clean_run() -> None:
    assert all(rabbitmq_failover.holds(rabbit_failover_result()).values())


def test_the_rabbitmq_cut_lasts_until_the_node_paused_and_another_led() -> None:
    cut_node = partition.CUT_RABBIT.rabbit_name
    assert not partition.rabbit_moved_on({})
    assert not partition.rabbit_moved_on({"minority_after_s": 12.0})
    assert not partition.rabbit_moved_on({"minority_after_s": 12.0, "leader_during_cut": cut_node})
    assert not partition.rabbit_moved_on({"leader_during_cut": "rabbit@rabbitmq-1"})
    assert partition.rabbit_moved_on(
        {"minority_after_s": 12.0, "leader_during_cut": "rabbit@rabbitmq-1"}
    )


def test_the_minority_moment_is_read_from_the_nodes_own_log_line() -> None:
    log = (
        "2026-12-06 22:30:19.244135+00:00 [info] <0.1370.0> accepting AMQP connection\n"
        "2026-12-06 22:30:31.500000+00:00 [warning] <0.400.0> Cluster minority/secondary "
        "status detected - awaiting recovery\n"
    )
    logged = partition.minority_logged_at(log)
    assert logged == datetime(2026, 12, 6, 22, 30, 31, 500000, tzinfo=UTC).timestamp()
    assert partition.minority_logged_at(log.splitlines()[0]) is None


def test_the_cut_is_observed_until_done(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(partition.time, "sleep", lambda _s: None)
    seen: list[float] = []
    calls = iter([False, False, True])
    partition.observe_until(lambda: next(calls), 0.0, {"cut": 0.0},
                            lambda _events, t: seen.append(t))  # fmt: skip
    assert len(seen) == 2


def test_the_kafka_cut_lasts_until_the_majority_moved_on() -> None:
    events = {"cut": 2.0}
    led_by_2 = {"t": 5.0, "leader": 2, "isr": [2, 3, 1]}
    assert not partition.kafka_moved_on([led_by_2], events)
    assert not partition.kafka_moved_on([led_by_2, {"t": 9.0, "leader": -1, "isr": [2]}], events)
    # another leader, but the in-sync set still names the cut-off node
    assert not partition.kafka_moved_on([{"t": 9.0, "leader": 3, "isr": [3, 1, 2]}], events)
    assert not partition.kafka_moved_on([{"t": 1.0, "leader": 3, "isr": [3, 1]}], events)
    assert partition.kafka_moved_on([led_by_2, {"t": 9.0, "leader": 3, "isr": [3, 1]}], events)
    assert not partition.kafka_moved_on([led_by_2], {})


@pytest.mark.parametrize(
    ("spoil", "verdict"),
    [
        (
            lambda r: r.update(leader_before="rabbit@rabbitmq-1"),
            "the killed node led the quorum queue",
        ),
        (lambda r: r["traffic"].update(lost=1), "no confirmed message lost"),
        (lambda r: r["traffic"].update(confirmed=0), "no confirmed message lost"),
        (
            lambda r: r.update(new_leader={"node": None, "after_s": None}),
            "another node took over as leader",
        ),
        (
            lambda r: r["events"].update(classic_queue_while_down="available, 10 messages"),
            "the classic queue was unavailable while its node was down",
        ),
        (lambda r: r["timeline"][-1].update(online=["a", "b"]), "all three members online again"),
    ],
)
def test_rabbitmq_failover_fails_when_the_property_did_not_hold(spoil: Any, verdict: str) -> None:
    result = rabbit_failover_result()
    spoil(result)
    assert rabbitmq_failover.holds(result)[verdict] is False


def test_new_leader_skips_samples_without_a_leader_and_the_killed_node() -> None:
    samples = [
        {"t": 2.5, "leader": None},
        {"t": 2.7, "error": "HTTPStatusError"},
        {"t": 2.9, "leader": "rabbit@rabbitmq-3"},
        {"t": 3.1, "leader": "rabbit@rabbitmq-2"},
    ]
    found = rabbitmq_failover.new_leader(samples, 2.0, "rabbit@rabbitmq-3")
    assert found == {"node": "rabbit@rabbitmq-2", "after_s": 1.1}


def test_traffic_check_counts_a_confirmed_message_never_delivered_as_lost() -> None:
    traffic = Traffic(started=0.0)
    traffic.confirmed = {"m0": 0.1, "m1": 0.2, "m2": 3.5}
    traffic.delivered = [("m0", 0.2), ("m2", 3.6), ("m2", 3.7)]
    checked = traffic.check()
    assert (checked["lost"], checked["lost_examples"], checked["redelivered"]) == (1, ["m1"], 1)
    assert checked["publish_stalled_s"] == 3.3


# ---- a node cut off


def kafka_partition_result() -> dict[str, Any]:
    return {"leaderless_s": 6.1, "isr_during_cut": [1, 3], "isr_at_end": [1, 2, 3],
            "events": {"cut": 2.0, "rejoined": 16.0},
            "stream": {"acknowledged": 3000, "lost": 0}}  # fmt: skip


def rabbit_partition_result() -> dict[str, Any]:
    return {"node": "rabbit@rabbitmq-2", "leader_before": "rabbit@rabbitmq-2",
            "events": {"minority_after_s": 13.0, "leader_during_cut": "rabbit@rabbitmq-1"},
            "traffic": {"confirmed": 2400, "lost": 0}, "online_after": ["a", "b", "c"]}  # fmt: skip


def test_partition_holds_on_clean_runs() -> None:
    assert all(partition.kafka_holds(kafka_partition_result()).values())
    assert all(partition.rabbit_holds(rabbit_partition_result()).values())


@pytest.mark.parametrize(
    ("spoil", "verdict"),
    [
        (lambda r: r.update(leaderless_s=None), "another node led while the leader was cut off"),
        # another leader only once the node was back: not while it was cut off
        (lambda r: r.update(leaderless_s=14.9), "another node led while the leader was cut off"),
        (lambda r: r.update(isr_during_cut=[1, 2, 3]), "the in-sync set dropped the cut-off node"),
        (lambda r: r.update(isr_during_cut=[]), "the in-sync set dropped the cut-off node"),
        (lambda r: r["stream"].update(lost=2), "no acknowledged record lost"),
        (lambda r: r.update(isr_at_end=[1, 3]), "back in sync after rejoining"),
    ],
)
def test_kafka_partition_fails_when_the_property_did_not_hold(spoil: Any, verdict: str) -> None:
    result = kafka_partition_result()
    spoil(result)
    assert partition.kafka_holds(result)[verdict] is False


@pytest.mark.parametrize(
    ("spoil", "verdict"),
    [
        (
            lambda r: r["events"].pop("minority_after_s"),
            "the cut-off node found itself in the minority and paused",
        ),
        (
            lambda r: r["events"].update(leader_during_cut="rabbit@rabbitmq-2"),
            "the majority elected another leader",
        ),
        (lambda r: r["traffic"].update(lost=1), "no confirmed message lost"),
        (lambda r: r.update(online_after=["a", "c"]), "all three members online after rejoining"),
    ],
)
def test_rabbitmq_partition_fails_when_the_property_did_not_hold(spoil: Any, verdict: str) -> None:
    result = copy.deepcopy(rabbit_partition_result())
    spoil(result)
    assert partition.rabbit_holds(result)[verdict] is False


# ---- cost, and the report's helpers


def test_cost_fails_when_a_write_was_not_acknowledged() -> None:
    full = {"kafka": {"RF 1": {"acknowledged": cost.RECORDS * cost.ROUNDS}},
            "rabbitmq": {"classic": {"acknowledged": cost.MESSAGES * cost.ROUNDS}}}  # fmt: skip
    assert all(cost.holds(full).values())
    full["kafka"]["RF 1"]["acknowledged"] -= 1
    assert cost.holds(full)["Kafka: every record acknowledged in each configuration"] is False


def test_transitions_keep_only_changes_and_per_bucket_keeps_empty_buckets() -> None:
    samples = [
        {"t": 0.0, "leader": 1, "isr": [1, 2, 3]},
        {"t": 0.3, "error": "x"},
        {"t": 0.5, "leader": 1, "isr": [1, 2, 3]},
        {"t": 7.0, "leader": 2, "isr": [2, 3]},
    ]
    assert [row["t"] for row in transitions(samples)] == [0.0, 7.0]
    assert per_bucket([0.1, 0.2, 1.6]) == [(0.0, 2), (0.5, 0), (1.0, 0), (1.5, 1)]
