"""What a scenario is doing while it runs, told on stderr: one API every lesson uses.

A lesson says which part runs (`part`), what it does now (`step`: "SIGKILL to
kafka-1"), what it just saw (`seen`: "partition 0: leader 2 after 5.6 s"), what
it waits for (`waiting`, against the seconds it expects), how a load goes
(`load`: sent, answered, failed) and each check's verdict as it is decided
(`verdict`). Who tells it is chosen once, by the CLI (`use(choose(...))`):

- a terminal: rich's live display, a spinner and elapsed time per part and
  wait, a bar per load, the steps, sightings and verdicts scrolling above;
- anything else (a CI log, a pipe): plain timestamped lines, and while a
  lesson, a part, a wait or a load is open, a line at least every HEARTBEAT_S
  seconds ("still waiting for ...: 12 s of ~30 s"), so a log never looks hung;
- `--quiet`: nothing.

Everything goes to stderr, so `--json` keeps stdout one clean JSON object.
When nothing chose (a test or a benchmark calling a lesson's code), plain lines
go to the stderr of the moment: pytest keeps them, and shows them beside a
failed test as the timeline of what the run did; a passing test shows nothing.
Nothing happens at import time; every call is safe from any thread or task.
"""

from __future__ import annotations

import contextvars
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import TextIO

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, ProgressColumn, SpinnerColumn, Task, TextColumn
from rich.progress_bar import ProgressBar
from rich.text import Text

HEARTBEAT_S = 5.0  # plain lines: the longest quiet while something is open
# How each outcome of scenarios.result.outcome() is told: plain label, rich style.
OUTCOME_STYLES = {"holds": "green", "fails": "bold red", "not shown": "yellow"}


@dataclass
class Activity:
    """Something under way: a part, a wait or a load, with what a load has counted."""

    kind: str  # "lesson", "part", "wait" or "load"
    label: str
    expected_s: float | None
    started: float
    part: str | None = None  # the part it belongs to, when known
    total: int | None = None
    sent: int = 0
    answered: int = 0
    failed: int = 0
    task: int | None = field(default=None, repr=False)  # its row in the live display

    def elapsed_s(self, now: float) -> float:
        return now - self.started

    def timing(self, now: float) -> str:
        """'12 s of ~30 s', or '12 s' when nothing was expected."""
        elapsed = f"{self.elapsed_s(now):.0f} s"
        return f"{elapsed} of ~{seconds(self.expected_s)}" if self.expected_s else elapsed

    def counts(self, now: float) -> str:
        """A load's '800/2000 sent, 790 answered, 0 failed, 190/s'."""
        sent = f"{self.sent}/{self.total}" if self.total else str(self.sent)
        rate = self.answered / max(self.elapsed_s(now), 1e-3)
        return f"{sent} sent, {self.answered} answered, {self.failed} failed, {rate:.0f}/s"

    def status(self, now: float) -> str:
        if self.kind == "load":
            return f"{self.label}: {self.counts(now)}, {self.timing(now)}"
        if self.kind == "wait":
            return f"waiting for {self.label}: {self.timing(now)}"
        if self.kind == "part":
            return f"in part {self.label}: {self.timing(now)}"
        return f"running {self.label}: {self.timing(now)}"


def seconds(value: float) -> str:
    """'12 s', or '0.4 s' below 10 s, where a whole number would say 0."""
    return f"{value:.0f} s" if value >= 10 else f"{value:.1f} s"


class LoadHandle:
    """What a load generator updates as it goes: counts, from any thread or task."""

    def __init__(self, narrator: Narrator, activity: Activity) -> None:
        self._narrator, self.activity = narrator, activity

    def advance(self, sent: int = 0, answered: int = 0, failed: int = 0) -> None:
        """Add to the counts (one call sent, one answered...)."""
        with self._narrator.lock:
            self.activity.sent += sent
            self.activity.answered += answered
            self.activity.failed += failed
        self._narrator.updated(self.activity)

    def update(self, *, sent: int | None = None, answered: int | None = None,
               failed: int | None = None) -> None:  # fmt: skip
        """Set the counts, for a generator that keeps its own."""
        with self._narrator.lock:
            activity = self.activity
            activity.sent = activity.sent if sent is None else sent
            activity.answered = activity.answered if answered is None else answered
            activity.failed = activity.failed if failed is None else failed
        self._narrator.updated(self.activity)


