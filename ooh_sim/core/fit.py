"""Calibrate a scenario from a log of past out-of-hours contacts (``ooh-sim fit``).

The log is a CSV with one row per contact::

    received,stream,worker_minutes
    2023-01-02T17:42:10,children_referral,22
    2023-01-02T18:05:00,amhp,371
    2023-01-02T18:30:00,adults_referral,        ← blank: passed on / no worker time recorded

``received`` is an ISO 8601 local date-time (a time-zone suffix is dropped: the model has no DST),
``stream`` any name (letters, digits, _; it becomes the stream and its skill), ``worker_minutes``
the worker time the contact took (blank when none was recorded). Other columns are ignored.

From it, for each stream:

* **weekly volume** — per *standard week of cover* (the volume ``arrivals.per_week`` means in a
  scenario): contacts inside cover ÷ the cover hours the log period actually had, weighted by the
  fitted hour-of-week shape (bank holidays add cover hours, as in the model). Its standard error
  is the Poisson one, per_week / √N.
* **hour-of-week profile** — by_hour × by_weekday weights, the Poisson maximum-likelihood fit of a
  multiplicative hour × weekday rate with the cover hours as exposure (iterative proportional
  fitting); or, with ``profile="hour_of_week"``, 168 rates written to a CSV beside the scenario.
  A stream with fewer than ``min_profile_contacts`` contacts borrows the shape of all contacts
  pooled (its own would be mostly noise).
* **duration** — exponential, lognormal, gamma and triangular fitted by maximum likelihood
  (``scipy.stats``), the lowest AIC chosen, with a Kolmogorov–Smirnov statistic and a Monte
  Carlo p-value for the goodness of fit (``scipy.stats.goodness_of_fit``: the parameters are
  refitted to each simulated sample, so a wrong family is rejected; plain KS for triangular).
  Durations logged in whole minutes are first spread uniformly within their minute (fixed seed),
  the usual correction for rounding, which would otherwise fail every KS test.

Reading the log and writing the fitted scenario are :mod:`ooh_sim.io.fit_files`'s job; this
module estimates. The written scenario is a *template*: volumes, profiles and durations are
DERIVED from the log; staff (one group with every skill), priorities, deadlines and placements
are ASSUMPTION placeholders the planner edits. ``run`` accepts it as written.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import TypeAdapter, ValidationError
from scipy import stats

from ooh_sim.core.calendar import build_calendar
from ooh_sim.core.clock import standard_week_cover
from ooh_sim.core.distributions import Distribution
from ooh_sim.core.errors import InputError
from ooh_sim.core.schema import CalendarSpec, Horizon

MIN_PROFILE_CONTACTS = 100
MIN_FIT = 10  # fewer durations than this: exponential with the sample mean, no model choice
_DIST = TypeAdapter(Distribution)


# --------------------------------------------------------------------------------------------
# Reading the log


@dataclass
class Events:
    """The log as arrays: times (naive datetimes), stream names, worker minutes (NaN = blank)."""

    received: list[dt.datetime]
    stream: list[str]
    minutes: np.ndarray
    source: str = ""
    sha256: str = ""


# --------------------------------------------------------------------------------------------
# Fitting


@dataclass
class DurationFit:
    spec: dict[str, Any]  # planner parameterisation, as written to the YAML
    n: int
    ks_stat: float
    ks_p: float
    aic: dict[str, float]  # every candidate tried
    mean: float  # sample mean (hours)
    jittered: bool = False
    note: str = ""


@dataclass
class StreamFit:
    name: str
    contacts: int  # inside cover, in the period
    per_week: float
    se: float
    by_hour: list[float]
    by_weekday: list[float]
    hour_of_week: list[float] | None  # 168 weights when profile == "hour_of_week"
    pooled_shape: bool
    duration: DurationFit | None


@dataclass
class Fit:
    calendar: CalendarSpec
    start: dt.date
    end: dt.date  # exclusive
    cover_hours: float
    standard_weeks: float  # cover hours of the period ÷ cover hours of a standard week
    streams: list[StreamFit]
    outside_cover: dict[str, int] = field(default_factory=dict)
    outside_period: int = 0
    profile: str = "factored"
    source: str = ""
    sha256: str = ""
    total: int = 0


def exposure(spec: CalendarSpec, start: dt.date, end: dt.date) -> tuple[np.ndarray, Any]:
    """Cover hours in each of the 168 hours of the week over [start, end), and the calendar."""
    days = (end - start).days
    cal = build_calendar(Horizon(start=start, days=days, warmup_days=0), spec)
    return cal.open_by_hour_of_week(cal.cover)[0], cal


def factored_profile(
    n: np.ndarray, e: np.ndarray, iters: int = 500
) -> tuple[np.ndarray, np.ndarray]:
    """Poisson MLE of rate[d, h] = a[d]·b[h] from counts and exposures (7×24), by IPF.

    Hours or days with no exposure get weight 0 (they never occur in cover). Both factors are
    scaled to mean 1 over the entries with exposure.
    """
    n = n.reshape(7, 24)
    e = e.reshape(7, 24)
    a, b = np.ones(7), np.ones(24)
    for _ in range(iters):
        den_b = (a[:, None] * e).sum(axis=0)
        b_new = np.divide(n.sum(axis=0), den_b, out=np.zeros(24), where=den_b > 0)
        den_a = (b_new[None, :] * e).sum(axis=1)
        a_new = np.divide(n.sum(axis=1), den_a, out=np.zeros(7), where=den_a > 0)
        done = np.allclose(a_new, a, rtol=1e-10, atol=1e-12) and np.allclose(b_new, b, rtol=1e-10)
        a, b = a_new, b_new
        if done:
            break
    hb = e.sum(axis=0) > 0
    ha = e.sum(axis=1) > 0
    if b[hb].mean() > 0:
        scale = b[hb].mean()
        b, a = b / scale, a * scale
    if a[ha].mean() > 0:
        a = a / a[ha].mean()
    return a, b


def _spec_of(name: str, params: tuple) -> dict[str, Any]:
    if name == "exponential":
        return {"dist": "exponential", "mean": params[-1]}
    if name == "lognormal":
        s, _, scale = params
        mean = scale * math.exp(s * s / 2)
        return {"dist": "lognormal", "mean": mean, "sd": mean * math.sqrt(math.expm1(s * s))}
    if name == "gamma":
        a, _, scale = params
        return {"dist": "gamma", "mean": a * scale, "cv": 1 / math.sqrt(a)}
    c, loc, scale = params
    return {"dist": "triangular", "min": loc, "mode": loc + c * scale, "max": loc + scale}


def describe(spec: dict[str, Any]) -> str:
    """A fitted duration in a few characters (hours): for tables."""
    d = spec["dist"]
    if d == "triangular":
        return f"tri {spec['min']:.2g}/{spec['mode']:.2g}/{spec['max']:.2g}"
    if d == "lognormal":
        return f"lognorm {spec['mean']:.3g} sd {spec['sd']:.2g}"
    if d == "gamma":
        return f"gamma {spec['mean']:.3g} cv {spec['cv']:.2g}"
    if d == "fixed":
        return f"fixed {spec['value']:.3g}"
    return f"exp {spec.get('mean', float('nan')):.3g}"


def _rounded(spec: dict[str, Any]) -> dict[str, Any]:
    return {k: (float(f"{v:.4g}") if isinstance(v, float) else v) for k, v in spec.items()}


def fit_duration(hours: np.ndarray, *, seed: int = 0) -> DurationFit | None:
    """AIC choice among exponential, lognormal, gamma and triangular fits; KS goodness of fit."""
    x = np.asarray(hours, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return None
    if np.ptp(x) == 0:  # every duration the same: no distribution to fit
        spec = _rounded({"dist": "fixed", "value": float(x[0])})
        return DurationFit(spec, len(x), math.nan, math.nan, {}, float(x[0]), False, "all equal")
    minutes = x * 60
    jitter = len(x) >= MIN_FIT and bool(np.all(np.abs(minutes - np.round(minutes)) < 1e-9))
    if jitter:  # whole minutes: spread each within its minute (never below 0.5 min)
        rng = np.random.default_rng(seed)
        minutes = np.maximum(minutes + rng.uniform(-0.5, 0.5, len(x)), 0.5 * (minutes > 0))
        x = minutes / 60
    pos = x[x > 0]
    mean = float(x.mean())
    if len(pos) < MIN_FIT or np.ptp(pos) == 0:
        spec = _rounded({"dist": "exponential", "mean": max(mean, 1e-3)})
        note = f"only {len(x)} durations: no model choice"
        return DurationFit(spec, len(x), math.nan, math.nan, {}, mean, jitter, note)
    cands: dict[str, tuple[dict[str, Any], float]] = {}
    fits = {
        "exponential": (stats.expon, {"floc": 0}, 1),
        "lognormal": (stats.lognorm, {"floc": 0}, 2),
        "gamma": (stats.gamma, {"floc": 0}, 2),
        "triangular": (stats.triang, {}, 3),
    }
    for name, (law, kw, k) in fits.items():
        try:
            with np.errstate(all="ignore"):
                params = law.fit(pos, **kw)
            spec = _rounded(_spec_of(name, params))
            if name == "triangular":  # the support must hold every observation
                spec["min"] = max(0.0, min(spec["min"], float(pos.min())))
                spec["max"] = max(spec["max"], float(pos.max()))
                spec["mode"] = min(max(spec["mode"], spec["min"]), spec["max"])
            frozen = _DIST.validate_python(spec).frozen()
            ll = float(np.sum(frozen.logpdf(pos)))
        except (ValueError, RuntimeError, ValidationError, ZeroDivisionError, OverflowError):
            continue
        if math.isfinite(ll):
            cands[name] = (spec, 2 * k - 2 * ll)
    if not cands:
        spec = _rounded({"dist": "exponential", "mean": mean})
        return DurationFit(spec, len(x), math.nan, math.nan, {}, mean, jitter, "no fit converged")
    best = min(cands, key=lambda c: cands[c][1])
    spec = cands[best][0]
    ks_stat, ks_p = goodness_of_fit(pos, best, spec, seed=seed)
    aic = {c: v[1] for c, v in cands.items()}
    note = f"{len(x) - len(pos)} zero durations left out of the fit" if len(pos) < len(x) else ""
    return DurationFit(spec, len(x), ks_stat, ks_p, aic, mean, jitter, note)


GOF_SAMPLES = 199
"""Monte Carlo samples of the goodness-of-fit test (p-values to the nearest 0.005)."""

_GOF_LAWS = {"exponential": stats.expon, "lognormal": stats.lognorm, "gamma": stats.gamma}


def goodness_of_fit(
    hours: np.ndarray, family: str, spec: dict[str, Any] | None = None, *, seed: int = 0
) -> tuple[float, float]:
    """Kolmogorov–Smirnov statistic and p-value of ``family`` fitted to ``hours``.

    For exponential, lognormal and gamma the p-value is ``scipy.stats.goodness_of_fit``'s
    Monte Carlo one: the parameters are fitted again to every simulated sample, so the test is
    not made optimistic by fitting them to the same data (a plain KS p-value is). Fitting a
    triangular law to each sample is too slow for that; it gets the plain KS test against
    ``spec`` (optimistic).
    """
    x = np.asarray(hours, dtype=float)
    law = _GOF_LAWS.get(family)
    if law is not None:
        with np.errstate(all="ignore"):
            res = stats.goodness_of_fit(law, x, known_params={"loc": 0.0}, statistic="ks",
                                        n_mc_samples=GOF_SAMPLES,
                                        rng=np.random.default_rng(seed))  # fmt: skip
        return float(res.statistic), float(res.pvalue)
    if spec is None:
        raise ValueError(f"the plain KS test of a {family} law needs its fitted spec")
    ks = stats.kstest(x, _DIST.validate_python(spec).frozen().cdf)
    return float(ks.statistic), float(ks.pvalue)


def fit_events(
    ev: Events,
    *,
    calendar: CalendarSpec | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    profile: str = "factored",
    min_profile_contacts: int = MIN_PROFILE_CONTACTS,
) -> Fit:
    """Fit volumes, hour-of-week profiles and durations of every stream in the log.

    The log period is [start, end) (default: the first contact's date to the day after the
    last); contacts outside it, or outside cover hours, are counted and left out.
    """
    spec = calendar or CalendarSpec()
    t0 = min(ev.received).date() if start is None else start
    t1 = max(ev.received).date() + dt.timedelta(days=1) if end is None else end
    if t1 <= t0:
        raise InputError(f"the log period is empty ({t0} to {t1})", path="--from/--to")
    e168, cal = exposure(spec, t0, t1)
    origin = dt.datetime.combine(t0, dt.time())
    hours = np.array([(t - origin).total_seconds() / 3600 for t in ev.received])
    names = sorted(set(ev.stream))
    sidx = np.array([names.index(s) for s in ev.stream])
    in_period = (hours >= 0) & (hours < cal.hours)
    covered = np.zeros(len(hours), dtype=bool)
    covered[in_period] = cal.is_covered(hours[in_period])
    how = cal.hour_of_week(np.where(in_period, hours, 0.0))
    std = np.asarray(standard_week_cover(spec))
    counts = np.zeros((len(names), 168))
    np.add.at(counts, (sidx[covered], how[covered]), 1)
    pooled_a, pooled_b = factored_profile(counts.sum(axis=0), e168)
    out = Fit(
        calendar=spec,
        start=t0,
        end=t1,
        cover_hours=float(e168.sum()),
        standard_weeks=float(e168.sum() / std.sum()),
        streams=[],
        profile=profile,
        source=ev.source,
        sha256=ev.sha256,
        total=len(hours),
        outside_period=int((~in_period).sum()),
    )
    for si, name in enumerate(names):
        n_s = counts[si]
        total = int(n_s.sum())
        outside = int(((sidx == si) & in_period & ~covered).sum())
        if outside:
            out.outside_cover[name] = outside
        pooled = total < min_profile_contacts
        a, b = (pooled_a, pooled_b) if pooled else factored_profile(n_s, e168)
        by_hour = [round(float(v), 3) for v in b]
        by_weekday = [round(float(v), 3) for v in a]
        w = np.outer(by_weekday, by_hour).ravel()
        h168 = None
        if profile == "hour_of_week" and not pooled:
            rate = np.divide(n_s, e168, out=np.zeros(168), where=e168 > 0)
            m = rate[e168 > 0].mean()
            h168 = [round(float(v / m), 4) if m > 0 else 0.0 for v in rate]
            w = np.asarray(h168)
        mass_log = float((w * e168).sum())
        mass_std = float((w * std).sum())
        per_week = total * mass_std / mass_log if mass_log > 0 else 0.0
        mins = ev.minutes[(sidx == si) & in_period & covered]
        dur = fit_duration(mins[~np.isnan(mins)] / 60.0, seed=si)
        out.streams.append(
            StreamFit(
                name,
                total,
                per_week,
                per_week / math.sqrt(total) if total else math.nan,
                by_hour,
                by_weekday,
                h168,
                pooled,
                dur,
            )
        )
    return out


# --------------------------------------------------------------------------------------------
# A log made by the simulator (examples/make_events.py, tests)


def event_rows(model: Any) -> list[tuple[str, str, str]]:
    """(received, stream, worker_minutes) for every job of a finished model run.

    worker_minutes is the worker time the job took (every busy spell, so a preempted job counts
    in full), in whole minutes as a real log would have it; blank for a job the EDT did not
    finish (passed to the day team, or open at the end).
    """
    busy = np.asarray(model.records.busy, dtype=float).reshape(-1, 4)
    per_job = np.bincount(
        busy[:, 3].astype(int), weights=busy[:, 2] - busy[:, 1], minlength=model.n_jobs
    )
    end = np.asarray(model.end, dtype=float)
    handover = np.asarray(model.handover, dtype=float)
    origin = dt.datetime.combine(model.scenario.horizon.start, dt.time())
    names = model.stream_names
    rows = []
    for j in range(model.n_jobs):
        t = origin + dt.timedelta(seconds=round(float(model.arrival[j]) * 3600))
        done = not math.isnan(end[j]) and math.isnan(handover[j])
        mins = f"{max(1, round(per_job[j] * 60))}" if done else ""
        rows.append((t.isoformat(), names[int(model.stream[j])], mins))
    return rows
