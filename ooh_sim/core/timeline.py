"""The one-night timeline: what the workers did while children waited, recorded during the run.

The worst-night figure needs more than KPIs and job records: every busy spell of every worker,
the rosters, and when each child was placed or handed over. Re-running a replication to get them
would make a figure depend on the model, so the run keeps them instead — for replication 0 only,
as a compact :class:`RunTimeline` of the whole run (a few hundred kB for a simulated year): a
comparison draws every option on the night its FIRST scenario found worst, which is only known
once that scenario has run. :func:`night` cuts one window out of it as a :class:`NightTimeline`,
everything a figure draws, in hours since the horizon start.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from ooh_sim.core.calendar import Calendar
from ooh_sim.core.model import Model

MAX_WINDOW_HOURS = 60.0
"""A longer wait is shown as running on past the window's edge."""

# why a child was waiting in the station at a moment (otherwise a worker was on its job)
WAITING_FOR_WORKER = "waiting for a worker"
NO_PLACEMENT_FREE = "no placement free"
WAITING_FOR_DAY_TEAM = "waiting for the day team"
HELD_UNTIL_COURT = "held until court"  # a charged child no transfer was made for (custody)
WAIT_STATES = (WAITING_FOR_WORKER, NO_PLACEMENT_FREE, WAITING_FOR_DAY_TEAM, HELD_UNTIL_COURT)


@dataclass(frozen=True)
class RunTimeline:
    """What one replication leaves for timeline figures: its whole run, as numpy columns."""

    scenario_name: str
    calendar: Calendar
    warmup_hours: float
    stream_names: tuple[str, ...]
    police_streams: tuple[str, ...]
    worker_labels: tuple[str, ...]  # "edt 1", "manager (on call)" …
    worker_on_call: tuple[bool, ...]
    rosters: tuple[np.ndarray, ...]  # each worker's roster (on-call) windows, (k, 2) hours
    busy: np.ndarray  # (k, 4): worker, from, to, job — every busy spell, in booking order
    job_stream: np.ndarray  # each job's stream, by position in stream_names
    # the children in police stations (police protection and custody), in arrival order
    child_job: np.ndarray  # the child's job number
    child_arrival: np.ndarray
    child_station_end: np.ndarray  # NaN: still in the station at the horizon
    child_handover: np.ndarray  # NaN: never handed to the day team
    child_placed_at: np.ndarray  # NaN: no pool bed reserved
    child_none_free: np.ndarray  # no placement was free when one was requested
    child_held_since: np.ndarray | None = None  # custody: held in the cell for court from; NaN
    custody_streams: tuple[str, ...] = ()  # children charged and refused bail (PACE s38(6))


@dataclass(frozen=True)
class WorkerRow:
    label: str
    on_call: bool
    shifts: tuple[tuple[float, float], ...]  # roster windows that overlap the night (unclipped)
    tasks: tuple[tuple[float, float, str], ...]  # busy spells overlapping it: from, to, stream


@dataclass(frozen=True)
class ChildRow:
    stream: str
    arrival: float
    end: float  # left the station, or the horizon if still there
    collected: bool  # left the station before the horizon
    # contiguous pieces of the station time that overlap the night: from, to, and a stream name
    # (a worker on the child's job) or one of WAIT_STATES
    segments: tuple[tuple[float, float, str], ...]


@dataclass(frozen=True)
class NightTimeline:
    """Everything the one-night figure draws."""

    scenario_name: str
    calendar: Calendar  # clock times of the labels
    start: float
    end: float
    stream_names: tuple[str, ...]
    police_streams: tuple[str, ...]
    workers: tuple[WorkerRow, ...]
    children: tuple[ChildRow, ...]  # children whose station time overlaps the night
    office_hours: tuple[tuple[float, float], ...]  # the day team's hours within the night
    custody_streams: tuple[str, ...] = ()  # children charged and refused bail (PACE s38(6))


