"""PNG bar charts of scenario results, saved under results/ (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # render to files; never open a window

import matplotlib.pyplot as plt

Panel = dict[str, int]  # bar label -> value


def save_bar_charts(path: Path, title: str, panels: dict[str, Panel], ylabel: str) -> Path:
    """One bar chart per panel, side by side in one PNG; returns the path written."""
    columns = min(len(panels), 3)
    rows = -(-len(panels) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.4 * rows), squeeze=False)
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
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
