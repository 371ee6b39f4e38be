"""The scenario: a typed, validated description of one EDT configuration.

Field names are public contract (scenario files are written against them); each field's
``description`` is what editors show and what docs/scenario-reference.md lists. Every model forbids
unknown keys so that a typo is an error with a suggestion, never a silently ignored setting.
Cross-field rules (a stream's skill must exist, warm-up shorter than the horizon …) live here too,
so that anything that constructs a :class:`Scenario` — the YAML loader, a notebook, a sweep — gets
the same checks.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ooh_sim.core import limits
from ooh_sim.core.clock import WEEKDAYS, parse_hhmm, standard_week_cover, weight_in_cover
from ooh_sim.core.distributions import Distribution, Exponential, Fixed, fixed, resolve_relative

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
NonNeg = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Pos = Annotated[float, Field(gt=0, allow_inf_nan=False)]
IDENTIFIER_PATTERN = r"^[A-Za-z][A-Za-z0-9_]*$"
Identifier = Annotated[str, Field(pattern=IDENTIFIER_PATTERN, max_length=64)]
FOLDER_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
"""Names that become results folders (results/<name>/): no path separators, no leading dot."""
FolderName = Annotated[str, Field(pattern=FOLDER_NAME_PATTERN, max_length=100)]

# An empty list defaults as ``default=[]`` (pydantic copies it for each instance), not as
# ``default_factory=list``: pydantic reads a factory's signature, and the signature of the
# built-in ``list`` is parsed by tokenize, whose first use compiles its regexes (~3 ms of the
# 0.3 s `ooh-sim validate` may take; tests/test_cli_run.py checks that validate never tokenises).

# Size limits: a typo such as ``per_week: 1e12`` must be a clear error, not a hang or a MemoryError.
MAX_PER_WEEK = 100_000
"""Arrivals per week of one stream (about 600 an hour; the baseline has about 100 a week)."""
MAX_DAYS = 36_525
"""Horizon length (100 years): precision comes from replications, not from longer horizons."""
MAX_EVENTS = 2_000_000
"""Expected arrivals plus worker shifts in one replication (about 1.3 GB of memory per process)."""
FIRST_YEAR, LAST_YEAR = 1900, 2200
"""Horizon start dates outside these years are typos (and overflow date arithmetic)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)


ClockTime = Annotated[str, Field(examples=["17:00"])]


def _check_clock(v: str) -> str:
    parse_hhmm(v)
    return v


class Horizon(_Model):
    start: dt.date = Field(
        dt.date(2023, 1, 2),
        description="First day simulated (YYYY-MM-DD); start on a Monday to simulate whole weeks.",
    )
    days: Pos = Field(364, description="Length of one replication in days (364 = 52 weeks).")
    warmup_days: NonNeg = Field(
        0,
        description="Days at the start left out of every KPI, so that results do not start from "
        "an empty queue and free beds.",
    )

    @field_validator("start")
    @classmethod
    def _plausible_year(cls, v: dt.date) -> dt.date:
        if not FIRST_YEAR <= v.year <= LAST_YEAR:
            raise ValueError(f"must be a date between {FIRST_YEAR} and {LAST_YEAR}")
        return v

    @field_validator("days")
    @classmethod
    def _not_huge(cls, v: float) -> float:
        if v > MAX_DAYS:
            raise ValueError(
                f"must be at most {MAX_DAYS:,} (100 years); run more replications for precision"
            )
        return v

    @model_validator(mode="after")
    def _warmup_inside(self) -> Horizon:
        if self.warmup_days >= self.days:
            raise ValueError(
                f"warmup_days ({self.warmup_days:g}) must be shorter than days ({self.days:g})"
            )
        return self

    @property
    def hours(self) -> float:
        return self.days * 24.0

    @property
    def warmup_hours(self) -> float:
        return self.warmup_days * 24.0


class DateRange(_Model):
    """A run of whole days, first and last included (e.g. a school holiday)."""

    start: dt.date = Field(description="First day (YYYY-MM-DD).")
    end: dt.date = Field(description="Last day, included (YYYY-MM-DD).")

    @model_validator(mode="after")
    def _ordered(self) -> DateRange:
        if self.end < self.start:
            raise ValueError(f"end ({self.end}) is before start ({self.start})")
        return self


Factor = Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)]


class Seasons(_Model):
    """Demand that varies over the year: every factor multiplies the arrival rate of each day.

    A day's factor is by_month[month] x school_holiday_factor (in a school holiday) x
    bank_holiday_factor (on a bank holiday) x (1 + trend_per_year) ** (days since the horizon
    start / 365.25). The rate stays piecewise constant (a factor is constant over a day), so the
    arrivals stay an exact non-homogeneous Poisson process; per_week is the volume of a week whose
    factors are all 1.
    """

    by_month: list[Factor] = Field(
        default_factory=lambda: [1.0] * 12,
        min_length=12,
        max_length=12,
        description="12 factors, January first (1 = the per_week volume; 1.2 = 20% busier).",
    )
    school_holidays: list[DateRange] = Field(
        default=[], description="School holidays (first and last day of each)."
    )
    school_holiday_factor: Factor = Field(
        1.0, description="Factor on every day of a school holiday."
    )
    bank_holiday_factor: Factor = Field(
        1.0, description="Factor on a bank holiday (calendar.bank_holidays), on top of the month's."
    )
    trend_per_year: Annotated[float, Field(ge=-0.5, le=1.0, allow_inf_nan=False)] = Field(
        0.0,
        description="Yearly growth of demand, compounding from the horizon start (0.03 = 3% a "
        "year; the factor steps once a day).",
    )
    streams: list[Identifier] | None = Field(
        None, description="Streams the seasons apply to; empty: every stream."
    )

    def applies_to(self, stream: str) -> bool:
        return self.streams is None or stream in self.streams


