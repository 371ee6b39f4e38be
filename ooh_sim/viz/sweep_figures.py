"""Figures for sweeps: each output against each parameter, heatmaps, sensitivity rankings.

Grid designs: one figure per output with a panel per parameter (mean and 95% CI band, one line
per combination of the other parameters when there are few), plus a heatmap per output when
exactly two parameters vary. LHS/Sobol designs: point means against each parameter with a
binned trend, and a ranking of parameters by standardised regression coefficient (SRC) per
output. Each function RETURNS the figure and writes nothing; :func:`sweep_figure_plan` lists
the files of a sweep's ``figures/`` folder.
"""

from __future__ import annotations

import itertools
import json
import re
import textwrap
from collections.abc import Callable
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ooh_sim.core import kpis
from ooh_sim.core.experiment import Experiment, Parameter
from ooh_sim.core.loader import setting_words
from ooh_sim.core.sweep import SweepTable
from ooh_sim.viz.style import PALETTE, axes, panels_of, percent_ticks

MAX_LINES = 6
"""More combinations of the other parameters than this: plot the average over them instead."""


def _file_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-]+", "_", text)


def _label(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (dict, list)):
        text = json.dumps(v, separators=(",", ":"), default=str)
        return text if len(text) <= 24 else text[:23] + "…"
    return str(v)


def _axis(p: Parameter) -> tuple[list[float], list[str] | None]:
    """x positions for a grid parameter's values, and tick labels if they are not numbers."""
    values = p.values or []
    if p.numeric:
        return [float(v) for v in values], None
    return list(range(len(values))), [_label(v) for v in values]


def _axis_label(output: str) -> str:
    """An output's words (wrapped) and unit, from the KPI catalogue."""
    unit = kpis.unit(output)
    return textwrap.fill(kpis.label(output), 40) + (f"\n({unit})" if unit else "")


def _parameter_label(exp: Experiment, p: Parameter, width: int = 40, key: bool = True) -> str:
    """A parameter's axis label: the schema's words for it (and the stream or staff group it
    belongs to), wrapped, with the dotted key below (``key``) to find it in the file."""
    words, names = setting_words(exp.base, p.path)
    if not words:
        return p.path + (" (whole numbers)" if p.integer else "")
    text = f"{kpis.plain(names)}: {words}" if names else words
    if not key:
        return textwrap.fill(text, width)
    return textwrap.fill(text, width) + f"\n({p.path}{', whole numbers' if p.integer else ''})"


def _parameter_short(p: Parameter) -> str:
    """A parameter in a legend: its last key and the stream or group it is of ("edt count")."""
    parts = p.path.split(".")
    return kpis.plain(" ".join(parts[-2:]) if len(parts) > 2 else parts[-1]).replace("_", " ")


def _title(text: str, fig: Figure, fontsize: float = 10) -> str:
    """``text`` wrapped to the figure's width (a suptitle is not clipped at its edges)."""
    chars = max(30, int(fig.get_figwidth() * 72 / (fontsize * 0.6)))
    return "\n".join(textwrap.fill(line, chars) for line in text.split("\n"))


def _key(v: Any) -> str:
    return json.dumps(v, sort_keys=True, default=str)


def _grid_panel(ax: Axes, exp: Experiment, t: SweepTable, output: str, j: int) -> None:
    p = exp.parameters[j]
    xs, ticks = _axis(p)
    others = [q for i, q in enumerate(exp.parameters) if i != j]
    combos = list(itertools.product(*(q.values or [] for q in others)))
    index = {tuple(_key(v[q.path]) for q in exp.parameters): i for i, v in enumerate(t.values)}

    def point(x_value: Any, combo: tuple[Any, ...]) -> int:
        vals = iter(combo)
        return index[tuple(_key(x_value) if q is p else _key(next(vals)) for q in exp.parameters)]

    if len(combos) <= MAX_LINES:
        for c, combo in enumerate(combos):
            ids = [point(v, combo) for v in p.values or []]
            est = [t.estimates[i][output] for i in ids]
            mean = np.array([e.mean for e in est])
            lo = np.array([e.ci95_low for e in est])
            hi = np.array([e.ci95_high for e in est])
            colour = PALETTE[c % len(PALETTE)]
            label = ", ".join(
                f"{_parameter_short(q)} {_label(v)}" for q, v in zip(others, combo, strict=True)
            )
            ax.plot(xs, mean, "o-", color=colour, label=label or None, ms=4)
            ax.fill_between(xs, lo, hi, color=colour, alpha=0.2, lw=0)
        if others:
            ax.legend(fontsize=7, framealpha=0.85)
    else:
        rows = [
            [t.estimates[point(v, combo)][output].mean for combo in combos] for v in p.values or []
        ]
        arr = np.array(rows, dtype=float)
        with np.errstate(all="ignore"):
            mean = np.nanmean(arr, axis=1)
            lo, hi = np.nanmin(arr, axis=1), np.nanmax(arr, axis=1)
        ax.plot(xs, mean, "o-", color=PALETTE[0], ms=4, label="average over the other parameters")
        ax.fill_between(xs, lo, hi, color=PALETTE[0], alpha=0.2, lw=0,
                        label="range over the other parameters")  # fmt: skip
        ax.legend(fontsize=7, framealpha=0.85)
    if ticks is not None:
        ax.set_xticks(xs)
        ax.set_xticklabels(ticks, rotation=20, ha="right", fontsize=8)
    elif len(xs) <= 12:
        ax.set_xticks(xs)  # the grid's own values, not 1.25, 1.5, …
        ax.set_xticklabels([_label(v) for v in p.values or []])
    ax.set_xlabel(_parameter_label(exp, p))
    ax.grid(alpha=0.3)


