"""Lesson pages are code: their `console` blocks run, and what they promise is checked.

In a page, a fenced block whose info string is `console` is executed:
- a line starting with `$ ` is a command, run with bash from the repository
  root with .venv/bin first on PATH; it must exit 0;
- the lines after it, up to the next command or the block's end, are the
  output it promises: each non-blank promised line must appear, in order, as
  a line of the real output (both stripped); `...` inside a line matches any
  text, and a line that is only `...` is a reminder that lines are skipped
  (they always may be).
Blocks meant to be read, not run (`make up`, slow or destructive commands),
use another info string, such as `sh`.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^`\n]*)$")
ELLIPSIS = "..."
COMMAND_TIMEOUT_S = 300


@dataclass
class Command:
    line: int  # 1-based line of the command in its page
    command: str
    promised: list[str] = field(default_factory=list)


def console_commands(markdown: str) -> list[Command]:
    """The commands of every `console` block, in page order, with what each promises."""
    commands: list[Command] = []
    fence: str | None = None
    running = False
    for number, line in enumerate(markdown.splitlines(), start=1):
        opening = FENCE.match(line)
        if fence is None:
            if opening:
                fence = opening["fence"]
                running = opening["info"].strip().split(" ")[0] == "console"
            continue
        if line.strip().startswith(fence[0] * len(fence)) and not line.strip().strip(fence[0]):
            fence, running = None, False
        elif running and line.startswith("$ "):
            commands.append(Command(number, line[2:].strip()))
        elif running and commands and line.strip() and line.strip() != ELLIPSIS:
            commands[-1].promised.append(line.strip())
    return commands


def line_pattern(promised: str) -> re.Pattern[str]:
    parts = (re.escape(part) for part in promised.split(ELLIPSIS))
    return re.compile("^" + ".*".join(parts) + "$")


def first_unmet_promise(promised: list[str], output: str) -> str | None:
    """The first promised line not found (in order) in `output`; None when all are."""
    lines = iter(line.strip() for line in output.splitlines())
    for expected in promised:
        pattern = line_pattern(expected)
        if not any(pattern.match(line) for line in lines):
            return expected
    return None


def run(command: Command, repo: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PATH"] = f"{repo / '.venv' / 'bin'}:{env.get('PATH', '')}"
    env["COLUMNS"] = "200"  # rich tables unwrapped, as on a wide terminal
    return subprocess.run(
        ["bash", "-c", command.command],
        cwd=repo, env=env, capture_output=True, text=True,
        timeout=COMMAND_TIMEOUT_S, check=False,
    )  # fmt: skip


def check(command: Command, repo: Path) -> str | None:
    """Run one command; None when it exited 0 and kept its promises, else why not."""
    result = run(command, repo)
    output = result.stdout + result.stderr
    if result.returncode != 0:
        return f"line {command.line}: `{command.command}` exited {result.returncode}:\n{output}"
    unmet = first_unmet_promise(command.promised, result.stdout)
    if unmet is not None:
        return (
            f"line {command.line}: `{command.command}` did not print {unmet!r} "
            f"(after the promised lines before it). Its output:\n{output}"
        )
    return None
