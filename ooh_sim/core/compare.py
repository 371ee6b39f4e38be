"""Compare options: scenarios run on common random numbers, differences paired by replication.

Every scenario runs with the same seed and the same replication numbers. Because each random
purpose ("arrivals/amhp", "duration/amhp" …) has its own generator derived from (seed,
replication, purpose name) — see :mod:`ooh_sim.rng` — replication ``r`` of every scenario sees the
same arrivals and the same job durations; only the option differs. The difference of a KPI between
two scenarios is therefore computed replication by replication, and its t-interval is usually
much narrower than the unpaired (Welch) interval of two independent means, which is also given for
reference::

    from ooh_sim import load_scenario
    from ooh_sim.compare import compare
    c = compare([load_scenario("scenarios/baseline.yaml"),
                 load_scenario("scenarios/second_worker_fri_sat.yaml")], replications=20)
    c.differences["second_worker_fri_sat"]["station.hours.mean"].paired   # Estimate of B - A

This module is API only: no command line and no plotting (``write_comparison`` imports the file
and figure modules lazily, as :func:`ooh_sim.output.write_run` does).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import stats as sstats

from ooh_sim.core.errors import InputError
from ooh_sim.core.runner import Replication, RunResult, default_jobs, iter_many
from ooh_sim.core.schema import Scenario
from ooh_sim.core.stats import Estimate, summarise, t_interval

if TYPE_CHECKING:
    from ooh_sim.core.precision import Precision

COST_PER_HOUR_SAVED = "cost.per_station_hour_saved"
"""Extra cost per week ÷ child-hours in police stations saved per week (vs the first)."""

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
    half = float(sstats.t.ppf(0.5 + level / 2, df)) * se
    return Estimate(diff, diff - half, diff + half, se, n)


def cost_per_hour_saved(
    d_cost: np.ndarray, d_hours: np.ndarray, *, resamples: int = 2000, seed: int = 0
) -> Estimate:
    """Extra cost per week ÷ station child-hours saved per week (ratio of mean paired changes).

    Defined only when the saving is positive; the 95% interval (percentile bootstrap over
    replications, fixed seed) only when the saving's own paired interval excludes zero — otherwise
    the ratio has no meaningful bound. ``sd`` is the bootstrap standard error.
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
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(resamples, n))
    boot = c[idx].mean(axis=1) / saved[idx].mean(axis=1)
    lo, hi = np.quantile(boot, [0.025, 0.975])
    return Estimate(ratio, float(lo), float(hi), float(boot.std(ddof=1)), n)


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
) -> Comparison:
    """Run every scenario on common random numbers and difference each against the first.

    ``replications`` and ``seed`` default to the FIRST scenario's, and are applied to all, so that
    replication ``r`` of every scenario draws from the same random streams. ``progress(done,
    total)`` counts replications over all scenarios.
    """
    check_names(scenarios)
    ref = scenarios[0]
    n = replications or ref.replications
    seed = ref.seed if seed is None else seed
    jobs = default_jobs() if jobs is None else jobs
    reps = _run_all(scenarios, n, seed, jobs, progress)
    results = []
    for sc, done in zip(scenarios, reps, strict=True):
        done.sort(key=lambda r: r.index)
        res = RunResult(sc, seed, done)
        res.summary = summarise(res.kpi_rows)
        results.append(res)
    return _differences(Comparison(results, seed, n))


def _run_all(
    scenarios: list[Scenario],
    n: int,
    seed: int,
    jobs: int,
    progress: Callable[[int, int], None] | None,
) -> list[list[Replication]]:
    """Every scenario's replications, through ONE process pool (starting a pool takes seconds)."""
    total = n * len(scenarios)
    out: list[list[Replication]] = [[] for _ in scenarios]
    for done, (w, rep) in enumerate(
        iter_many([(sc, range(n)) for sc in scenarios], seed, jobs=jobs), 1
    ):
        out[w].append(rep)
        if progress:
            progress(done, total)
    return out


def _kpi_matrix(result: RunResult, kpi: str) -> np.ndarray:
    return np.array([r.kpis.get(kpi, _NAN) for r in result.replications], dtype=float)


