"""The execution-models verdicts fail when the measured property does not hold (no Docker)."""

from __future__ import annotations

from typing import Any

import pytest

from bench import execution_models as scaling
from comms_sandbox import cgroups, spare_cpu
from scenarios.execution_models import accept_queue, blocking, models, pooling
from scenarios.result import outcome


def burst(overflows: int, drops: int, outcomes: dict[str, int], retransmitted: int,
          *, waiting: int = 5, backlog: int = 4) -> dict[str, Any]:  # fmt: skip
    kernel = {"TcpExt.ListenOverflows": overflows, "TcpExt.ListenDrops": drops,
              "TcpExt.TCPSynRetrans": 0, "Tcp.OutRsts": 0}  # fmt: skip
    return {"kernel": kernel, "outcomes": outcomes, "answers_after_a_retransmit": retransmitted,
            "max_waiting": waiting, "backlog": backlog}  # fmt: skip


def good_bursts() -> dict[str, dict[str, Any]]:
    n = accept_queue.BURST
    drop, reset, prompt = accept_queue.TARGETS
    return {
        drop: burst(12, 12, {"answered": n}, 8),
        reset: burst(9, 9, {"answered": n - 5, "reset": 5}, 2),
        prompt: burst(0, 0, {"answered": n}, 0, waiting=0, backlog=1024),
    }


def test_accept_queue_holds_for_the_expected_evidence() -> None:
    assert all(accept_queue.holds(good_bursts()).values())


@pytest.mark.parametrize(
    ("which", "change"),
    [
        (0, {"kernel": {"TcpExt.ListenOverflows": 0, "TcpExt.ListenDrops": 0,
                        "TcpExt.TCPSynRetrans": 0, "Tcp.OutRsts": 0}}),  # no overflow counted
        (0, {"answers_after_a_retransmit": 0}),  # nobody waited
        (0, {"max_waiting": 1}),  # the queue never filled
        (1, {"outcomes": {"answered": 30}}),  # abort_on_overflow=1 reset no one
        (2, {"kernel": {"TcpExt.ListenOverflows": 3, "TcpExt.ListenDrops": 3,
                        "TcpExt.TCPSynRetrans": 0, "Tcp.OutRsts": 0}}),  # the good one overflowed
        (2, {"outcomes": {"answered": 29, "timeout": 1}}),
    ],
)  # fmt: skip
def test_accept_queue_fails_on_contrary_evidence(which: int, change: dict[str, Any]) -> None:
    bursts = good_bursts()
    bursts[list(accept_queue.TARGETS)[which]].update(change)
    assert not all(accept_queue.holds(bursts).values())


def model(per_s: float, cores: float, errors: int = 0, *, idle: float = 1.8) -> dict[str, Any]:
    """A model's run; `idle`: the machine's idle cores just before it (of 2)."""
    return {"per_s": per_s, "cores": cores, "errors": errors, "idle_cores_before": idle}


def good_work() -> dict[str, dict[str, dict[str, Any]]]:
    return {
        "cpu": {"async": model(95, 1.0), "threads": model(90, 1.0),
                "processes": model(170, 1.9), "reuseport": model(175, 1.9)},
        "io": {"async": model(700, 0.5), "threads": model(650, 0.7),
               "processes": model(750, 0.6), "reuseport": model(760, 0.6)},
    }  # fmt: skip


def test_models_hold_when_processes_use_both_cores() -> None:
    assert all(models.holds(good_work()).values())


@pytest.mark.parametrize(
    ("kind", "name", "value"),
    [
        ("cpu", "processes", model(100, 1.9)),  # no gain from the second process
        ("cpu", "reuseport", model(100, 1.0)),  # one core only, with two free
        ("cpu", "threads", model(170, 1.9)),  # threads escaped the GIL?
        ("io", "async", model(300, 0.2)),  # the loop fell behind with cores to spare
        ("io", "async", model(700, 1.2)),  # more CPU per request than the pool's 1.08 ms
        ("io", "threads", model(650, 0.7, errors=3)),
    ],
)
def test_models_fail_on_contrary_numbers(kind: str, name: str, value: dict[str, Any]) -> None:
    work = good_work()
    work[kind][name] = value
    assert not all(models.holds(work).values())


PROCESSES_OVER_THREADS = (
    f"CPU-bound: 2 processes serve at least {models.CPU_FACTOR}x what threads in one process do"
)
PROCESSES_CORES = "CPU-bound: 2 processes keep more than one core busy"


def test_models_judge_processes_when_the_machine_left_them_both_cores() -> None:
    work = good_work()
    work["cpu"]["processes"] = model(100, 1.0, idle=1.8)  # two free cores, one used
    verdicts = models.holds(work)
    assert verdicts[PROCESSES_OVER_THREADS] is False
    assert verdicts[PROCESSES_CORES] is False


@pytest.mark.parametrize("squeezed", ["threads", "processes", "reuseport"])
def test_models_do_not_show_processes_against_threads_on_a_busy_machine(squeezed: str) -> None:
    work = good_work()
    work["cpu"][squeezed] = model(100, 1.0, idle=0.9)  # other work held 1.1 cores
    verdicts = models.holds(work)
    for check in (PROCESSES_OVER_THREADS, PROCESSES_CORES):
        assert outcome(verdicts[check]) == "not shown"
        assert verdicts[check] == (
            f"the machine was busy: 0.9 cores idle before the CPU-bound {squeezed} run, 1.5 needed"
        )
    others = {
        k: v for k, v in verdicts.items() if k not in (PROCESSES_OVER_THREADS, PROCESSES_CORES)
    }
    assert all(others.values())  # the rest is judged as ever


KEEPS_UP = "I/O-bound: one event loop keeps up with the thread pool"
CPU_PER_REQUEST = "I/O-bound: one event loop spends less CPU per request than the thread pool"


