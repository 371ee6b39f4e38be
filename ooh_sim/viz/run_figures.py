"""Figures for one run's results: titled, axes with units, a colour-blind-safe palette.

Each function takes a :class:`~ooh_sim.core.runner.RunResult` (and an optional ``ax=``, or
``fig=`` for two panels), RETURNS the figure — None when the run has nothing to show — and
writes nothing. :data:`RUN_FIGURES` lists the files a run's folder holds; the saver
(:mod:`ooh_sim.report.folders`) walks it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ooh_sim.core.clock import standard_week_cover
from ooh_sim.viz.style import PALETTE, FixedMargins, axes, panels_of, plt, week_axis, week_heatmap
from ooh_sim.viz.timeline_figures import worst_night_figure

if TYPE_CHECKING:
    from ooh_sim.core.runner import RunResult  # a type only: viz never runs the model

__all__ = [  # plt and PALETTE also serve the report's own figures
    "PALETTE", "RUN_FIGURES", "hour_of_week", "plt", "station_by_hour",
    "station_hours", "station_samples", "worst_night_figure",
]  # fmt: skip


def hour_of_week(result: RunResult, ax: Axes | None = None) -> Figure:
    """Jobs waiting and workers busy by day and hour of the week (means over replications), a
    heat map each: when the team is stretched. Children in police stations by hour of the week
    are :func:`station_by_hour`'s (drawn once, FOR SPEED too: a third heat map cost a third of
    this figure)."""
    sc = result.scenario
    curves = [("queue", "jobs waiting for a worker"), ("busy", "workers busy")]
    fig, grid = panels_of(ax, None, (9, 2.3 * len(curves) + 0.5), len(curves), 1)
    if ax is None:  # its labels are days, hours and short numbers: margins known (FOR SPEED)
        fig.set_layout_engine(FixedMargins(left=0.55, right=0.85, top=0.75, bottom=0.55,
                                           hspace=0.4))  # fmt: skip
    off = None
    if sc.calendar.cover != "always":
        off = np.asarray(standard_week_cover(sc.calendar)) <= 0
    for panel, (name, words) in zip(grid[:, 0], curves, strict=True):
        last = panel is grid[-1, 0]  # the hours once, under the last panel
        week_heatmap(panel, result.profile(name), colour_label="mean number", off=off,
                     hours=last)  # fmt: skip
        panel.set_title(words.capitalize(), fontsize=10, loc="left")
    grid[-1, 0].set_xlabel("hour of the day" + ("; hatched: office hours (day team)"
                                                 if off is not None else ""))  # fmt: skip
    fig.suptitle(f"{sc.name}: workload by day and hour of the week (mean over "
                 f"{len(result.replications)} runs)", fontsize=11)  # fmt: skip
    return fig


def station_hours(result: RunResult, ax: Axes | None = None) -> Figure | None:
    """Distribution of hours children spend in police stations, with the report thresholds.

    Shares per bin (not counts), so runs with different replication numbers look alike; the
    long tail is folded into a last, labelled bin rather than stretching the axis.
    """
    hours = station_samples(result)
    if len(hours) == 0:
        return None
    thresholds = result.scenario.report.thresholds_hours
    own = ax is None
    fig, ax = axes(ax, (9, 4.2))
    if own:  # short numbers and fixed words around it: margins known (FOR SPEED)
        fig.set_layout_engine(FixedMargins(left=0.7, right=0.15, top=0.4, bottom=0.55))
    q99 = float(np.quantile(hours, 0.99))
    top = float(np.ceil(max(q99, max(thresholds) * 1.25)))
    width = next((w for w in (0.25, 0.5, 1.0, 2.0, 4.0) if top / w <= 40), 8.0)  # round bins
    top = float(np.ceil(top / width) * width)
    edges = np.arange(0.0, top + width / 2, width)
    weights = np.full(len(hours), 100.0 / len(hours))
    share, _ = np.histogram(np.minimum(hours, top - width / 2), bins=edges, weights=weights)
    # one filled outline, not a rectangle per bin (FOR SPEED: the same picture)
    ax.stairs(share, edges, fill=True, color=PALETTE[0], alpha=0.85, lw=0, label="children")
    over = float((hours >= top - width).mean())  # the last bin holds the whole tail
    if (hours >= top).any():
        ax.annotate(f"≥ {top - width:g} h\n{over:.1%}", xy=(top - width / 2, over * 100),
                    ha="center", va="bottom", fontsize=8, xytext=(0, 2),
                    textcoords="offset points")  # fmt: skip
    styles = ["--", "-.", ":"]
    for i, h in enumerate(thresholds):
        ax.axvline(h, color=PALETTE[(3 + i) % len(PALETTE)], linestyle=styles[i % 3], lw=1.6,
                   label=f"{(hours > h).mean():.0%} wait over {h:g} h")  # fmt: skip
    mean, p90 = float(hours.mean()), float(np.quantile(hours, 0.9))
    # pooled over every child of every run, so not the KPI cards' mean over runs of each run's
    # percentile (station.hours.p90, .max): named as such
    ax.text(0.99, 0.62, f"all children pooled:\nmean {mean:.1f} h\n90th percentile {p90:.1f} h"
            f"\nlongest {hours.max():.1f} h\n{len(hours):,} children, "
            f"{len(result.replications)} runs",
            transform=ax.transAxes, ha="right", va="top", fontsize=9)  # fmt: skip
    ax.set_xlim(0, top + width / 2)
    ax.set_xlabel("hours in the police station (arrival → collection starts)")
    ax.set_ylabel("% of children")
    ax.set_title(f"{result.scenario.name}: time children spend in police stations")
    ax.legend(loc="upper right", frameon=False, fontsize=9)
    return fig


def station_samples(result: RunResult) -> np.ndarray:
    """Station hours of every measured child over all replications (needs job records)."""
    children = result.station_children()
    return np.zeros(0) if children is None else children[1]



def _office_hours(ax: Axes, result: RunResult) -> None:
    """Shade the hours of a standard week that belong to the day team (no EDT cover)."""
    if result.scenario.calendar.cover == "always":
        return
    off = np.asarray(standard_week_cover(result.scenario.calendar)) <= 0
    spans = [(int(h), int(np.argmin(np.concatenate([off[h:], [False]]))))  # (start, length)
             for h in np.flatnonzero(off & ~np.roll(off, 1))]  # fmt: skip
    # one artist for all the week's office hours, not a patch each (FOR SPEED: the same picture)
    ax.broken_barh(spans, (0, 1), transform=ax.get_xaxis_transform(), color="#999999",
                   alpha=0.18, lw=0, label="office hours (day team)")  # fmt: skip


def station_by_hour(
    result: RunResult, fig: Figure | None = None, ax: Axes | None = None
) -> Figure | None:
    """Station hours by hour of the week: when children are in stations, and whose waits are long.

    Top: mean number of children in police stations in each clock hour (= station-hours
    accrued in that hour per week). Bottom: mean station hours of the children who arrive in
    each 3-hour block of the week, which shows which arrival times lead to the longest waits.
    """
    sc = result.scenario
    if not sc.police_streams:
        return None
    own = ax is None and fig is None
    fig, grid = panels_of(ax, fig, (10, 6.2), 2, 1, sharex=True)  # ax=: two panels in its place
    if own:  # fixed words and short numbers around it: margins known (FOR SPEED)
        fig.set_layout_engine(FixedMargins(left=1.0, right=0.15, top=0.4, bottom=0.6,
                                           hspace=0.15))  # fmt: skip
    top, bottom = grid[0, 0], grid[1, 0]
    top.step(np.arange(168) + 0.5, result.profile("station"), where="mid", color=PALETTE[3],
             label="children in police stations")  # fmt: skip
    _office_hours(top, result)
    top.set_ylabel("children in stations (mean)\n= station-hours per hour")
    top.set_title(f"{sc.name}: children in police stations by hour of the week")
    top.legend(loc="upper left", frameon=False, fontsize=9)
    top.grid(axis="x", alpha=0.3)
    top.set_ylim(bottom=0)

    children = result.station_children()
    if children is not None:
        a, h = children
        block = ((sc.horizon.start.weekday() * 24 + np.floor(a)) % 168 // 3).astype(int)
        n = np.bincount(block, minlength=56)
        total = np.bincount(block, weights=h, minlength=56)
        enough = n >= 5  # hide blocks with too few children to mean anything
        mean = np.where(enough, total / np.maximum(n, 1), np.nan)
        # one filled outline, not 56 rectangles (FOR SPEED: the same picture); blocks without
        # enough children are left empty
        bottom.stairs(np.nan_to_num(mean), np.arange(57) * 3.0, fill=True, color=PALETTE[0],
                      alpha=0.85, lw=0, label="mean hours in station, by arrival time")  # fmt: skip
        _office_hours(bottom, result)
        for i, x in enumerate(sc.report.thresholds_hours):
            bottom.axhline(x, color=PALETTE[(3 + i) % len(PALETTE)], lw=1,
                           linestyle=["--", "-.", ":"][i % 3], label=f"{x:g} h")  # fmt: skip
        bottom.set_ylim(0, np.nanmax(mean, initial=max(sc.report.thresholds_hours)) * 1.3)
        bottom.legend(loc="upper left", frameon=False, fontsize=8, ncol=5)
    bottom.set_ylabel("hours in station (mean)\nby 3-hour arrival block")
    week_axis(bottom)
    return fig


RUN_FIGURES: list[tuple[str, Callable[[RunResult], Figure | None]]] = [
    ("workload_by_hour_of_week.png", hour_of_week),
    ("station_hours_distribution.png", station_hours),
    ("station_by_hour_of_week.png", station_by_hour),
    ("timeline_worst_night.png", worst_night_figure),
]
"""The figures of a run's folder: (file name, figure function); None from one: no such file."""
