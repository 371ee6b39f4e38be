"""Cover windows, bank holidays, rosters and the clock (docs/model.md).

Cover is checked against an independent statement of the rule — "not office hours on a working
day", evaluated with ``datetime`` — rather than against the calendar's own interval arithmetic.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest
from scipy import stats

from ooh_sim.core.arrivals import rate_function
from ooh_sim.core.calendar import build_calendar, roster_intervals
from ooh_sim.core.clock import parse_hhmm, scale_factor
from ooh_sim.core.model import Model
from ooh_sim.core.rng import RandomStreams
from ooh_sim.core.schema import Arrivals, CalendarSpec, Horizon, Scenario, Shift

SEED = 271828
START = dt.date(2023, 1, 2)  # a Monday, and a bank holiday (New Year's Day substitute)
ENGLAND_2023_WEEKDAY_HOLIDAYS = [
    dt.date(2023, 1, 2),
    dt.date(2023, 4, 7),  # Good Friday
    dt.date(2023, 4, 10),  # Easter Monday
    dt.date(2023, 5, 1),
    dt.date(2023, 5, 8),  # Coronation
    dt.date(2023, 5, 29),
    dt.date(2023, 8, 28),
    dt.date(2023, 12, 25),
    dt.date(2023, 12, 26),
]
BY_HOUR = [1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 6, 8, 6, 4, 2, 1]
BY_WEEKDAY = [1, 1, 1, 1.2, 1.5, 2, 1.6]


def in_cover_rule(
    start: dt.date,
    t: np.ndarray,
    hols: set[dt.date],
    *,
    open_at: str = "09:00",
    close_at: str = "17:00",
    friday_close: str | None = None,
) -> np.ndarray:
    """Whether each time is out of office hours: the rule stated date by date."""
    t = np.asarray(t, dtype=float)
    day = np.floor(t / 24).astype(int)
    tod = t - 24 * day
    weekday = (start.weekday() + day) % 7
    hol_days = [(d - start).days for d in hols]
    working = (weekday < 5) & ~np.isin(day, hol_days)
    close = np.where(weekday == 4, parse_hhmm(friday_close or close_at), parse_hhmm(close_at))
    return ~(working & (tod >= parse_hhmm(open_at)) & (tod < close))


def scenario(calendar: dict[str, Any], per_week: float, profile: dict | None = None, **hz):
    return Scenario.model_validate(
        {
            "name": "cal",
            "horizon": {"start": START, "days": 364, **hz},
            "calendar": calendar,
            "staff": {"edt": {"skills": ["x"]}},
            "streams": {
                "a": {
                    "skill": "x",
                    "arrivals": {"per_week": per_week, "profile": profile or {}},
                    "duration": {"dist": "fixed", "value": 0.5},
                }
            },
        }
    )


def arrivals(sc: Scenario, replication: int) -> np.ndarray:
    """The arrival times the model itself draws (no run needed: they are drawn up front)."""
    return Model(sc, RandomStreams(SEED, replication)).arrival


# --------------------------------------------------------------------------- cover


@pytest.mark.parametrize(
    "calendar",
    [
        {},
        {"weekday_start": "18:30", "weekday_end": "08:45", "friday_start": "16:15"},
        {"bank_holidays": [dt.date(2023, 3, 15)]},
    ],
    ids=["default", "odd-times", "explicit-holiday"],
)
def test_no_arrival_outside_cover(calendar: dict[str, Any]) -> None:
    sc = scenario(calendar, 150, {"by_hour": BY_HOUR, "by_weekday": BY_WEEKDAY})
    spec = sc.calendar
    cal = build_calendar(sc.horizon, spec)
    rule = {
        "open_at": spec.weekday_end,
        "close_at": spec.weekday_start,
        "friday_close": spec.friday_start,
    }
    hols = set(cal.holidays)
    for r in range(3):
        t = arrivals(sc, r)
        assert len(t) > 7000
        assert cal.is_covered(t).all()
        assert in_cover_rule(START, t, hols, **rule).all()
    # the calendar itself agrees with the rule on a fine grid (every 5 minutes, ± 1 s of edges)
    grid = np.arange(0, cal.hours, 1 / 12)
    for eps in (1 / 3600, -1 / 3600):
        g = np.clip(grid + eps, 0, cal.hours - 1e-9)
        np.testing.assert_array_equal(cal.is_covered(g), in_cover_rule(START, g, hols, **rule))


def window_counts(sc: Scenario, reps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cover windows, their expected counts (model's rate function) and counts per replication."""
    cal = build_calendar(sc.horizon, sc.calendar)
    rf = rate_function(sc.streams["a"].arrivals, sc.calendar, cal)
    expected = np.array([rf.expected(s, e) for s, e in cal.cover])
    counts = []
    for r in range(reps):
        t = arrivals(sc, r)
        idx = np.searchsorted(cal.cover[:, 0], t, side="right") - 1
        counts.append(np.bincount(idx, minlength=len(cal.cover)))
    return cal.cover, expected, np.array(counts)


