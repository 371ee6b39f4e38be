"""The one-night timeline: each worker's tasks by stream, each child's wait and why.

Drawn from the :class:`~ooh_sim.core.timeline.NightTimeline` that core cuts from the timeline
record replication 0 kept during the run (:attr:`RunResult.timeline`): the figure never re-runs
the model.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.transforms import ScaledTranslation

from ooh_sim.core.timeline import (
    HELD_UNTIL_COURT,
    NO_PLACEMENT_FREE,
    WAITING_FOR_DAY_TEAM,
    WAITING_FOR_WORKER,
    NightTimeline,
    night,
)
from ooh_sim.viz.style import PALETTE, SAVE_DPI, axes, grow_to_fit

if TYPE_CHECKING:
    from ooh_sim.core.runner import RunResult  # a type only: viz never runs the model

# how a child's wait is drawn: (label, face colour, hatch)
WAIT_STYLE = {
    WAITING_FOR_WORKER: (WAITING_FOR_WORKER, "#BBBBBB", None),
    NO_PLACEMENT_FREE: (NO_PLACEMENT_FREE, "white", "////"),
    WAITING_FOR_DAY_TEAM: (WAITING_FOR_DAY_TEAM, "#DDDDDD", ".."),
    HELD_UNTIL_COURT: (HELD_UNTIL_COURT, "#DDDDDD", "xx"),
}
SHORT_NAMES = {
    "police_protection": "police prot.",
    "custody_transfer": "custody",
    "children_referral": "child phone",
    "children_visit": "child visit",
    "adults_referral": "adult phone",
    "adults_visit": "adult visit",
    "amhp": "AMHP",
}


def _label(name: str) -> str:
    return name.replace("_", " ")


def _short(stream: str) -> str:
    return SHORT_NAMES.get(stream, _label(stream))


def stream_colours(
    stream_names: tuple[str, ...] | list[str], police_streams: tuple[str, ...] | list[str]
) -> dict[str, str]:
    """Children-in-station streams in warm colours (vermillion, orange), other work in the rest."""
    warm = [PALETTE[3], PALETTE[1]]
    rest = [PALETTE[0], PALETTE[5], PALETTE[2], PALETTE[6], PALETTE[4], PALETTE[7]]
    out: dict[str, str] = {}
    police = set(police_streams)
    for name in stream_names:
        pool = warm if name in police and warm else rest
        if not pool:
            pool = rest = list(PALETTE)
        out[name] = pool.pop(0)
    return out


def _text_colour(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.55 else "white"


def night_timeline(tl: NightTimeline, ax: Axes | None = None, title: str | None = None) -> Figure:
    """Gantt chart of one night: each worker's tasks by stream, each child's wait and why."""
    t0, t1 = tl.start, tl.end
    names = tl.stream_names
    colour = stream_colours(names, (*tl.police_streams, *tl.custody_streams))
    n_workers = len(tl.workers)
    rows = n_workers + len(tl.children)
    own = ax is None
    fig, ax = axes(ax, (13, 1.4 + 0.6 * rows), dpi=SAVE_DPI)  # its layout is measured
    office = _shade_office_hours(ax, tl)
    used_streams: set[str] = set()
    used_states: set[str] = set()
    # each worker's shifts and tasks one artist a row (broken_barh), not a patch a bar, FOR
    # SPEED: a night has dozens of tasks, and a patch costs a millisecond to make and to draw
    for y, worker in enumerate(tl.workers):
        style = (
            {"facecolor": "none", "edgecolor": "0.45", "ls": ":", "lw": 1.2}
            if worker.on_call
            else {"facecolor": "#DCEAF5", "edgecolor": "none"}
        )
        ax.broken_barh([(max(s, t0), min(e, t1) - max(s, t0)) for s, e in worker.shifts],
                       (y - 0.4, 0.8), zorder=1, **style)  # fmt: skip
        if worker.tasks:
            ax.broken_barh([(f, to - f) for f, to, _ in worker.tasks], (y - 0.275, 0.55),
                           facecolor=[colour[s] for _, _, s in worker.tasks], edgecolor="0.15",
                           lw=0.5, zorder=3)  # fmt: skip
        for f, to, s in worker.tasks:
            used_streams.add(s)
            if min(to, t1) - max(f, t0) >= max(1.1, (t1 - t0) / 22):
                ax.text(max(f, t0) + 0.08, y, _short(s), va="center", ha="left", fontsize=8,
                        color=_text_colour(colour[s]), zorder=4, clip_on=True)  # fmt: skip
    kid_labels = []
    for k, child in enumerate(tl.children):
        y = n_workers + k
        for f, to, state in child.segments:
            if state in colour:
                used_streams.add(state)
                kw = {"facecolor": colour[state], "edgecolor": "0.15", "lw": 0.5}
            else:
                used_states.add(state)
                _, col, hatch = WAIT_STYLE[state]
                kw = {"facecolor": col, "hatch": hatch, "edgecolor": "0.35", "lw": 0.5}
            ax.broken_barh([(f, to - f)], (y - 0.275, 0.55), zorder=3, **kw)
        end = child.end
        waited = end - child.arrival
        court = bool(child.segments) and child.segments[-1][2] == HELD_UNTIL_COURT
        left = "to court" if court else "collected"
        if end <= t1:
            ax.plot([end, end], [y - 0.38, y + 0.38], color="black", lw=2.2, zorder=4)
            ax.text(end + 0.12, y, f"{left}: {waited:.1f} h", va="center", fontsize=9,
                    fontweight="bold", zorder=4)  # fmt: skip
        else:
            still = f"{left} after {waited:.1f} h" if child.collected else "still waiting"
            ax.text(t1 - 0.1, y, f"{still} →", va="center", ha="right", fontsize=9,
                    fontweight="bold", zorder=5,
                    bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85})  # fmt: skip
        arrived = tl.calendar.datetime_at(child.arrival).strftime("%a %H:%M")
        kid_labels.append(f"child {k + 1} ({_short(child.stream)}), in at {arrived}")
    ax.set_yticks(range(rows))
    ax.set_yticklabels([*(w.label for w in tl.workers), *kid_labels], fontsize=9.5)
    ax.set_ylim(rows - 0.4, -0.6 - (0.5 if office else 0.0))
    if tl.children:
        ax.axhline(n_workers - 0.5, color="0.3", lw=0.8)
    _clock_axis(ax, tl)
    handles = [Patch(color=colour[s], label=_label(s)) for s in names if s in used_streams]
    handles += [Patch(facecolor=col, hatch=h, edgecolor="0.35", label=lab)
                for lab, col, h in WAIT_STYLE.values() if lab in used_states]  # fmt: skip
    handles.append(Patch(facecolor="#DCEAF5", label="worker on shift"))
    if any(w.on_call for w in tl.workers):
        handles.append(Patch(facecolor="none", edgecolor="0.45", ls=":", label="on call"))
    # the legend sits a fixed distance under the clock labels, whatever the axes' height, so
    # that a saver's tight_layout keeps it there
    below = (ax.bbox.y0 - ax.xaxis.get_tightbbox(fig.canvas.get_renderer()).y0) / fig.dpi
    under_labels = ax.transAxes + ScaledTranslation(0, -below - 0.12, fig.dpi_scale_trans)
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0),
              bbox_transform=under_labels, borderaxespad=0, ncol=5, fontsize=9,
              frameon=False)  # fmt: skip
    start = tl.calendar.datetime_at(t0)
    ax.set_title(
        title
        or f"{_label(tl.scenario_name)}: {start:%a %d %b %Y} from {start:%H:%M} — what the "
        "workers were doing while children waited for collection",
        fontsize=12,
    )
    if own:
        grow_to_fit(fig)  # the legend sits below the axes: make room for it on the canvas
    return fig


def worst_night_figure(result: RunResult, ax: Axes | None = None) -> Figure | None:
    """Replication 0's worst night (None if it kept no timeline or no child was collected)."""
    record = result.timeline
    found = None if record is None else night(record)
    return None if found is None else night_timeline(found, ax)


