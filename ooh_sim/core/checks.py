"""Warnings for scenarios that are legal but probably not what the planner meant.

An error stops a run; a warning does not, because each of these can be intended (a stream left to
the day team, a peak the team cannot absorb, a skill kept for a later variant). They are worked
out on a **standard week** (Monday 00:00 to Sunday 24:00, no bank holidays) at one-minute
resolution, from the arrival profile, the cover windows and the rosters — no simulation runs.

Approximations (said here so the messages can stay short):

* *Offered work* per hour is expected arrivals × the mean work per job: the ``duration`` mean,
  plus the placement ``search`` and ``transport`` means for a child in a police station. Waiting
  for a placement, preemption, overtime and handover are ignored.
* *Capacity* per hour is worker-hours on shift of rostered (not on-call) staff. Because workers
  share skills, it is checked for every set of skills S (up to ``MAX_SUBSET_SKILLS`` skills in
  use): work of the streams needing a skill in S against the workers having any skill in S. The
  worst set is the bottleneck (Hall's condition for a flexible-server fluid model).
"""

from __future__ import annotations

import datetime as dt
import itertools
import warnings

import numpy as np

from ooh_sim.core.arrivals import scale_factor
from ooh_sim.core.calendar import build_calendar, roster_intervals
from ooh_sim.core.clock import WEEKDAYS
from ooh_sim.core.errors import ScenarioWarning, did_you_mean
from ooh_sim.core.schema import Horizon, Scenario, Stream

MINUTES = 7 * 24 * 60
MAX_SUBSET_SKILLS = 10
"""With more skills in use than this, only single skills and all skills together are checked."""
_MONDAY = dt.date(2024, 1, 1)


def _minute_mask(intervals: np.ndarray) -> np.ndarray:
    """1.0 in each minute of the week covered by the [start, end) hour intervals."""
    mask = np.zeros(MINUTES)
    for s, e in np.asarray(intervals, dtype=float).reshape(-1, 2):
        mask[round(s * 60) : round(e * 60)] = 1.0
    return mask


def _when(minute: int) -> str:
    day, rest = divmod(int(minute) % MINUTES, 1440)
    return f"{WEEKDAYS[day].capitalize()} {rest // 60:02d}:{rest % 60:02d}"


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) minute ranges where ``mask`` is true."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def _ranges_text(runs: list[tuple[int, int]], most: int = 3) -> str:
    shown = []
    for a, b in runs[:most]:
        same_day = a // 1440 == (b - 1) // 1440
        shown.append(f"{_when(a)}–{_when(b)[4:] if same_day else _when(b)}")
    return ", ".join(shown) + (f" and {len(runs) - most} more" if len(runs) > most else "")


def work_per_job(scenario: Scenario, stream: Stream) -> float:
    """Mean worker-hours one job of ``stream`` needs (placement waits left out)."""
    work = stream.duration.mean
    if stream.kind == "police_protection":
        work += scenario.placements.search.mean + stream.transport_dist.mean
    return work


def warnings_for(scenario: Scenario) -> list[str]:
    """Plain-text warnings, each led by the key path it concerns; empty when nothing is odd."""
    sc = scenario
    out: list[str] = []
    spec = sc.calendar.model_copy(update={"bank_holidays": "none"})
    week = build_calendar(Horizon(start=_MONDAY, days=7), spec)

    # arrivals per minute and work per minute, by stream
    hour = np.arange(MINUTES) // 60
    cover = _minute_mask(week.cover)
    rate: dict[str, np.ndarray] = {}
    for name, st in sc.streams.items():
        if st.arrivals.per_week <= 0:
            out.append(f"streams.{name}.arrivals.per_week: is 0, so no {name} jobs arrive")
            continue
        weights = np.asarray(st.arrivals.profile.hour_of_week_weights())
        k = scale_factor(st.arrivals, sc.calendar)
        rate[name] = k * weights[hour] * cover / 60.0

    # worker-hours on shift per minute, by group (rostered staff only: on-call work when called)
    on: dict[str, np.ndarray] = {
        g: grp.count * _minute_mask(roster_intervals(grp.roster, week)) / 60.0
        for g, grp in sc.staff.items()
        if not grp.on_call
    }

    needed = {st.skill for st in sc.streams.values()}
    for g, grp in sc.staff.items():
        unused = [s for s in grp.skills if s not in needed]
        if len(unused) == len(grp.skills):
            guess = next((x for s in unused if (x := did_you_mean(s, needed))), None)
            todo = (f"did you mean {guess!r}?" if guess else "fine if intended (e.g. venue "
                    "supervisors); otherwise give a stream that skill")  # fmt: skip
            out.append(
                f"staff.{g}.skills: no stream needs {', '.join(unused)}, so this group takes no "
                f"jobs from the queue (it is still rostered and costed) — {todo}"
            )

    # streams that arrive when nobody rostered with their skill is on shift
    for name, r in rate.items():
        st = sc.streams[name]
        cap = sum((on[g] for g, grp in sc.staff.items() if g in on and st.skill in grp.skills),
                  np.zeros(MINUTES))  # fmt: skip
        gap = (r > 0) & (cap <= 0)
        if not gap.any():
            continue
        share = float(r[gap].sum() / r.sum())
        on_call = [g for g, grp in sc.staff.items() if grp.on_call and st.skill in grp.skills]
        fate = (f"wait for an on-call callout ({', '.join(on_call)}) or pass to the day team"
                if on_call else "wait, or pass to the day team at cover end")  # fmt: skip
        where = f"streams.{name}.skill"
        if share > 1 - 1e-9:
            out.append(
                f"{where}: no rostered worker with skill {st.skill!r} is ever on shift when "
                f"{name} jobs arrive; they will {fate}"
            )
        else:
            out.append(
                f"{where}: {share:.0%} of {name} jobs arrive when no rostered worker with skill "
                f"{st.skill!r} is on shift ({_ranges_text(_runs(gap))} in a standard week); "
                f"they will {fate}"
            )

    out.extend(_overload(sc, rate, on))
    out.extend(_beds(sc))
    return out


