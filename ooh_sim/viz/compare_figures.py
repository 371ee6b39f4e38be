"""Figures for comparing options, and each option's timeline of the reference's worst night.

Written for a board: one message per figure, titles that say what to look at, axes with units,
the Okabe–Ito palette (:data:`ooh_sim.viz.style.PALETTE`), the reference scenario always in
black. Each function takes a :class:`~ooh_sim.core.compare.Comparison` (and an optional ``ax=``;
the KPI panels ``fig=``), RETURNS the figure and writes nothing; :func:`comparison_figure_plan`
lists the files a comparison's folder holds.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Collection, Iterable
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.text import Text

from ooh_sim.core import kpis
from ooh_sim.core.timeline import RunTimeline, night, worst_night
from ooh_sim.viz.run_figures import station_samples
from ooh_sim.viz.style import (
    PALETTE,
    FixedMargins,
    axes,
    panels_of,
    percent_ticks,
    plt,
    week_heatmap,
)
from ooh_sim.viz.timeline_figures import night_timeline

if TYPE_CHECKING:
    from ooh_sim.core.compare import Comparison

REFERENCE_COLOUR = PALETTE[7]  # black


def scenario_colours(names: list[str]) -> dict[str, str]:
    """Reference in black, options in the palette's colours, in order."""
    others = [c for c in PALETTE if c != REFERENCE_COLOUR]
    return {
        n: REFERENCE_COLOUR if i == 0 else others[(i - 1) % len(others)]
        for i, n in enumerate(names)
    }


def _label(name: str) -> str:
    return name.replace("_", " ")


