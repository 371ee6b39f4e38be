"""Seasonal demand (issue 19): months, school and bank holidays and a yearly trend scale the rate,
and the arrivals stay an exact non-homogeneous Poisson process.

The expected counts are computed here independently of the code under test — hour by hour with
``datetime`` and the ``holidays`` package — and compared with the rate function's integral over a
3-year horizon (to rounding) and with the counts sampled over many seeds (within Poisson noise).
"""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import holidays
import numpy as np
import pytest
from scipy import stats

from ooh_sim.core.arrivals import rate_function
from ooh_sim.core.calendar import build_calendar
from ooh_sim.core.loader import load_scenario
from ooh_sim.core.model import Model
from ooh_sim.core.records import job_table
from ooh_sim.core.rng import RandomStreams
from ooh_sim.core.schema import Arrivals, CalendarSpec, Horizon, Scenario

ROOT = Path(__file__).resolve().parents[1]
START = dt.date(2023, 1, 2)  # a Monday
YEARS = 3
DAYS = 364 * YEARS + 2  # to 2025-12-31 … a few days short of three calendar years
BY_MONTH = [1.0, 0.9, 0.95, 1.0, 1.0, 0.9, 1.05, 0.85, 1.0, 1.05, 1.1, 1.3]
SCHOOL = [("2023-07-21", "2023-09-04"), ("2023-12-21", "2024-01-03"),
          ("2024-07-23", "2024-09-03"), ("2024-12-20", "2025-01-05")]  # fmt: skip
SCHOOL_FACTOR, BANK_FACTOR, TREND = 1.15, 1.4, 0.04
BY_HOUR = [0.4] * 7 + [0.6] * 10 + [2.0] * 5 + [1.0] * 2
PER_WEEK = 20.0


def seasons(**over) -> dict:
    return {
        "by_month": BY_MONTH,
        "school_holidays": [{"start": a, "end": b} for a, b in SCHOOL],
        "school_holiday_factor": SCHOOL_FACTOR,
        "bank_holiday_factor": BANK_FACTOR,
        "trend_per_year": TREND,
        **over,
    }


def spec(**over) -> CalendarSpec:
    return CalendarSpec(seasons=seasons(**over))


def independent_expected_per_month() -> dict[tuple[int, int], float]:
    """Σ over hours of k · weight · covered · factor(date), evaluated with datetime."""
    banks = holidays.country_holidays("GB", subdiv="ENG", years=range(2022, 2027))
    school = [(dt.date.fromisoformat(a), dt.date.fromisoformat(b)) for a, b in SCHOOL]
    # a standard week's weight in cover: 17:00–09:00 on Mon–Fri nights, all weekend
    def covered(d: dt.date, hour: int, *, bank: bool) -> bool:
        working = d.weekday() < 5 and not bank
        return not (working and 9 <= hour < 17)

    mass = sum(BY_HOUR[h] for wd in range(7) for h in range(24) if not (wd < 5 and 9 <= h < 17))
    k = PER_WEEK / mass
    out: dict[tuple[int, int], float] = {}
    for i in range(DAYS):
        d = START + dt.timedelta(days=i)
        bank = d in banks
        f = BY_MONTH[d.month - 1] * (1 + TREND) ** (i / 365.25)
        if any(a <= d <= b for a, b in school):
            f *= SCHOOL_FACTOR
        if bank:
            f *= BANK_FACTOR
        day = sum(BY_HOUR[h] for h in range(24) if covered(d, h, bank=bank))
        out[(d.year, d.month)] = out.get((d.year, d.month), 0.0) + k * f * day
    return out