def _beds(sc: Scenario) -> list[str]:
    """Bed demand ≥ capacity: children needing a placement a week (police-protection arrivals
    plus other demand) × the mean stay, against the beds × 7 bed-days a week. At or above 1 the
    children needing a bed wait in stations until the day team takes over at the end of cover."""
    pl = sc.placements
    if not pl.capacity:  # unlimited, or none at all (every child then waits for the day team)
        return []
    children = sum(st.arrivals.per_week for st in sc.streams.values()
                   if st.kind == "police_protection")  # fmt: skip
    demand = (children + pl.other_demand_per_week) * pl.stay_days.mean
    if demand <= 0:
        return []
    supply = pl.capacity * 7.0
    if demand < supply:
        return []
    return [
        f"placements.capacity: children's bed demand is {demand:.1f} bed-days a week "
        f"({children + pl.other_demand_per_week:g} children a week, {children:g} from police "
        f"stations, × {pl.stay_days.mean:.2g} days' mean stay) for {supply:.0f} bed-days of "
        f"{pl.capacity} bed{'s' if pl.capacity != 1 else ''} (load {demand / supply:.2f} ≥ 1): "
        "beds never catch up, so most children needing a placement will wait in police stations "
        "until the day team takes over at the end of cover"
    ]


def _overload(sc: Scenario, rate: dict[str, np.ndarray], on: dict[str, np.ndarray]) -> list[str]:
    """Offered utilisation ≥ 1 in some hour: per hour, the worst set of skills (see module doc)."""
    if not rate or not on:
        return []
    skills = sorted({sc.streams[n].skill for n in rate})
    by_hour = lambda x: x.reshape(168, 60).sum(axis=1)  # noqa: E731
    work = {s: np.zeros(168) for s in skills}
    for n, r in rate.items():
        st = sc.streams[n]
        work[st.skill] += by_hour(r) * work_per_job(sc, st)
    cap_of = {g: by_hour(v) for g, v in on.items()}
    if len(skills) <= MAX_SUBSET_SKILLS:
        subsets = [c for k in range(1, len(skills) + 1) for c in itertools.combinations(skills, k)]
    else:
        subsets = [(s,) for s in skills] + [tuple(skills)]
    worst = np.zeros(168)
    worst_set = np.full(168, -1)
    loads, caps = [], []
    for i, S in enumerate(subsets):
        load = sum((work[s] for s in S), np.zeros(168))
        cap = sum((cap_of[g] for g in cap_of if set(sc.staff[g].skills) & set(S)), np.zeros(168))
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(cap > 0, load / np.where(cap > 0, cap, 1.0), 0.0)
        better = ratio > worst + 1e-12  # ties keep the smaller (earlier) set
        worst = np.where(better, ratio, worst)
        worst_set = np.where(better, i, worst_set)
        loads.append(load)
        caps.append(cap)
    out = []
    for i in sorted(set(worst_set[worst >= 1.0].tolist())):
        hours = np.flatnonzero((worst >= 1.0) & (worst_set == i))
        h = int(hours[np.argmax(worst[hours])])
        S, load, cap = subsets[i], loads[i], caps[i]
        week_avg = load.sum() / cap.sum() if cap.sum() > 0 else np.inf
        names = ", ".join(S)
        out.append(
            f"streams: offered utilisation of skill{'s' if len(S) > 1 else ''} {names} is ≥ 1 in "
            f"{len(hours)} hour{'s' if len(hours) > 1 else ''} of a standard week (worst "
            f"{_when(h * 60)}: {load[h]:.2f} worker-hours of work arrive for {cap[h]:.2f} on "
            f"shift; {week_avg:.2f} over the week) — queues will build at those hours"
            + ("; more work arrives over the week than can be done" if week_avg >= 1 else "")
        )
    return out


def warn_if_odd(scenario: Scenario, stacklevel: int = 3) -> list[str]:
    """Each of :func:`warnings_for` through ``warnings.warn`` (a :class:`ScenarioWarning`, named
    by scenario): the library never prints. Returns them (summary.json records them too)."""
    found = warnings_for(scenario)
    for text in found:
        warnings.warn(f"{scenario.name}: {text}", ScenarioWarning, stacklevel=stacklevel)
    return found


__all__ = ["MAX_SUBSET_SKILLS", "warn_if_odd", "warnings_for", "work_per_job"]