class CalendarSpec(_Model):
    """When the EDT is responsible: outside office hours on working days, or always."""

    cover: Literal["out_of_hours", "always"] = Field(
        "out_of_hours",
        description="out_of_hours: the EDT covers evenings, nights, weekends and bank holidays "
        "(the day team has office hours on working days); always: the EDT covers every hour.",
    )
    weekday_start: ClockTime = Field(
        "17:00",
        description="When cover starts on a working day (HH:MM), i.e. when the office closes.",
    )
    weekday_end: ClockTime = Field(
        "09:00", description="When cover ends on a working day (HH:MM), i.e. when the office opens."
    )
    friday_start: ClockTime | None = Field(
        None,
        description="When cover starts on a Friday, if earlier than other weekdays (e.g. 16:30); "
        "empty: weekday_start.",
    )
    bank_holidays: (
        Literal["england", "wales", "scotland", "northern_ireland", "none"] | list[dt.date]
    ) = Field(
        "england",
        description="Which bank holidays the EDT covers all day: a UK nation's list, none, or "
        "your own list of dates.",
    )
    seasons: Seasons | None = Field(
        None,
        description="Months, school and bank holidays and a yearly trend that scale demand; "
        "empty: every week is the same.",
    )

    _clocks = field_validator("weekday_start", "weekday_end", "friday_start")(
        lambda v: v if v is None else _check_clock(v)
    )

    @model_validator(mode="after")
    def _office_day_nonempty(self) -> CalendarSpec:
        if parse_hhmm(self.weekday_end) >= parse_hhmm(self.weekday_start):
            raise ValueError(
                "weekday_end (office opens) must be before weekday_start (cover starts)"
            )
        if self.friday_start is not None and parse_hhmm(self.friday_start) <= parse_hhmm(
            self.weekday_end
        ):
            raise ValueError("friday_start (cover starts) must be after weekday_end (office opens)")
        return self


class Shift(_Model):
    """A shift starting on each listed weekday; an end before the start crosses midnight."""

    days: list[Weekday] = Field(
        min_length=1, description="Weekdays on which this shift starts (mon … sun)."
    )
    start: ClockTime = Field(description="Start of the shift (HH:MM).")
    end: ClockTime = Field(
        description="End of the shift (HH:MM); earlier than start: the shift ends next day."
    )

    _clocks = field_validator("start", "end")(lambda v: _check_clock(v))

    @model_validator(mode="after")
    def _not_empty(self) -> Shift:
        if parse_hhmm(self.start) == parse_hhmm(self.end):
            raise ValueError(f"shift start and end are both {self.start}: a shift cannot be empty")
        return self


Roster = Literal["cover", "always"] | list[Shift]


class Callout(_Model):
    """When an on-call worker is called in: queue length ≥ N, or a child waiting ≥ H hours."""

    delay_hours: NonNeg = Field(
        1.0, description="Hours from the call-out until the on-call worker starts work."
    )
    queue_length: Annotated[int, Field(ge=1)] | None = Field(
        None, description="Call out when this many jobs are waiting for the group's skills."
    )
    child_waiting_hours: NonNeg | None = Field(
        None, description="Call out when a child has waited this many hours in a police station."
    )

    @model_validator(mode="after")
    def _has_trigger(self) -> Callout:
        if self.queue_length is None and self.child_waiting_hours is None:
            raise ValueError("a callout needs a trigger: queue_length or child_waiting_hours")
        return self


class Absence(_Model):
    """Shifts lost to sickness, leave or vacancies, and how a lost shift is covered."""

    probability: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] = Field(
        description="Chance that a worker of the group is absent for a given shift."
    )
    cover: Literal["none", "on_call", "agency"] = Field(
        "none",
        description="none: the shift is not worked; on_call: someone on call covers it, arriving "
        "cover_delay_hours after it starts; agency: an agency worker works the whole shift.",
    )
    cover_delay_hours: NonNeg = Field(
        1.0, description="With cover: on_call, hours from the shift start until the cover arrives."
    )


class Rest(_Model):
    """Working Time Regulations checks: a break in every long stretch, rest between shifts."""

    break_after_hours: Pos = Field(
        6.0, description="A break is due in any stretch of work longer than this (WTR: 6 h)."
    )
    break_minutes: Pos = Field(
        20.0, description="Minutes of a gap in work that count as the break (WTR: 20)."
    )
    min_rest_hours: NonNeg = Field(
        11.0,
        description="Rest due between the end of one shift's work (overtime included) and the "
        "start of the next shift (WTR: 11 h in 24).",
    )