# ---------------------------------------------------------------------------------- ECDF
def station_ecdf(c: Comparison, ax: Axes | None = None) -> Figure | None:
    """Share of children collected within x hours, per scenario, with the report thresholds."""
    samples = {r.scenario.name: station_samples(r) for r in c.results}
    if not any(len(s) for s in samples.values()):
        return None
    colours = scenario_colours(c.names)
    thresholds = c.results[0].scenario.report.thresholds_hours
    top = max(float(np.quantile(s, 0.98)) for s in samples.values() if len(s))
    top = max(top, max(thresholds) * 1.5)
    fig, ax = axes(ax, (9.5, 5.2))
    for name, s in samples.items():
        if not len(s):
            continue
        x = np.sort(s)
        y = np.arange(1, len(x) + 1) / len(x)
        ref = name == c.reference
        ax.step(
            np.r_[0, x],
            np.r_[0, y],
            where="post",
            color=colours[name],
            lw=3.2 if ref else 1.6,
            zorder=2 if ref else 3,  # options on top: one identical to the reference stays seen
            label=f"{_label(name)} (mean of all children pooled {s.mean():.1f} h)",
        )
    for h in thresholds:
        ax.axvline(h, color="0.35", ls="--", lw=1)
        ax.text(h, 0.02, f" {h:g} h", color="0.25", va="bottom", ha="left", fontsize=10)
    ax.set_xlim(0, top)
    ax.set_ylim(0, 1.01)
    percent_ticks(ax.yaxis)
    ax.set_xlabel("hours from the police request until the EDT collects the child")
    ax.set_ylabel("share of children collected within that time")
    ax.set_title(
        "How long children wait in police stations, by option\n"
        f"(higher and further left is better; all children in {c.replications} "
        "simulated years)",
        fontsize=12,
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", frameon=True, fontsize=9)
    return fig


# ---------------------------------------------------------------------------------- KPI bars
def kpi_bars(
    c: Comparison, fig: Figure | None = None, ax: Axes | None = None
) -> Figure | None:
    """Headline KPIs with 95% CI whiskers; ★ marks a paired difference from the reference."""
    # a panel per headline KPI of the catalogue, with its words and unit
    produced = kpis.in_catalogue_order(dict.fromkeys(k for r in c.results for k in r.summary))
    panels = [(k, textwrap.fill(kpis.label(k), 44), kpis.unit(k)) for k in kpis.headline(produced)]
    if not panels:
        return None
    colours = scenario_colours(c.names)
    ncol = 3
    nrow = math.ceil(len(panels) / ncol)
    own = ax is None and fig is None
    fig, panel_axes = panels_of(ax, fig, (15, 4.6 * nrow), nrow, ncol)  # ax=: panels in its place
    x = np.arange(len(c.names))
    for ax, (k, title, unit) in zip(panel_axes.flat, panels, strict=False):
        # one bar call and one error-bar call a panel, not one per option (FOR SPEED: error
        # bars are costly artists; the same picture)
        at, means, lows, highs, faces = [], [], [], [], []
        for i, res in enumerate(c.results):
            e = res.summary.get(k)
            if e is None or not math.isfinite(e.mean):
                continue
            lo = e.mean - e.ci95_low if math.isfinite(e.ci95_low) else 0
            hi = e.ci95_high - e.mean if math.isfinite(e.ci95_high) else 0
            at.append(i)
            means.append(e.mean)
            lows.append(lo)
            highs.append(hi)
            faces.append(to_rgba(colours[res.scenario.name], 1.0 if i == 0 else 0.9))
            d = c.differences.get(res.scenario.name, {}).get(k)
            mark = " ★" if d is not None and d.significant else ""
            text = f"{kpis.format(k, e.mean)}{mark}"
            ax.text(i, e.mean + hi, text, ha="center", va="bottom", fontsize=9)
        if at:
            ax.bar(at, means, color=faces, width=0.7)
            ax.errorbar(at, means, yerr=[lows, highs], fmt="none", color="0.2", capsize=4,
                        lw=1.2)  # fmt: skip
        ref = c.results[0].summary.get(k)
        if ref is not None and math.isfinite(ref.mean):
            ax.axhline(ref.mean, color=REFERENCE_COLOUR, lw=0.8, ls="--", zorder=0)
        ax.set_title(title, fontsize=11)
        ax.set_ylabel(unit)
        ax.set_xticks(x)
        ax.set_xticklabels([_label(n) for n in c.names], rotation=35, ha="right", fontsize=9)
        ax.margins(y=0.15)
        ax.grid(axis="y", alpha=0.3)
        if kpis.is_percent(k):
            percent_ticks(ax.yaxis)
    for ax in list(panel_axes.flat)[len(panels) :]:
        ax.set_visible(False)
    fig.suptitle(
        f"Options compared with {_label(c.reference)}: mean and 95% confidence interval over "
        f"{c.replications} simulated years (whiskers); dashed line = {_label(c.reference)}\n"
        f"★ = the difference from {_label(c.reference)} is statistically clear: its paired 95% "
        "interval, over the same simulated nights, excludes zero (so ★ can hold where whiskers "
        "overlap)",
        fontsize=12,
        y=1 - 0.1 / fig.get_figheight(),  # at the top in inches: the layout makes room under it
        va="top",
    )
    if own:
        fig.set_layout_engine(_measured_margins(fig, list(panel_axes.flat)))
    return fig


def _measured_margins(fig: Figure, panels: list[Axes]) -> FixedMargins:
    """The KPI grid's margins from the few texts that set them, measured once, FOR SPEED: a tight
    layout measures every label of every panel (a quarter of the figure's time), while here the
    panels share their option names and units and their numbers are short. In inches: under
    each panel its rotated option names; above it its title (the tallest of the row's); left of
    it a unit and numbers of up to six characters."""
    renderer = fig.canvas.get_renderer()

    def inches(texts: Iterable[Text], size: str) -> float:
        return max((getattr(t.get_window_extent(renderer), size) for t in texts if t.get_text()),
                   default=0.0) / fig.dpi  # fmt: skip

    first = panels[0]  # every panel has the same option names and the units' size
    names = inches(first.get_xticklabels(), "height")
    titles = inches((a.title for a in panels), "height")
    numbers = Text(text="0" * 6, fontsize=plt.rcParams["ytick.labelsize"], figure=fig)
    side = inches([first.yaxis.label], "width") + inches([numbers], "width") + 0.3
    heading = inches(fig.texts, "height")  # the suptitle
    return FixedMargins(left=side + 0.1, right=0.25, bottom=names + 0.25, wspace=side + 0.15,
                        top=0.1 + heading + 0.2 + titles + 0.1,
                        hspace=names + 0.25 + titles + 0.2)  # fmt: skip


# ---------------------------------------------------------------------------------- by hour
def station_by_hour(c: Comparison, ax: Axes | None = None) -> Figure | None:
    """Mean children waiting in police stations by day and hour of the week: a heat map per
    option on one colour scale, the reference first."""
    res = [r for r in c.results if r.scenario.police_streams]
    if not res:
        return None
    ncol = 1 if len(res) == 1 else 2
    nrow = math.ceil(len(res) / ncol)
    fig, grid = panels_of(ax, None, (6.2 * ncol + 1.2, 2.2 * nrow + 0.9), nrow, ncol)
    profiles = [r.profile("station") for r in res]
    top = max(max(float(np.max(p)) for p in profiles), 1e-9)
    for panel, r, p in zip(grid.flat, res, profiles, strict=False):
        ref = r.scenario.name == c.reference
        week_heatmap(panel, p, vmax=top, colour_label="children waiting")  # one scale for all
        title = _label(r.scenario.name) + (" (reference)" if ref else "")
        panel.set_title(title, fontsize=10, loc="left", fontweight="bold" if ref else "normal")
    for panel in list(grid.flat)[len(res) :]:
        panel.set_visible(False)
    fig.suptitle(
        "Children waiting in police stations, by day and hour of the week\n"
        f"(mean number in each hour over {c.replications} simulated years; dark: few waiting)",
        fontsize=11,
    )
    return fig


# ---------------------------------------------------------------------------------- timelines
def option_night(c: Comparison, i: int, ax: Axes | None = None) -> Figure | None:
    """Scenario ``i``'s replication 0 on the reference's worst night: every option is drawn on
    the night the reference's (scenario 0's) replication 0 kept a child waiting longest."""
    return night_of(c.results[0].timeline, c.results[i].timeline, ax)


def night_of(
    reference: RunTimeline | None, option: RunTimeline | None, ax: Axes | None = None
) -> Figure | None:
    """:func:`option_night` from the two replication-0 timeline records alone, so that it can be
    drawn as soon as both replications are in (see :func:`timeline_plan`)."""
    found = None if reference is None else worst_night(reference)
    tl = None if found is None or option is None else night(option, found[:2])
    return None if tl is None else night_timeline(tl, ax)


def timeline_file(name: str) -> str:
    """The file of scenario ``name``'s timeline in a comparison's folder."""
    return f"timeline_{name}.png"


def timeline_plan(
    data: tuple[str, RunTimeline | None, RunTimeline | None],
) -> list[tuple[str, Callable[[], Figure | None]]]:
    """One option's timeline figure, from (scenario name, reference's record, option's record)."""
    name, reference, option = data
    return [(timeline_file(name), lambda: night_of(reference, option))]


# ---------------------------------------------------------------------------------- all
COMPARE_FIGURES: list[tuple[str, Callable[[Comparison], Figure | None]]] = [
    ("station_hours_ecdf.png", station_ecdf),
    ("headline_kpis.png", kpi_bars),
    ("station_by_hour_of_week.png", station_by_hour),
]
"""The comparison's own figures: (file name, figure function); None from one: no such file."""


def comparison_figure_plan(
    c: Comparison, *, drawn: Collection[str] = ()
) -> list[tuple[str, Callable[[], Figure | None]]]:
    """Every figure of a comparison's folder, made one at a time: :data:`COMPARE_FIGURES`, then
    ``timeline_<scenario>.png`` per scenario not in ``drawn`` (drawn already: see
    :func:`timeline_plan`), each on the reference's worst night."""
    plan: list[tuple[str, Callable[[], Figure | None]]] = [
        (name, lambda make=make: make(c)) for name, make in COMPARE_FIGURES
    ]
    plan += [(timeline_file(r.scenario.name), lambda i=i: option_night(c, i))
             for i, r in enumerate(c.results) if r.scenario.name not in drawn]  # fmt: skip
    return plan
