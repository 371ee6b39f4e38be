"""Arrivals follow the integrated rate, including a sharp peak (docs/model.md).

The profile has a 2-hour spike (weight 50 at 18:00–19:59, 1 elsewhere) and a quiet base rate of
~0.05/h, so a sampler that draws the next gap from the rate at the previous arrival usually
jumps clean over the spike. The same count check is applied to the real sampler (must pass) and
to that naive sampler built here (must fail), so the check demonstrably discriminates.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from scipy import stats

from ooh_sim.core.arrivals import RateFunction, rate_function
from ooh_sim.core.calendar import build_calendar
from ooh_sim.core.clock import scale_factor
from ooh_sim.core.distributions import Empirical
from ooh_sim.core.pairwise import pairwise_sum
from ooh_sim.core.schema import Arrivals, CalendarSpec, Horizon

SEED = 314159
WEEKS = 500
PER_WEEK = 84.0
SPIKE = (18, 19)
BY_HOUR = [50.0 if h in SPIKE else 1.0 for h in range(24)]
# weekly weight mass: 7 days × (22 × 1 + 2 × 50) = 854, so the base rate is 84/854 ≈ 0.098/h
MASS = 7 * (22 + 2 * 50)


def spike_rate() -> RateFunction:
    arr = Arrivals(per_week=PER_WEEK, profile={"by_hour": BY_HOUR})
    spec = CalendarSpec(cover="always")
    cal = build_calendar(Horizon(start=dt.date(2023, 1, 2), days=7 * WEEKS), spec)
    return rate_function(arr, spec, cal)


def expected_per_hour_of_week() -> np.ndarray:
    """Independent of the code under test: k · weight per hour, k = per_week / weekly mass."""
    return np.tile(BY_HOUR, 7) * PER_WEEK / MASS * WEEKS


def counts_per_hour_of_week(times: np.ndarray) -> np.ndarray:
    # the horizon starts on a Monday at 00:00, so hour of week is just floor(t) mod 168
    return np.bincount(np.floor(times).astype(int) % 168, minlength=168)


def count_check(times: np.ndarray) -> tuple[float, float, float]:
    """(chi-square p-value over 168 bins, z of the total in the spike hours, worst bin |z|)."""
    obs, exp = counts_per_hour_of_week(times), expected_per_hour_of_week()
    chi2 = float(((obs - exp) ** 2 / exp).sum())
    p = float(stats.chi2.sf(chi2, df=len(obs) - 1))
    spike = np.tile([h in SPIKE for h in range(24)], 7)
    z_spike = float((obs[spike].sum() - exp[spike].sum()) / np.sqrt(exp[spike].sum()))
    z_max = float(np.abs((obs - exp) / np.sqrt(exp)).max())
    return p, z_spike, z_max


def passes(times: np.ndarray) -> bool:
    p, z_spike, z_max = count_check(times)
    return p > 1e-3 and abs(z_spike) < 3.5 and z_max < 4.5


def naive_sampler(rf: RateFunction, rng: np.random.Generator) -> np.ndarray:
    """The classic bug: next gap ~ Exp(rate at the previous arrival)."""
    out, t, end = [], 0.0, rf.breaks[-1]
    idx = 0
    while True:
        while rf.breaks[idx + 1] <= t:
            idx += 1
        t += rng.exponential(1.0 / rf.rates[idx])
        if t >= end:
            return np.asarray(out)
        out.append(t)


def test_rate_function_integrates_the_profile() -> None:
    """``expected`` over each hour is k · weight, and a week integrates to per_week."""
    rf = spike_rate()
    k = PER_WEEK / MASS
    assert scale_factor(
        Arrivals(per_week=PER_WEEK, profile={"by_hour": BY_HOUR}), CalendarSpec(cover="always")
    ) == pytest.approx(k, rel=1e-12)
    first_week = [rf.expected(h, h + 1) for h in range(168)]
    np.testing.assert_allclose(first_week, np.tile(BY_HOUR, 7) * k, rtol=1e-12)
    assert rf.expected(0, 168 * WEEKS) == pytest.approx(PER_WEEK * WEEKS, rel=1e-12)
    # a part-hour inside the spike: linear within the piece
    assert rf.expected(18.25, 18.75) == pytest.approx(0.5 * 50 * k, rel=1e-12)


def test_counts_per_hour_of_week_match_the_rate() -> None:
    """500 weeks, ~42k arrivals: every hour-of-week bin within Poisson noise of k · weight.

    Each spike bin expects ~2,460 arrivals (SD 2%); the 14 spike bins together ~34,400 (SD
    0.5%), so a 2% shortfall or excess at the peak fails the spike z-test.
    """
    rf = spike_rate()
    times = rf.sample(np.random.default_rng(SEED))
    assert np.all(np.diff(times) >= 0) and times[0] >= 0 and times[-1] <= 168 * WEEKS
    p, z_spike, z_max = count_check(times)
    assert p > 1e-3, (p, z_spike, z_max)
    assert abs(z_spike) < 3.5, (p, z_spike, z_max)
    assert z_max < 4.5, (p, z_spike, z_max)
    # within an hour the rate is flat: arrivals spread evenly over the minutes of the spike
    in_spike = times[np.isin(np.floor(times) % 24, SPIKE)]
    frac = in_spike - np.floor(in_spike)
    assert stats.kstest(frac, "uniform").pvalue > 1e-3


def test_naive_previous_arrival_sampler_fails_the_same_check() -> None:
    """The count check is not vacuous: 'rate at previous arrival' badly undercounts the spike."""
    rf = spike_rate()
    naive = naive_sampler(rf, np.random.default_rng(SEED))
    assert not passes(naive)
    _, z_spike, _ = count_check(naive)
    spike_expected = expected_per_hour_of_week()[[h % 24 in SPIKE for h in range(168)]].sum()
    spike_seen = np.isin(np.floor(naive) % 24, SPIKE).sum()
    assert spike_seen < 0.7 * spike_expected  # far below, not a marginal miss
    assert z_spike < -10
    # and the exact sampler, same seed and check, passes
    assert passes(rf.sample(np.random.default_rng(SEED)))


def test_total_count_is_poisson() -> None:
    """Over many short horizons the count has mean = variance = Λ (not fixed, not binomial)."""
    arr = Arrivals(per_week=PER_WEEK, profile={"by_hour": BY_HOUR})
    spec = CalendarSpec(cover="always")
    rf = rate_function(arr, spec, build_calendar(Horizon(days=7), spec))
    rng = np.random.default_rng(SEED)
    n = np.array([len(rf.sample(rng)) for _ in range(4000)])
    lam = PER_WEEK
    # mean: SE = sqrt(84/4000) = 0.145; dispersion index: SE ≈ sqrt(2/4000) = 0.022
    assert abs(n.mean() - lam) < 4 * np.sqrt(lam / len(n))
    assert n.var(ddof=1) / n.mean() == pytest.approx(1.0, abs=0.09)


def test_zero_rate_and_zero_volume() -> None:
    """per_week 0 gives no arrivals; a profile with no weight in cover is refused."""
    spec = CalendarSpec(cover="always")
    cal = build_calendar(Horizon(days=14), spec)
    none = rate_function(Arrivals(per_week=0), spec, cal)
    assert len(none.sample(np.random.default_rng(SEED))) == 0
    with pytest.raises(ValueError, match="no weight inside cover"):
        scale_factor(Arrivals(per_week=5, profile={"by_hour": [0.0] * 24}), spec)


def test_pairwise_sum_is_numpys_sum_bit_for_bit() -> None:
    """The scale factor and the scenario checks add without numpy (``ooh-sim validate`` never
    imports it) yet must round as numpy does: the model's rates and the warnings' thresholds
    depend on the last bit. Lengths around every block and split size, constant runs, and the
    per-hour sums of a week in minutes (``reshape(168, 60).sum(axis=1)``)."""
    rng = np.random.default_rng(SEED)
    for n in [*range(300), 383, 384, 385, 1000, 10_080]:
        for x in (rng.random(n) * 10.0 ** rng.integers(-6, 7, n), np.full(n, rng.random() / 60)):
            assert pairwise_sum(x.tolist()) == float(x.sum()), n
    week = np.where(rng.random(10_080) < 0.7, rng.random(10_080), 0.0)
    hourly = [pairwise_sum(week[i : i + 60].tolist()) for i in range(0, 10_080, 60)]
    assert hourly == week.reshape(168, 60).sum(axis=1).tolist()
    values = (rng.random(77) * 5).tolist()
    empirical = Empirical(dist="empirical", values=values)
    assert empirical.mean == float(np.mean(values))
    assert empirical.second_moment == float(np.mean(np.square(values)))