class Standby(_Model):
    """Overnight standby from home: from a set hour the worker is at home, and new work waits for
    a call-out (``delay_hours``) before they start; after it they go home again."""

    from_time: ClockTime = Field(
        alias="from",
        description="Hour (HH:MM) from which the worker is on standby at home each night.",
    )
    until: ClockTime = Field(
        "09:00",
        description="Hour (HH:MM) when standby ends and the worker is on duty again, if the "
        "shift has not ended before (earlier than from: the next day).",
    )
    delay_hours: NonNeg = Field(
        0.75, description="Hours from the call-out until the worker starts (waking, travelling)."
    )

    _clocks = field_validator("from_time", "until")(lambda v: _check_clock(v))

    @model_validator(mode="after")
    def _not_empty(self) -> Standby:
        if parse_hhmm(self.from_time) == parse_hhmm(self.until):
            raise ValueError(f"standby from and until are both {self.until}")
        return self


class StaffGroup(_Model):
    count: Annotated[int, Field(ge=0, le=1000)] = Field(
        1, description="Workers of this group on each shift (0 switches the group off)."
    )
    skills: list[Identifier] = Field(
        min_length=1,
        description="Kinds of work these workers can do; each stream names the skill it needs.",
    )
    roster: Roster = Field(
        "cover",
        description="When they work: cover (the whole out-of-hours window), always (every hour), "
        "or a list of shifts.",
    )
    on_call: bool = Field(
        False,
        description="true: at home on call through the roster, working only when called out.",
    )
    callout: Callout | None = Field(
        None, description="What calls an on-call group in (needed with on_call: true)."
    )
    absence: Absence | None = Field(
        None,
        description="Shifts lost to absence and how they are covered (KPI "
        "staff.<group>.absent_shift_share); empty: never absent.",
    )
    rest: Rest | None = Field(
        None,
        description="Count breaks missed and short rests between shifts (KPI "
        "staff.<group>.rest_breaches_per_week); empty: not checked.",
    )
    standby: Standby | None = Field(
        None,
        description="Standby from home overnight: from standby.from each night new work waits "
        "standby.delay_hours for a call-out (KPI staff.<group>.callouts_per_week); empty: on "
        "duty throughout the roster.",
    )
    support: bool = Field(
        False,
        description="true: support workers, who take no referrals or assessments; they transport "
        "children of streams with their skills and sit with a child waiting for a bed "
        "(placements.hold_worker) when one of them is free, freeing the social worker.",
    )
    councils: list[Identifier] | None = Field(
        None,
        description="Consortium: the councils whose work this group takes (separate staff); "
        "empty: every council's (shared staff).",
    )

    @model_validator(mode="after")
    def _callout_iff_on_call(self) -> StaffGroup:
        if self.on_call and self.callout is None:
            raise ValueError("on_call staff need a 'callout' with a trigger")
        if self.callout is not None and not self.on_call:
            raise ValueError("'callout' is only meaningful with on_call: true")
        if self.standby is not None and self.on_call:
            raise ValueError("'standby' applies to rostered staff, not on_call ones")
        if self.support and (self.on_call or self.standby is not None):
            raise ValueError("support workers are rostered: no on_call or standby")
        return self


class Profile(_Model):
    """Hour-of-week shape of arrivals: 24 hourly × 7 weekday weights, or 168 values from a CSV."""

    by_hour: list[NonNeg] = Field(
        default_factory=lambda: [1.0] * 24,
        min_length=24,
        max_length=24,
        description="24 relative weights, 00:00–01:00 first: how arrivals spread over the day.",
    )
    by_weekday: list[NonNeg] = Field(
        default_factory=lambda: [1.0] * 7,
        min_length=7,
        max_length=7,
        description="7 relative weights, Monday first: how arrivals spread over the week.",
    )
    file: Path | None = Field(
        None,
        description="A CSV of 168 hour-of-week weights (Monday 00:00 first, weight in the last "
        "column), instead of by_hour and by_weekday; relative to the scenario file.",
    )

    @field_validator("file")
    @classmethod
    def _resolve(cls, v: Path | None, info: ValidationInfo) -> Path | None:
        v = resolve_relative(v, info)
        if v is not None and not v.is_file():
            raise ValueError(f"profile file not found: {v}")
        return v

    @model_validator(mode="after")
    def _file_readable(self) -> Profile:
        if self.file is not None:
            _read_168(self.file)  # a bad CSV is an input error now, not a crash mid-run
        return self

    def hour_of_week_weights(self) -> list[float]:
        """168 weights, Monday 00:00 first."""
        if self.file is not None:
            return _read_168(self.file)
        return [d * h for d in self.by_weekday for h in self.by_hour]


def _read_168(path: Path) -> list[float]:
    vals: list[float] = []
    for line in limits.data_lines(path):  # size and row limits (ooh_sim.core.limits)
        cell = line.split(",")[-1].strip()
        try:
            vals.append(float(cell))
        except ValueError:
            if vals:
                raise ValueError(f"{path}: not a number: {limits.quote(cell)}") from None
    if len(vals) != 168 or any(not (v >= 0) or v == float("inf") for v in vals):
        raise ValueError(f"{path}: need 168 finite non-negative rows, got {len(vals)}")
    return vals