def _binned(x: np.ndarray, y: np.ndarray, bins: int = 8) -> tuple[np.ndarray, np.ndarray]:
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) < 2 * bins:
        return np.zeros(0), np.zeros(0)
    edges = np.unique(np.quantile(x, np.linspace(0, 1, bins + 1)))
    which = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
    cx = np.array([x[which == b].mean() for b in range(len(edges) - 1) if (which == b).any()])
    cy = np.array([y[which == b].mean() for b in range(len(edges) - 1) if (which == b).any()])
    return cx, cy


def _sample_panel(ax: Axes, exp: Experiment, t: SweepTable, output: str, j: int) -> None:
    p = exp.parameters[j]
    x = np.array([float(v[p.path]) for v in t.values])
    est = [e[output] for e in t.estimates]
    y = np.array([e.mean for e in est])
    lo = np.array([e.ci95_low for e in est])
    hi = np.array([e.ci95_high for e in est])
    if len(x) <= 200 and np.isfinite(lo).any():
        ax.errorbar(x, y, yerr=[y - lo, hi - y], fmt="none", ecolor=PALETTE[5], alpha=0.4, lw=0.8)
    ax.scatter(x, y, s=8 if len(x) > 200 else 14, color=PALETTE[0], alpha=0.6, lw=0,
               label="design point (mean, 95% CI)")  # fmt: skip
    cx, cy = _binned(x, y)
    if len(cx):
        ax.plot(cx, cy, "-", color=PALETTE[3], lw=2, label="binned mean")
    ax.set_xlabel(_parameter_label(exp, p))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, framealpha=0.85)


