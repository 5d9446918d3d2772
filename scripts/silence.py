"""The longest silence of a command: the longest wait between two lines it wrote to stderr.

`python -m scripts.silence -- .venv/bin/python -m scenarios run clusters` runs the
command with stderr on a pipe (so a scenario narrates in plain lines, as in a CI
log), timestamps each line as it arrives, and prints the longest gaps, with the
lines on either side: where a learner would have stared at a still screen. The
start of the command and its end count as lines, so a command silent from the
start is measured too. `--tty` runs it on a pseudo-terminal instead, as a
learner's terminal (rich draws its live display there), and times every visible
change of what it shows. `--ignore` leaves out lines matching a pattern before
measuring (for example the heartbeat's ` still `, to see the gaps between
things actually told); `--log` keeps every timestamped line.
"""

from __future__ import annotations

import itertools
import os
import pty
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import typer

app = typer.Typer(add_completion=False, help=__doc__)


@dataclass(frozen=True)
class Line:
    at_s: float  # since the command started
    text: str


@dataclass(frozen=True)
class Gap:
    seconds: float
    before: Line
    after: Line


def timed_lines(command: list[str]) -> tuple[list[Line], int]:
    """Each stderr line of `command` with when it came; its stdout is discarded."""
    started = time.monotonic()
    lines = [Line(0.0, "(start)")]
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True, errors="replace") as process:  # fmt: skip
        assert process.stderr is not None
        for text in process.stderr:
            lines.append(Line(time.monotonic() - started, text.rstrip("\n")))
        returncode = process.wait()
    lines.append(Line(time.monotonic() - started, f"(exit {returncode})"))
    return lines, returncode


# A terminal's control sequences (colour, cursor moves) and carriage returns.
CONTROL = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[()][A-Z0-9]|\r")


def timed_chunks(command: list[str], columns: int = 110) -> tuple[list[Line], int]:
    """What `command` shows on a terminal (a pseudo-terminal for stdout and stderr, so
    rich draws its live display), each visible change with when it came: a redraw
    that leaves the text as it was counts as nothing."""
    primary, secondary = pty.openpty()
    env = os.environ | {"TERM": "xterm-256color", "COLUMNS": str(columns), "LINES": "40"}
    started = time.monotonic()
    lines, last = [Line(0.0, "(start)")], ""
    with subprocess.Popen(command, stdin=secondary, stdout=secondary, stderr=secondary,
                          env=env) as process:  # fmt: skip
        os.close(secondary)
        while chunk := _read(primary):
            shown = CONTROL.sub("", chunk.decode(errors="replace")).strip()
            if shown and shown != last:
                lines.append(Line(time.monotonic() - started, shown.splitlines()[-1]))
                last = shown
        returncode = process.wait()
    os.close(primary)
    lines.append(Line(time.monotonic() - started, f"(exit {returncode})"))
    return lines, returncode


def _read(fd: int) -> bytes:
    """The next output; b"" once the command closed its terminal (Linux says EIO)."""
    try:
        return os.read(fd, 65536)
    except OSError:
        return b""


def gaps(lines: list[Line], ignore: re.Pattern[str] | None = None) -> list[Gap]:
    """The waits between consecutive lines, longest first, leaving out ignored lines."""
    kept = [line for line in lines if ignore is None or not ignore.search(line.text)]
    found = [Gap(b.at_s - a.at_s, a, b) for a, b in itertools.pairwise(kept)]
    return sorted(found, key=lambda gap: -gap.seconds)


def described(gap: Gap) -> str:
    return (f"{gap.seconds:6.1f} s  after [{gap.before.at_s:6.1f} s] {gap.before.text[:110]}\n"
            f"{'':9}before [{gap.after.at_s:6.1f} s] {gap.after.text[:110]}")  # fmt: skip


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def main(
    ctx: typer.Context,
    ignore: str = typer.Option("", help="Leave out lines matching this regular expression."),
    top: int = typer.Option(3, help="How many of the longest gaps to print."),
    log: str = typer.Option("", help="Write every timestamped stderr line to this file."),
    tty: bool = typer.Option(False, "--tty", help="Run it on a pseudo-terminal and time "
                             "every visible change of its screen output, not stderr lines."),
) -> None:  # fmt: skip
    """Run the command after `--`, print its longest silences; exit as it exited."""
    if not ctx.args:
        raise typer.BadParameter("the command to run goes after --")
    lines, returncode = timed_chunks(ctx.args) if tty else timed_lines(ctx.args)
    if log:
        Path(log).write_text("".join(f"{line.at_s:8.2f} {line.text}\n" for line in lines))
    longest = gaps(lines)
    print(f"{' '.join(ctx.args)}: exit {returncode}, {len(lines) - 2} lines on stderr "
          f"in {lines[-1].at_s:.1f} s; longest silence {longest[0].seconds:.1f} s")  # fmt: skip
    for gap in longest[:top]:
        print(described(gap))
    if ignore:
        without = gaps(lines, re.compile(ignore))
        print(f"without lines matching {ignore!r}: longest silence {without[0].seconds:.1f} s")
        for gap in without[:top]:
            print(described(gap))
    raise typer.Exit(returncode)


if __name__ == "__main__":
    sys.exit(app())