def _check_per_week(v: float) -> float:
    if v > MAX_PER_WEEK:
        raise ValueError(
            f"must be at most {MAX_PER_WEEK:,} a week (about 600 an hour); a larger volume "
            "would not fit in memory"
        )
    return v


class Arrivals(_Model):
    per_week: NonNeg = Field(
        description="Average arrivals per week inside cover hours (a Poisson process)."
    )
    profile: Profile = Field(
        default_factory=Profile,
        description="When in the week they arrive (default: evenly over the cover hours).",
    )

    _limit = field_validator("per_week")(lambda v: _check_per_week(v))


Share = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]


class MentalHealthAct(_Model):
    """A Mental Health Act assessment that waits for others: s12 doctors before it, a bed after.

    The AMHP takes the job, waits ``doctor_wait`` for the s12 doctors, assesses (the stream's
    ``duration``); an ``admission_share`` of people then need a bed: ``bed_wait`` hours until one
    is found (or, for the ``1 - bed_found_share`` not found, until the search is given up and the
    assessment is not completed), then ``conveyance`` hours of AMHP work. ``hold_amhp`` decides
    whether the AMHP stays with the case through the waits (busy) or takes other work meanwhile
    and comes back to the queue when the wait ends. Waits are hours of elapsed time; with every
    wait zero the stream runs exactly as one without this block.
    """

    doctor_wait: Distribution = Field(
        default_factory=lambda: fixed(0.0),
        description="Hours from the AMHP taking the case until the s12 doctors are there.",
    )
    admission_share: Share = Field(
        0.0, description="Share of assessments that end in admission, so a bed is needed."
    )
    bed_wait: Distribution = Field(
        default_factory=lambda: fixed(0.0),
        description="Hours after the assessment until a bed is found (or the search is given "
        "up).",
    )
    bed_found_share: Share = Field(
        1.0,
        description="Share of bed searches that find a bed; the rest end with the assessment "
        "not completed (KPI amhp.not_completed_share).",
    )
    conveyance: Distribution = Field(
        default_factory=lambda: fixed(0.0),
        description="Hours of AMHP work after a bed is found (arranging conveyance).",
    )
    hold_amhp: bool = Field(
        True,
        description="true: the AMHP stays with the case while waiting for doctors and a bed; "
        "false: the AMHP takes other work and the case rejoins the queue when the wait ends.",
    )
    s136_share: Share = Field(
        0.0,
        description="Share of assessments of a person detained under s136 (a place-of-safety "
        "clock runs from arrival until the assessment ends).",
    )
    s136_limit_hours: Pos = Field(
        24.0, description="Hours a person may be held under s136 (Mental Health Act: 24)."
    )
    s136_extension_hours: NonNeg = Field(
        12.0,
        description="Extension allowed on top of s136_limit_hours (12); KPI "
        "amhp.s136_over_limit_share counts detentions longer than both together.",
    )
    station_share: Share = Field(
        0.0,
        description="Share of s136 detentions held in a police station (KPI "
        "station.s136.hours.mean); the rest in a health-based place of safety.",
    )
    officers: Annotated[int, Field(ge=0, le=50)] = Field(
        1,
        description="Police officers staying with a person detained under s136 until the "
        "assessment ends (KPI police.mha_officer_hours_per_week).",
    )


