"""`python -m bench [NAME...]` (`make bench`): run benchmarks, print tables, save JSON.

With no NAME, all of them, start-up first (it restarts the stack). Results: results/bench-NAME.json.
"""

import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench import grpc_vs_rest, kafka, load_balancing, rabbitmq, sidecar, startup, tls
from bench.machine import steal_meter
from comms_sandbox import REPO

RESULTS = REPO / "results"
console = Console()


def right_aligned(title: str, *columns: str) -> Table:
    table = Table(title=title)
    for column in columns:
        table.add_column(column, justify="right")
    return table


def startup_tables(result: dict[str, Any]) -> list[Table]:
    summary = right_aligned(
        "start-up and idle memory (images already built)",
        "measure", "measured", "target", "measured / target",
    )  # fmt: skip
    summary.add_row(
        "up -> all healthy (s)",
        f"{result['up_to_all_healthy_s']:.1f}",
        f"{result['target_healthy_s']:.0f}",
        f"{result['healthy_vs_target']:.2f}",
    )
    summary.add_row(
        "idle memory, whole stack (MiB)",
        f"{result['idle_memory_total_mib']:.0f}",
        f"{result['target_idle_memory_mib']:.0f}",
        f"{result['memory_vs_target']:.2f}",
    )
    detail = right_aligned(
        "per container", *("container", "healthy after (s)", "idle memory (MiB)")
    )
    for name, mib in sorted(result["idle_memory_mib"].items()):
        detail.add_row(name, str(result["healthy_at_s"].get(name, "-")), f"{mib:.1f}")
    return [summary, detail]


def save(name: str, result: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"bench-{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path


def load_balancing_tables(result: dict[str, Any]) -> list[Table]:
    runs = right_aligned(
        f"load balancing: {result['tool']} (medians)",
        *("path", "requests/s", "p50 (ms)", "p99 (ms)", "errors"),
    )
    for label, key in (
        ("straight to 1 replica (pinned)", "direct_1_replica_pinned"),
        ("nginx -> 1 replica (pinned)", "proxy_1_replica_pinned"),
        ("nginx -> 1 replica", "proxy_1_replica"),
        ("nginx -> 3 replicas", "proxy_3_replicas"),
    ):
        m = result[key]
        runs.add_row(label, f"{m['requests_per_s']:.0f}", f"{m['p50_ms']:.1f}",
                     f"{m['p99_ms']:.1f}", f"{m['errors']:.0f}")  # fmt: skip
    ratios = right_aligned("ratios, same run", "ratio", "requests/s", "p99", "target")
    ratios.add_row(
        "nginx / direct (1 replica)",
        f"{result['proxy_vs_direct_rps']:.2f}",
        f"{result['proxy_vs_direct_p99']:.2f}",
        f"overhead {result['proxy_overhead']:.0%} (target < {result['target_overhead']:.0%})",
    )
    ratios.add_row(
        "3 replicas / 1 replica (nginx)",
        f"{result['three_vs_one_replica_rps']:.2f}",
        f"{result['three_vs_one_replica_p99']:.2f}",
        "-",
    )
    return [runs, ratios]


def tls_tables(result: dict[str, Any]) -> list[Table]:
    runs = right_aligned(f"TLS through the proxy: {result['tool']} (medians)",
                         "run", "per s", "p50 (ms)", "p99 (ms)", "detail")  # fmt: skip
    for name, m in result["runs"].items():
        detail = (
            f"{m['http_version']}, {m['connections']} connection(s)"
            if "connections" in m
            else f"new connection each, {m['reused']:.0%} resumed"
        )
        runs.add_row(name, f"{m['per_s']:.0f}", f"{m['p50_ms']:.1f}", f"{m['p99_ms']:.1f}", detail)
    ratios = right_aligned("ratios, same run", "ratio", "per s", "p99")
    for label, r in result["ratios"].items():
        ratios.add_row(label, f"{r['per_s']:.2f}", f"{r['p99']:.2f}")
    return [runs, ratios]


BENCHMARKS = {
    "startup": (startup.run, startup_tables),
    "load-balancing": (load_balancing.run, load_balancing_tables),
    "tls": (tls.run, tls_tables),
    "rabbitmq": (rabbitmq.run, rabbitmq.tables),
    "kafka": (kafka.run, kafka.tables),
    "sidecar": (sidecar.run, sidecar.tables),
    "grpc": (grpc_vs_rest.run, grpc_vs_rest.tables),
}


def main(names: list[str]) -> int:
    unknown = set(names) - set(BENCHMARKS)
    if unknown:
        console.print(f"[red]unknown benchmark(s): {sorted(unknown)}[/]; known: {list(BENCHMARKS)}")
        return 2
    for name in names or BENCHMARKS:
        run, tables = BENCHMARKS[name]
        machine: dict[str, float] = {}
        with steal_meter(machine):
            result = run()
        result |= machine
        if "cpu_steal_pct" in machine:
            console.print(
                f"CPU time stolen by the hypervisor during the run: {machine['cpu_steal_pct']}%"
            )
        for table in tables(result):
            console.print(table)
        console.print(f"saved {save(name, result).relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