def _shade_office_hours(ax: Axes, tl: NightTimeline) -> bool:
    """Shade office hours (the day team's, not the EDT's); True if any fall in the window."""
    t0, t1 = tl.start, tl.end
    for s, e in tl.office_hours:
        ax.axvspan(s, e, color="#EEEEEE", zorder=0)
        if e - s < (t1 - t0) / 8:
            continue  # too narrow to label
        ax.text((s + e) / 2, -0.85, "office hours (day team)", ha="center", va="center",
                fontsize=8.5, color="0.35")  # fmt: skip
    return bool(tl.office_hours)


def _clock_axis(ax: Axes, tl: NightTimeline) -> None:
    t0, t1 = tl.start, tl.end
    step = 2.0 if t1 - t0 <= 30 else 4.0
    ticks = np.arange(math.ceil(t0 / step) * step, t1 + 1e-9, step)
    labels = []
    for t in ticks:
        d = tl.calendar.datetime_at(t)
        labels.append(d.strftime("%H:%M") + ("\n" + d.strftime("%a %d %b") if d.hour == 0 else ""))
    ax.set_xticks(ticks)
    ax.set_xticklabels(labels, fontsize=9)
    ax.set_xlim(t0, t1)
    ax.set_xlabel("clock time")
    ax.grid(axis="x", alpha=0.3, zorder=0)