class Stream(_Model):
    kind: Literal["referral", "police_protection", "custody"] = Field(
        "referral",
        description="referral: work for a worker; police_protection: a child waiting in a police "
        "station for a worker and an emergency placement; custody: a child charged and refused "
        "bail (PACE s38(6)), transferred to council accommodation or held until court.",
    )
    skill: Identifier = Field(description="The skill a worker needs to take this work.")
    priority: Annotated[int, Field(ge=0, le=99)] = Field(
        1, description="Lower numbers are more urgent (with policy.dispatch: priority)."
    )
    arrivals: Arrivals = Field(description="How often this work arrives, and when.")
    duration: Distribution = Field(
        description="Hours of a worker's time per job (for a child: assessment and arranging)."
    )
    transport: Distribution | None = Field(
        None,
        description="Hours to collect the child and take them to the placement (police "
        "protection only).",
    )
    officers: Annotated[int, Field(ge=0, le=50)] | None = Field(
        None,
        description="Police officers kept with a waiting child (police protection only; empty: 1).",
    )
    officer_release_hours: NonNeg | None = Field(
        None,
        description="Officers stay with a waiting child at most this many hours, then hand over "
        "(e.g. to a supervised waiting venue); the child's wait goes on. Empty: officers stay "
        "throughout.",
    )
    deadline_hours: Pos | None = Field(
        None,
        description="Target hours from arrival until a worker starts; the KPI "
        "deadline_breach_share counts the jobs that wait longer.",
    )
    preemptible: bool = Field(
        False,
        description="true: with policy.preemption, more urgent work may interrupt this job "
        "(it resumes later).",
    )
    limit_hours: Pos | None = Field(
        None,
        description="Legal limit on a child's time in a police station (e.g. 72 for police "
        "protection); KPI: the share reaching it.",
    )

    mha: MentalHealthAct | None = Field(
        None,
        description="Mental Health Act assessment pathway: waits for s12 doctors and a bed, "
        "s136 clock, police time (referral streams only).",
    )
    council: Identifier | None = Field(
        None,
        description="Consortium: the council this work comes from (a name in councils); every "
        "stream names one when councils are given.",
    )

    # --- children's pathways (issue 18); each draws random numbers only when given
    group_size: Distribution | None = Field(
        None,
        description="Children per police-protection arrival (a sibling group), e.g. empirical "
        "values [1, 1, 2, 3]; rounded to whole children, at least 1. Empty: one child each.",
    )
    age_years: Distribution | None = Field(
        None,
        description="Age of the child (police protection or custody), for placement types that "
        "take only some ages. Empty: age unknown (any type's ages fit).",
    )
    request_share: Annotated[float, Field(ge=0, le=1)] | None = Field(
        None,
        description="Custody only: share of charged children for whom the police ask the council "
        "for accommodation (the rest stay in the cell until court). Empty: 1.",
    )
    secure_share: Annotated[float, Field(ge=0, le=1)] | None = Field(
        None,
        description="Custody only: share of requests that need secure accommodation (only a "
        "placement type with secure: true takes them). Empty: 0.",
    )
    transfer_cutoff_hours: Pos | None = Field(
        None,
        description="Custody only: a request no worker has taken up this many hours after charge "
        "lapses, and the child is held until court. Empty: no cut-off.",
    )
    court_time: ClockTime | None = Field(
        None,
        description="Custody only: when the court sits (HH:MM); a child not transferred leaves "
        "the cell at the first sitting after charge. Empty: 10:00.",
    )
    court_days: list[Weekday] | None = Field(
        None, description="Custody only: weekdays the court sits. Empty: mon to sat."
    )

    _court_clock = field_validator("court_time")(lambda v: v if v is None else _check_clock(v))

    @model_validator(mode="after")
    def _police_only(self) -> Stream:
        if self.kind != "referral" and self.mha is not None:
            raise ValueError("'mha' applies only to kind: referral")
        if self.kind == "referral":
            for key in ("transport", "officers", "officer_release_hours", "limit_hours",
                        "age_years"):  # fmt: skip
                if getattr(self, key) is not None:
                    raise ValueError(f"'{key}' applies only to kind: police_protection or custody")
        if self.kind == "custody":
            for key in ("officers", "officer_release_hours"):  # a cell, not officers at hand
                if getattr(self, key) is not None:
                    raise ValueError(f"'{key}' applies only to kind: police_protection")
        if self.kind != "police_protection" and self.group_size is not None:
            raise ValueError("'group_size' applies only to kind: police_protection")
        if self.kind != "custody":
            for key in CUSTODY_KEYS:
                if getattr(self, key) is not None:
                    raise ValueError(f"'{key}' applies only to kind: custody")
        if self.court_days is not None and not self.court_days:
            raise ValueError("court_days needs at least one weekday")
        return self

    @property
    def transport_dist(self) -> Distribution:
        return self.transport if self.transport is not None else fixed(0.0)

    @property
    def officer_count(self) -> int:
        if self.kind != "police_protection":
            return 0
        return 1 if self.officers is None else self.officers


CUSTODY_KEYS = ("request_share", "secure_share", "transfer_cutoff_hours", "court_time",
                "court_days")  # fmt: skip
CHILD_KINDS = ("police_protection", "custody")
POOL_TYPE = "pool"
"""The placement type the single pool (``placements.capacity``, ``stay_days``) becomes."""
"""Stream kinds whose jobs are children in police stations who may need a placement."""


class PlacementType(_Model):
    """One kind of emergency placement (foster, residential, secure …): its beds, stays, cost."""

    capacity: Annotated[int, Field(ge=0, le=10_000)] | None = Field(
        None, description="Beds of this type; empty: unlimited (spot purchases, say)."
    )
    beds_per_carer: Annotated[int, Field(ge=1, le=100)] = Field(
        1,
        description="Beds each carer (household, unit) has; capacity is a whole number of carers. "
        "A sibling group is placed with one carer unless placements.split_siblings.",
    )
    stay_days: Distribution = Field(
        default_factory=lambda: Exponential(dist="exponential", mean=2.0),
        description="Days a child stays in this type of placement before the bed is free again.",
    )
    streams: list[Identifier] = Field(
        default=[],
        description="Streams whose children this type takes; empty: every police_protection "
        "stream (a custody stream only if named here, or by a secure type).",
    )
    ages: Annotated[list[NonNeg], Field(min_length=2, max_length=2)] | None = Field(
        None,
        description="[youngest, oldest] age in years this type takes (a child whose stream has no "
        "age_years fits any); empty: every age.",
    )
    secure: bool = Field(
        False,
        description="true: secure accommodation; a custody request marked secure needs such a "
        "type, and no other request uses it.",
    )
    cost_night: NonNeg | None = Field(
        None, description="£ per child-night in this type; empty: costs.placement_night."
    )
    retainer_week: NonNeg = Field(
        0.0, description="£ per carer per week, paid whether or not a child is placed (council)."
    )

    @model_validator(mode="after")
    def _whole_carers(self) -> PlacementType:
        if self.capacity is not None and self.capacity % self.beds_per_carer:
            raise ValueError(
                f"capacity ({self.capacity}) must be a whole number of carers of "
                f"beds_per_carer ({self.beds_per_carer})"
            )
        if self.ages is not None and self.ages[0] > self.ages[1]:
            raise ValueError("ages: the youngest age must not be above the oldest")
        return self

    @property
    def carers(self) -> int | None:
        return None if self.capacity is None else self.capacity // self.beds_per_carer


