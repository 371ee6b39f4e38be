"""Across-replication statistics: means with Student-t 95% intervals, and paired differences."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Estimate:
    """A KPI summarised over replications. ``n`` counts replications where it was defined."""

    mean: float
    ci95_low: float
    ci95_high: float
    sd: float
    n: int

    def as_dict(self) -> dict[str, float | int | None]:
        return {
            k: (None if isinstance(v, float) and math.isnan(v) else v)
            for k, v in asdict(self).items()
        }

    @property
    def half_width(self) -> float:
        return (self.ci95_high - self.ci95_low) / 2


def t_interval(values: np.ndarray | list[float], level: float = 0.95) -> Estimate:
    """Mean and t-interval of the finite values (NaN = KPI undefined in that replication)."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = len(x)
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, math.nan, 0)
    mean = float(x.mean())
    if n == 1:
        return Estimate(mean, math.nan, math.nan, math.nan, 1)
    sd = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
    return Estimate(mean, mean - half, mean + half, sd, n)


def summarise(rows: list[dict[str, float]]) -> dict[str, Estimate]:
    """Per-KPI t-intervals from per-replication KPI dicts (KPIs in order of first appearance)."""
    names: list[str] = []
    for r in rows:
        names.extend(k for k in r if k not in names)
    return {k: t_interval([r.get(k, math.nan) for r in rows]) for k in names}
