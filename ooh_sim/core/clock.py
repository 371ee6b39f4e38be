"""Clock arithmetic below the scenario schema: times of day, weekdays, intervals, the standard week.

The schema validates clock fields and needs the standard week's cover to refuse a profile that
could never produce an arrival; the calendar and the scenario checks build on the same pieces.
Keeping them here (no import of the schema at run time) is what lets all three use them without an
import cycle.

Intervals are lists of (start, end) hours in plain Python, FOR SPEED: ``ooh-sim validate`` (the
schema and the scenario checks) then never imports numpy (~80 ms). They are few — a horizon's
cover and shifts — so nothing is lost; the model makes numpy arrays of them
(:mod:`ooh_sim.core.calendar`).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from ooh_sim.core.pairwise import pairwise_sum

if TYPE_CHECKING:
    from ooh_sim.core.schema import Arrivals, CalendarSpec, Roster

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEK_HOURS = 168
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_MONDAY = dt.date(2024, 1, 1)  # a Monday; the date itself does not matter with no holidays

Interval = tuple[float, float]


def parse_hhmm(text: str) -> float:
    """'17:30' → 17.5 hours after midnight."""
    m = _HHMM.match(text)
    if not m:
        raise ValueError(f"expected a time of day as HH:MM, got {text!r}")
    return int(m.group(1)) + int(m.group(2)) / 60


def merge_intervals(iv: Iterable[Sequence[float]]) -> list[Interval]:
    """Union of [start, end) intervals, sorted, touching ones joined."""
    out: list[list[float]] = []
    for s, e in sorted(iv, key=lambda p: p[0]):  # a stable sort: equal starts keep their order
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def clip_intervals(iv: Iterable[Sequence[float]], lo: float, hi: float) -> list[Interval]:
    """The parts of the intervals inside [lo, hi]; those left empty are dropped."""
    out: list[Interval] = []
    for s, e in iv:
        s, e = min(max(s, lo), hi), min(max(e, lo), hi)
        if e > s:
            out.append((s, e))
    return out


def office_intervals(
    spec: CalendarSpec, start: dt.date, days: int, hols: set[dt.date]
) -> list[Interval]:
    """Office hours of each working day from the day before ``start`` to after the horizon."""
    out: list[Interval] = []
    open_h, close_h = parse_hhmm(spec.weekday_end), parse_hhmm(spec.weekday_start)
    fri_close = parse_hhmm(spec.friday_start) if spec.friday_start else close_h
    for i in range(-1, days + 2):
        d = start + dt.timedelta(days=i)
        if d.weekday() < 5 and d not in hols:
            close = fri_close if d.weekday() == 4 else close_h
            out.append((24.0 * i + open_h, 24.0 * i + close))
    return out


def cover_windows(
    spec: CalendarSpec, start: dt.date, days: int, hols: set[dt.date], hours: float
) -> list[Interval]:
    """Cover windows in [0, ``hours``] (t = 0 at 00:00 on ``start``): everything that is not
    office hours on a working day, or every hour with ``cover: always``."""
    if spec.cover == "always":
        return [(0.0, hours)]
    office = merge_intervals(office_intervals(spec, start, days, hols))
    edges = [-math.inf, *(t for pair in office for t in pair), math.inf]
    return clip_intervals(zip(edges[::2], edges[1::2], strict=True), 0.0, hours)


def roster_windows(
    roster: Roster, cover: Sequence[Interval], start_weekday: int, hours: float
) -> list[Interval]:
    """On-shift windows of one worker in [0, ``hours``], given the cover windows and the weekday
    of t = 0 (Monday 0)."""
    if roster == "cover":
        return list(cover)
    if roster == "always":
        return [(0.0, hours)]
    out: list[Interval] = []
    days = math.ceil(hours / 24)
    for shift in roster:
        s, e = parse_hhmm(shift.start), parse_hhmm(shift.end)
        if e <= s:
            e += 24.0
        wanted = {WEEKDAYS.index(d) for d in shift.days}
        for i in range(-1, days + 1):
            if (start_weekday + i) % 7 in wanted:
                out.append((24.0 * i + s, 24.0 * i + e))
    return clip_intervals(merge_intervals(out), 0.0, hours)


def standard_week(spec: CalendarSpec) -> list[Interval]:
    """Cover windows of a standard week: Monday 00:00 to Sunday 24:00, no bank holidays."""
    return cover_windows(spec, _MONDAY, 7, set(), float(WEEK_HOURS))


def standard_week_cover(spec: CalendarSpec) -> list[float]:
    """Covered fraction of each of the 168 hours of a standard week (no bank holidays).

    Used to scale arrival profiles so that a standard week integrates to ``per_week``, and by the
    scenario schema to refuse a profile with no weight in cover: so it lives here, below the
    schema, and reads only the spec's clock fields.
    """
    frac = [0.0] * WEEK_HOURS
    for s, e in standard_week(spec):
        for h in range(math.floor(s), math.ceil(e)):
            frac[h] += max(0.0, min(e, h + 1) - max(s, h))
    return frac


def weight_in_cover(weights: Sequence[float], cover: Sequence[float]) -> float:
    """Σ weight × covered fraction over the 168 hours, added in numpy's order: it scales the
    model's rates, which must not move by a bit whether numpy is loaded or not."""
    return pairwise_sum([w * c for w, c in zip(weights, cover, strict=True)])


def scale_factor(arr: Arrivals, spec: CalendarSpec, cover: Sequence[float] | None = None) -> float:
    """k such that a standard week (no bank holidays) integrates to ``per_week``; ``cover``:
    :func:`standard_week_cover` of ``spec`` when the caller has it already."""
    cover = standard_week_cover(spec) if cover is None else cover
    mass = weight_in_cover(arr.profile.hour_of_week_weights(), cover)
    if arr.per_week == 0:
        return 0.0
    if mass <= 0:
        raise ValueError("the arrival profile has no weight inside cover hours")
    return arr.per_week / mass