def _differences(c: Comparison) -> Comparison:
    kpis: list[str] = []
    for res in c.results:
        kpis.extend(k for k in res.summary if k not in kpis)
    c.kpis = kpis
    ref = c.results[0]
    for res in c.results[1:]:
        name = res.scenario.name
        diffs: dict[str, Difference] = {}
        for k in kpis:
            if k not in res.summary or k not in ref.summary:
                continue
            a, b = _kpi_matrix(res, k), _kpi_matrix(ref, k)
            diffs[k] = Difference(paired_difference(a, b), welch_difference(a, b))
        c.differences[name] = diffs
        if "cost.per_week" in diffs and "station.child_hours_per_week" in diffs:
            d_cost = _kpi_matrix(res, "cost.per_week") - _kpi_matrix(ref, "cost.per_week")
            d_hours = _kpi_matrix(res, "station.child_hours_per_week") - _kpi_matrix(
                ref, "station.child_hours_per_week"
            )
            c.derived[name] = {COST_PER_HOUR_SAVED: cost_per_hour_saved(d_cost, d_hours)}
    return c


def default_out(names: list[str], root: Path = Path("results")) -> Path:
    """``results/compare-a-vs-b…``; long lists shorten to the first two and a count."""
    full = "compare-" + "-vs-".join(names)
    if len(full) <= 80:
        return root / full
    more = len(names) - 2
    return root / f"compare-{names[0]}-vs-{names[1]}-and-{more}-more"[:120]


def write_comparison(
    c: Comparison,
    out: Path,
    *,
    figures: bool = True,
    sources: Sequence[str | Path | None] | None = None,
    precision: Mapping[str, Precision] | None = None,
) -> list[Path]:
    """Write comparison.json, comparison.csv, figures, and a folder per scenario with its
    summary.json, replications.csv and scenario.yaml (so ``ooh-sim report`` can describe it).

    ``sources`` are the scenario files, in the order of ``c.results``: their comments are kept in
    each scenario.yaml. ``precision`` (scenario name → its own choice, from
    :func:`ooh_sim.precision.replications_for`) is recorded in each summary.json. All is written
    into a staging folder that replaces ``out`` only when complete (see ``staged_folder``).
    """
    from ooh_sim.core.precision import precision_at
    from ooh_sim.io.files import (
        csv_text,
        dumps_json,
        staged_folder,
        summary_dict,
        write_replications_csv,
    )
    from ooh_sim.io.provenance import write_resolved

    cols = [
        "kpi",
        "scenario",
        "mean",
        "ci95_low",
        "ci95_high",
        "diff_mean",
        "diff_ci95_low",
        "diff_ci95_high",
        "significant",
        "unpaired_ci95_low",
        "unpaired_ci95_high",
    ]
    with staged_folder(out) as stage:
        (stage / "comparison.json").write_text(dumps_json(_json_safe(c.as_dict())), "utf-8")
        rows = ([_csv_value(r[k]) for k in cols] for r in c.rows())  # one row per KPI and scenario
        (stage / "comparison.csv").write_text(csv_text(cols, rows), encoding="utf-8")
        for res, src in zip(c.results, sources or [None] * len(c.results), strict=True):
            sub = stage / res.scenario.name
            sub.mkdir()
            summary = summary_dict(res)
            if precision is not None:
                summary["precision"] = precision_at(
                    precision[res.scenario.name], res.summary, c.replications
                )
            (sub / "summary.json").write_text(dumps_json(summary), encoding="utf-8")
            write_replications_csv(res, sub / "replications.csv")
            write_resolved(res.scenario, sub, src)
        if figures:
            from ooh_sim.viz import (
                compare_figures as compare_plots,  # matplotlib only when figures are wanted
            )

            compare_plots.comparison_figures(c, stage)
        names = sorted(p.relative_to(stage).as_posix() for p in stage.rglob("*") if p.is_file())
    return [out / n for n in names]


def _csv_value(v: Any) -> Any:
    if isinstance(v, bool):
        return str(v).lower()
    if v is None:
        return ""
    return v  # floats stay numbers (csv_text blanks NaN); only text is formula-guarded


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, np.generic):
        return _json_safe(obj.item())
    return obj


__all__ = [
    "COST_PER_HOUR_SAVED",
    "Comparison",
    "Difference",
    "check_names",
    "compare",
    "cost_per_hour_saved",
    "default_out",
    "paired_difference",
    "welch_difference",
    "write_comparison",
]