# The part the calling code runs in: asyncio tasks and asyncio.to_thread inherit it.
_PART: contextvars.ContextVar[str | None] = contextvars.ContextVar("narrated_part", default=None)


class Narrator:
    """Keeps what is open and what was told; subclasses say how it is shown."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self.started = clock()
        self.open: list[Activity] = []
        self.lesson_name: str | None = None
        self.told: set[str] = set()  # checks whose verdict was told in this lesson

    # What lessons call (through the module's functions) -------------------------------

    @contextmanager
    def lesson(self, name: str, about: str = "") -> Iterator[None]:
        with self.lock:
            self.lesson_name, self.told = name, set()
        activity = self._opened("lesson", name, None)
        self.line("lesson", f"{name}: {about}" if about else name)
        try:
            yield
        finally:
            self._closed(activity)
            with self.lock:
                self.lesson_name = None

    @contextmanager
    def part(self, name: str) -> Iterator[None]:
        token = _PART.set(name)
        activity = self._opened("part", name, None)
        self.line("part", f"{name} starts")
        try:
            yield
        finally:
            _PART.reset(token)
            self._closed(activity)
            self.line("part", f"{name} done in {activity.elapsed_s(self.clock()):.1f} s")

    def step(self, text: str) -> None:
        self.line("do", text, part=self.current_part())

    def seen(self, text: str) -> None:
        self.line("saw", text, part=self.current_part())

    @contextmanager
    def waiting(self, what: str, expected_s: float | None = None) -> Iterator[None]:
        activity = self._opened("wait", what, expected_s)
        expected = f" (~{seconds(expected_s)})" if expected_s else ""
        self.line("wait", f"{what}{expected}", part=activity.part)
        try:
            yield
        finally:
            self._closed(activity)
            waited = activity.elapsed_s(self.clock())
            self.line("waited", f"{what}: {waited:.1f} s", part=activity.part)

    @contextmanager
    def load(self, name: str, expected_s: float | None = None,
             total: int | None = None) -> Iterator[LoadHandle]:  # fmt: skip
        activity = self._opened("load", name, expected_s, total)
        planned = f"{total} " if total else ""
        expected = f" over ~{seconds(expected_s)}" if expected_s else ""
        self.line("load", f"{name}: {planned}to send{expected}", part=activity.part)
        try:
            yield LoadHandle(self, activity)
        finally:
            self._closed(activity)
            now = self.clock()
            self.line("loaded", f"{activity.label}: {activity.counts(now)}, "
                      f"{activity.elapsed_s(now):.1f} s", part=activity.part)  # fmt: skip

    def verdict(self, check: str, outcome: str, why: str = "") -> None:
        """One check's verdict (holds, fails, not shown), told once per lesson."""
        with self.lock:
            if self.lesson_name is not None and check in self.told:
                return
            self.told.add(check)
        self.told_verdict(check, outcome, why)

    # How it is shown: subclasses --------------------------------------------------------

    def line(self, kind: str, text: str, part: str | None = None) -> None:
        """One thing told: kind is lesson, part, do, saw, wait, waited, load, loaded."""

    def told_verdict(self, check: str, outcome: str, why: str) -> None:
        self.line(outcome, f"{check}: {why}" if why else check)

    def updated(self, activity: Activity) -> None:
        """A load's counts changed."""

    def shown(self, activity: Activity) -> None:
        """An activity was opened (subclasses show it)."""

    def hidden(self, activity: Activity) -> None:
        """An activity was closed."""

    def close(self) -> None:
        """The run is over: stop whatever shows it."""

    # Bookkeeping -----------------------------------------------------------------------

    def current_part(self) -> str | None:
        """The caller's part: set by part(), inherited by asyncio tasks and to_thread, not
        by a threading.Thread (its lines name no part rather than perhaps the wrong one)."""
        return _PART.get()

    def _opened(self, kind: str, label: str, expected_s: float | None,
                total: int | None = None) -> Activity:  # fmt: skip
        part = None if kind in ("lesson", "part") else self.current_part()
        activity = Activity(kind, label, expected_s, self.clock(), part, total)
        with self.lock:
            self.open.append(activity)
        self.shown(activity)
        return activity

    def _closed(self, activity: Activity) -> None:
        with self.lock:
            self.open.remove(activity)
        self.hidden(activity)


