"""Benchmarks are discovered and each belongs to a lesson (no Docker needed)."""

from bench.__main__ import discover, main
from scenarios import lessons


def test_every_benchmark_is_discovered_startup_first() -> None:
    benchmarks = discover()
    assert next(iter(benchmarks)) == "startup"
    assert {
        "startup",
        "load-balancing",
        "tls-termination",
        "pubsub-rabbitmq",
        "pubsub-kafka",
        "sidecar",
        "grpc",
    } <= set(benchmarks)
    for module in benchmarks.values():
        assert callable(module.run) and callable(module.tables)


def test_every_benchmark_names_a_lesson_that_exists() -> None:
    known = lessons.discover()
    for name, module in discover().items():
        assert module.LESSON is None or module.LESSON in known, name


def test_an_unknown_benchmark_is_refused_before_anything_runs() -> None:
    assert main(["no-such-bench"]) == 2