def record_timeline(model: Model) -> RunTimeline:
    """The finished model's timeline record (the run calls this for replication 0)."""
    scenario = model.scenario
    counts: dict[int, int] = {}
    labels = []
    for worker in model.workers:
        counts[worker.group] = counts.get(worker.group, 0) + 1
        group = model.group_names[worker.group]
        text = _label(group) + (
            f" {counts[worker.group]}" if scenario.staff[group].count > 1 else ""
        )
        labels.append(text + (" (on call)" if worker.on_call else ""))
    children = np.asarray(model.child_jobs, dtype=np.int64)
    return RunTimeline(
        scenario_name=scenario.name,
        calendar=model.calendar,
        warmup_hours=scenario.horizon.warmup_hours,
        stream_names=tuple(model.stream_names),
        police_streams=tuple(scenario.police_streams),
        worker_labels=tuple(labels),
        worker_on_call=tuple(w.on_call for w in model.workers),
        rosters=tuple(model.rosters),
        busy=model.records.busy_array(),
        job_stream=model.stream,
        child_job=children,
        child_arrival=model.arrival[children],
        child_station_end=np.asarray(model.station_end, dtype=float)[children],
        child_handover=np.asarray(model.handover, dtype=float)[children],
        child_placed_at=np.asarray(model.placed_at, dtype=float)[children],
        child_none_free=np.asarray(model.none_free, dtype=bool)[children],
        child_held_since=np.asarray(model.held_since, dtype=float)[children],
        custody_streams=tuple(scenario.custody_streams),
    )


def worst_night(timeline: RunTimeline) -> tuple[float, float, int] | None:
    """Window (from, to) around the measured child who waited longest, and that child's job.

    The window opens at 16:00 on the evening the child's night began (an arrival before 09:00
    belongs to the previous evening) but at most 8 hours before the child arrived, and at least
    an hour before; it runs for at least 20 hours and until 3 hours after the child is collected
    (at most 60 hours: longer waits are marked as running on past the edge).
    """
    arrival, end = timeline.child_arrival, timeline.child_station_end
    measured = (arrival >= timeline.warmup_hours) & ~np.isnan(end)
    if not measured.any():
        return None
    # a charged child held in the cell until court waits for the court, not for the workers:
    # the worst night is the worst wait of a child who needed them, if there was one
    held = _held_since(timeline)
    if (measured & np.isnan(held)).any():
        measured &= np.isnan(held)
    k = int(np.flatnonzero(measured)[np.argmax((end - arrival)[measured])])
    a, e = float(arrival[k]), float(end[k])
    evening = math.floor((a - 9.0) / 24.0) * 24.0 + 16.0
    t0 = min(max(evening, math.floor(a) - 8.0), math.floor(a) - 1.0)
    t1 = min(max(t0 + 20.0, math.ceil(e + 3.0)), t0 + MAX_WINDOW_HOURS)
    return t0, t1, int(timeline.child_job[k])


