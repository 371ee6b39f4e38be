"""Compare options: scenarios run on common random numbers, differences paired by replication.

Every scenario runs with the same seed and the same replication numbers. Because each random
purpose ("arrivals/amhp", "duration/amhp" …) has its own generator derived from (seed,
replication, purpose name) — see :mod:`ooh_sim.rng` — replication ``r`` of every scenario sees the
same arrivals and the same job durations; only the option differs. The difference of a KPI between
two scenarios is therefore computed replication by replication, and its t-interval is usually
much narrower than the unpaired (Welch) interval of two independent means, which is also given for
reference::

    from ooh_sim import load_scenario
    from ooh_sim import compare
    c = compare([load_scenario("scenarios/baseline.yaml"),
                 load_scenario("scenarios/second_worker_fri_sat.yaml")], replications=20)
    c.differences["second_worker_fri_sat"]["station.hours.mean"].paired   # Estimate of B - A

This module computes only: :func:`ooh_sim.io.comparison_files.write_comparison` writes the files,
and :func:`ooh_sim.report.folders.write_comparison` adds the figures.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ooh_sim.core import kpis, tables
from ooh_sim.core.checks import warn_if_odd
from ooh_sim.core.errors import InputError
from ooh_sim.core.precision import DEFAULT_MAX, Precision, replications_for
from ooh_sim.core.runner import (
    COLUMNS_AT_ONCE,
    Replication,
    Replications,
    RunResult,
    default_jobs,
    iter_many,
)
from ooh_sim.core.schema import Scenario
from ooh_sim.core.stats import Estimate, t_interval, t_quantile

if TYPE_CHECKING:
    import pandas as pd

COST_PER_HOUR_SAVED = "cost.per_station_hour_saved"
"""Extra cost per week ÷ child-hours in police stations saved per week (vs the first)."""

COST_RATIOS = {"cost.per_week": COST_PER_HOUR_SAVED} | {
    f"cost.{h}.per_week": f"cost.{h}.per_station_hour_saved"
    for h in (*kpis.BUDGET_HOLDERS, "total")
}
"""Each cost KPI whose change is divided by the station child-hours saved → that ratio's name:
the first, simpler sum, then each budget holder's cost and their total (issue 16)."""

_NAN = math.nan


@dataclass(frozen=True)
class Difference:
    """One KPI of one option minus the same KPI of the reference (first) scenario."""

    paired: Estimate  # t-interval of the per-replication differences (common random numbers)
    unpaired: Estimate  # Welch interval of the difference of means (as if run independently)

    @property
    def significant(self) -> bool:
        """The paired 95% interval excludes zero."""
        p = self.paired
        return p.n >= 2 and (p.ci95_low > 0 or p.ci95_high < 0)


