"""The execution-models report: a table per part, the verdicts, and one PNG of bar charts."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from comms_sandbox.config import RESULTS_DIR
from scenarios.charts import save_bar_charts
from scenarios.report import print_checks, records_table
from scenarios.result import ScenarioResult

CHART = "execution-models.png"


def render(result: ScenarioResult, console: Console) -> None:
    m = result.metrics
    for table in (accept_queue(m), *models(m), blocking(m), *pooling(m)):
        console.print(table)
    print_checks(m["checks"], console)
    console.print(f"charts: {chart(m)}")


def accept_queue(m: dict[str, Any]) -> Any:
    a = m["accept_queue"]
    rows = [{"server": name, **b, **b["kernel"]} for name, b in a["bursts"].items()]
    return records_table(
        f"accept queue: {a['burst']} connections at once, from inside the server's namespace",
        rows, ("server", "backlog", "max_waiting", "TcpExt.ListenOverflows",
               "TcpExt.ListenDrops", "TcpExt.TCPSynRetrans", "Tcp.OutRsts", "outcomes",
               "answers_after_a_retransmit", "connect_ms_max", "last_answer_ms"),
    )  # fmt: skip


def models(m: dict[str, Any]) -> list[Any]:
    x = m["models"]
    columns = ("model", "per_s", "p99_ms", "cores", "memory_mib", "errors")
    return [
        records_table(f"{kind}-bound: {x['connections']} connections for {x['seconds']} s",
                      [{"model": model, **r} for model, r in runs.items()],
                      (*columns, "idle_cores_before") if kind == "cpu" else columns)
        for kind, runs in x["work"].items()
    ]  # fmt: skip


def blocking(m: dict[str, Any]) -> Any:
    b = m["blocking"]
    return records_table(
        f"a {b['wait_ms']} ms wait on the event loop ({b['slow_connections']} connections), "
        "and /fast beside it",
        [{"the wait": name, **r} for name, r in b["calls"].items()],
        ("the wait", "fast_p50_ms", "fast_p99_ms", "fast_per_s", "slow_per_s"),
    )


def pooling(m: dict[str, Any]) -> list[Any]:
    p = m["pooling"]
    return [
        records_table(f"client to nginx (HTTPS): {p['requests']} GETs",
                      [{"client": n, **r} for n, r in p["client"].items()],
                      ("client", "connections_at_nginx", "p50_ms")),
        records_table(f"nginx to exec-async: {p['requests']} GETs",
                      [{"nginx": n, **r} for n, r in p["upstream"].items()],
                      ("nginx", "opened_at_upstream", "p50_ms")),
    ]  # fmt: skip


def chart(m: dict[str, Any]) -> str:
    work = m["models"]["work"]
    bursts = m["accept_queue"]["bursts"]
    panels = {
        "CPU-bound: requests/s": {k: r["per_s"] for k, r in work["cpu"].items()},
        "CPU-bound: cores used": {k: r["cores"] for k, r in work["cpu"].items()},
        "I/O-bound: requests/s": {k: r["per_s"] for k, r in work["io"].items()},
        "memory (MiB, I/O-bound run)": {k: r["memory_mib"] for k, r in work["io"].items()},
        "accept queue: ListenOverflows": {
            n.split(",")[0] + n.split(",")[-1][-2:]: b["kernel"]["TcpExt.ListenOverflows"]
            for n, b in bursts.items()
        },
        "/fast p99 beside a 100 ms wait (ms)": {
            n.split(" (")[0][:22]: r["fast_p99_ms"] for n, r in m["blocking"]["calls"].items()
        },
    }
    return str(save_bar_charts(RESULTS_DIR / CHART, "execution models", panels, ""))
