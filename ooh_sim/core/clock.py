"""Clock arithmetic below the scenario schema: times of day, weekdays, intervals, the standard week.

The schema validates clock fields and needs the standard week's cover to refuse a profile that
could never produce an arrival; the calendar builds on the same pieces. Keeping them here (no
import of the schema at run time) is what lets both use them without an import cycle.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ooh_sim.core.schema import CalendarSpec

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def parse_hhmm(text: str) -> float:
    """'17:30' → 17.5 hours after midnight."""
    m = _HHMM.match(text)
    if not m:
        raise ValueError(f"expected a time of day as HH:MM, got {text!r}")
    return int(m.group(1)) + int(m.group(2)) / 60


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



def standard_week_cover(spec: CalendarSpec) -> np.ndarray:
    """Covered fraction of each of the 168 hours of a standard week (no bank holidays).

    Used to scale arrival profiles so that a standard week integrates to ``per_week``, and by the
    scenario schema to refuse a profile with no weight in cover: so it lives here, below the
    schema, and reads only the spec's clock fields.
    """
    hours = 168.0
    if spec.cover == "always":
        cover = np.array([[0.0, hours]])
    else:
        monday = dt.date(2024, 1, 1)  # a Monday; the date itself does not matter with no holidays
        office = merge_intervals(np.asarray(office_intervals(spec, monday, 7, set())))
        edges = np.concatenate([[-np.inf], office.ravel(), [np.inf]]).reshape(-1, 2)
        cover = clip_intervals(edges, 0.0, hours)
    frac = np.zeros(168)
    for s, e in cover:
        for h in range(int(np.floor(s)), int(np.ceil(e))):
            frac[h] += max(0.0, min(e, h + 1) - max(s, h))
    return frac