def output_figure(
    exp: Experiment, t: SweepTable, output: str, fig: Figure | None = None, ax: Axes | None = None
) -> Figure:
    """One output against each parameter (a panel per parameter)."""
    d = len(exp.parameters)
    cols = min(d, 3)
    rows = (d + cols - 1) // cols
    fig, grid = panels_of(ax, fig, (4.6 * cols, 3.6 * rows), rows, cols)  # ax=: in its place
    panel = _grid_panel if exp.design == "grid" else _sample_panel
    for j in range(d):
        ax_j = grid[j // cols][j % cols]
        panel(ax_j, exp, t, output, j)
        if j % cols == 0:  # one output on every panel: its words once a row, not over the next
            ax_j.set_ylabel(_axis_label(output))
        if kpis.is_percent(output):
            percent_ticks(ax_j.yaxis)
    for k in range(d, rows * cols):
        grid[k // cols][k % cols].axis("off")
    n = len(t.values)
    text = (
        f"{exp.name}: {kpis.label(output)} ({kpis.unit(output) or output}) against each "
        f"parameter ({exp.design}, {n} points × {exp.replications} replications; bands/bars = "
        "95% CI)"
    )
    fig.suptitle(_title(text, fig), fontsize=10)
    return fig


def heatmap(exp: Experiment, t: SweepTable, output: str, ax: Axes | None = None) -> Figure:
    """Two-parameter grid: mean of ``output`` in each cell, with the CI half-width."""
    px, py = exp.parameters
    index = {(_key(v[px.path]), _key(v[py.path])): i for i, v in enumerate(t.values)}
    xv, yv = px.values or [], py.values or []
    grid = np.full((len(yv), len(xv)), np.nan)
    half = np.full_like(grid, np.nan)
    for a, vx in enumerate(xv):
        for b, vy in enumerate(yv):
            e = t.estimates[index[(_key(vx), _key(vy))]][output]
            grid[b, a], half[b, a] = e.mean, e.half_width
    fig, ax = axes(ax, (1.1 * len(xv) + 3, 0.7 * len(yv) + 2.2))
    im = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis")
    bar = fig.colorbar(im, ax=ax, label=textwrap.fill(
        f"{kpis.label(output)} ({kpis.unit(output)})", 36))  # fmt: skip
    if kpis.is_percent(output):
        percent_ticks(bar.ax.yaxis)
    finite = grid[np.isfinite(grid)]
    mid = (finite.min() + finite.max()) / 2 if len(finite) else 0.0
    if grid.size <= 150:
        for b in range(len(yv)):
            for a in range(len(xv)):
                m, h = grid[b, a], half[b, a]
                text = kpis.format(output, m)
                if np.isfinite(h):
                    text += f"\n±{kpis.format(output, h)}"
                colour = "black" if np.isfinite(m) and m > mid else "white"
                ax.text(a, b, text, ha="center", va="center", fontsize=8, color=colour)
    ax.set_xticks(range(len(xv)))
    ax.set_xticklabels([_label(v) for v in xv])
    ax.set_yticks(range(len(yv)))
    ax.set_yticklabels([_label(v) for v in yv])
    ax.set_xlabel(_parameter_label(exp, px, 50))
    ax.set_ylabel(_parameter_label(exp, py, 30))
    ax.set_title(_title(f"{exp.name}: {kpis.label(output)}\n(mean ± 95% CI half-width, "
                        f"{exp.replications} runs each)", fig), fontsize=10)  # fmt: skip
    return fig


def sensitivity_figure(
    exp: Experiment, rows: list[dict[str, Any]], fig: Figure | None = None, ax: Axes | None = None
) -> Figure | None:
    """Parameters ranked by |SRC| for each output (bars signed: + raises the output)."""
    outputs = list(dict.fromkeys(r["output"] for r in rows))
    if not outputs:
        return None
    cols = min(len(outputs), 2)
    nrows = (len(outputs) + cols - 1) // cols
    npar = len({r["parameter"] for r in rows})
    fig, grid = panels_of(ax, fig, (6.2 * cols, (0.45 * npar + 1.6) * nrows), nrows, cols)
    for k, output in enumerate(outputs):
        ax = grid[k // cols][k % cols]
        mine = sorted((r for r in rows if r["output"] == output), key=lambda r: -r["rank"])
        src = np.array([r["src"] for r in mine], dtype=float)
        colours = [PALETTE[3] if s > 0 else PALETTE[0] for s in np.nan_to_num(src)]
        names = {q.path: q for q in exp.parameters}
        ax.barh(
            [_parameter_label(exp, names[r["parameter"]], 34, key=False) if r["parameter"] in names
             else r["parameter"] for r in mine],
            np.nan_to_num(src), color=colours,
        )  # fmt: skip
        ax.axvline(0, color="black", lw=0.8)
        lim = max(1.0, float(np.nanmax(np.abs(src))) if np.isfinite(src).any() else 1.0)
        ax.set_xlim(-lim * 1.05, lim * 1.05)
        r2 = mine[0]["r2"] if mine else float("nan")
        fit = f"R² = {r2:.2f}" if np.isfinite(r2) else "R² undefined (output constant?)"
        linear = np.isfinite(r2) and r2 >= 0.7
        warn = "" if linear else " (low: not linear, read with care)"
        ax.set_title(f"{textwrap.fill(kpis.label(output), 50)}\n{fit}{warn}", fontsize=9)
        ax.set_xlabel("standardised regression coefficient (SRC)")
        ax.grid(axis="x", alpha=0.3)
    for k in range(len(outputs), nrows * cols):
        grid[k // cols][k % cols].axis("off")
    text = (
        f"{exp.name}: which parameter matters most ({exp.design}, {len(exp.points)} points) — "
        "red raises the output, blue lowers it"
    )
    fig.suptitle(_title(text, fig), fontsize=10)
    return fig


def sweep_figure_plan(
    exp: Experiment, t: SweepTable, sens: list[dict[str, Any]]
) -> list[tuple[str, Callable[[], Figure | None]]]:
    """Every figure of a sweep's ``figures/`` folder, made one at a time: (file name, maker)."""
    plan: list[tuple[str, Callable[[], Figure | None]]] = []
    for output in t.outputs:
        name = _file_name(output)
        plan.append((f"{name}.png", lambda o=output: output_figure(exp, t, o)))
        if exp.design == "grid" and len(exp.parameters) == 2:
            plan.append((f"heatmap_{name}.png", lambda o=output: heatmap(exp, t, o)))
    if exp.design != "grid" and sens:
        plan.append(("sensitivity.png", lambda: sensitivity_figure(exp, sens)))
    return plan
