"""Children charged and refused bail (PACE s38(6)): when the court sits (issue 18).

A charged child the council does not accommodate stays in the cell until the next court sitting;
this module says when that is. The pathway itself (request, cut-off, transfer) is part of the
child's episode in :mod:`ooh_sim.core.episode`.
"""

from __future__ import annotations

import math

from ooh_sim.core.clock import WEEKDAYS, parse_hhmm
from ooh_sim.core.schema import Stream

DEFAULT_COURT_TIME = "10:00"
DEFAULT_COURT_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat")  # ASSUMPTION: no Sunday sittings


class CourtSittings:
    """The sittings of one custody stream's court: a clock time on some weekdays."""

    def __init__(self, stream: Stream, start_weekday: int) -> None:
        self.hour = parse_hhmm(stream.court_time or DEFAULT_COURT_TIME)
        days = stream.court_days or DEFAULT_COURT_DAYS
        self.sits = [WEEKDAYS[(start_weekday + d) % 7] in days for d in range(7)]

    def next_after(self, t: float) -> float:
        """The first sitting strictly after ``t`` (hours from the horizon start, a midnight)."""
        day = math.floor(t / 24.0)
        for k in range(8):
            sitting = (day + k) * 24.0 + self.hour
            if sitting > t and self.sits[(day + k) % 7]:
                return sitting
        raise AssertionError("a court sits on at least one weekday")  # schema guarantees it


__all__ = ["DEFAULT_COURT_DAYS", "DEFAULT_COURT_TIME", "CourtSittings"]
