"""The optimise figure: every option's cost against the constrained KPI, with the frontier.

Each option is a dot at (constrained KPI, objective) with its 95% intervals as whiskers, coloured
by what the procedure found (meets the target, misses it, or not settled when it was dropped as
dearer). The target is a vertical line; the **feasible frontier** is the step line through the
cheapest option at each level of the KPI among those shown to meet the target; the chosen
option is a star. Options dropped early have wide whiskers: they were not worth more runs.
"""

from __future__ import annotations

import math
import textwrap

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ooh_sim.core import kpis
from ooh_sim.core.optimise import FEASIBLE, INFEASIBLE, OptimiseResult
from ooh_sim.viz.style import axes

COLOURS = {FEASIBLE: "#1b7837", INFEASIBLE: "#b2182b", "undecided": "#878787"}
WORDS = {FEASIBLE: "meets the target", INFEASIBLE: "misses the target", "undecided": "not settled"}


def _label(name: str, width: int = 90) -> str:
    try:
        return textwrap.fill(f"{kpis.label(name)} ({kpis.unit(name)})", width)
    except (KeyError, ValueError):
        return name


def cost_frontier(result: OptimiseResult, *, ax: Axes | None = None) -> Figure:
    """Objective against the first constraint's KPI for every option; returns the Figure."""
    problem, sel = result.problem, result.selection
    fig, ax = axes(ax, (8, 5.5))
    y_name = problem.objective
    x_name = problem.constraints[0].kpi if problem.constraints else None
    shown = set()
    feasible_xy = []
    for p, st in enumerate(sel.states):
        est = result.estimates[p]
        if y_name not in est:
            continue
        ey = est[y_name]
        if x_name is not None and x_name in est:
            ex = est[x_name]
            x, xerr = ex.mean, ex.half_width if math.isfinite(ex.half_width) else 0.0
        else:
            x, xerr = float(p), 0.0
        yerr = ey.half_width if math.isfinite(ey.half_width) else 0.0
        kind = st.overall
        ax.errorbar(x, ey.mean, xerr=xerr, yerr=yerr, fmt="o", ms=5, color=COLOURS[kind],
                    alpha=0.85, elinewidth=0.8, capsize=2,
                    label=None if kind in shown else WORDS[kind])  # fmt: skip
        shown.add(kind)
        if kind == FEASIBLE:
            feasible_xy.append((x, ey.mean))
    if len(feasible_xy) >= 1:
        # frontier: cheapest option so far, as the KPI is allowed to get worse (left to right)
        pts = sorted(feasible_xy)
        front, best = [], math.inf
        for x, y in pts:
            if y < best:
                best = y
                front.append((x, y))
        xs = [x for x, _ in front]
        ys = [y for _, y in front]
        ax.step(xs, ys, where="post", color=COLOURS[FEASIBLE], lw=1.2, alpha=0.6,
                label="feasible frontier")  # fmt: skip
    if sel.best is not None:
        est = result.estimates[sel.best]
        x = est[x_name].mean if x_name and x_name in est else float(sel.best)
        ax.plot(x, est[y_name].mean, marker="*", ms=18, color="#fdb863", mec="black",
                zorder=5, label="chosen")  # fmt: skip
    for c in problem.constraints[:1]:
        ax.axvline(c.bound, color="black", ls="--", lw=1, label=f"target: {c.text}")
    ax.set_xlabel(_label(x_name) if x_name else "option")
    ax.set_ylabel(_label(y_name, 50))
    ax.set_title(f"{problem.name}: {len(problem.points)} options, "
                 f"{sel.replications:,} replications", loc="left")  # fmt: skip
    ax.grid(alpha=0.3)
    # below the axes, not over them: "best" still hid an option where the points are spread
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.11), ncol=3,
              frameon=False)  # fmt: skip
    return fig


__all__ = ["cost_frontier"]