def test_counts_per_window_flat_profile() -> None:
    """Flat profile, 64/week over 128 cover hours: 0.5/h, so 8 per weekday night, 32 per weekend.

    30 replications × 52 weeks give 6,240 weekday nights (SE of the mean 0.036 = 0.45%) and 1,500
    weekends (SE 0.15 = 0.45%); a 5% error in either is > 10 SE.
    """
    reps = 30
    cover, expected, counts = window_counts(scenario({}, 64.0), reps)
    length = cover[:, 1] - cover[:, 0]
    np.testing.assert_allclose(expected, 0.5 * length, rtol=1e-12)  # rate fn: independent check
    for hours in (16.0, 64.0):
        sel = length == hours
        x = counts[:, sel].ravel()
        mu = 0.5 * hours
        assert len(x) > 1000
        assert abs(x.mean() - mu) < 4 * np.sqrt(mu / len(x)), (hours, x.mean())
        # Poisson dispersion: Σ (x − μ)² / μ ~ χ²(n), two-sided
        p = stats.chi2.sf(((x - mu) ** 2 / mu).sum(), df=len(x))
        assert 1e-3 < p < 1 - 1e-3, (hours, x.var() / mu)
    # bank-holiday windows are longer, and get proportionally more
    long = ~np.isin(length, (16.0, 64.0)) & (length > 64)
    assert long.sum() >= 5
    assert abs(counts[:, long].sum() - reps * expected[long].sum()) < 4 * np.sqrt(
        reps * expected[long].sum()
    )


def test_counts_per_window_shaped_profile() -> None:
    """Hour and weekday weights: every window's count is Poisson with the integrated rate."""
    reps = 30
    sc = scenario({}, 120.0, {"by_hour": BY_HOUR, "by_weekday": BY_WEEKDAY})
    cover, expected, counts = window_counts(sc, reps)
    length = cover[:, 1] - cover[:, 0]
    for sel in (length == 16.0, length == 64.0, length > 64.0):
        obs, exp = counts[:, sel].sum(), reps * expected[sel].sum()
        assert abs(obs - exp) < 4 * np.sqrt(exp), (obs, exp)
    chi2 = ((counts - expected) ** 2 / expected).sum()
    p = stats.chi2.sf(chi2, df=counts.size)
    assert 1e-3 < p < 1 - 1e-3
    # weekend windows get more than 4× a weekday night here (weights 1.5–2 vs 1–1.2)
    assert expected[length == 64.0].mean() > 4 * expected[length == 16.0].mean()


def minute_grid_mass(spec: CalendarSpec, start: dt.date, weights: np.ndarray, hols: set) -> float:
    """∫ weight over cover for one week, by brute force on a 1-minute grid (exact for HH:MM)."""
    t = (np.arange(7 * 24 * 60) + 0.5) / 60
    how = (start.weekday() * 24 + np.floor(t).astype(int)) % 168
    ok = in_cover_rule(
        start,
        t,
        hols,
        open_at=spec.weekday_end,
        close_at=spec.weekday_start,
        friday_close=spec.friday_start,
    )
    return float(weights[how][ok].sum() / 60)


@pytest.mark.parametrize(
    "calendar",
    [
        {},
        {"friday_start": "16:00"},
        {"weekday_start": "18:30", "weekday_end": "08:45"},
        {"cover": "always"},
    ],
    ids=["default", "friday_start", "odd-times", "always"],
)
@pytest.mark.parametrize("start", [dt.date(2023, 1, 9), dt.date(2023, 1, 11)], ids=["mon", "wed"])
def test_standard_week_integrates_to_per_week(calendar: dict[str, Any], start: dt.date) -> None:
    per_week = 37.0
    arr = Arrivals(per_week=per_week, profile={"by_hour": BY_HOUR, "by_weekday": BY_WEEKDAY})
    spec = CalendarSpec(**calendar)
    cal = build_calendar(Horizon(start=start, days=7), spec)
    assert not cal.holidays or spec.cover == "always"
    rf = rate_function(arr, spec, cal)
    assert rf.expected(0, 168) == pytest.approx(per_week, rel=1e-12)
    weights = np.asarray(arr.profile.hour_of_week_weights())
    if spec.cover != "always":
        mass = minute_grid_mass(spec, start, weights, set())
        assert scale_factor(arr, spec) == pytest.approx(per_week / mass, rel=1e-9)


