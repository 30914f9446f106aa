"""A time-series chart as PNG bytes: lines per series, a threshold, shaded and marked moments.

Callers in the event loop run `render` in a thread: it costs tens to hundreds of
milliseconds of CPU, which must not delay the next Slack call or webhook. matplotlib is
imported on the first render, not at start (importing it takes seconds on a busy
machine), and figures are built without pyplot, whose global state is not thread-safe.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

MAX_SERIES = 10
MAX_LEGEND = 48  # characters of a series' label in the legend


@dataclass(frozen=True)
class Series:
    label: str
    points: Sequence[tuple[datetime, float]]


@dataclass(frozen=True)
class Chart:
    title: str
    series: Sequence[Series]
    threshold: float | None = None
    threshold_label: str = "threshold"
    shaded: tuple[datetime, datetime] | None = None
    """A period to shade, e.g. while the alert was firing."""
    shaded_label: str = "firing"
    marks: Sequence[tuple[datetime, str]] = field(default_factory=tuple)
    """Vertical lines with a short label, e.g. the moments traffic shifted."""
    unit: str = ""


def render(chart: Chart, *, width: float = 8.0, height: float = 3.2) -> bytes:
    from matplotlib import dates as mdates
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    ax = fig.subplots()
    shown = list(chart.series[:MAX_SERIES])
    for series in shown:
        if series.points:
            times, values = zip(*series.points, strict=True)
            ax.plot(times, values, linewidth=1.4, label=_short(series.label))
    if chart.threshold is not None:
        ax.axhline(chart.threshold, color="#d62728", linestyle="--", linewidth=1.2)
        ax.annotate(
            f"{chart.threshold_label} {chart.threshold:g}",
            xy=(1, chart.threshold),
            xycoords=("axes fraction", "data"),
            ha="right",
            va="bottom",
            fontsize=8,
            color="#d62728",
        )
    if chart.shaded is not None:
        start, end = chart.shaded
        ax.axvspan(start, end, color="#d62728", alpha=0.12, label=chart.shaded_label)  # type: ignore[arg-type]
    for moment, text in chart.marks:
        ax.axvline(moment, color="#555555", linestyle=":", linewidth=1)  # type: ignore[arg-type]
        ax.annotate(
            text,
            xy=(moment, 1),
            xycoords=("data", "axes fraction"),
            rotation=90,
            va="top",
            ha="right",
            fontsize=7,
            color="#555555",
        )
    hidden = len(chart.series) - len(shown)
    title = chart.title if not hidden else f"{chart.title} (+{hidden} more series)"
    ax.set_title(title[:120], fontsize=10)
    if chart.unit:
        ax.set_ylabel(chart.unit, fontsize=8)
    locator = mdates.AutoDateLocator()  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    ax.tick_params(labelsize=8)
    ax.grid(alpha=0.3)
    if shown or chart.shaded is not None:
        ax.legend(fontsize=7, loc="upper left")
    if not any(series.points for series in shown):
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()


def _short(label: str) -> str:
    return label if len(label) <= MAX_LEGEND else label[: MAX_LEGEND - 1] + "…"
