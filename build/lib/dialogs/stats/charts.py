"""PNG charts for /stats, drawn with matplotlib's Agg backend (no display, no external service).

Plain data in, PNG bytes out. Figures are built with the object API (Figure + FigureCanvasAgg),
never pyplot's global state, so rendering in a worker thread is safe; call `render` through
`asyncio.to_thread`. matplotlib is imported on first use: the bot starts without paying for it.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

_LEADING_SYMBOLS = re.compile(r"^[^\w(]+", re.UNICODE)


def plain(label: str) -> str:
    """A label without leading emoji (the bundled DejaVu font has none)."""
    return _LEADING_SYMBOLS.sub("", label).strip() or label


@dataclass(frozen=True, slots=True)
class Heatmap:
    title: str
    x_label: str
    y_label: str
    rows: Sequence[tuple[str, int, Sequence[float | None]]]  # (cohort, size, % by periods after)


@dataclass(frozen=True, slots=True)
class Trend:
    title: str
    answers_label: str
    points: Sequence[tuple[str, float | None, int]]  # (period, NPS, answers)


@dataclass(frozen=True, slots=True)
class Bars:
    title: str
    items: Sequence[tuple[str, int]]  # (label, count)


@dataclass(frozen=True, slots=True)
class Intervals:
    title: str
    items: Sequence[tuple[str, float, float, float]]  # (label, estimate, low, high)


Chart = Heatmap | Trend | Bars | Intervals


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def heatmap(chart: Heatmap) -> bytes:
    import numpy as np

    n = max((len(r[2]) for r in chart.rows), default=1)
    data = np.full((len(chart.rows), n), np.nan)
    for i, (_, _, values) in enumerate(chart.rows):
        for j, v in enumerate(values):
            if v is not None:
                data[i, j] = v
    fig = _figure(1.6 + 0.62 * n, 1.2 + 0.42 * len(chart.rows))
    ax = fig.add_subplot()
    cmap = _cmap("YlGnBu")
    ax.imshow(np.ma.masked_invalid(data), cmap=cmap, vmin=0, vmax=100, aspect="auto")
    for i in range(data.shape[0]):
        for j in range(data.shape[1]):
            if not np.isnan(data[i, j]):
                v = data[i, j]
                ax.text(
                    j,
                    i,
                    f"{v:.0f}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if v > 60 else "black",
                )
    ax.set_xticks(range(n), [str(j) for j in range(n)])
    ax.set_yticks(range(len(chart.rows)), [f"{label} ({size})" for label, size, _ in chart.rows])
    ax.set_xlabel(chart.x_label)
    ax.set_ylabel(chart.y_label)
    ax.set_title(chart.title, fontsize=11)
    return _png(fig)


def trend(chart: Trend) -> bytes:
    labels = [p[0] for p in chart.points]
    fig = _figure(max(5.0, 0.55 * len(labels) + 2), 3.6)
    ax = fig.add_subplot()
    xs = [i for i, p in enumerate(chart.points) if p[1] is not None]
    ys = [p[1] for p in chart.points if p[1] is not None]
    ax.axhline(0, color="#999999", linewidth=0.8)
    ax.plot(xs, ys, marker="o", color="#1f77b4")
    for x, y in zip(xs, ys, strict=True):
        ax.annotate(f"{y:+.0f}", (x, y), textcoords="offset points", xytext=(0, 7), ha="center", fontsize=8)
    ax.set_ylim(-100, 100)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("NPS")
    counts = ax.twinx()
    counts.bar(range(len(labels)), [p[2] for p in chart.points], alpha=0.18, color="#555555")
    counts.set_ylabel(chart.answers_label)
    ax.set_zorder(counts.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.set_title(chart.title, fontsize=11)
    return _png(fig)


def bars(chart: Bars) -> bytes:
    items = list(reversed(chart.items))
    fig = _figure(6.0, 1.2 + 0.45 * len(items))
    ax = fig.add_subplot()
    ax.barh(range(len(items)), [n for _, n in items], color="#d62728")
    ax.set_yticks(range(len(items)), [plain(label) for label, _ in items])
    total = sum(n for _, n in items) or 1
    for i, (_, n) in enumerate(items):
        ax.text(n, i, f" {n} ({100 * n / total:.0f}%)", va="center", fontsize=8)
    ax.margins(x=0.2)
    ax.set_title(chart.title, fontsize=11)
    return _png(fig)


def intervals(chart: Intervals) -> bytes:
    items = list(reversed(chart.items))
    fig = _figure(6.0, 1.3 + 0.5 * len(items))
    ax = fig.add_subplot()
    ys = range(len(items))
    est = [e for _, e, _, _ in items]
    lower = [e - lo for _, e, lo, _ in items]
    upper = [hi - e for _, e, _, hi in items]
    colors = ["#2ca02c" if lo > 0 else "#d62728" if hi < 0 else "#7f7f7f" for _, _, lo, hi in items]
    for y, e, lo, hi, color in zip(ys, est, lower, upper, colors, strict=True):
        ax.errorbar([e], [y], xerr=[[lo], [hi]], fmt="none", ecolor=color, capsize=4)
    ax.scatter(est, ys, color=colors, zorder=3)
    for y, e in zip(ys, est, strict=True):
        ax.annotate(f"{e:+.1f}", (e, y), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8)
    ax.axvline(0, color="#999999", linewidth=0.8)
    ax.set_yticks(list(ys), [label for label, *_ in items])
    ax.margins(y=0.3)
    ax.set_title(chart.title, fontsize=11)
    return _png(fig)


def _cmap(name: str):
    import matplotlib

    return matplotlib.colormaps[name].with_extremes(bad="#f2f2f2")


def render(charts: Sequence[Chart]) -> list[bytes]:
    """PNG bytes for each chart (blocking: run in a thread)."""
    out = []
    for chart in charts:
        if isinstance(chart, Heatmap):
            out.append(heatmap(chart))
        elif isinstance(chart, Trend):
            out.append(trend(chart))
        elif isinstance(chart, Bars):
            out.append(bars(chart))
        else:
            out.append(intervals(chart))
    return out
