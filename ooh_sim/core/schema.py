"""The scenario: a typed, validated description of one EDT configuration (DESIGN §3).

Field names are public contract (scenario files are written against them). Every model forbids
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

from ooh_sim.core.clock import WEEKDAYS, parse_hhmm, standard_week_cover
from ooh_sim.core.distributions import Distribution, Exponential, Fixed, fixed, resolve_relative

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
NonNeg = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Pos = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$", max_length=64)]

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
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


ClockTime = Annotated[str, Field(examples=["17:00"])]


def _check_clock(v: str) -> str:
    parse_hhmm(v)
    return v


class Horizon(_Model):
    start: dt.date = dt.date(2023, 1, 2)
    days: Pos = 364
    warmup_days: NonNeg = 0

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


class CalendarSpec(_Model):
    """When the EDT is responsible: outside office hours on working days, or always."""

    cover: Literal["out_of_hours", "always"] = "out_of_hours"
    weekday_start: ClockTime = "17:00"
    weekday_end: ClockTime = "09:00"
    friday_start: ClockTime | None = None
    bank_holidays: (
        Literal["england", "wales", "scotland", "northern_ireland", "none"] | list[dt.date]
    ) = "england"

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
    """A shift starting on each listed weekday; ``end`` <= ``start`` means it crosses midnight."""

    days: list[Weekday] = Field(min_length=1)
    start: ClockTime
    end: ClockTime

    _clocks = field_validator("start", "end")(lambda v: _check_clock(v))

    @model_validator(mode="after")
    def _not_empty(self) -> Shift:
        if parse_hhmm(self.start) == parse_hhmm(self.end):
            raise ValueError(f"shift start and end are both {self.start}: a shift cannot be empty")
        return self


Roster = Literal["cover", "always"] | list[Shift]


class Callout(_Model):
    """When an on-call worker is called in: queue length ≥ N, or a child waiting ≥ H hours."""

    delay_hours: NonNeg = 1.0
    queue_length: Annotated[int, Field(ge=1)] | None = None
    child_waiting_hours: NonNeg | None = None

    @model_validator(mode="after")
    def _has_trigger(self) -> Callout:
        if self.queue_length is None and self.child_waiting_hours is None:
            raise ValueError("a callout needs a trigger: queue_length or child_waiting_hours")
        return self


class StaffGroup(_Model):
    count: Annotated[int, Field(ge=0, le=1000)] = 1
    skills: list[Identifier] = Field(min_length=1)
    roster: Roster = "cover"
    on_call: bool = False
    callout: Callout | None = None

    @model_validator(mode="after")
    def _callout_iff_on_call(self) -> StaffGroup:
        if self.on_call and self.callout is None:
            raise ValueError("on_call staff need a 'callout' with a trigger")
        if self.callout is not None and not self.on_call:
            raise ValueError("'callout' is only meaningful with on_call: true")
        return self


class Profile(_Model):
    """Hour-of-week shape of arrivals: 24 hourly × 7 weekday weights, or 168 values from a CSV."""

    by_hour: list[NonNeg] = Field(default_factory=lambda: [1.0] * 24, min_length=24, max_length=24)
    by_weekday: list[NonNeg] = Field(default_factory=lambda: [1.0] * 7, min_length=7, max_length=7)
    file: Path | None = None

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
    for line in path.read_text(encoding="utf-8").splitlines():
        cell = line.split(",")[-1].strip()
        try:
            vals.append(float(cell))
        except ValueError:
            if vals:
                raise ValueError(f"{path}: not a number: {cell!r}") from None
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
    per_week: NonNeg
    profile: Profile = Field(default_factory=Profile)

    _limit = field_validator("per_week")(lambda v: _check_per_week(v))


class Stream(_Model):
    kind: Literal["referral", "police_protection"] = "referral"
    skill: Identifier
    priority: Annotated[int, Field(ge=0, le=99)] = 1
    arrivals: Arrivals
    duration: Distribution
    transport: Distribution | None = None
    officers: Annotated[int, Field(ge=0, le=50)] | None = None
    officer_release_hours: NonNeg | None = None
    """Officers stay with a waiting child at most this long, then hand over (e.g. to a supervised
    waiting venue); the child's wait for collection goes on. None: officers stay throughout."""
    deadline_hours: Pos | None = None
    preemptible: bool = False
    limit_hours: Pos | None = None
    """Legal limit on station time (e.g. 72 h for s46); KPI: share reaching it."""

    @model_validator(mode="after")
    def _police_only(self) -> Stream:
        if self.kind == "referral":
            for key in ("transport", "officers", "officer_release_hours", "limit_hours"):
                if getattr(self, key) is not None:
                    raise ValueError(f"'{key}' applies only to kind: police_protection")
        return self

    @property
    def transport_dist(self) -> Distribution:
        return self.transport if self.transport is not None else fixed(0.0)

    @property
    def officer_count(self) -> int:
        if self.kind != "police_protection":
            return 0
        return 1 if self.officers is None else self.officers


