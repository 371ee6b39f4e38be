"""Figures for comparing options, and the one-night timeline that shows why children wait.

Written for a board: one message per figure, titles that say what to look at, axes with units,
the Okabe–Ito palette (:data:`ooh_sim.plots.PALETTE`), the reference scenario always in black.
Only plotting modules import matplotlib; the model core never imports this module.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Patch

from ooh_sim.core.model import Model
from ooh_sim.core.runner import RunResult, run_replication
from ooh_sim.viz.run_figures import PALETTE, save_figure, station_samples, week_axis

if TYPE_CHECKING:
    from ooh_sim.core.compare import Comparison

REFERENCE_COLOUR = PALETTE[7]  # black
HEADLINE = [  # (KPI, panel title, unit)
    ("station.hours.mean", "Child's wait in a police station: mean", "hours"),
    ("station.hours.p90", "Child's wait: 90th percentile (1 in 10 waits longer)", "hours"),
    ("station.officer_hours_per_week", "Police officer-hours tied up", "officer-hours per week"),
    ("streams.amhp.response_hours.mean", "Mental Health Act (AMHP) response: mean", "hours"),
    ("staff.edt.utilisation", "EDT worker busy (share of rostered time)", "share of time"),
    ("cost.per_week", "Cost (staff, call-outs, officers, placements)", "£ per week"),
]
MAX_WINDOW_HOURS = 60.0
# a child's state while waiting, in the timeline
WAIT_WORKER = ("waiting for a worker", "#BBBBBB", None)
WAIT_BED = ("no placement free", "white", "////")
WAIT_DAY_TEAM = ("waiting for the day team", "#DDDDDD", "..")


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
def station_ecdf(c: Comparison, path: Path) -> Path | None:
    """Share of children collected within x hours, per scenario, with the report thresholds."""
    samples = {r.scenario.name: station_samples(r) for r in c.results}
    if not any(len(s) for s in samples.values()):
        return None
    colours = scenario_colours(c.names)
    thresholds = c.results[0].scenario.report.thresholds_hours
    top = max(float(np.quantile(s, 0.98)) for s in samples.values() if len(s))
    top = max(top, max(thresholds) * 1.5)
    fig, ax = plt.subplots(figsize=(9.5, 5.2))
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
            label=f"{_label(name)} (mean {s.mean():.1f} h)",
        )
    for h in thresholds:
        ax.axvline(h, color="0.35", ls="--", lw=1)
        ax.text(h, 0.02, f" {h:g} h", color="0.25", va="bottom", ha="left", fontsize=10)
    ax.set_xlim(0, top)
    ax.set_ylim(0, 1.01)
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
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
    return save_figure(fig, path)


# ---------------------------------------------------------------------------------- KPI bars
def kpi_bars(c: Comparison, path: Path) -> Path | None:
    """Headline KPIs with 95% CI whiskers; ★ marks a paired difference from the reference."""
    panels = [(k, t, u) for k, t, u in HEADLINE if any(k in r.summary for r in c.results)]
    if not panels:
        return None
    colours = scenario_colours(c.names)
    ncol = 3
    nrow = math.ceil(len(panels) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(15, 4.6 * nrow), squeeze=False)
    x = np.arange(len(c.names))
    for ax, (k, title, unit) in zip(axes.flat, panels, strict=False):
        for i, res in enumerate(c.results):
            e = res.summary.get(k)
            if e is None or not math.isfinite(e.mean):
                continue
            lo = e.mean - e.ci95_low if math.isfinite(e.ci95_low) else 0
            hi = e.ci95_high - e.mean if math.isfinite(e.ci95_high) else 0
            ax.bar(
                i, e.mean, color=colours[res.scenario.name], width=0.7, alpha=1.0 if i == 0 else 0.9
            )
            ax.errorbar(i, e.mean, yerr=[[lo], [hi]], color="0.2", capsize=4, lw=1.2)
            d = c.differences.get(res.scenario.name, {}).get(k)
            mark = " ★" if d is not None and d.significant else ""
            ax.text(
                i, e.mean + hi, f"{_fmt(e.mean, unit)}{mark}", ha="center", va="bottom", fontsize=9
            )
        ref = c.results[0].summary.get(k)
        if ref is not None and math.isfinite(ref.mean):
            ax.axhline(ref.mean, color=REFERENCE_COLOUR, lw=0.8, ls="--", zorder=0)
        ax.set_title(title, fontsize=11)
        ax.set_ylabel(unit)
        ax.set_xticks(x)
        ax.set_xticklabels([_label(n) for n in c.names], rotation=35, ha="right", fontsize=9)
        ax.margins(y=0.15)
        ax.grid(axis="y", alpha=0.3)
        if unit == "share of time":
            ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    fig.suptitle(
        f"Options compared with {_label(c.reference)}: mean and 95% confidence interval over "
        f"{c.replications} simulated years (whiskers); dashed line = {_label(c.reference)}\n"
        f"★ = the difference from {_label(c.reference)} is statistically clear: its paired 95% "
        "interval, over the same simulated nights, excludes zero (so ★ can hold where whiskers "
        "overlap)",
        fontsize=12,
    )
    return save_figure(fig, path)


def _fmt(v: float, unit: str) -> str:
    if unit == "share of time":
        return f"{v:.0%}"
    if unit.startswith("£"):
        return f"£{v / 1000:.1f}k" if abs(v) >= 1000 else f"£{v:.0f}"
    return f"{v:.1f}"


# ---------------------------------------------------------------------------------- by hour
def station_by_hour(c: Comparison, path: Path) -> Path | None:
    """Mean children waiting in police stations by hour of week, one line per scenario."""
    res = [r for r in c.results if r.scenario.police_streams]
    if not res:
        return None
    colours = scenario_colours(c.names)
    fig, ax = plt.subplots(figsize=(12, 4.8))
    x = np.arange(168) + 0.5
    for r in res:
        ref = r.scenario.name == c.reference
        ax.step(
            x,
            r.profile("station"),
            where="mid",
            color=colours[r.scenario.name],
            lw=3.0 if ref else 1.3,
            zorder=2 if ref else 3,  # options on top: one identical to the reference stays seen
            label=_label(r.scenario.name),
        )
    week_axis(ax)
    ax.set_ylabel("children waiting (mean number)")
    ax.set_title(
        "Children waiting for collection, by hour of the week\n"
        "(mean number waiting in each hour over all simulated weeks; lower is better)",
        fontsize=12,
    )
    ax.legend(loc="upper left", frameon=True, fontsize=9, ncol=2)
    ax.set_ylim(bottom=0)
    return save_figure(fig, path)


# ---------------------------------------------------------------------------------- timeline
def worst_night(m: Model) -> tuple[float, float, int] | None:
    """Window (from, to) around the measured child who waited longest, and that child's job.

    The window opens at 16:00 on the evening the child's night began (an arrival before 09:00
    belongs to the previous evening) but at most 8 hours before the child arrived, and at least
    an hour before; it runs for at least 20 hours and until 3 hours after the child is collected
    (at most 60 hours: longer waits are marked as running on past the edge).
    """
    w0 = m.sc.horizon.warmup_hours
    a = m.arrival
    e = np.asarray(m.station_end)
    kid = np.asarray(m.j_pp) & (a >= w0) & ~np.isnan(e)
    if not kid.any():
        return None
    j = int(np.flatnonzero(kid)[np.argmax((e - a)[kid])])
    evening = math.floor((a[j] - 9.0) / 24.0) * 24.0 + 16.0
    t0 = min(max(evening, math.floor(a[j]) - 8.0), math.floor(a[j]) - 1.0)
    t1 = min(max(t0 + 20.0, math.ceil(e[j] + 3.0)), t0 + MAX_WINDOW_HOURS)
    return t0, t1, j


def stream_colours(m: Model) -> dict[str, str]:
    """Children-in-station streams in warm colours (vermillion, orange), other work in the rest."""
    warm = [PALETTE[3], PALETTE[1]]
    rest = [PALETTE[0], PALETTE[5], PALETTE[2], PALETTE[6], PALETTE[4], PALETTE[7]]
    out: dict[str, str] = {}
    pp = set(m.sc.police_streams)
    for name in m.stream_names:
        pool = warm if name in pp and warm else rest
        if not pool:
            pool = rest = list(PALETTE)
        out[name] = pool.pop(0)
    return out


def _text_colour(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.55 else "white"


def _child_segments(m: Model, j: int, end: float) -> list[tuple[float, float, str]]:
    """(from, to, state) pieces of child ``j``'s station time; state is a stream or a wait."""
    a = float(m.arrival[j])
    stream = m.stream_names[int(m.stream[j])]
    work = sorted((f, t) for w, f, t, jj in m.rec.busy if jj == j and f < end)
    assess_end = work[0][1] if work else math.inf
    h = m.handover[j] if m.handover[j] == m.handover[j] else math.inf
    p = m.placed_at[j] if m.placed_at[j] == m.placed_at[j] else math.inf
    out: list[tuple[float, float, str]] = []
    t = a
    for f, to in [*work, (end, end)]:
        if f > t:  # a gap: split it at the placement and at the handover
            cuts = sorted({t, f, *(c for c in (h, p) if t < c < f)})
            for g0, g1 in itertools.pairwise(cuts):
                if g0 >= h:
                    state = WAIT_DAY_TEAM[0]
                elif m.none_free[j] and g0 >= assess_end and g0 < p:
                    state = WAIT_BED[0]
                else:
                    state = WAIT_WORKER[0]
                out.append((g0, g1, state))
        if to > f:
            out.append((f, min(to, end), stream))
        t = max(t, to)
    return [s for s in out if s[1] > s[0]]


