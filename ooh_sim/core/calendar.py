"""Cover windows, rosters and the mapping between simulation hours and real dates.

t = 0 is 00:00 on ``horizon.start``; time is in hours, local clock time with no DST shifts.
Cover is everything that is not office hours on a working day: that single rule gives the
usual pattern (Mon–Thu 17:00 → 09:00, Fri 17:00 → Mon 09:00, bank holidays all day) without
special cases for weekends or holidays.

The windows themselves come from :mod:`ooh_sim.core.clock` (plain Python, shared with the
scenario checks); here they become the numpy arrays the model searches and measures.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ooh_sim.core.clock import Interval, cover_windows, roster_windows
from ooh_sim.core.schema import CalendarSpec, Horizon, Roster, Seasons

_SUBDIV = {"england": "ENG", "wales": "WLS", "scotland": "SCT", "northern_ireland": "NIR"}


def bank_holidays(spec: CalendarSpec, first: dt.date, last: dt.date) -> set[dt.date]:
    """Bank holidays between two dates, from the ``holidays`` package or the explicit list."""
    if isinstance(spec.bank_holidays, list):
        return set(spec.bank_holidays)
    if spec.bank_holidays == "none":
        return set()
    import holidays  # lazily, FOR SPEED: 40 ms that `validate` and `cover: always` never need

    years = range(first.year, last.year + 1)
    cal = holidays.country_holidays("GB", subdiv=_SUBDIV[spec.bank_holidays], years=years)
    return {d for d in cal if first <= d <= last}


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

    def open_by_hour_of_week(
        self, intervals: np.ndarray, lo: float = 0.0
    ) -> tuple[np.ndarray, np.ndarray]:
        """Open time of (n, 2) intervals, clipped to [``lo``, horizon], in each of the 168 hours
        of the week, summed over the clock hours from ``floor(lo)`` on; and how many clock hours
        fall on each hour of the week (for a mean). The one place hour-of-week curves and
        exposures are measured: the figures' curves and the fitted arrival profiles."""
        first = float(np.floor(lo))
        bins = int(math.ceil(self.hours) - first)
        per_hour = hours_open(clip_rows(intervals, lo, self.hours) - first, bins)
        how = self.hour_of_week(first + np.arange(bins))
        return np.bincount(how, weights=per_hour, minlength=168), np.bincount(how, minlength=168)

    @cached_property
    def handover_times(self) -> np.ndarray:
        """Ends of cover windows strictly inside the horizon: the day team takes over then."""
        if self.always:
            return np.zeros(0)
        ends = self.cover[:, 1]
        return ends[ends < self.hours]


def clip_rows(iv: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """:func:`ooh_sim.core.clock.clip_intervals` of an (n, 2) array, vectorised FOR SPEED: the
    records measured here hold ~15,000 intervals a replication (in a Python loop, ~10 ms added
    to a replication of ~60 ms; the calendar's few windows are clipped in plain Python)."""
    iv = np.clip(np.asarray(iv, dtype=float).reshape(-1, 2), lo, hi)
    return iv[iv[:, 1] > iv[:, 0]]


def hours_open(windows: np.ndarray, bins: int) -> np.ndarray:
    """Open time in each hour [k, k + 1), k < ``bins``, of (n, 2) intervals within [0, bins].

    Each interval adds its part of the hour it starts in and of the hour it ends in, and 1 to
    every hour in between (a step up after its first hour, down at its last, summed once):
    linear in the intervals, FOR SPEED (sorting them and differencing cumulative coverage took
    ~60 ms a curve for the M/M/1 benchmark's 192,000 jobs, and lost digits to the large sums)."""
    s, e = windows[:, 0], windows[:, 1]
    i, j = np.floor(s).astype(np.intp), np.floor(e).astype(np.intp)  # hours of start and end
    one = i == j
    n = bins + 2  # an interval ending on the last hour's end steps down past it
    part = np.bincount(i, weights=np.where(one, e - s, (i + 1) - s), minlength=n)
    part += np.bincount(j, weights=np.where(one, 0.0, e - j), minlength=n)
    step = np.bincount(i[~one] + 1, minlength=n) - np.bincount(j[~one], minlength=n)
    return (part + np.cumsum(step))[:bins]


def _array(windows: list[Interval]) -> np.ndarray:
    """(k, 2) float array of windows: what the model and its measures index."""
    return np.asarray(windows, dtype=float).reshape(-1, 2)


def build_calendar(horizon: Horizon, spec: CalendarSpec) -> Calendar:
    days = math.ceil(horizon.days)
    first, last = horizon.start - dt.timedelta(days=1), horizon.start + dt.timedelta(days=days + 1)
    hols = bank_holidays(spec, first, last) if spec.cover == "out_of_hours" else set()
    cover = _array(cover_windows(spec, horizon.start, days, hols, horizon.hours))
    return Calendar(horizon.start, horizon.hours, cover, spec.cover == "always", frozenset(hols))


def roster_intervals(roster: Roster, cal: Calendar) -> np.ndarray:
    """On-shift windows of one worker within the horizon."""
    return _array(roster_windows(roster, cal.cover.tolist(), cal.start_weekday, cal.hours))


def day_factors(seasons: Seasons, spec: CalendarSpec, cal: Calendar) -> np.ndarray:
    """The seasonal factor of each day of the horizon (day i: [24 i, 24 i + 24) hours).

    Month, school holiday and bank holiday are those of the day's date; the trend compounds
    from the horizon start and steps once a day, so the rate stays constant within a day.
    Bank holidays come from ``calendar.bank_holidays`` whatever the cover (with cover: always
    the calendar itself has none, but demand still rises on them).
    """
    days = int(np.ceil(cal.hours / 24.0))
    dates = [cal.start + dt.timedelta(days=i) for i in range(days)]
    months = np.array([d.month - 1 for d in dates])
    factor = np.asarray(seasons.by_month, dtype=float)[months]
    if seasons.school_holiday_factor != 1.0 and seasons.school_holidays:
        school = np.array(
            [any(r.start <= d <= r.end for r in seasons.school_holidays) for d in dates]
        )
        factor = np.where(school, factor * seasons.school_holiday_factor, factor)
    if seasons.bank_holiday_factor != 1.0 and days:
        hols = bank_holidays(spec, dates[0], dates[-1])
        bank = np.array([d in hols for d in dates])
        factor = np.where(bank, factor * seasons.bank_holiday_factor, factor)
    if seasons.trend_per_year != 0.0:
        factor = factor * (1.0 + seasons.trend_per_year) ** (np.arange(days) / 365.25)
    return factor
