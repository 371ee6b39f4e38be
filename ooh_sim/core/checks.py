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

Plain Python, FOR SPEED: ``ooh-sim validate`` runs these checks and never imports numpy (~80 ms).
Sums are added in numpy's order (:mod:`ooh_sim.core.pairwise`), so every figure and threshold is
to the last bit what the same sums over numpy arrays give.
"""

from __future__ import annotations

import itertools
import math
import operator
import warnings
from collections.abc import Iterable

from ooh_sim.core.clock import (
    WEEK_HOURS,
    WEEKDAYS,
    Interval,
    roster_windows,
    scale_factor,
    standard_week,
    standard_week_cover,
)
from ooh_sim.core.errors import ScenarioWarning, did_you_mean
from ooh_sim.core.pairwise import pairwise_sum
from ooh_sim.core.schema import Scenario, Stream

MINUTES = 7 * 24 * 60
MAX_SUBSET_SKILLS = 10
"""With more skills in use than this, only single skills and all skills together are checked."""

Series = list[float]
"""One number per minute (``MINUTES``) or per hour (``WEEK_HOURS``) of the standard week."""


def _minute_mask(intervals: Iterable[Interval]) -> Series:
    """1.0 in each minute of the week covered by the [start, end) hour intervals."""
    mask = [0.0] * MINUTES
    for s, e in intervals:
        a, b = max(0, round(s * 60)), min(MINUTES, round(e * 60))
        if b > a:
            mask[a:b] = [1.0] * (b - a)
    return mask


def _per_minute(hourly: Iterable[float], mask: Series) -> Series:
    """``hourly[h] * mask[m] / 60.0`` in each minute m of each hour h, for a 0/1 ``mask``. Each
    hour's two values are worked out once (the same arithmetic as minute by minute), and whole
    hours are filled at once, FOR SPEED."""
    out: Series = []
    for h, x in enumerate(hourly):
        chunk = mask[60 * h : 60 * h + 60]
        on, off = x * 1.0 / 60.0, x * 0.0 / 60.0
        covered = chunk.count(1.0)
        if covered == 60:
            out += [on] * 60
        elif covered == 0:
            out += [off] * 60
        else:
            out += [on if c else off for c in chunk]
    return out


def _plus(x: Series, y: Series) -> Series:
    return list(map(operator.add, x, y))


def _total(series: Iterable[Series], n: int) -> Series:
    """Element-wise sum from zeros, in the order given (numpy's order when it added arrays)."""
    total = [0.0] * n
    for x in series:
        total = _plus(total, x)
    return total


def _by_hour(x: Series) -> Series:
    """Hourly totals of a per-minute series, added as numpy's ``reshape(168, 60).sum(axis=1)``."""
    return [pairwise_sum(x[i : i + 60]) for i in range(0, MINUTES, 60)]


def _unstaffed_hours(staffed: Series) -> list[int]:
    """First minutes of the hours in which ``staffed`` is 0 at some minute."""
    return [a for a in range(0, MINUTES, 60) if staffed[a : a + 60].count(1.0) < 60]


def _gaps(rate: Series, staffed: Series, hours: list[int]) -> list[tuple[int, int]]:
    """[start, end) runs of the minutes with arrivals (``rate > 0``) but nobody on shift
    (``staffed`` 0), looked for in ``hours`` (:func:`_unstaffed_hours`). An hour is taken whole
    where it can be, FOR SPEED (the tests on its 60 minutes run in C)."""
    runs: list[list[int]] = []

    def add(start: int, end: int) -> None:
        if runs and runs[-1][1] == start:
            runs[-1][1] = end
        else:
            runs.append([start, end])

    for a in hours:
        arriving = list(map((0.0).__lt__, rate[a : a + 60]))  # rate > 0, minute by minute
        if not any(arriving):
            continue
        if all(arriving) and not any(staffed[a : a + 60]):
            add(a, a + 60)
            continue
        for i, yes in enumerate(arriving):
            if yes and not staffed[a + i]:
                add(a + i, a + i + 1)
    return [(start, end) for start, end in runs]


def _when(minute: int) -> str:
    day, rest = divmod(int(minute) % MINUTES, 1440)
    return f"{WEEKDAYS[day].capitalize()} {rest // 60:02d}:{rest % 60:02d}"


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
    week = standard_week(sc.calendar)
    hour_cover = standard_week_cover(sc.calendar)  # once, FOR SPEED (not once per stream)

    # arrivals per minute and work per minute, by stream
    cover = _minute_mask(week)
    rate: dict[str, Series] = {}
    for name, st in sc.streams.items():
        if st.arrivals.per_week <= 0:
            out.append(f"streams.{name}.arrivals.per_week: is 0, so no {name} jobs arrive")
            continue
        k = scale_factor(st.arrivals, sc.calendar, hour_cover)
        rate[name] = _per_minute((k * w for w in st.arrivals.profile.hour_of_week_weights()), cover)

    # worker-hours on shift per minute, by group (rostered staff only: on-call work when called)
    shifts = {
        g: roster_windows(grp.roster, week, start_weekday=0, hours=float(WEEK_HOURS))
        for g, grp in sc.staff.items()
        if not grp.on_call
    }
    on = {g: _per_minute([sc.staff[g].count] * WEEK_HOURS, _minute_mask(w))
          for g, w in shifts.items()}  # fmt: skip

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
    staffed: dict[str, tuple[Series, list[int]]] = {}  # by skill: mask, hours not all staffed
    for name, r in rate.items():
        st = sc.streams[name]
        if st.skill not in staffed:
            mask = _minute_mask(
                w for g, grp in sc.staff.items()
                if g in shifts and grp.count and st.skill in grp.skills for w in shifts[g]
            )  # fmt: skip
            staffed[st.skill] = mask, _unstaffed_hours(mask)
        gaps = _gaps(r, *staffed[st.skill])
        if not gaps:
            continue
        share = pairwise_sum([x for a, b in gaps for x in r[a:b]]) / pairwise_sum(r)
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
                f"{st.skill!r} is on shift ({_ranges_text(gaps)} in a standard week); "
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


def _overload(sc: Scenario, rate: dict[str, Series], on: dict[str, Series]) -> list[str]:
    """Offered utilisation ≥ 1 in some hour: per hour, the worst set of skills (see module doc)."""
    if not rate or not on:
        return []
    skills = sorted({sc.streams[n].skill for n in rate})
    work = {s: [0.0] * WEEK_HOURS for s in skills}
    for n, r in rate.items():
        st = sc.streams[n]
        per_job = work_per_job(sc, st)
        work[st.skill] = _plus(work[st.skill], [x * per_job for x in _by_hour(r)])
    cap_of = {g: _by_hour(v) for g, v in on.items()}
    if len(skills) <= MAX_SUBSET_SKILLS:
        subsets = [c for k in range(1, len(skills) + 1) for c in itertools.combinations(skills, k)]
    else:
        subsets = [(s,) for s in skills] + [tuple(skills)]
    # a set's work: its skills' work added in the set's order from zeros; FOR SPEED (up to 2^10
    # sets) each set's sum extends the one of the set without its last skill: the same additions
    loads: dict[tuple[str, ...], Series] = {(): [0.0] * WEEK_HOURS}

    def load_of(skill_set: tuple[str, ...]) -> Series:
        k = len(skill_set)
        while skill_set[:k] not in loads:
            k -= 1
        for j in range(k, len(skill_set)):
            loads[skill_set[: j + 1]] = _plus(loads[skill_set[:j]], work[skill_set[j]])
        return loads[skill_set]

    cap_by_groups: dict[tuple[str, ...], Series] = {}  # many sets share their groups
    worst = [0.0] * WEEK_HOURS
    worst_set = [-1] * WEEK_HOURS
    caps = []
    for i, S in enumerate(subsets):
        load = load_of(S)
        groups = tuple(g for g in cap_of if set(sc.staff[g].skills) & set(S))
        if groups not in cap_by_groups:
            cap_by_groups[groups] = _total((cap_of[g] for g in groups), WEEK_HOURS)
        cap = cap_by_groups[groups]
        for h, (w, c) in enumerate(zip(load, cap, strict=True)):
            ratio = w / c if c > 0 else 0.0
            if ratio > worst[h] + 1e-12:  # ties keep the smaller (earlier) set
                worst[h], worst_set[h] = ratio, i
        caps.append(cap)
    out = []
    over = [h for h in range(WEEK_HOURS) if worst[h] >= 1.0]
    for i in sorted({worst_set[h] for h in over}):
        hours = [h for h in over if worst_set[h] == i]
        h = max(hours, key=worst.__getitem__)  # the first of the worst
        S, load, cap = subsets[i], load_of(subsets[i]), caps[i]
        cap_week = pairwise_sum(cap)
        week_avg = pairwise_sum(load) / cap_week if cap_week > 0 else math.inf
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