def month_edges() -> tuple[list[tuple[int, int]], np.ndarray]:
    """Each calendar month in the horizon and its [start, end) in simulation hours."""
    keys, edges, d = [], [0.0], START
    end = START + dt.timedelta(days=DAYS)
    while d < end:
        nxt = dt.date(d.year + d.month // 12, d.month % 12 + 1, 1)
        keys.append((d.year, d.month))
        edges.append(24.0 * (min(nxt, end) - START).days)
        d = nxt
    return keys, np.asarray(edges)


def rate(sp: CalendarSpec, days: float = DAYS):
    cal = build_calendar(Horizon(start=START, days=days), sp)
    arr = Arrivals(per_week=PER_WEEK, profile={"by_hour": BY_HOUR})
    return rate_function(arr, sp, cal)


def test_integrated_rate_over_three_years_matches_an_independent_sum() -> None:
    rf = rate(spec())
    want = independent_expected_per_month()
    keys, edges = month_edges()
    got = [rf.expected(lo, hi) for lo, hi in itertools.pairwise(edges)]
    np.testing.assert_allclose(got, [want[k] for k in keys], rtol=1e-9)
    total = sum(want.values())
    assert rf.expected(0, 24.0 * DAYS) == pytest.approx(total, rel=1e-9)
    # December is the busiest month, as configured; the trend lifts a year over the one before
    assert want[(2023, 12)] == max(want[(2023, m)] for m in range(1, 13))
    year = [sum(v for (y, _), v in want.items() if y == yr) for yr in (2023, 2024)]
    assert year[1] / year[0] == pytest.approx(1 + TREND, abs=0.01)


def test_counts_per_month_match_the_integrated_rate_over_many_seeds() -> None:
    """300 three-year runs (~950k arrivals): every month within Poisson noise, and the month
    totals pass a chi-square test against the independent expectation."""
    rf = rate(spec())
    want = independent_expected_per_month()
    keys, edges = month_edges()
    seeds = 300
    rng = np.random.default_rng(19)
    obs = np.zeros(len(keys))
    for _ in range(seeds):
        t = rf.sample(rng)
        obs += np.histogram(t, bins=edges)[0]
    exp = np.array([want[k] for k in keys]) * seeds
    z = (obs - exp) / np.sqrt(exp)
    assert np.abs(z).max() < 4.0, z
    chi2 = float((z**2).sum())
    assert stats.chi2.sf(chi2, df=len(keys)) > 1e-3, chi2
    # the school-holiday and bank-holiday days themselves: Christmas Day 2024 (a bank holiday in a
    # school holiday in December) carries all three factors
    lo = 24.0 * (dt.date(2024, 12, 25) - START).days
    day = rf.expected(lo, lo + 24)
    plain = rate(CalendarSpec()).expected(lo, lo + 24)  # same weekday, bank holiday cover too
    assert day == pytest.approx(
        plain * 1.3 * SCHOOL_FACTOR * BANK_FACTOR * (1 + TREND) ** (((lo / 24)) / 365.25)
    )


def test_flat_seasons_change_nothing_bit_for_bit() -> None:
    """Factors of 1 leave the rates, and so every draw and job record, exactly as without."""
    flat = {"by_month": [1.0] * 12, "school_holiday_factor": 1.0, "bank_holiday_factor": 1.0}
    a = rate(CalendarSpec(), days=140)
    b = rate(CalendarSpec(seasons=flat), days=140)
    assert np.array_equal(a.rates, b.rates) and np.array_equal(a.breaks, b.breaks)
    short = baseline(horizon={"start": START, "days": 70, "warmup_days": 7})
    seasonal = baseline(horizon={"start": START, "days": 70, "warmup_days": 7},
                        calendar={**short.calendar.model_dump(by_alias=True), "seasons": flat})
    ja = job_table(Model(short, RandomStreams(7, 0)).run())
    jb = job_table(Model(seasonal, RandomStreams(7, 0)).run())
    for col in ("arrival", "start", "end", "station_end", "handover"):
        assert np.array_equal(getattr(ja, col), getattr(jb, col), equal_nan=True), col


def baseline(**updates) -> Scenario:
    """The shipped baseline with top-level keys replaced."""
    data = load_scenario(ROOT / "scenarios" / "baseline.yaml").model_dump(by_alias=True)
    return Scenario.model_validate({**data, **updates})


def test_seasons_apply_only_to_the_listed_streams() -> None:
    base = baseline()
    sp = CalendarSpec.model_validate(
        {**base.calendar.model_dump(by_alias=True), "seasons": seasons(streams=["amhp"])}
    )
    cal = build_calendar(Horizon(start=START, days=364), sp)
    amhp = rate_function(base.streams["amhp"].arrivals, sp, cal, "amhp")
    calls = rate_function(base.streams["adults_referral"].arrivals, sp, cal, "adults_referral")
    plain = build_calendar(Horizon(start=START, days=364), base.calendar)
    assert np.array_equal(
        calls.rates, rate_function(base.streams["adults_referral"].arrivals, base.calendar,
                                   plain).rates
    )  # fmt: skip
    dec = 24.0 * (dt.date(2023, 12, 4) - START).days  # a week in December, not a holiday
    nov = 24.0 * (dt.date(2023, 11, 6) - START).days
    ratio = amhp.expected(dec, dec + 168) / amhp.expected(nov, nov + 168)
    assert ratio == pytest.approx(1.3 / 1.1 * (1 + TREND) ** (28 / 365.25), rel=1e-12)


def test_bad_seasons_are_refused() -> None:
    base = baseline().model_dump(by_alias=True)
    bad = {**base, "calendar": {**base["calendar"], "seasons": {"streams": ["amph"]}}}
    with pytest.raises(ValueError, match="no stream named 'amph'"):
        Scenario.model_validate(bad)
    with pytest.raises(ValueError):
        CalendarSpec(seasons={"by_month": [1.0] * 11})
    with pytest.raises(ValueError, match="before start"):
        CalendarSpec(seasons={"school_holidays": [{"start": "2024-02-01", "end": "2024-01-01"}]})