class OutOfArea(_Model):
    after_hours: NonNeg = Field(
        4.0,
        description="With when_none_free: out_of_area, hours a child waits for a local bed before "
        "one out of the area is found.",
    )
    extra_travel: Distribution = Field(
        default_factory=lambda: fixed(1.0),
        description="Extra hours of worker travel to an out-of-area placement.",
    )


class Placements(_Model):
    capacity: Annotated[int, Field(ge=0, le=10_000)] | None = Field(
        None,
        description="Emergency placements (rota beds) the EDT can use; empty: unlimited.",
    )
    stay_days: Distribution = Field(
        default_factory=lambda: Exponential(dist="exponential", mean=2.0),
        description="Days a child stays in an emergency placement before it is free again.",
    )
    other_demand_per_week: NonNeg = Field(
        0.0,
        description="Other children per week taking the same beds (day team, other services).",
    )
    search: Distribution = Field(
        default_factory=lambda: fixed(0.0),
        description="Hours of a worker's time to find and agree a placement when a bed is free.",
    )
    when_none_free: Literal["wait", "out_of_area"] = Field(
        "wait",
        description="When no bed is free: wait (until one frees or the day team acts) or "
        "out_of_area (a bed further away after out_of_area.after_hours).",
    )
    out_of_area: OutOfArea = Field(
        default_factory=OutOfArea,
        description="Out-of-area placements (used with when_none_free: out_of_area).",
    )
    hold_worker: bool = Field(
        False,
        description="true: the worker stays with the child while no bed is free; false: the "
        "child waits on a list and the worker takes other work.",
    )

    streams: list[Identifier] = Field(
        default=[],
        description="Streams whose children the single pool (capacity) takes, as a placement "
        "type's streams; empty: every police_protection stream (custody streams only if named).",
    )
    types: dict[Identifier, PlacementType] = Field(
        default_factory=dict,
        description="Kinds of placement, in the order they are tried: a child takes the first "
        "suitable type with a free bed. The single pool (capacity, stay_days), if it has a "
        "capacity, is tried first as type 'pool'; leave capacity empty to use the types alone.",
    )
    split_siblings: bool = Field(
        False,
        description="With types: true: a sibling group no single carer can take is split over "
        "several carers; false: it waits until one carer has enough free beds.",
    )

    _limit = field_validator("other_demand_per_week")(lambda v: _check_per_week(v))

    @model_validator(mode="after")
    def _pool_name_free(self) -> Placements:
        if POOL_TYPE in self.types:
            raise ValueError(f"'{POOL_TYPE}' names the single pool (capacity, stay_days); "
                             "call the type something else")  # fmt: skip
        return self

    @property
    def all_types(self) -> dict[str, PlacementType]:
        """Every type, in the order tried: the single pool first (as ``pool``) unless types are
        given and the pool has no capacity; the pool's nights cost ``costs.placement_night`` and
        its retainer is ``costs.bed_retainer_week``."""
        out: dict[str, PlacementType] = {}
        if not self.types or self.capacity is not None:
            out[POOL_TYPE] = PlacementType(
                capacity=self.capacity, stay_days=self.stay_days, streams=self.streams
            )
        return out | dict(self.types)


class DayTeam(_Model):
    response: Distribution = Field(
        default_factory=lambda: fixed(1.0),
        description="Hours after the office opens until the day team takes a child or job handed "
        "over at the end of cover.",
    )


class Policy(_Model):
    dispatch: Literal["fifo", "priority", "deadline"] = Field(
        "priority",
        description="Which waiting job a free worker takes: fifo (first come), priority (most "
        "urgent stream first), deadline (earliest deadline first).",
    )
    preemption: bool = Field(
        False,
        description="true: more urgent work interrupts a job of a preemptible stream.",
    )


class Costs(_Model):
    worker_hour: NonNeg = Field(
        0.0, description="£ per worker-hour rostered, in overtime or called out."
    )
    officer_hour: NonNeg = Field(
        0.0, description="£ per police officer-hour spent with a waiting child."
    )
    callout: NonNeg = Field(0.0, description="£ per call-out of an on-call worker.")
    placement_night: NonNeg = Field(
        0.0, description="£ per night of an emergency placement the EDT made."
    )
    # --- by budget holder (issue 16): standing charges are paid whether the capacity is used
    overtime_premium: NonNeg = Field(
        0.0, description="Extra share of worker_hour paid for overtime (0.5 = time and a half)."
    )
    on_call_allowance: NonNeg = Field(
        0.0, description="£ per on-call worker per on-call shift, called out or not (council)."
    )
    bed_retainer_week: NonNeg = Field(
        0.0, description="£ per emergency placement (placements.capacity) per week, used or not."
    )
    out_of_area_night: NonNeg | None = Field(
        None, description="£ per night of an out-of-area (spot) placement; empty: placement_night."
    )
    venue_week: NonNeg = Field(0.0, description="£ per week for a supervised waiting venue.")
    police_reimbursed: Annotated[float, Field(ge=0, le=1)] = Field(
        0.0, description="Share of the police officers' cost the council pays back (0 to 1)."
    )
    s12_fee: NonNeg = Field(
        0.0, description="£ of doctors' fees per Mental Health Act assessment (health budget)."
    )
    s12_streams: list[str] = Field(
        default_factory=lambda: ["amhp"],
        description="Streams whose every job is a Mental Health Act assessment (for s12_fee).",
    )


