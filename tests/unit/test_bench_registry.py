"""Every benchmark module is reachable from `python -m bench NAME` (no Docker needed)."""

from bench.__main__ import BENCHMARKS, main


def test_every_benchmark_is_registered() -> None:
    assert set(BENCHMARKS) == {
        "startup",
        "load-balancing",
        "tls",
        "rabbitmq",
        "kafka",
        "sidecar",
        "grpc",
    }
    for run, tables in BENCHMARKS.values():
        assert callable(run) and callable(tables)


def test_an_unknown_benchmark_is_refused_before_anything_runs() -> None:
    assert main(["no-such-bench"]) == 2
