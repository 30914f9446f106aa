"""The report's picture: small charts people read faster than a table of numbers.

Rendered with matplotlib's Figure API (no display, no pyplot); callers in the event loop run
`render_png` in a thread, as it takes a few hundred milliseconds of CPU.
"""

from __future__ import annotations

import io
from datetime import date, timedelta

from matplotlib.figure import Figure

from bot.report.figures import PRIORITIES, Figures

COLOURS = {"P0": "#d62728", "P1": "#ff7f0e", "P2": "#1f77b4", "P3": "#7f7f7f"}


def _days(figures: Figures) -> list[date]:
    first, last = figures.since.date(), (figures.until - timedelta(microseconds=1)).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def render_png(figures: Figures) -> bytes:
    days = _days(figures)
    labels = [d.strftime("%a %d") for d in days]
    # Built without pyplot, whose global state is not thread-safe.
    fig = Figure(figsize=(13, 3.6), dpi=100)
    alerts_ax, times_ax, ops_ax = fig.subplots(1, 3)
    bottom = [0] * len(days)
    for priority in PRIORITIES:
        counts = [figures.daily_incidents.get(d, {}).get(priority, 0) for d in days]
        alerts_ax.bar(labels, counts, bottom=bottom, label=priority, color=COLOURS[priority])
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    alerts_ax.set_title("Incidents per day by priority")
    alerts_ax.legend(fontsize=8)
    alerts_ax.tick_params(axis="x", labelrotation=45, labelsize=8)

    positions = range(len(PRIORITIES))
    mtta = [(figures.time_to_ack[p].mean or 0) / 60 for p in PRIORITIES]
    mttr = [(figures.time_to_recover[p].mean or 0) / 60 for p in PRIORITIES]
    times_ax.bar([x - 0.2 for x in positions], mtta, width=0.4, label="MTTA", color="#9467bd")
    times_ax.bar([x + 0.2 for x in positions], mttr, width=0.4, label="MTTR", color="#8c564b")
    times_ax.set_xticks(list(positions), list(PRIORITIES))
    times_ax.set_ylabel("minutes")
    times_ax.set_title("Time to acknowledge / recover")
    times_ax.legend(fontsize=8)

    deploys = [figures.daily_deploys.get(d, 0) for d in days]
    rollbacks = [figures.daily_rollbacks.get(d, 0) for d in days]
    ops_ax.bar(labels, deploys, label="deploys", color="#2ca02c")
    ops_ax.bar(labels, rollbacks, bottom=deploys, label="rollbacks", color="#d62728")
    ops_ax.set_title("Deploys and rollbacks per day")
    ops_ax.legend(fontsize=8)
    ops_ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    for ax in (alerts_ax, ops_ax):
        ax.yaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()
