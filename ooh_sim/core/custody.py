"""Children charged and refused bail (PACE s38(6)): when the court sits (issue 18).

A charged child the council does not accommodate stays in the cell until the next court sitting;
this module says when that is: the stream's ``court_time`` on its ``court_days``, skipping the
bank holidays of the scenario's calendar (ASSUMPTION: no remand court sits then; PACE s46 asks
for a sitting by the day after charge except Sundays, Christmas Day and Good Friday, and some
areas run bank-holiday remand courts, so this may overstate holiday waits). The pathway itself
(request, cut-off, transfer) is part of the child's episode in :mod:`ooh_sim.core.episode`.
"""

from __future__ import annotations

import datetime as dt
import math

from ooh_sim.core.calendar import bank_holidays
from ooh_sim.core.clock import WEEKDAYS, parse_hhmm
from ooh_sim.core.schema import CalendarSpec, Stream

DEFAULT_COURT_TIME = "10:00"
DEFAULT_COURT_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat")  # ASSUMPTION: no Sunday sittings


class CourtSittings:
    """The sittings of one custody stream's court: a clock time on some weekdays, never on a
    bank holiday of the scenario's calendar (``calendar.bank_holidays``, whatever the cover)."""

    def __init__(self, stream: Stream, start: dt.date, days: float, calendar: CalendarSpec) -> None:
        self.hour = parse_hhmm(stream.court_time or DEFAULT_COURT_TIME)
        self.start = start
        weekdays = stream.court_days or DEFAULT_COURT_DAYS
        self.sits = [WEEKDAYS[(start.weekday() + d) % 7] in weekdays for d in range(7)]
        # a child charged near the horizon end may wait for a sitting weeks after it
        last = start + dt.timedelta(days=math.ceil(days) + 31)
        self.closed = {
            (d - start).days for d in bank_holidays(calendar, start - dt.timedelta(days=1), last)
        }

    def next_after(self, t: float) -> float:
        """The first sitting strictly after ``t`` (hours from the horizon start, a midnight)."""
        day = math.floor(t / 24.0)
        for k in range(8 + len(self.closed)):
            sitting = (day + k) * 24.0 + self.hour
            if sitting > t and self.sits[(day + k) % 7] and day + k not in self.closed:
                return sitting
        raise AssertionError("a court sits on at least one weekday")  # schema guarantees it


__all__ = ["DEFAULT_COURT_DAYS", "DEFAULT_COURT_TIME", "CourtSittings"]