class Council(_Model):
    """One council of a consortium that shares an out-of-hours team (its streams name it)."""

    cost_share: Share | None = Field(
        None,
        description="Share of the team's shared council costs this council pays (all given: "
        "they sum to 1); empty for every council: each pays its share of worker-hours on its "
        "work. Its own placement nights, beds' retainers and police reimbursement it pays in full.",
    )
    travel_hours: NonNeg = Field(
        0.0,
        description="Extra hours of worker travel to this council's area (further from the "
        "team's base): added to each transport of its children and to each job of its streams "
        "named in visits.",
    )
    visits: list[Identifier] = Field(
        default=[],
        description="Its referral streams whose jobs are visits (travel_hours added to each).",
    )


class Report(_Model):
    thresholds_hours: list[Pos] = Field(
        default_factory=lambda: [2.0, 4.0, 8.0],
        max_length=20,
        description="Hours for the KPIs 'share of children in a police station longer than …'.",
    )


class Scenario(_Model):
    name: FolderName = Field(
        description="Short name of the scenario; results go to results/<name>/."
    )
    description: str = Field("", description="What this option is, in a sentence or two.")
    sources: dict[str, str] = Field(
        default_factory=dict,
        description="Where the figures come from: short name → citation (shown in the report).",
    )
    horizon: Horizon = Field(
        default_factory=Horizon, description="The simulated period of each replication."
    )
    replications: Annotated[int, Field(ge=1, le=100_000)] = Field(
        20, description="Independent simulated periods; results are averages with 95% intervals."
    )
    seed: Annotated[int, Field(ge=0)] = Field(
        12345, description="Random seed: the same seed gives the same numbers."
    )
    calendar: CalendarSpec = Field(
        default_factory=CalendarSpec, description="When the EDT is responsible."
    )
    staff: dict[Identifier, StaffGroup] = Field(
        min_length=1, description="Staff groups by name (e.g. edt, amhp_rota, manager)."
    )
    streams: dict[Identifier, Stream] = Field(
        min_length=1,
        description="Kinds of work by name (e.g. police_protection, amhp, children_referral).",
    )
    placements: Placements = Field(
        default_factory=Placements,
        description="Emergency placements for children leaving police stations.",
    )
    day_team: DayTeam = Field(
        default_factory=DayTeam, description="The office-hours team that takes over work at 09:00."
    )
    policy: Policy = Field(default_factory=Policy, description="How workers choose their next job.")
    costs: Costs | None = Field(
        None,
        description="Unit costs in £: per use (worker and officer hours, call-outs, placement "
        "nights) and fixed (on-call allowances, bed retainers, a venue); empty: no cost KPIs.",
    )
    report: Report = Field(default_factory=Report, description="Extra KPIs to report.")
    councils: dict[Identifier, Council] = Field(
        default_factory=dict,
        description="Consortium: councils sharing this team, each with its own streams "
        "(streams.<S>.council), beds (placement types taking its streams), travel and cost "
        "share; KPIs council.<name>.… per council. Empty: one council.",
    )

    @field_validator("name")
    @classmethod
    def _no_traversal(cls, v: str) -> str:
        if ".." in v:
            raise ValueError("must not contain '..' (it names a folder under results/)")
        return v

    @model_validator(mode="after")
    def _skills_exist(self) -> Scenario:
        skills = {s for g in self.staff.values() if not g.support for s in g.skills}
        for name, stream in self.streams.items():
            if stream.skill not in skills:
                raise SkillError(name, stream.skill, sorted(skills))
        return self

    @model_validator(mode="after")
    def _support_and_councils(self) -> Scenario:
        child_skills = {s.skill for s in self.streams.values() if s.kind in CHILD_KINDS}
        for name, group in self.staff.items():
            if group.support and not set(group.skills) <= child_skills:
                raise FieldError(
                    f"staff.{name}.skills",
                    "support workers escort children: name skills of police_protection or "
                    f"custody streams ({', '.join(sorted(child_skills)) or 'none here'})",
                )
            for council in group.councils or []:
                if council not in self.councils:
                    raise FieldError(f"staff.{name}.councils", f"no council named {council!r}")
        if not self.councils:
            for name, stream in self.streams.items():
                if stream.council is not None:
                    raise FieldError(f"streams.{name}.council", "no councils are given")
            return self
        for name, stream in self.streams.items():
            if stream.council not in self.councils:
                raise FieldError(
                    f"streams.{name}.council",
                    f"every stream of a consortium names one of its councils "
                    f"({', '.join(self.councils)})",
                )
        for cname, council in self.councils.items():
            for visit in council.visits:
                spec = self.streams.get(visit)
                if spec is None or spec.council != cname or spec.kind != "referral":
                    raise FieldError(f"councils.{cname}.visits",
                                     f"{visit!r} is not a referral stream of {cname}")  # fmt: skip
        shares = [c.cost_share for c in self.councils.values()]
        given = [x for x in shares if x is not None]
        if given and (len(given) < len(shares) or abs(sum(given) - 1.0) > 1e-9):
            raise FieldError("councils", "give every council a cost_share, summing to 1 "
                             "(or none: shares of worker-hours)")  # fmt: skip
        return self

    @model_validator(mode="after")
    def _seasons_streams_exist(self) -> Scenario:
        seasons = self.calendar.seasons
        for name in (seasons.streams or []) if seasons is not None else []:
            if name not in self.streams:
                raise FieldError(
                    "calendar.seasons.streams",
                    f"no stream named {name!r} (streams: {', '.join(self.streams)})",
                )
        return self

    @model_validator(mode="after")
    def _placement_types_take_children(self) -> Scenario:
        takers = {f"placements.types.{n}.streams": k.streams
                  for n, k in self.placements.types.items()}  # fmt: skip
        for path, streams in {"placements.streams": self.placements.streams, **takers}.items():
            for stream in streams:
                spec = self.streams.get(stream)
                if spec is None or spec.kind not in CHILD_KINDS:
                    raise FieldError(
                        path, f"{stream!r} is not a police_protection or custody stream"
                    )
        return self

    @model_validator(mode="after")
    def _arrivals_possible(self) -> Scenario:
        """A stream with volume but no profile weight inside cover hours can never arrive."""
        cover = standard_week_cover(self.calendar)
        for name, st in self.streams.items():
            mass = weight_in_cover(st.arrivals.profile.hour_of_week_weights(), cover)
            if st.arrivals.per_week > 0 and mass <= 0:
                raise FieldError(
                    f"streams.{name}.arrivals.profile",
                    f"no weight falls inside cover hours, so per_week {st.arrivals.per_week:g} "
                    "can never arrive; give weight to cover hours (or set per_week: 0)",
                )
        return self

    @model_validator(mode="after")
    def _fits_in_memory(self) -> Scenario:
        """Refuse a replication too large to hold in memory (a typo, usually), with a reason."""
        weeks = self.horizon.days / 7
        jobs = sum(s.arrivals.per_week for s in self.streams.values()) * weeks
        if self.placements.capacity is not None:
            jobs += self.placements.other_demand_per_week * weeks
        shifts = 0.0
        for g in self.staff.values():
            per_day = 1.0 if isinstance(g.roster, str) else sum(len(s.days) for s in g.roster) / 7
            shifts += g.count * per_day * self.horizon.days
        if jobs + shifts > MAX_EVENTS:
            raise FieldError(
                "horizon.days",
                f"too large to simulate: about {jobs:,.0f} arrivals and {shifts:,.0f} worker "
                f"shifts in one replication (limit {MAX_EVENTS:,} in all); shorten the horizon "
                "or lower the volumes, and run more replications for precision",
            )
        return self

    @property
    def police_streams(self) -> list[str]:
        return [n for n, s in self.streams.items() if s.kind == "police_protection"]

    @property
    def custody_streams(self) -> list[str]:
        return [n for n, s in self.streams.items() if s.kind == "custody"]

    @property
    def pathways(self) -> bool:
        """The children's pathways model (issue 18) is in use: placement types, the single
        pool's streams, sibling groups or a custody stream. Its KPIs exist only then, so older
        scenarios keep theirs."""
        placements = self.placements
        return bool(placements.types or placements.streams or self.custody_streams) or any(
            s.group_size is not None for s in self.streams.values()
        )


