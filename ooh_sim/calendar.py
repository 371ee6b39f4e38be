"""Cover windows, rosters and the mapping between simulation hours and real dates.

t = 0 is 00:00 on ``horizon.start``; time is in hours, local clock time with no DST shifts.
Cover is everything that is not office hours on a working day: that single rule gives the
usual pattern (Mon–Thu 17:00 → 09:00, Fri 17:00 → Mon 09:00, bank holidays all day) without
special cases for weekends or holidays.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property

import holidays
import numpy as np

from .schema import WEEKDAYS, CalendarSpec, Horizon, Roster, parse_hhmm

_SUBDIV = {"england": "ENG", "wales": "WLS", "scotland": "SCT", "northern_ireland": "NIR"}


def bank_holidays(spec: CalendarSpec, first: dt.date, last: dt.date) -> set[dt.date]:
    """Bank holidays between two dates, from the ``holidays`` package or the explicit list."""
    if isinstance(spec.bank_holidays, list):
        return set(spec.bank_holidays)
    if spec.bank_holidays == "none":
        return set()
    years = range(first.year, last.year + 1)
    cal = holidays.country_holidays("GB", subdiv=_SUBDIV[spec.bank_holidays], years=years)
    return {d for d in cal if first <= d <= last}


def merge_intervals(iv: np.ndarray) -> np.ndarray:
    """Union of [start, end) intervals, sorted, touching ones joined."""
    if len(iv) == 0:
        return np.zeros((0, 2))
    iv = iv[np.argsort(iv[:, 0], kind="stable")]
    out = [list(iv[0])]
    for s, e in iv[1:]:
        if s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return np.asarray(out, dtype=float)


def clip_intervals(iv: np.ndarray, lo: float, hi: float) -> np.ndarray:
    iv = np.clip(np.asarray(iv, dtype=float).reshape(-1, 2), lo, hi)
    return iv[iv[:, 1] > iv[:, 0]]


def total_length(iv: np.ndarray, lo: float = -np.inf, hi: float = np.inf) -> float:
    c = clip_intervals(iv, lo, hi)
    return float((c[:, 1] - c[:, 0]).sum())


@dataclass(frozen=True)
class Calendar:
    """The horizon's cover windows and clock arithmetic."""

    start: dt.date
    hours: float
    cover: np.ndarray  # (k, 2) disjoint [start, end) windows within [0, hours]
    always: bool
    holidays: frozenset[dt.date]

    @property
    def start_weekday(self) -> int:
        return self.start.weekday()

    def datetime_at(self, t: float) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time()) + dt.timedelta(hours=float(t))

    def hour_of_week(self, t: np.ndarray | float) -> np.ndarray:
        """0..167, Monday 00:00 = 0, for each time."""
        return ((self.start_weekday * 24 + np.floor(t)) % 168).astype(int)

    def is_covered(self, t: np.ndarray | float) -> np.ndarray:
        idx = np.searchsorted(self.cover[:, 0], t, side="right") - 1
        ok = idx >= 0
        return ok & (np.asarray(t) < self.cover[np.maximum(idx, 0), 1])

    @cached_property
    def handover_times(self) -> np.ndarray:
        """Ends of cover windows strictly inside the horizon: the day team takes over then."""
        if self.always:
            return np.zeros(0)
        ends = self.cover[:, 1]
        return ends[ends < self.hours]


def office_intervals(spec: CalendarSpec, start: dt.date, days: int, hols: set[dt.date]) -> list:
    """Office hours of each working day from the day before ``start`` to after the horizon."""
    out = []
    open_h, close_h = parse_hhmm(spec.weekday_end), parse_hhmm(spec.weekday_start)
    fri_close = parse_hhmm(spec.friday_start) if spec.friday_start else close_h
    for i in range(-1, days + 2):
        d = start + dt.timedelta(days=i)
        if d.weekday() < 5 and d not in hols:
            close = fri_close if d.weekday() == 4 else close_h
            out.append((24.0 * i + open_h, 24.0 * i + close))
    return out


def build_calendar(horizon: Horizon, spec: CalendarSpec) -> Calendar:
    hours = horizon.hours
    days = int(np.ceil(horizon.days))
    first, last = horizon.start - dt.timedelta(days=1), horizon.start + dt.timedelta(days=days + 1)
    hols = bank_holidays(spec, first, last) if spec.cover == "out_of_hours" else set()
    if spec.cover == "always":
        cover = np.array([[0.0, hours]])
    else:
        office = merge_intervals(np.asarray(office_intervals(spec, horizon.start, days, hols)))
        edges = np.concatenate([[-np.inf], office.ravel(), [np.inf]]).reshape(-1, 2)
        cover = clip_intervals(edges, 0.0, hours)
    return Calendar(horizon.start, hours, cover, spec.cover == "always", frozenset(hols))


def standard_week_cover(spec: CalendarSpec) -> np.ndarray:
    """Covered fraction of each of the 168 hours of a standard week (no bank holidays).

    Used to scale arrival profiles so that a standard week integrates to ``per_week``.
    """
    monday = dt.date(2024, 1, 1)  # a Monday; the date itself does not matter with no holidays
    week = build_calendar(
        Horizon(start=monday, days=7), spec.model_copy(update={"bank_holidays": "none"})
    )
    frac = np.zeros(168)
    for s, e in week.cover:
        for h in range(int(np.floor(s)), int(np.ceil(e))):
            frac[h] += max(0.0, min(e, h + 1) - max(s, h))
    return frac


def roster_intervals(roster: Roster, cal: Calendar) -> np.ndarray:
    """On-shift windows of one worker within the horizon."""
    if roster == "cover":
        return cal.cover.copy()
    if roster == "always":
        return np.array([[0.0, cal.hours]])
    out = []
    days = int(np.ceil(cal.hours / 24))
    for shift in roster:
        s, e = parse_hhmm(shift.start), parse_hhmm(shift.end)
        if e <= s:
            e += 24.0
        wanted = {WEEKDAYS.index(d) for d in shift.days}
        for i in range(-1, days + 1):
            if (cal.start_weekday + i) % 7 in wanted:
                out.append((24.0 * i + s, 24.0 * i + e))
    return clip_intervals(merge_intervals(np.asarray(out, dtype=float)), 0.0, cal.hours)