def test_bank_holiday_week_gets_the_extra_day() -> None:
    """Good Friday adds its office hours (09–17) at the same k · weight: more than per_week."""
    per_week = 37.0
    arr = Arrivals(per_week=per_week, profile={"by_hour": BY_HOUR, "by_weekday": BY_WEEKDAY})
    spec = CalendarSpec()
    start = dt.date(2023, 4, 3)  # Monday; Good Friday is 7 April
    cal = build_calendar(Horizon(start=start, days=7), spec)
    assert dt.date(2023, 4, 7) in cal.holidays
    weights = np.asarray(arr.profile.hour_of_week_weights())
    k = per_week / minute_grid_mass(spec, start, weights, set())
    extra = k * sum(weights[4 * 24 + h] for h in range(9, 17))
    rf = rate_function(arr, spec, cal)
    assert rf.expected(0, 168) == pytest.approx(per_week + extra, rel=1e-9)
    assert rf.expected(4 * 24 + 9, 4 * 24 + 17) == pytest.approx(extra, rel=1e-9)


# --------------------------------------------------------------------------- bank holidays


def test_england_2023_bank_holidays_are_covered_all_day() -> None:
    cal = build_calendar(Horizon(start=START, days=364), CalendarSpec())
    for d in ENGLAND_2023_WEEKDAY_HOLIDAYS:
        assert d in cal.holidays
        t = 24 * (d - START).days + np.arange(0.0, 24.0, 0.25)
        assert cal.is_covered(t).all(), d
    # an ordinary weekday is not
    noon = 24 * (dt.date(2023, 4, 12) - START).days + 12
    assert not cal.is_covered(noon)
    # Easter: one window from Thursday 17:00 to Tuesday 09:00
    thu = 24 * (dt.date(2023, 4, 6) - START).days
    assert [thu + 17, thu + 5 * 24 + 9] in cal.cover.tolist()
    # "none": Good Friday is an office day
    plain = build_calendar(Horizon(start=START, days=364), CalendarSpec(bank_holidays="none"))
    good_friday_noon = 24 * (dt.date(2023, 4, 7) - START).days + 12
    assert not plain.is_covered(good_friday_noon)
    assert plain.holidays == frozenset()


def daytime_counts(sc: Scenario, days: list[dt.date], reps: int) -> np.ndarray:
    """Arrivals between 09:00 and 17:00 on each of ``days``, per replication."""
    out = np.zeros((reps, len(days)), dtype=int)
    for r in range(reps):
        t = arrivals(sc, r)
        for i, d in enumerate(days):
            lo = 24 * (d - START).days
            out[r, i] = ((t >= lo + 9) & (t < lo + 17)).sum()
    return out


def test_bank_holidays_receive_arrivals_at_the_usual_rate() -> None:
    """Flat 0.5/h: each holiday's 8 office hours get 4 arrivals on average, like any cover hour."""
    reps = 40
    counts = daytime_counts(scenario({}, 64.0), ENGLAND_2023_WEEKDAY_HOLIDAYS, reps)
    assert (counts.sum(axis=0) > 0).all()
    exp = 0.5 * 8 * reps * len(ENGLAND_2023_WEEKDAY_HOLIDAYS)  # 1,440, SD 38
    assert abs(counts.sum() - exp) < 4 * np.sqrt(exp)
    # an ordinary Wednesday gets none
    assert daytime_counts(scenario({}, 64.0), [dt.date(2023, 4, 12)], reps).sum() == 0


def test_explicit_bank_holiday_list_replaces_the_country_list() -> None:
    sc = scenario({"bank_holidays": [dt.date(2023, 3, 15)]}, 64.0)
    cal = build_calendar(sc.horizon, sc.calendar)
    assert cal.holidays == frozenset({dt.date(2023, 3, 15)})
    day = 24 * (dt.date(2023, 3, 15) - START).days
    assert cal.is_covered(np.arange(day, day + 24, 0.25)).all()
    good_friday_noon = 24 * (dt.date(2023, 4, 7) - START).days + 12
    assert not cal.is_covered(good_friday_noon)
    reps = 40
    counts = daytime_counts(sc, [dt.date(2023, 3, 15), dt.date(2023, 4, 7)], reps)
    assert abs(counts[:, 0].sum() - 0.5 * 8 * reps) < 4 * np.sqrt(0.5 * 8 * reps)
    assert counts[:, 1].sum() == 0


