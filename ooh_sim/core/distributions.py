"""Duration distributions, parameterised the way planners think (mean and spread, not scale/shape).

Each spec is a small pydantic model tagged by ``dist``; :meth:`frozen` turns it into a
``scipy.stats`` frozen distribution so that means, quantiles and moments come from one
well-tested library. Sampling is always vectorised: the model draws every job's duration for a
replication in one call, which keeps the per-event hot path free of Python-level sampling.

The exponential, lognormal, gamma, triangular and uniform families' :meth:`sample` calls
numpy's sampler directly, exactly as scipy's ``rvs`` does (the same draws, bit for bit, and the
same random numbers used: tests/test_distributions.py holds each to it), FOR SPEED: a worker
process then never imports scipy.stats, which took most of a second before the first replication
of every parallel run could start. ``fixed`` and ``empirical`` draw in their own way (a constant
without random numbers; numpy's ``choice`` of the observed values), as they always have.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ooh_sim.core import limits
from ooh_sim.core.pairwise import pairwise_sum

if TYPE_CHECKING:
    import numpy as np

FiniteNonNeg = Annotated[float, Field(ge=0, allow_inf_nan=False)]
FinitePos = Annotated[float, Field(gt=0, allow_inf_nan=False)]


def _scipy_stats() -> Any:
    """``scipy.stats``, imported on first use FOR SPEED: it takes most of a second, and reading
    or validating a scenario (``ooh-sim validate``) never samples."""
    from scipy import stats

    return stats


SPREAD_LIMITS = (1e-3, 1e3)
"""Allowed sd/mean (lognormal) and cv (gamma): beyond them the laws overflow or degenerate."""


def _check_spread(ratio: float, what: str) -> None:
    lo, hi = SPREAD_LIMITS
    if not lo <= ratio <= hi:
        raise ValueError(f"{what} must be between {lo:g} and {hi:g} (got {ratio:g})")


class _Dist(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
    _law: Any = PrivateAttr(default=None)

    def frozen(self) -> Any:
        """The equivalent ``scipy.stats`` frozen distribution."""
        raise NotImplementedError

    def law(self) -> Any:
        """:meth:`frozen`, built once per spec: building a scipy law costs about a millisecond,
        more than drawing a whole replication's durations."""
        if self._law is None:
            self._law = self.frozen()
        return self._law

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` independent draws from ``rng`` (never negative). Each family draws with numpy,
        as its scipy law would (module doc): falling back on the law's ``rvs`` would make every
        worker import scipy.stats (most of a second)."""
        raise NotImplementedError

    @property
    def mean(self) -> float:
        # the spec's own mean where it is given by one (closed forms below otherwise), FOR
        # SPEED: the load check of `ooh-sim validate` then never imports scipy (law() does)
        given = getattr(self, "mean_", None)
        return float(given) if given is not None else float(self.law().mean())

    @property
    def second_moment(self) -> float:
        """E[X²], for the Pollaczek–Khinchine formula and load checks."""
        law = self.law()
        return float(law.var() + law.mean() ** 2)


class Exponential(_Dist):
    """Exponential given its mean: most values short, a few long (memoryless)."""

    dist: Literal["exponential"]
    mean_: FinitePos = Field(alias="mean", description="Average value.")

    def frozen(self) -> Any:
        return _scipy_stats().expon(scale=self.mean_)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        # what scipy's expon.rvs draws, bit for bit (standard exponentials × scale), FOR SPEED:
        # a scenario of exponential durations then never imports scipy.stats (most of a second)
        return rng.standard_exponential(n) * self.mean_


class Lognormal(_Dist):
    """Lognormal given the mean and sd of the duration itself (not of its logarithm)."""

    dist: Literal["lognormal"]
    mean_: FinitePos = Field(alias="mean", description="Average value.")
    sd: FiniteNonNeg = Field(description="Standard deviation of the values (0: always the mean).")

    @model_validator(mode="after")
    def _spread(self) -> Lognormal:
        if self.sd != 0:  # sd 0 is a point mass; an sd too small for its mean is refused
            _check_spread(self.sd / self.mean_, "sd / mean")
        return self

    def _shape_scale(self) -> tuple[float, float]:
        """scipy's ``s`` (sd of the logarithm) and ``scale`` (e^mean of the logarithm)."""
        sigma2 = math.log1p((self.sd / self.mean_) ** 2)
        mu = math.log(self.mean_) - sigma2 / 2
        return math.sqrt(sigma2), math.exp(mu)

    def frozen(self) -> Any:
        if self.sd == 0:  # no spread: a point mass (scipy's lognorm needs s > 0)
            return _point_law(self.mean_)
        s, scale = self._shape_scale()
        return _scipy_stats().lognorm(s=s, scale=scale)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        import numpy as np  # here, FOR SPEED (see _Dist.sample)

        if self.sd == 0:
            return _point_mass(rng, self.mean_, n)
        s, scale = self._shape_scale()
        if scale == 0:  # an absurd mean (~1e-320 h) underflows it: scipy's rvs draws nothing
            return np.zeros(n)
        return np.exp(s * rng.standard_normal(n)) * scale  # scipy's lognorm.rvs (module doc)


class Gamma(_Dist):
    """Gamma given the mean and the coefficient of variation (cv = sd / mean)."""

    dist: Literal["gamma"]
    mean_: FinitePos = Field(alias="mean", description="Average value.")
    cv: FinitePos = Field(description="Coefficient of variation: standard deviation ÷ mean.")

    @model_validator(mode="after")
    def _spread(self) -> Gamma:
        _check_spread(self.cv, "cv")
        return self

    def _shape_scale(self) -> tuple[float, float]:
        """scipy's ``a`` (shape) and ``scale``."""
        shape = 1.0 / self.cv**2
        return shape, self.mean_ / shape

    def frozen(self) -> Any:
        shape, scale = self._shape_scale()
        return _scipy_stats().gamma(a=shape, scale=scale)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        import numpy as np  # here, FOR SPEED (see _Dist.sample)

        shape, scale = self._shape_scale()
        if scale == 0:  # an absurd mean (~1e-320 h) underflows it: scipy's rvs draws nothing
            return np.zeros(n)
        return rng.standard_gamma(shape, n) * scale  # scipy's gamma.rvs (module doc)


class Triangular(_Dist):
    """Triangular given the shortest, the most likely and the longest value."""

    dist: Literal["triangular"]
    min: FiniteNonNeg = Field(description="Shortest value.")
    mode: FiniteNonNeg = Field(description="Most likely value (between min and max).")
    max: FiniteNonNeg = Field(description="Longest value (above min).")

    @model_validator(mode="after")
    def _ordered(self) -> Triangular:
        if not (self.min <= self.mode <= self.max) or self.min == self.max:
            raise ValueError("need min <= mode <= max and min < max")
        return self

    def _shape_scale(self) -> tuple[float, float]:
        """scipy's ``c`` (where the mode lies, 0-1) and ``scale`` (the width); ``loc`` is min."""
        width = self.max - self.min
        return (self.mode - self.min) / width, width

    def frozen(self) -> Any:
        c, width = self._shape_scale()
        return _scipy_stats().triang(c=c, loc=self.min, scale=width)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        c, width = self._shape_scale()
        return rng.triangular(0, c, 1, n) * width + self.min  # scipy's triang.rvs (module doc)

    @property
    def mean(self) -> float:
        return (self.min + self.mode + self.max) / 3


class Uniform(_Dist):
    """Uniform between two values: every value in between equally likely."""

    dist: Literal["uniform"]
    min: FiniteNonNeg = Field(description="Shortest value.")
    max: FiniteNonNeg = Field(description="Longest value (at least min).")

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.min > self.max:
            raise ValueError("need min <= max")
        return self

    def frozen(self) -> Any:
        if self.max == self.min:  # a point mass (scipy's uniform gives nan moments at scale 0)
            return _point_law(self.min)
        return _scipy_stats().uniform(loc=self.min, scale=self.max - self.min)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if self.max == self.min:
            return _point_mass(rng, self.min, n)
        # scipy's uniform.rvs (module doc)
        return rng.uniform(0.0, 1.0, n) * (self.max - self.min) + self.min

    @property
    def mean(self) -> float:
        return (self.min + self.max) / 2


class Fixed(_Dist):
    """A fixed value, the same every time (no spread)."""

    dist: Literal["fixed"]
    value: FiniteNonNeg = Field(description="The value, every time.")

    def frozen(self) -> Any:
        # A one-point discrete law: scipy's uniform with scale 0 gives nan for mean/ppf/cdf.
        return _point_law(self.value)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        import numpy as np  # here, FOR SPEED (see _Dist.sample)

        return np.full(n, self.value)  # directly: no need to go through scipy

    @property
    def mean(self) -> float:
        return self.value

    @property
    def second_moment(self) -> float:
        return self.value**2


class Empirical(_Dist):
    """Resampling of observed durations, given inline or as a one-column CSV file."""

    dist: Literal["empirical"]
    values: list[FiniteNonNeg] | None = Field(
        None, description="Observed values, each drawn equally often (or give file)."
    )
    file: Path | None = Field(
        None,
        description="A CSV whose first column holds observed values (a header row is skipped); "
        "relative to the scenario file.",
    )

    @field_validator("file")
    @classmethod
    def _resolve(cls, v: Path | None, info: ValidationInfo) -> Path | None:
        return resolve_relative(v, info)

    @model_validator(mode="after")
    def _load(self) -> Empirical:
        if (self.values is None) == (self.file is None):
            raise ValueError("give exactly one of 'values' or 'file'")
        if self.file is not None:
            object.__setattr__(self, "values", _read_values(self.file))
        if not self.values:
            raise ValueError("needs at least one value")
        return self

    def frozen(self) -> Any:
        return _scipy_stats().rv_discrete(values=_support(self.values or []))

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        import numpy as np  # here, FOR SPEED (see _Dist.sample)

        return rng.choice(np.asarray(self.values, dtype=float), size=n, replace=True)

    # np.mean's arithmetic (pairwise sum ÷ n), without numpy: the load check of `ooh-sim validate`
    # reads means, and the model must see the very same numbers

    @property
    def mean(self) -> float:
        values = self.values or []
        return pairwise_sum(values) / len(values)

    @property
    def second_moment(self) -> float:
        values = self.values or []
        return pairwise_sum([x * x for x in values]) / len(values)


def _point_law(value: float) -> Any:
    """A one-point scipy law: every value is ``value`` (scipy's continuous laws need a spread)."""
    return _scipy_stats().rv_discrete(values=([value], [1.0]))


def _point_mass(rng: np.random.Generator, value: float, n: int) -> np.ndarray:
    """What scipy's one-point ``rv_discrete`` draws: ``value`` every time, after using one
    uniform per draw (as it does), so that the stream's later draws are as they always were."""
    import numpy as np  # here, FOR SPEED (see _Dist.sample)

    rng.uniform(size=n)
    return np.full(n, float(value))


def resolve_relative(path: Path | None, info: ValidationInfo) -> Path | None:
    """A data file named in a scenario is relative to that scenario's folder (``base_dir``)."""
    base = (info.context or {}).get("base_dir")
    if path is not None and base is not None and not path.is_absolute():
        return Path(base) / path
    return path


def _support(values: list[float]) -> tuple[np.ndarray, np.ndarray]:
    import numpy as np  # here, FOR SPEED (see _Dist.sample)

    xs, counts = np.unique(np.asarray(values, dtype=float), return_counts=True)
    return xs, counts / counts.sum()


def _read_values(path: Path) -> list[float]:
    """First numeric column of a CSV (a header row is skipped)."""
    if not path.exists():
        raise ValueError(f"file not found: {path}")
    out: list[float] = []
    for line in limits.data_lines(path):  # size and row limits; never the whole line echoed
        cell = line.split(",")[0].strip()
        if not cell:
            continue
        try:
            x = float(cell)
        except ValueError:
            if out:
                raise ValueError(f"{path}: not a number: {limits.quote(cell)}") from None
            continue  # header
        if not math.isfinite(x) or x < 0:
            raise ValueError(f"{path}: values must be finite and >= 0, got {limits.quote(cell)}")
        out.append(x)
    return out


Distribution = Annotated[
    Exponential | Lognormal | Gamma | Triangular | Uniform | Fixed | Empirical,
    Field(discriminator="dist"),
]
DIST_NAMES = ("exponential", "lognormal", "gamma", "triangular", "uniform", "fixed", "empirical")


def fixed(value: float) -> Fixed:
    """Convenience for defaults: a fixed duration."""
    return Fixed(dist="fixed", value=value)
