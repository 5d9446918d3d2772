"""PNG charts of scenario results (bars, timelines, lines), saved under results/ (matplotlib)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Panel = dict[str, int]  # bar label -> value


def save_bar_charts(path: Path, title: str, panels: dict[str, Panel], ylabel: str) -> Path:
    """One bar chart per panel, side by side in one PNG; returns the path written."""
    columns = min(len(panels), 3)
    rows = -(-len(panels) // columns)
    figure = _figure(4.2 * columns, 3.4 * rows)
    axes = figure.subplots(rows, columns, squeeze=False)
    for axis, (panel_title, values) in zip(axes.flat, panels.items(), strict=False):
        labels = list(values)
        bars = axis.bar(labels, [values[label] for label in labels], color="#4C72B0")
        axis.bar_label(bars)
        axis.set_title(panel_title, fontsize=10)
        axis.set_ylabel(ylabel)
        axis.margins(y=0.15)
        axis.tick_params(axis="x", labelsize=8)
    for axis in list(axes.flat)[len(panels) :]:
        axis.set_visible(False)
    figure.suptitle(title)
    return _save(figure, path)


def save_timeline(path: Path, title: str, bars: list[tuple[str, float, float]]) -> Path:
    """A waterfall: one horizontal bar per (label, start, duration) in ms, top to bottom."""
    figure = _figure(10, 0.45 * len(bars) + 1.2)
    axis = figure.subplots()
    labels = [label for label, _, _ in bars]
    axis.barh(labels, [max(d, 0.05) for _, _, d in bars], left=[s for _, s, _ in bars],
              color="#4C72B0")  # fmt: skip
    for row, (_, start, duration) in enumerate(bars):
        axis.text(start + duration, row, f" {duration:.1f} ms", va="center", fontsize=8)
    axis.invert_yaxis()
    axis.set_xlabel("ms since the first span started")
    axis.tick_params(axis="y", labelsize=8)
    axis.set_title(title)
    return _save(figure, path)


def save_timeseries(path: Path, title: str, panels: dict[str, list[tuple[float, float]]],
                    marks: dict[str, dict[str, float]] | None = None) -> Path:  # fmt: skip
    """One small line chart per panel of (seconds, value) points, stacked in one PNG.

    marks: per panel, events drawn as labelled vertical lines (e.g. {"killed": 2.0}).
    """
    figure = _figure(9, 1.9 * len(panels))
    axes = figure.subplots(len(panels), 1, squeeze=False)
    for axis, (panel_title, points) in zip(axes.flat, panels.items(), strict=True):
        axis.plot([t for t, _ in points], [v for _, v in points], marker=".", color="#4C72B0")
        for label, at in (marks or {}).get(panel_title, {}).items():
            axis.axvline(at, color="#C44E52", linestyle="--", linewidth=1)
            axis.annotate(label, (at, 1), xycoords=("data", "axes fraction"), fontsize=7,
                          color="#C44E52", ha="left", va="top")  # fmt: skip
        axis.set_title(panel_title, fontsize=9)
        axis.tick_params(labelsize=8)
    figure.suptitle(title)
    return _save(figure, path)


def save_lines(path: Path, title: str, lines: dict[str, list[tuple[float, float]]],
               marks: dict[str, float] | None = None, ylabel: str = "") -> Path:  # fmt: skip
    """Several (seconds, value) lines on one chart, with events as labelled vertical lines."""
    figure = _figure(9, 4)
    axis = figure.subplots()
    for label, points in lines.items():
        axis.plot([t for t, _ in points], [v for _, v in points], label=label, linewidth=1.5)
    for row, (label, at) in enumerate((marks or {}).items()):
        axis.axvline(at, color="#C44E52", linestyle="--", linewidth=1)
        axis.annotate(label, (at, 1 - 0.06 * (row % 4)), xycoords=("data", "axes fraction"),
                      fontsize=7, color="#C44E52", ha="left", va="top")  # fmt: skip
    axis.set_xlabel("seconds since the first order")
    axis.set_ylabel(ylabel)
    axis.legend(loc="lower right", fontsize=8)
    axis.set_title(title)
    return _save(figure, path)


def save_line_panels(path: Path, title: str,
                     panels: dict[str, dict[str, list[tuple[float, float]]]],
                     xlabel: str = "seconds") -> Path:  # fmt: skip
    """One chart per panel, stacked in one PNG, each with several labelled (x, y) lines."""
    figure = _figure(9, 2.4 * len(panels))
    axes = figure.subplots(len(panels), 1, squeeze=False)
    for axis, (panel_title, lines) in zip(axes.flat, panels.items(), strict=True):
        for label, points in lines.items():
            axis.plot([x for x, _ in points], [y for _, y in points], label=label,
                      linewidth=1, marker=".", markersize=2)  # fmt: skip
        axis.set_title(panel_title, fontsize=9)
        axis.tick_params(labelsize=8)
        axis.set_xlabel(xlabel, fontsize=8)
        axis.legend(loc="upper left", fontsize=7, ncol=max(1, len(lines)))
    figure.suptitle(title)
    return _save(figure, path)


def save_phases(path: Path, title: str, phases: list[tuple[str, float, float]],
                marks: dict[str, float] | None = None, xlabel: str = "seconds",
                ) -> Path:  # fmt: skip
    """What happened when: one horizontal bar per (label, start, end), top to bottom, and
    the moments something was done (a kill, a cut, a heal) as labelled vertical lines."""
    figure = _figure(9, 0.5 * len(phases) + 1.6)
    axis = figure.subplots()
    labels = [label for label, _, _ in phases]
    axis.barh(labels, [max(end - start, 0.01) for _, start, end in phases],
              left=[start for _, start, _ in phases], color="#4C72B0")  # fmt: skip
    for row, (_, start, end) in enumerate(phases):
        axis.text(end, row, f" {end - start:.2f}", va="center", fontsize=8)
    for row, (label, at) in enumerate((marks or {}).items()):
        axis.axvline(at, color="#C44E52", linestyle="--", linewidth=1)
        axis.annotate(label, (at, 1 - 0.07 * (row % 4)), xycoords=("data", "axes fraction"),
                      fontsize=7, color="#C44E52", ha="left", va="top")  # fmt: skip
    axis.invert_yaxis()
    axis.set_xlabel(xlabel)
    axis.tick_params(axis="y", labelsize=8)
    axis.set_title(title)
    return _save(figure, path)


Arrow = tuple[int, int, str, str, bool]  # from column, to column, label, time label, marked


def save_ladder(path: Path, title: str, columns: list[str], arrows: list[Arrow]) -> Path:
    """A sequence (ladder) picture: one vertical line per column, one arrow per packet,
    time going down in packet order, each arrow's own time at the left; marked arrows
    (the first application byte each way) in red."""
    figure = _figure(3.2 * len(columns) + 1.5, 0.36 * len(arrows) + 1.4)
    axis = figure.subplots()
    bottom = len(arrows) + 0.5
    for x, name in enumerate(columns):
        axis.plot([x, x], [-0.3, bottom], color="#888888", linewidth=1)
        axis.text(x, -0.6, name, ha="center", va="bottom", fontsize=9, fontweight="bold")
    for row, (start, end, label, when, marked) in enumerate(arrows, start=1):
        color = "#C44E52" if marked else "#4C72B0"
        axis.annotate("", xy=(end, row), xytext=(start, row),
                      arrowprops={"arrowstyle": "->", "color": color})  # fmt: skip
        axis.text((start + end) / 2, row - 0.12, label, ha="center", va="bottom", fontsize=7,
                  color=color, fontweight="bold" if marked else "normal")  # fmt: skip
        axis.text(-0.45, row, when, ha="right", va="center", fontsize=7, color="#555555")
    axis.set_xlim(-1.3, len(columns) - 0.6)
    axis.set_ylim(bottom, -1.2)
    axis.axis("off")
    axis.set_title(title, fontsize=10)
    return _save(figure, path)


def _figure(width: float, height: float) -> Figure:
    """A figure that renders only to a file (inches).

    A Figure, not pyplot: it needs no backend chosen for the whole process
    (matplotlib.use) and no figure registry to be closed in. Imported here, not
    on top: importing matplotlib writes its config folder and font cache under
    HOME, and importing a lesson must change nothing.
    """
    from matplotlib.figure import Figure  # noqa: PLC0415

    return Figure(figsize=(width, height))


def _save(figure: Figure, path: Path) -> Path:
    """The same figure, the same bytes: no "Software" (matplotlib's version) in the PNG's
    metadata (a PNG gets no date), so the pages' committed figures can be checked by
    drawing them again (tests/unit/test_figures.py)."""
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100, metadata={"Software": None})
    return path
