"""Non-homogeneous Poisson arrivals, sampled exactly from a piecewise-constant rate.

Inside cover, rate(t) = k · weight[hour of week]; outside cover it is 0. The rate is constant on
each piece between hour and cover boundaries, so the cumulative rate Λ(t) is piecewise linear and
the arrival times are exactly Λ⁻¹ of sorted uniform points given a Poisson total. This never reads
the rate at the previous arrival (the trap that undercounts short peaks).

Seasons (``calendar.seasons``) multiply each day's pieces by that day's factor (month, school and
bank holidays, trend): day boundaries are already piece boundaries, so the rate stays piecewise
constant and the sampling stays exact. Without seasons the rates are untouched (same draws).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ooh_sim.core.calendar import Calendar, day_factors
from ooh_sim.core.clock import scale_factor
from ooh_sim.core.schema import Arrivals, CalendarSpec


@dataclass(frozen=True)
class RateFunction:
    """Piecewise-constant rate: ``rates[i]`` per hour on [breaks[i], breaks[i+1])."""

    breaks: np.ndarray
    rates: np.ndarray

    @property
    def cumulative(self) -> np.ndarray:
        return np.concatenate([[0.0], np.cumsum(self.rates * np.diff(self.breaks))])

    def expected(self, lo: float, hi: float) -> float:
        """Expected number of arrivals in [lo, hi)."""
        cum = self.cumulative
        return float(np.interp(hi, self.breaks, cum) - np.interp(lo, self.breaks, cum))

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        cum = self.cumulative
        total = cum[-1]
        n = rng.poisson(total) if total > 0 else 0
        u = np.sort(rng.uniform(0.0, total, n))
        idx = np.clip(np.searchsorted(cum, u, side="right") - 1, 0, len(self.rates) - 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = self.breaks[idx] + (u - cum[idx]) / self.rates[idx]
        return np.minimum(t, self.breaks[idx + 1])


def rate_function(
    arr: Arrivals, spec: CalendarSpec, cal: Calendar, stream: str | None = None
) -> RateFunction:
    """The rate of one stream over the horizon; ``stream`` (its name) decides whether
    ``calendar.seasons`` applies to it (``None``: seasons apply if the calendar has them)."""
    k = scale_factor(arr, spec)
    weights = np.asarray(arr.profile.hour_of_week_weights()) * k
    breaks = np.union1d(np.arange(0.0, np.floor(cal.hours) + 1.0), cal.cover.ravel())
    breaks = breaks[(breaks >= 0) & (breaks <= cal.hours)]
    if breaks[-1] < cal.hours:
        breaks = np.append(breaks, cal.hours)
    mids = (breaks[:-1] + breaks[1:]) / 2
    rates = np.where(cal.is_covered(mids), weights[cal.hour_of_week(mids)], 0.0)
    seasons = spec.seasons
    if seasons is not None and (stream is None or seasons.applies_to(stream)):
        day = np.minimum((mids // 24.0).astype(int), int(np.ceil(cal.hours / 24.0)) - 1)
        rates = rates * day_factors(seasons, spec, cal)[day]
    return RateFunction(breaks, rates)