@dataclass
class Comparison:
    """Results of each scenario, and each option's differences from the first scenario."""

    results: list[RunResult]
    seed: int
    replications: int
    kpis: list[str] = field(default_factory=list)
    # option name → KPI → difference from the reference (the reference itself is not a key)
    differences: dict[str, dict[str, Difference]] = field(default_factory=dict)
    # option name → KPI → estimate, for KPIs that only exist relative to the reference
    derived: dict[str, dict[str, Estimate]] = field(default_factory=dict)
    # scenario name → how its own number of replications was chosen (compare_to_precision)
    precision: dict[str, Precision] | None = None

    @property
    def names(self) -> list[str]:
        return [r.scenario.name for r in self.results]

    @property
    def reference(self) -> str:
        return self.names[0]

    def result(self, name: str) -> RunResult:
        return self.results[self.names.index(name)]

    def rows(self) -> list[dict[str, Any]]:
        """One row per KPI and scenario (the columns of ``comparison.csv``), KPI-major."""
        out: list[dict[str, Any]] = []
        for k in [*self.kpis, *self._derived_kpis()]:
            for res in self.results:
                name = res.scenario.name
                e = res.summary.get(k) or self.derived.get(name, {}).get(k)
                if e is None:
                    continue
                d = self.differences.get(name, {}).get(k)
                row: dict[str, Any] = {
                    "kpi": k,
                    "label": kpis.label(k),
                    "unit": kpis.unit(k),
                    "scenario": name,
                    "mean": e.mean,
                    "ci95_low": e.ci95_low,
                    "ci95_high": e.ci95_high,
                    "diff_mean": d.paired.mean if d else _NAN,
                    "diff_ci95_low": d.paired.ci95_low if d else _NAN,
                    "diff_ci95_high": d.paired.ci95_high if d else _NAN,
                    "significant": d.significant if d else None,
                    "unpaired_ci95_low": d.unpaired.ci95_low if d else _NAN,
                    "unpaired_ci95_high": d.unpaired.ci95_high if d else _NAN,
                }
                out.append(row)
        return out

    def to_frame(self) -> pd.DataFrame:
        """Every KPI of every scenario as a pandas DataFrame, one row per scenario and KPI
        (KPI-major): its words and unit, mean and 95% CI, and the paired difference from the
        reference with its 95% CI (the columns of comparison.csv; pandas is optional)."""
        rows = self.rows()
        return tables.frame(rows, list(rows[0]) if rows else ["kpi", "label", "unit"])

    def _title(self) -> str:
        return (f"Comparison of {len(self.names)} scenarios, {self.replications} replications "
                f"each, seed {self.seed}; Δ = option − {self.reference} (paired)")  # fmt: skip

    _MORE = "★: the paired 95% CI of Δ excludes 0. All KPIs: .rows(), .to_frame()"

    def _headline_rows(self) -> list[tuple[str, str, str, str, str]]:
        """(KPI words, scenario, mean, Δ, ★) of the headline KPIs, formatted by the catalogue."""
        produced = kpis.in_catalogue_order(dict.fromkeys(r["kpi"] for r in self.rows()))
        keys = set(kpis.headline(produced))
        out = []
        for r in self.rows():
            if r["kpi"] not in keys:
                continue
            k = r["kpi"]
            d = "" if r["significant"] is None else kpis.format(k, r["diff_mean"], signed=True)
            out.append((kpis.label(k), r["scenario"], kpis.format(k, r["mean"]), d,
                        "★" if r["significant"] else ""))  # fmt: skip
        return out

    def __repr__(self) -> str:
        """The headline KPIs of every scenario, a few lines per KPI."""
        lines, last = [self._title()], None
        for label, name, mean, d, star in self._headline_rows():
            if label != last:
                lines.append(f"  {label}")
                last = label
            diff = f"  Δ {d} {star}".rstrip() if d else ""
            lines.append(f"    {name[:30]:<30} {mean:>10}{diff}")
        lines.append(f"  {self._MORE}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return tables.html_view(
            self._title(), ("KPI", "scenario", "mean", "Δ", ""), self._headline_rows(), self._MORE
        )

    def _derived_kpis(self) -> list[str]:
        names: list[str] = []
        for d in self.derived.values():
            names.extend(k for k in d if k not in names)
        return names

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: settings, per-scenario KPI summaries, and differences from the reference."""
        return {
            "reference": self.reference,
            "scenarios": self.names,
            "seed": self.seed,
            "replications": self.replications,
            "method": (
                "common random numbers (same seed and replication numbers for every scenario); "
                "differences are option minus reference, paired by replication, with a Student-t "
                "95% interval; 'unpaired' is the Welch interval for reference; significant = the "
                "paired interval excludes zero"
            ),
            "kpis": {
                res.scenario.name: {k: v.as_dict() for k, v in res.summary.items()}
                for res in self.results
            },
            "differences": {
                name: {
                    k: {
                        "paired": d.paired.as_dict(),
                        "unpaired": d.unpaired.as_dict(),
                        "significant": d.significant,
                    }
                    for k, d in diffs.items()
                }
                for name, diffs in self.differences.items()
            },
            "derived": {
                name: {k: e.as_dict() for k, e in d.items()} for name, d in self.derived.items()
            },
        }


def paired_difference(option: np.ndarray, reference: np.ndarray) -> Estimate:
    """t-interval of per-replication differences (replications where both are defined)."""
    return t_interval(np.asarray(option, dtype=float) - np.asarray(reference, dtype=float))


def welch_difference(option: np.ndarray, reference: np.ndarray, level: float = 0.95) -> Estimate:
    """Difference of means with the Welch (unequal variances) interval; ``sd`` is its std error."""
    a = np.asarray(option, dtype=float)
    b = np.asarray(reference, dtype=float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    n = min(len(a), len(b))
    if len(a) < 2 or len(b) < 2:
        return Estimate(_NAN, _NAN, _NAN, _NAN, n)
    diff = float(a.mean() - b.mean())
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = math.sqrt(va + vb)
    if se == 0:
        return Estimate(diff, diff, diff, 0.0, n)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = t_quantile(0.5 + level / 2, df) * se
    return Estimate(diff, diff - half, diff + half, se, n)


BOOTSTRAP_VALUES_AT_ONCE = 100_000
"""How many resampled values the bootstrap draws and evaluates at once (100 resamples of 1,000
replications, ~0.8 MB an array): the batch of resamples is this ÷ the replications, so its
working memory (and BCa's jackknife's) stays the same however many replications there are.
With every resample at once, this interval alone set a comparison's peak memory (the CLI's peak
at 1,000 replications fell 235 → 150 MB with batches); with a fixed batch of 100 resamples it
still grew by ~5 KB a replication. The intervals are the same whatever the batch: the random
numbers are drawn in the same order."""


def bootstrap_batch(replications: int) -> int:
    """Resamples per batch for this many replications (see :data:`BOOTSTRAP_VALUES_AT_ONCE`)."""
    return max(1, BOOTSTRAP_VALUES_AT_ONCE // max(1, replications))


def cost_per_hour_saved(
    d_cost: np.ndarray, d_hours: np.ndarray, *, resamples: int = 2000, seed: int = 0
) -> Estimate:
    """Extra cost per week ÷ station child-hours saved per week (ratio of mean paired changes).

    Defined only when the saving is positive; the 95% interval (``scipy.stats.bootstrap``, paired
    by replication, BCa — bias-corrected and accelerated — with a fixed seed; the percentile
    interval if BCa is undefined) only when the saving's own paired interval excludes zero —
    otherwise the ratio has no meaningful bound. ``sd`` is the bootstrap standard error.
    """
    c = np.asarray(d_cost, dtype=float)
    saved = -np.asarray(d_hours, dtype=float)
    ok = np.isfinite(c) & np.isfinite(saved)
    c, saved = c[ok], saved[ok]
    n = len(c)
    if n == 0 or saved.mean() <= 0:
        return Estimate(_NAN, _NAN, _NAN, _NAN, n)
    ratio = float(c.mean() / saved.mean())
    sig = t_interval(saved)
    if n < 2 or not sig.ci95_low > 0:
        return Estimate(ratio, _NAN, _NAN, _NAN, n)
    def stat(cost: np.ndarray, hours: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.mean(cost, axis=axis) / np.mean(hours, axis=axis)

    from scipy import stats as sstats  # only here, FOR SPEED: most of a second to import, and
    # imported with this module it held back the first replication of every comparison

    res = None
    for method in ("BCa", "percentile"):  # BCa is undefined when every resample is equal
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scipy's DegenerateDataWarning: handled below
            res = sstats.bootstrap((c, saved), stat, paired=True, vectorized=True,
                                   n_resamples=resamples, method=method, batch=bootstrap_batch(n),
                                   rng=np.random.default_rng(seed))  # fmt: skip
        if np.isfinite(res.confidence_interval.low) and np.isfinite(res.confidence_interval.high):
            break
    assert res is not None
    lo, hi = res.confidence_interval
    return Estimate(ratio, float(lo), float(hi), float(res.standard_error), n)


def check_names(scenarios: list[Scenario], labels: list[str] | None = None) -> None:
    """Two scenarios with one name would overwrite each other's results: refuse (exit 2)."""
    if len(scenarios) < 2:
        raise InputError("compare needs at least two scenarios", path="scenarios")
    labels = labels or [f"scenario {i + 1}" for i in range(len(scenarios))]
    seen: dict[str, int] = {}
    for i, sc in enumerate(scenarios):
        if sc.name in seen:
            raise InputError(
                f"{labels[seen[sc.name]]} and {labels[i]} are both named {sc.name!r}; "
                "give each compared scenario its own 'name:'",
                file=labels[i],
                path="name",
            )
        seen[sc.name] = i