class Silent(Narrator):
    """`--quiet`: keeps the bookkeeping, shows nothing."""


class Plain(Narrator):
    """Timestamped lines, for a log; a heartbeat line while something is open and quiet.

    `stream` None writes to sys.stderr as it is at each line (pytest swaps it per test).
    """

    def __init__(self, stream: TextIO | None = None, heartbeat_s: float = HEARTBEAT_S,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        super().__init__(clock)
        self.stream, self.heartbeat_s = stream, heartbeat_s
        self.last_line = self.started
        self._beating: threading.Thread | None = None
        self._stop = threading.Event()

    def line(self, kind: str, text: str, part: str | None = None) -> None:
        now = self.clock()
        where = f"[{part}] " if part else ""
        stamp = time.strftime("%H:%M:%S")
        with self.lock:
            stream = self.stream or sys.stderr
            stream.write(f"{stamp} {now - self.started:+7.1f}s {kind:<9} {where}{text}\n")
            stream.flush()
            self.last_line = now

    def shown(self, activity: Activity) -> None:
        with self.lock:
            if self._beating is None or not self._beating.is_alive():
                self._stop.clear()
                self._beating = threading.Thread(target=self._beat, name="narration-heartbeat",
                                                 daemon=True)  # fmt: skip
                self._beating.start()

    def close(self) -> None:
        self._stop.set()
        if self._beating is not None and self._beating is not threading.current_thread():
            self._beating.join()

    def _beat(self) -> None:
        """While anything is open: after heartbeat_s without a line, say what is under way.

        It checks five times per heartbeat, so no quiet lasts longer than heartbeat_s.
        """
        tick = self.heartbeat_s / 5
        while not self._stop.wait(tick):
            with self.lock:
                if not self.open:
                    self._beating = None
                    return
                now = self.clock()
                due = now - self.last_line >= self.heartbeat_s - tick
                under_way = self.innermost() if due else []
            for activity in under_way:
                self.line("still", activity.status(now), part=activity.part)

    def innermost(self) -> list[Activity]:
        """The open waits and loads; when there are none, the open parts; else the lesson."""
        for kinds in (("wait", "load"), ("part",)):
            if found := [a for a in self.open if a.kind in kinds]:
                return found
        return list(self.open)


class DetailColumn(ProgressColumn):
    """An activity's counts (a load) and its time against the expected."""

    def __init__(self, clock: Callable[[], float]) -> None:
        super().__init__()
        self.clock = clock

    def render(self, task: Task) -> Text:
        activity: Activity = task.fields["activity"]
        now = self.clock()
        if activity.kind == "load":
            return Text(f"{activity.counts(now)}  {activity.timing(now)}")
        return Text(activity.timing(now))


class PartlessBarColumn(BarColumn):
    """A bar for loads (sent of total) and waits (elapsed of expected), pulsing when their
    end is unknown; none for a lesson or a part."""

    def __init__(self, clock: Callable[[], float], bar_width: int = 30) -> None:
        super().__init__(bar_width=bar_width)
        self.clock = clock

    def render(self, task: Task) -> ProgressBar | Text:
        activity: Activity = task.fields["activity"]
        if activity.kind in ("lesson", "part"):
            return Text("")
        if activity.kind == "wait" and activity.expected_s:
            elapsed = min(activity.elapsed_s(self.clock()), activity.expected_s)
            return ProgressBar(total=activity.expected_s, completed=elapsed, width=self.bar_width)
        return super().render(task)


# How the live display starts each kind of line (rich markup; a bold one is closed after).
LIVE_MARKS = {
    "lesson": "[bold]", "part": "[bold cyan]▶ ", "do": "  → ", "saw": "  [dim]seen[/] ",
    "wait": "  … ", "waited": "  [dim]✓[/] ", "load": "  ⇉ ", "loaded": "  [dim]✓[/] ",
}  # fmt: skip


class Live(Narrator):
    """rich's live display on a terminal: a row per open part, wait and load; lines above."""

    def __init__(self, console: Console, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(clock)
        self.console = console
        self.progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), PartlessBarColumn(clock),
            DetailColumn(clock), console=console, redirect_stdout=False, transient=True,
        )  # fmt: skip
        self.progress.start()

    def line(self, kind: str, text: str, part: str | None = None) -> None:
        mark = LIVE_MARKS.get(kind, "")
        where = f"[dim]{escape(part)}[/] " if part and len(self._parts()) > 1 else ""
        closing = "[/]" if mark.startswith("[bold") else ""
        self.progress.console.print(f"{mark}{where}{escape(text)}{closing}", highlight=False)

    def told_verdict(self, check: str, outcome: str, why: str) -> None:
        style = OUTCOME_STYLES.get(outcome, "red")
        reason = f" [dim]({escape(why)})[/]" if why else ""
        self.progress.console.print(f"  [{style}]{outcome}[/] {escape(check)}{reason}",
                                    highlight=False)  # fmt: skip

    def shown(self, activity: Activity) -> None:
        description = {"lesson": f"[bold]{escape(activity.label)}[/]",
                       "part": f"[bold cyan]{escape(activity.label)}[/]",
                       "wait": f"waiting for {escape(activity.label)}",
                       "load": escape(activity.label)}[activity.kind]  # fmt: skip
        activity.task = self.progress.add_task(description, total=activity.total,
                                               activity=activity)  # fmt: skip

    def updated(self, activity: Activity) -> None:
        if activity.task is not None:
            self.progress.update(activity.task, completed=activity.sent)

    def hidden(self, activity: Activity) -> None:
        if activity.task is not None:
            self.progress.remove_task(activity.task)

    def close(self) -> None:
        self.progress.stop()

    def _parts(self) -> list[str]:
        with self.lock:
            return [a.label for a in self.open if a.kind == "part"]