def test_friday_start() -> None:
    cal = build_calendar(Horizon(start=START, days=14), CalendarSpec(friday_start="16:00"))
    fri, thu = 24 * 4, 24 * 3  # 2023-01-06, 2023-01-05
    assert cal.is_covered(fri + 16.5) and not cal.is_covered(fri + 15.99)
    assert not cal.is_covered(thu + 16.5) and cal.is_covered(thu + 17.0)
    assert [fri + 16, 24 * 7 + 9] in cal.cover.tolist()  # Fri 16:00 → Mon 09:00


# --------------------------------------------------------------------------- rosters


def shifts(*items: tuple[list[str], str, str]) -> list[Shift]:
    return [Shift(days=d, start=s, end=e) for d, s, e in items]


def test_roster_shifts_crossing_midnight() -> None:
    roster = shifts((["fri", "sat"], "18:00", "02:00"))
    cal = build_calendar(Horizon(start=START, days=14), CalendarSpec())
    # Fri 6 Jan 18:00 → Sat 02:00, Sat 18:00 → Sun 02:00, and again a week later
    want = [[114, 122], [138, 146], [282, 290], [306, 314]]
    assert roster_intervals(roster, cal).tolist() == want
    # horizon starting on a Saturday: Friday's shift spills into it; the last one is clipped
    sat = build_calendar(Horizon(start=dt.date(2023, 1, 7), days=7), CalendarSpec())
    assert roster_intervals(roster, sat).tolist() == [[0, 2], [18, 26], [162, 168]]
    # a Sunday night shift wraps into Monday; touching shifts merge into one interval
    roster2 = shifts((["sun"], "22:00", "06:00"), (["mon"], "06:00", "09:30"))
    assert roster_intervals(roster2, cal).tolist() == [[0, 9.5], [166, 177.5], [334, 336]]
    assert roster_intervals("always", cal).tolist() == [[0, 336]]
    assert roster_intervals("cover", cal).tolist() == cal.cover.tolist()


def test_worker_starts_work_only_on_shift() -> None:
    """Under heavy demand a Fri/Sat 18:00–02:00 worker starts jobs only inside those windows."""
    sc = Scenario.model_validate(
        {
            "name": "shift",
            "horizon": {"start": START, "days": 56},
            "calendar": {"cover": "always"},
            "staff": {
                "night": {
                    "skills": ["x"],
                    "roster": [{"days": ["fri", "sat"], "start": "18:00", "end": "02:00"}],
                }
            },
            "streams": {
                "a": {
                    "skill": "x",
                    "arrivals": {"per_week": 100},
                    "duration": {"dist": "exponential", "mean": 0.5},
                }
            },
        }
    )
    m = Model(sc, RandomStreams(SEED, 0)).run()
    windows = m.rosters[0]
    assert len(windows) == 16 and np.allclose(windows[:, 1] - windows[:, 0], 8)
    starts = np.asarray(m.start)
    starts = starts[~np.isnan(starts)]
    assert len(starts) > 200  # 128 rostered hours, always busy, 0.5 h per job
    idx = np.searchsorted(windows[:, 0], starts, side="right") - 1
    assert (idx >= 0).all() and (starts < windows[idx, 1]).all()
    # work in hand at 02:00 is finished (overtime), so some ends fall outside the windows
    ends = np.asarray(m.end)
    ends = ends[~np.isnan(ends)]
    j = np.searchsorted(windows[:, 0], ends, side="right") - 1
    assert (ends > windows[j, 1]).any()


# --------------------------------------------------------------------------- clock


@pytest.mark.parametrize("start", [START, dt.date(2023, 3, 22), dt.date(2024, 2, 25)])
def test_sim_time_to_datetime_and_hour_of_week(start: dt.date) -> None:
    cal = build_calendar(Horizon(start=start, days=400), CalendarSpec(cover="always"))
    assert cal.datetime_at(0) == dt.datetime.combine(start, dt.time())
    assert cal.datetime_at(37.5) == dt.datetime.combine(start, dt.time()) + dt.timedelta(
        days=1, hours=13, minutes=30
    )
    t = np.random.default_rng(SEED).uniform(0, cal.hours, 2000)
    how = cal.hour_of_week(t)
    for x, h in zip(t, how, strict=True):
        d = cal.datetime_at(x)
        assert h == d.weekday() * 24 + d.hour
    # no DST: 2023-03-26 (UK clocks go forward) is a 24-hour day like any other
    if start == dt.date(2023, 3, 22):
        assert cal.datetime_at(5 * 24 + 1.5) == dt.datetime(2023, 3, 27, 1, 30)