def compare(
    scenarios: list[Scenario],
    replications: int | None = None,
    seed: int | None = None,
    jobs: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    *,
    have: Mapping[str, Sequence[Replication]] | None = None,
    first: Callable[[int, Replication], None] | None = None,
) -> Comparison:
    """Run every scenario on common random numbers and difference each against the first.

    ``replications`` and ``seed`` default to the FIRST scenario's, and are applied to all, so that
    replication ``r`` of every scenario draws from the same random streams. ``progress(done,
    total)`` counts replications over all scenarios. ``have`` (scenario name → replications
    already run with this seed, e.g. while choosing ``n`` by precision) are used instead of
    running them again; only the missing replication numbers run. ``first(i, replication)`` is
    called with each scenario's replication 0 as soon as it is in, so that a caller can start on
    what it shows while the others run (the CLI draws its night's timeline).
    """
    check_names(scenarios)
    for sc in scenarios:
        warn_if_odd(sc)
    ref = scenarios[0]
    n = replications or ref.replications
    seed = ref.seed if seed is None else seed
    jobs = default_jobs() if jobs is None else jobs
    stores = [Replications(range(n)) for _ in scenarios]
    todo: list[tuple[Scenario, list[int]]] = []
    for w, (sc, store) in enumerate(zip(scenarios, stores, strict=True)):
        done: set[int] = set()
        for rep in (have or {}).get(sc.name, ()):
            if rep.index < n:
                store.add(rep)
                done.add(rep.index)
                if first and rep.index == 0:
                    first(w, rep)
        todo.append((sc, [i for i in range(n) if i not in done]))
    total = n * len(scenarios)
    finished = sum(len(s) for s in stores)
    for w, rep in iter_many(todo, seed, jobs=jobs):  # ONE pool for every scenario
        if first and rep.index == 0:
            first(w, rep)
        stores[w].add(rep)
        finished += 1
        if progress:
            progress(finished, total)
    results = [RunResult.of(sc, seed, st) for sc, st in zip(scenarios, stores, strict=True)]
    return _differences(Comparison(results, seed, n))