def choose(quiet: bool = False, stream: TextIO | None = None) -> Narrator:
    """Silent when asked; the live display on a terminal; plain lines anywhere else."""
    stream = stream or sys.stderr
    if quiet:
        return Silent()
    if stream.isatty():
        return Live(Console(file=stream))
    return Plain(stream)


_current: Narrator | None = None
_current_lock = threading.Lock()


def narrator() -> Narrator:
    """The narrator in use: the one `use` set, else plain lines to stderr (made on first use)."""
    global _current  # noqa: PLW0603 - one narrator per process, chosen by the CLI
    with _current_lock:
        if _current is None:
            _current = Plain()
        return _current


@contextmanager
def use(chosen: Narrator) -> Iterator[Narrator]:
    """Narrate with `chosen` inside the block; it is closed (its display stopped) after."""
    global _current  # noqa: PLW0603
    with _current_lock:
        before, _current = _current, chosen
    try:
        yield chosen
    finally:
        chosen.close()
        with _current_lock:
            _current = before


# The API lessons call: each asks the narrator in use ------------------------------------


def lesson(name: str, about: str = "") -> AbstractContextManager[None]:
    """A lesson's run: announced, and each check's verdict told once inside it."""
    return narrator().lesson(name, about)


def part(name: str) -> AbstractContextManager[None]:
    """One part of a lesson, announced as it starts and when it is done."""
    return narrator().part(name)


def step(text: str) -> None:
    """What is being done now: 'SIGKILL to kafka-1'."""
    narrator().step(text)


def seen(text: str) -> None:
    """What was just observed: 'partition 0: leader 2 after 5.6 s'."""
    narrator().seen(text)


def waiting(what: str, expected_s: float | None = None) -> AbstractContextManager[None]:
    """A wait, shown with its elapsed time against the seconds expected."""
    return narrator().waiting(what, expected_s)


def load(name: str, expected_s: float | None = None,
         total: int | None = None) -> AbstractContextManager[LoadHandle]:  # fmt: skip
    """A load under way; the handle takes its sent, answered and failed counts."""
    return narrator().load(name, expected_s, total)


def verdict(check: str, outcome: str, why: str = "") -> None:
    """A check decided: outcome as scenarios.result.outcome() names it."""
    narrator().verdict(check, outcome, why)