class OutOfArea(_Model):
    after_hours: NonNeg = 4.0
    extra_travel: Distribution = Field(default_factory=lambda: fixed(1.0))


class Placements(_Model):
    capacity: Annotated[int, Field(ge=0, le=10_000)] | None = None
    stay_days: Distribution = Field(
        default_factory=lambda: Exponential(dist="exponential", mean=2.0)
    )
    other_demand_per_week: NonNeg = 0.0
    search: Distribution = Field(default_factory=lambda: fixed(0.0))
    when_none_free: Literal["wait", "out_of_area"] = "wait"
    out_of_area: OutOfArea = Field(default_factory=OutOfArea)
    hold_worker: bool = False
    """Whether the worker stays with a child while no placement is free (False: freed)."""

    _limit = field_validator("other_demand_per_week")(lambda v: _check_per_week(v))


class DayTeam(_Model):
    response: Distribution = Field(default_factory=lambda: fixed(1.0))


class Policy(_Model):
    dispatch: Literal["fifo", "priority", "deadline"] = "priority"
    preemption: bool = False


class Costs(_Model):
    worker_hour: NonNeg = 0.0
    officer_hour: NonNeg = 0.0
    callout: NonNeg = 0.0
    placement_night: NonNeg = 0.0


class Report(_Model):
    thresholds_hours: list[Pos] = Field(default_factory=lambda: [2.0, 4.0, 8.0], max_length=20)


class Scenario(_Model):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$", max_length=100)]
    description: str = ""
    sources: dict[str, str] = Field(default_factory=dict)
    horizon: Horizon = Field(default_factory=Horizon)
    replications: Annotated[int, Field(ge=1, le=100_000)] = 20
    seed: Annotated[int, Field(ge=0)] = 12345
    calendar: CalendarSpec = Field(default_factory=CalendarSpec)
    staff: dict[Identifier, StaffGroup] = Field(min_length=1)
    streams: dict[Identifier, Stream] = Field(min_length=1)
    placements: Placements = Field(default_factory=Placements)
    day_team: DayTeam = Field(default_factory=DayTeam)
    policy: Policy = Field(default_factory=Policy)
    costs: Costs | None = None
    report: Report = Field(default_factory=Report)

    @field_validator("name")
    @classmethod
    def _no_traversal(cls, v: str) -> str:
        if ".." in v:
            raise ValueError("must not contain '..' (it names a folder under results/)")
        return v

    @model_validator(mode="after")
    def _skills_exist(self) -> Scenario:
        skills = {s for g in self.staff.values() for s in g.skills}
        for name, stream in self.streams.items():
            if stream.skill not in skills:
                raise SkillError(name, stream.skill, sorted(skills))
        return self

    @model_validator(mode="after")
    def _arrivals_possible(self) -> Scenario:
        """A stream with volume but no profile weight inside cover hours can never arrive."""
        cover = standard_week_cover(self.calendar)
        for name, st in self.streams.items():
            weights = st.arrivals.profile.hour_of_week_weights()
            mass = sum(w * c for w, c in zip(weights, cover, strict=True))
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
    "Arrivals",
    "CalendarSpec",
    "Callout",
    "Costs",
    "DayTeam",
    "FieldError",
    "Fixed",
    "Horizon",
    "OutOfArea",
    "Placements",
    "Policy",
    "Profile",
    "Report",
    "Scenario",
    "Shift",
    "SkillError",
    "StaffGroup",
    "Stream",
    "parse_hhmm",
]