def compare_to_precision(
    scenarios: list[Scenario],
    precision: float,
    *,
    max_replications: int = DEFAULT_MAX,
    seed: int | None = None,
    jobs: int | None = None,
    choosing: Callable[[int, int], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
    first: Callable[[int, Replication], None] | None = None,
) -> Comparison:
    """:func:`compare` with the number of replications the least precise scenario needs.

    Each scenario first runs to ``precision`` on its own (:func:`precision.replications_for`,
    progress in ``choosing``); the comparison then reuses those replications and runs only the
    ones missing up to the common ``n`` — the same numbers as ``compare(…, replications=n)``.
    ``Comparison.precision`` records each scenario's own choice.
    """
    check_names(scenarios)
    seed = scenarios[0].seed if seed is None else seed
    n, chosen, ran = replications_for(
        scenarios, precision, max_replications=max_replications, seed=seed, jobs=jobs,
        keep_jobs=True, progress=choosing,
    )  # fmt: skip
    c = compare(scenarios, n, seed, jobs, progress, have=ran, first=first)
    c.precision = chosen
    return c


def _differences(c: Comparison) -> Comparison:
    names: list[str] = []  # not `kpis`: that is the catalogue's module
    for res in c.results:
        names.extend(k for k in res.summary if k not in names)
    c.kpis = names
    ref = c.results[0]
    hours = "station.child_hours_per_week"
    for res in c.results[1:]:
        both = [k for k in names if k in res.summary and k in ref.summary]
        diffs: dict[str, Difference] = {}
        paired: dict[str, np.ndarray] = {}  # the per-replication changes the ratios need
        for first in range(0, len(both), COLUMNS_AT_ONCE):
            block = both[first : first + COLUMNS_AT_ONCE]
            a_cols, b_cols = res.kpi_columns(block), ref.kpi_columns(block)
            for k in block:
                a, b = a_cols[k], b_cols[k]
                diffs[k] = Difference(paired_difference(a, b), welch_difference(a, b))
                if k == hours or k in COST_RATIOS:
                    paired[k] = a - b
        c.differences[res.scenario.name] = diffs
        if "cost.per_week" in paired and hours in paired:
            c.derived[res.scenario.name] = {
                ratio: cost_per_hour_saved(paired[kpi], paired[hours])
                for kpi, ratio in COST_RATIOS.items()
                if kpi in paired
            }
    return c


__all__ = [
    "COST_PER_HOUR_SAVED",
    "Comparison",
    "Difference",
    "check_names",
    "compare",
    "compare_to_precision",
    "cost_per_hour_saved",
    "paired_difference",
    "welch_difference",
]
