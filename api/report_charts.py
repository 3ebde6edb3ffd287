"""Charts of the monthly report, drawn on the server by matplotlib as inline SVG.

The page must open on a machine with no internet and no JavaScript, so charts are plain SVG in the
HTML: text stays text (``svg.fonttype`` ``none``) so Chinese department names are rendered by the
browser's fonts and can be searched and copied; no metadata, no DTD and no namespace URLs are
left in, so the page names no outside address at all. Element ids get a per-chart prefix, since
several SVGs share one document and their clip paths and markers must not resolve to each other.

Figures are drawn without pyplot (no global figure registry, no GUI backend). Values arrive as
Decimal and are turned into floats only as drawing coordinates.
"""

from __future__ import annotations

import io
import re
import threading
import warnings
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter
from matplotlib.typing import RcKeyType

_RC: dict[RcKeyType, Any] = {
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": ["Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "Microsoft YaHei",
                        "PingFang SC", "DejaVu Sans"],
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.unicode_minus": False,
}
COLOURS = ["#1f5fa8", "#d9822b", "#2e8b57", "#b03a2e", "#7d3c98"]
_lock = threading.Lock()  # rc_context changes process-wide state; API threads draw one at a time
_ID = re.compile(r'\bid="([^"]+)"')
_REF = re.compile(r'(url\(#|href="#)([^")]+)')


def _svg(fig: Figure, prefix: str, label: str) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    text = buffer.getvalue()
    text = text[text.index("<svg"):]  # drop the XML declaration and the DTD (a URL)
    text = re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", text, count=2)  # HTML parses inline SVG without them
    text = _ID.sub(lambda m: f'id="{prefix}-{m[1]}"', text)
    text = _REF.sub(lambda m: f"{m[1]}{prefix}-{m[2]}", text)
    return text.replace("<svg ", f'<svg role="img" aria-label="{_escape(label)}" ', 1)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def _draw(prefix: str, label: str, paint: Callable[[Axes], None]) -> str:
    with _lock, matplotlib.rc_context({**_RC, "svg.hashsalt": prefix}), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")  # no CJK font on the server
        fig = Figure(figsize=(7.2, 3.2), layout="constrained")
        paint(fig.add_subplot())
        return _svg(fig, prefix, label)


def _floats(values: Sequence[Decimal | None]) -> list[float]:
    return [float("nan") if v is None else float(v) for v in values]


def trend_chart(prefix: str, title: str, series: dict[str, list[tuple[str, Decimal | None]]],
                threshold: Decimal | None = None) -> str:
    """Rates over months, one line per series (with markers, so a single month still shows)."""
    months = sorted({m for points in series.values() for m, _ in points})

    def paint(ax: Axes) -> None:
        for i, (name, points) in enumerate(series.items()):
            by_month = dict(points)
            ax.plot(months, _floats([by_month.get(m) for m in months]), marker="o",
                    color=COLOURS[i % len(COLOURS)], label=name, gid=f"series-{i}")
        if threshold is not None:
            ax.axhline(float(threshold), color="#b03a2e", linestyle="--", linewidth=1,
                       label=f"alert above {float(threshold):.0%}", gid="threshold")
        _finish(ax, title, percent=True)

    return _draw(prefix, title, paint)


def bar_chart(prefix: str, title: str, categories: list[str], groups: dict[str, list[Decimal | None]], *,
              percent: bool) -> str:
    """Grouped bars: one group per category (department, position, bucket), one bar per series."""
    width = 0.8 / max(len(groups), 1)

    def paint(ax: Axes) -> None:
        for i, (name, values) in enumerate(groups.items()):
            xs = [c + (i - (len(groups) - 1) / 2) * width for c in range(len(categories))]
            bars = ax.bar(xs, _floats(values), width=width, label=name,
                          color=COLOURS[i % len(COLOURS)])
            for j, bar in enumerate(bars):
                bar.set_gid(f"bar-{i}-{j}")
        ax.set_xticks(range(len(categories)), categories)
        _finish(ax, title, percent=percent)

    return _draw(prefix, title, paint)


def _finish(ax: Axes, title: str, *, percent: bool) -> None:
    ax.set_title(title, fontsize=11)
    if percent:
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylim(bottom=0)
    ax.grid(axis="y", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))  # beside, not over, the data