class FieldError(ValueError):
    """A cross-field problem that belongs at a dotted key path (the loader reports it there)."""

    def __init__(self, path: str, problem: str, suggestion: str | None = None) -> None:
        self.path, self.problem, self.suggestion = path, problem, suggestion
        super().__init__(f"{path}: {problem}")


class SkillError(ValueError):
    """A stream needs a skill no staff group has; carries the known skills for 'did you mean'."""

    def __init__(self, stream: str, skill: str, known: list[str]) -> None:
        self.stream, self.skill, self.known = stream, skill, known
        super().__init__(
            f"streams.{stream}.skill: no staff group has skill {skill!r} (staff skills: "
            f"{', '.join(known)})"
        )


__all__ = [
    "MAX_DAYS",
    "MAX_EVENTS",
    "MAX_PER_WEEK",
    "WEEKDAYS",
    "Absence",
    "Arrivals",
    "CalendarSpec",
    "Callout",
    "Costs",
    "Council",
    "DateRange",
    "DayTeam",
    "FieldError",
    "Fixed",
    "Horizon",
    "MentalHealthAct",
    "OutOfArea",
    "PlacementType",
    "Placements",
    "Policy",
    "Profile",
    "Report",
    "Rest",
    "Scenario",
    "Seasons",
    "Shift",
    "SkillError",
    "StaffGroup",
    "Standby",
    "Stream",
    "parse_hhmm",
]