def night_timeline(
    m: Model, path: Path, window: tuple[float, float] | None = None, title: str | None = None
) -> Path | None:
    """Gantt chart of one night: each worker's tasks by stream, each child's wait and why."""
    if window is None:
        found = worst_night(m)
        if found is None:
            return None
        window = found[:2]
    t0, t1 = window
    names = m.stream_names
    colour = stream_colours(m)
    e_all = np.asarray(m.station_end)
    kids = [  # children whose station time overlaps the window
        j
        for j in range(m.n)
        if m.j_pp[j] and m.arrival[j] < t1 and (np.isnan(e_all[j]) or e_all[j] > t0)
    ]
    labels = _worker_labels(m)
    rows = len(m.workers) + len(kids)
    fig, ax = plt.subplots(figsize=(13, 1.4 + 0.6 * rows))
    office = _shade_office_hours(ax, m, t0, t1)
    used_streams: set[str] = set()
    used_states: set[str] = set()
    for y, w in enumerate(m.workers):
        for s, e in m.rosters[w.index]:
            if e > t0 and s < t1:
                style = (
                    {"facecolor": "none", "edgecolor": "0.45", "ls": ":", "lw": 1.2}
                    if w.on_call
                    else {"facecolor": "#DCEAF5", "edgecolor": "none"}
                )
                ax.barh(y, min(e, t1) - max(s, t0), left=max(s, t0), height=0.8, zorder=1, **style)
        for wi, f, to, jj in m.rec.busy:
            if int(wi) != w.index or to <= t0 or f >= t1:
                continue
            s = names[int(m.stream[int(jj)])]
            used_streams.add(s)
            ax.barh(y, to - f, left=f, height=0.55, color=colour[s], edgecolor="0.15", lw=0.5,
                    zorder=3)  # fmt: skip
            if min(to, t1) - max(f, t0) >= max(1.1, (t1 - t0) / 22):
                ax.text(max(f, t0) + 0.08, y, _short(s), va="center", ha="left", fontsize=8,
                        color=_text_colour(colour[s]), zorder=4, clip_on=True)  # fmt: skip
    states = {x[0]: x for x in (WAIT_WORKER, WAIT_BED, WAIT_DAY_TEAM)}
    kid_labels = []
    for k, j in enumerate(kids):
        y = len(m.workers) + k
        end = e_all[j] if not np.isnan(e_all[j]) else m.cal.hours
        for f, to, state in _child_segments(m, j, end):
            if to <= t0 or f >= t1:
                continue
            if state in colour:
                used_streams.add(state)
                kw = {"color": colour[state], "edgecolor": "0.15", "lw": 0.5}
            else:
                used_states.add(state)
                _, col, hatch = states[state]
                kw = {"facecolor": col, "hatch": hatch, "edgecolor": "0.35", "lw": 0.5}
            ax.barh(y, to - f, left=f, height=0.55, zorder=3, **kw)
        waited = end - m.arrival[j]
        if end <= t1:
            ax.plot([end, end], [y - 0.38, y + 0.38], color="black", lw=2.2, zorder=4)
            ax.text(end + 0.12, y, f"collected: {waited:.1f} h", va="center", fontsize=9,
                    fontweight="bold", zorder=4)  # fmt: skip
        else:
            still = "still waiting" if np.isnan(e_all[j]) else f"collected after {waited:.1f} h"
            ax.text(t1 - 0.1, y, f"{still} →", va="center", ha="right", fontsize=9,
                    fontweight="bold", zorder=5,
                    bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85})  # fmt: skip
        arr = m.cal.datetime_at(m.arrival[j]).strftime("%a %H:%M")
        kid_labels.append(f"child {k + 1} ({_short(names[int(m.stream[j])])}), in at {arr}")
    ax.set_yticks(range(rows))
    ax.set_yticklabels([*labels, *kid_labels], fontsize=9.5)
    ax.set_ylim(rows - 0.4, -0.6 - (0.5 if office else 0.0))
    if kids:
        ax.axhline(len(m.workers) - 0.5, color="0.3", lw=0.8)
    _clock_axis(ax, m, t0, t1)
    handles = [Patch(color=colour[s], label=_label(s)) for s in names if s in used_streams]
    handles += [Patch(facecolor=col, hatch=h, edgecolor="0.35", label=lab)
                for lab, col, h in states.values() if lab in used_states]  # fmt: skip
    handles.append(Patch(facecolor="#DCEAF5", label="worker on shift"))
    if any(w.on_call for w in m.workers):
        handles.append(Patch(facecolor="none", edgecolor="0.45", ls=":", label="on call"))
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.09 - 0.9 / (rows + 2)),
              ncol=5, fontsize=9, frameon=False)  # fmt: skip
    day = m.cal.datetime_at(t0).strftime("%a %d %b %Y")
    ax.set_title(
        title
        or f"{_label(m.sc.name)}: {day} from {m.cal.datetime_at(t0):%H:%M} — what the "
        "workers were doing while children waited for collection",
        fontsize=12,
    )
    fig.savefig(path, dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return path


def _worker_labels(m: Model) -> list[str]:
    counts: dict[int, int] = {}
    out = []
    for w in m.workers:
        counts[w.group] = counts.get(w.group, 0) + 1
        g = m.group_names[w.group]
        text = _label(g) + (f" {counts[w.group]}" if m.sc.staff[g].count > 1 else "")
        out.append(text + (" (on call)" if w.on_call else ""))
    return out


def _shade_office_hours(ax: plt.Axes, m: Model, t0: float, t1: float) -> bool:
    """Shade office hours (the day team's, not the EDT's); True if any fall in the window."""
    if m.cal.always:
        return False
    found = False
    edges = np.r_[t0, np.clip(m.cal.cover.ravel(), t0, t1), t1]
    for s, e in itertools.pairwise(edges):
        if e - s > 1e-9 and not bool(m.cal.is_covered((s + e) / 2)):
            found = True
            ax.axvspan(s, e, color="#EEEEEE", zorder=0)
            if e - s < (t1 - t0) / 8:
                continue  # too narrow to label
            ax.text((s + e) / 2, -0.85, "office hours (day team)", ha="center", va="center",
                    fontsize=8.5, color="0.35")  # fmt: skip
    return found


def _short(stream: str) -> str:
    return {
        "police_protection": "police prot.",
        "custody_transfer": "custody",
        "children_referral": "child phone",
        "children_visit": "child visit",
        "adults_referral": "adult phone",
        "adults_visit": "adult visit",
        "amhp": "AMHP",
    }.get(stream, _label(stream))


def _clock_axis(ax: plt.Axes, m: Model, t0: float, t1: float) -> None:
    step = 2.0 if t1 - t0 <= 30 else 4.0
    ticks = np.arange(math.ceil(t0 / step) * step, t1 + 1e-9, step)
    labels = []
    for t in ticks:
        d = m.cal.datetime_at(t)
        labels.append(d.strftime("%H:%M") + ("\n" + d.strftime("%a %d %b") if d.hour == 0 else ""))
    ax.set_xticks(ticks)
    ax.set_xticklabels(labels, fontsize=9)
    ax.set_xlim(t0, t1)
    ax.set_xlabel("clock time")
    ax.grid(axis="x", alpha=0.3, zorder=0)


def timeline_for(
    result: RunResult, path: Path, window: tuple[float, float] | None = None, replication: int = 0
) -> tuple[Path | None, tuple[float, float] | None]:
    """Re-run one replication keeping the model, and draw its worst night (or ``window``)."""
    rep = run_replication(result.scenario, result.seed, replication, keep_model=True)
    m = rep.model
    assert m is not None
    if window is None:
        found = worst_night(m)
        if found is None:
            return None, None
        window = found[:2]
    return night_timeline(m, path, window), window


# ---------------------------------------------------------------------------------- all
def comparison_figures(c: Comparison, folder: Path) -> list[Path]:
    """Every comparison figure; the timelines show the reference's worst night in each option."""
    made = [
        station_ecdf(c, folder / "station_hours_ecdf.png"),
        kpi_bars(c, folder / "headline_kpis.png"),
        station_by_hour(c, folder / "station_by_hour_of_week.png"),
    ]
    window = None
    for r in c.results:
        p, w = timeline_for(r, folder / f"timeline_{r.scenario.name}.png", window)
        window = window or w
        made.append(p)
    return [p for p in made if p is not None]