@pytest.mark.parametrize("squeezed", ["async", "threads"])
def test_a_busy_machine_shows_the_loops_cpu_per_request_but_not_its_requests_per_s(
    squeezed: str,
) -> None:
    """Seen in CI with the other test lane beside it: 292 against 480 requests/s, at 0.75
    against 2.7 ms of CPU per request."""
    work = good_work()
    work["io"]["async"] = model(292, 0.22, idle=0.3 if squeezed == "async" else 1.8)
    work["io"]["threads"] = model(480, 1.3, idle=0.3 if squeezed == "threads" else 1.8)
    verdicts = models.holds(work)
    assert verdicts[KEEPS_UP] == (
        f"the machine was busy: 0.3 cores idle before the I/O-bound {squeezed} run, 1.0 needed"
    )
    assert verdicts[CPU_PER_REQUEST] is True


def test_the_loops_cpu_per_request_is_judged_on_a_busy_machine_too() -> None:
    work = good_work()
    work["io"]["async"] = model(292, 0.5, idle=0.3)  # 1.7 ms per request
    work["io"]["threads"] = model(480, 0.5, idle=0.3)  # 1.04 ms
    assert models.holds(work)[CPU_PER_REQUEST] is False


def test_a_busy_machine_does_not_hide_the_gils_ceiling() -> None:
    work = good_work()
    work["cpu"]["processes"] = model(100, 1.0, idle=0.9)
    work["cpu"]["threads"] = model(170, 1.6, idle=0.9)  # threads past one core: judged, fails
    assert (
        models.holds(work)["CPU-bound: threads in one process keep at most one core busy"] is False
    )


def calls(blocked: tuple[float, float], offloaded: tuple[float, float]) -> dict[str, Any]:
    """/fast's (p99 ms, answers per second) beside each wait."""
    return {
        "blocking": {"fast_p99_ms": blocked[0], "fast_per_s": blocked[1]},
        "offloaded": {"fast_p99_ms": offloaded[0], "fast_per_s": offloaded[1]},
    }


def test_blocking_holds_when_only_the_blocking_call_stalls_the_loop() -> None:
    assert all(blocking.holds(calls((101.0, 15), (2.0, 3000))).values())


def test_blocking_holds_on_a_busy_machine_where_the_free_loop_waits_for_the_cpu() -> None:
    # Seen with stress-ng --cpu 1 beside it: with 2 slow callers /offloaded's p99 was 79 ms,
    # a third of /blocking's (the old p99 check failed); with 4, 12 ms against 915 ms, and
    # /fast answered 7050 times a second against 1.3.
    assert all(blocking.holds(calls((246.2, 23.2), (79.5, 2920))).values())
    assert all(blocking.holds(calls((915.3, 1.3), (11.9, 7050.8))).values())


@pytest.mark.parametrize(
    ("blocked", "offloaded"),
    [((3.0, 2000), (2.0, 3000)), ((101.0, 15), (101.0, 20)), ((101.0, 15), (2.0, 100))],
)
def test_blocking_fails_otherwise(
    blocked: tuple[float, float], offloaded: tuple[float, float]
) -> None:
    assert not all(blocking.holds(calls(blocked, offloaded)).values())


def pooled(client: tuple[int, int], upstream: tuple[int, int]) -> dict[str, Any]:
    return {
        "client": {"pooled": {"connections_at_nginx": client[0]},
                   "each": {"connections_at_nginx": client[1]}},
        "upstream": {"kept": {"opened_at_upstream": upstream[0]},
                     "fresh": {"opened_at_upstream": upstream[1]}},
    }  # fmt: skip


def test_pooling_holds_for_one_connection_against_one_each() -> None:
    n = pooling.REQUESTS
    assert all(pooling.holds(pooled((1, n), (1, n + 1))).values())


@pytest.mark.parametrize(
    ("client", "upstream"),
    [((3, 60), (1, 61)), ((1, 20), (1, 61)), ((1, 60), (30, 61)), ((1, 60), (1, 10))],
)
def test_pooling_fails_when_connections_are_not_reused(
    client: tuple[int, int], upstream: tuple[int, int]
) -> None:
    assert not all(pooling.holds(pooled(client, upstream)).values())


def test_scaling_finds_where_the_curve_flattens() -> None:
    assert scaling.flattens_after({1: 1.0, 2: 1.9, 3: 2.7}) == 3
    assert scaling.flattens_after({1: 1.0, 2: 1.9, 3: 2.2}) == 2
    assert scaling.flattens_after({1: 1.0, 2: 1.2, 3: 1.3}) == 1


def test_cgroup_v2_cpu_stat_is_read_in_seconds() -> None:
    assert cgroups.parse_v2("usage_usec 2500000\nuser_usec 2000000\n") == 2.5
    with pytest.raises(ValueError):
        cgroups.parse_v2("user_usec 1\n")


def test_proc_stat_gives_cpus_ticks_and_idle_ticks() -> None:
    stat = ("cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 50 0 25 400 25 0 0 0 0 0\n"
            "cpu1 50 0 25 400 25 0 0 0 0 0\nintr 1 2 3\n")  # fmt: skip
    assert spare_cpu.parse(stat) == (2, 1000, 850)
    with pytest.raises(ValueError):
        spare_cpu.parse("intr 1 2 3\n")


def test_idle_cores_are_the_idle_share_of_the_ticks_times_the_cpus() -> None:
    before = "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1\ncpu1 1\n"
    after = "cpu  250 0 100 900 50 0 0 0 0 0\ncpu0 1\ncpu1 1\n"  # 300 ticks, 100 idle
    assert spare_cpu.idle_between(before, after) == 0.67
