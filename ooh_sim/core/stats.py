"""Across-replication statistics: means with Student-t 95% intervals, and paired differences.

Also the one rule for an undefined number. A KPI with nothing to measure in a replication is NaN
inside the program; every place it leaves the program writes it the same way: ``null`` in JSON,
a blank CSV cell, "–" on screen. :func:`undefined` and :func:`finite_or_none` are that rule;
writers and formatters call them instead of testing ``x != x`` or ``math.isfinite`` themselves.
"""

from __future__ import annotations

import math
import sys
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import numpy as np

T = TypeVar("T")


def undefined(x: object) -> bool:
    """True for ``None``, NaN and ±inf: a number with nothing behind it. Text is defined."""
    if x is None:
        return True
    try:
        return not math.isfinite(x)  # type: ignore[arg-type]
    except TypeError:
        return False


def finite_or_none(x: T) -> T | None:
    """``x`` itself (type kept: an int stays an int), or ``None`` when it is :func:`undefined`."""
    return None if undefined(x) else x


def json_safe(obj: Any) -> Any:
    """``obj`` with every undefined number (nested in dicts, lists, tuples) → ``None``, and numpy
    scalars → Python ones: what ``json.dumps(..., allow_nan=False)`` accepts."""
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    # numpy is not imported for this test, FOR SPEED (`ooh-sim validate` needs this module, not
    # numpy): there is no numpy scalar before something else has imported numpy
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(obj, numpy.generic):
        obj = obj.item()
    if isinstance(obj, float):
        return finite_or_none(obj)
    return obj


@dataclass(frozen=True)
class Estimate:
    """A KPI summarised over replications. ``n`` counts replications where it was defined."""

    mean: float
    ci95_low: float
    ci95_high: float
    sd: float
    n: int

    def as_dict(self) -> dict[str, float | int | None]:
        return {k: finite_or_none(v) for k, v in asdict(self).items()}

    @property
    def half_width(self) -> float:
        return (self.ci95_high - self.ci95_low) / 2


def t_quantile(p: float, df: float) -> float:
    """Student's t quantile: ``scipy.stats.t.ppf(p, df)``, bit for bit for 0 < p ≤ 1 (at p = 0
    stdtrit gives +inf where t.ppf gives -inf; no interval asks for it).

    Taken from ``scipy.special.stdtrit``, which is what ``t.ppf`` computes, FOR SPEED: importing
    scipy.stats for it took most of a second after the last replication of every run (and
    before the first of every comparison); scipy.special takes a fifth of that. Imported on
    first use: `ooh-sim --help` / `validate` need this module (undefined numbers), not this."""
    from scipy.special import stdtrit

    return float(stdtrit(df, p))


def t_interval(values: np.ndarray | list[float], level: float = 0.95) -> Estimate:
    """Mean and t-interval of the finite values (NaN = KPI undefined in that replication)."""
    import numpy as np  # on first use, FOR SPEED: `--help` / `validate` import this module

    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = len(x)
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, math.nan, 0)
    mean = float(x.mean())
    if n == 1:
        return Estimate(mean, math.nan, math.nan, math.nan, 1)
    sd = float(x.std(ddof=1))
    half = t_quantile(0.5 + level / 2, n - 1) * sd / math.sqrt(n)
    return Estimate(mean, mean - half, mean + half, sd, n)


def summarise(rows: list[dict[str, float]]) -> dict[str, Estimate]:
    """Per-KPI t-intervals from per-replication KPI dicts (KPIs in order of first appearance)."""
    names: list[str] = []
    for r in rows:
        names.extend(k for k in r if k not in names)
    return {k: t_interval([r.get(k, math.nan) for r in rows]) for k in names}