def night(timeline: RunTimeline, window: tuple[float, float] | None = None) -> NightTimeline | None:
    """One night of the run: ``window``, or the worst night (None if no child was collected)."""
    if window is None:
        found = worst_night(timeline)
        if found is None:
            return None
        window = found[:2]
    t0, t1 = window
    names = timeline.stream_names
    busy = timeline.busy
    workers = []
    for index, (label, on_call) in enumerate(
        zip(timeline.worker_labels, timeline.worker_on_call, strict=True)
    ):
        shifts = tuple((s, e) for s, e in timeline.rosters[index].tolist() if e > t0 and s < t1)
        tasks = tuple(
            (f, to, names[int(timeline.job_stream[int(job)])])
            for w, f, to, job in busy.tolist()
            if int(w) == index and not (to <= t0 or f >= t1)
        )
        workers.append(WorkerRow(label, on_call, shifts, tasks))
    children = []
    horizon = timeline.calendar.hours
    for k, job in enumerate(timeline.child_job.tolist()):
        a, e = float(timeline.child_arrival[k]), float(timeline.child_station_end[k])
        if not (a < t1 and (math.isnan(e) or e > t0)):
            continue
        end = e if not math.isnan(e) else horizon
        segments = tuple(
            s for s in _child_segments(timeline, k, job, end) if not (s[1] <= t0 or s[0] >= t1)
        )
        stream = names[int(timeline.job_stream[job])]
        children.append(ChildRow(stream, a, end, not math.isnan(e), segments))
    return NightTimeline(
        scenario_name=timeline.scenario_name,
        calendar=timeline.calendar,
        start=t0,
        end=t1,
        stream_names=names,
        police_streams=timeline.police_streams,
        workers=tuple(workers),
        children=tuple(children),
        office_hours=_office_hours(timeline.calendar, t0, t1),
        custody_streams=timeline.custody_streams,
    )


def _child_segments(
    timeline: RunTimeline, k: int, job: int, end: float
) -> list[tuple[float, float, str]]:
    """(from, to, state) pieces of child ``k``'s station time; state is a stream or a wait."""
    a = float(timeline.child_arrival[k])
    stream = timeline.stream_names[int(timeline.job_stream[job])]
    busy = timeline.busy
    mine = busy[busy[:, 3] == job]
    work = sorted((f, t) for _, f, t, _ in mine.tolist() if f < end)
    assess_end = work[0][1] if work else math.inf
    handover, placed = float(timeline.child_handover[k]), float(timeline.child_placed_at[k])
    h = handover if handover == handover else math.inf
    p = placed if placed == placed else math.inf
    none_free = bool(timeline.child_none_free[k])
    held = float(_held_since(timeline)[k])
    if held == held:  # held until court from then: the decision, a lapse or the handover
        h = min(h, held)
    out: list[tuple[float, float, str]] = []
    t = a
    for f, to in [*work, (end, end)]:
        if f > t:  # a gap: split it at the placement and at the handover
            cuts = sorted({t, f, *(c for c in (h, p) if t < c < f)})
            for g0, g1 in itertools.pairwise(cuts):
                if g0 >= h:
                    state = HELD_UNTIL_COURT if held == held else WAITING_FOR_DAY_TEAM
                elif none_free and g0 >= assess_end and g0 < p:
                    state = NO_PLACEMENT_FREE
                else:
                    state = WAITING_FOR_WORKER
                out.append((g0, g1, state))
        if to > f:
            out.append((f, min(to, end), stream))
        t = max(t, to)
    return [s for s in out if s[1] > s[0]]


def _held_since(timeline: RunTimeline) -> np.ndarray:
    if timeline.child_held_since is None:
        return np.full(len(timeline.child_job), np.nan)
    return timeline.child_held_since


def child_segments(timeline: RunTimeline, job: int) -> list[tuple[float, float, str]]:
    """Every piece of child ``job``'s station time (up to the horizon if still there)."""
    k = int(np.searchsorted(timeline.child_job, job))
    if k >= len(timeline.child_job) or timeline.child_job[k] != job:
        raise ValueError(f"job {job} is not a child's in a police station")
    e = float(timeline.child_station_end[k])
    return _child_segments(timeline, k, job, e if e == e else timeline.calendar.hours)


def _office_hours(calendar: Calendar, t0: float, t1: float) -> tuple[tuple[float, float], ...]:
    """The day team's hours (no EDT cover) within [t0, t1]."""
    if calendar.always:
        return ()
    edges = np.r_[t0, np.clip(calendar.cover.ravel(), t0, t1), t1]
    return tuple(
        (float(s), float(e))
        for s, e in itertools.pairwise(edges)
        if e - s > 1e-9 and not bool(calendar.is_covered((s + e) / 2))
    )


def _label(name: str) -> str:
    return name.replace("_", " ")
