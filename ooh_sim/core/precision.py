"""Choose the number of replications by the precision of the headline KPIs.

Implements the replications algorithm of Hoad, Robinson & Davies (2010), "Automated selection of
the number of replications for a discrete-event simulation", JORS 61(11):1632–1644: keep adding
replications until the 95% confidence interval of the mean is within a relative precision ``P``
of the mean (half-width / |mean| ≤ P), and accept the first such ``n`` (``Nsol``) only if the
precision *stays* within ``P`` for the next ``f(kLimit, Nsol)`` replications, where
``f(kLimit, n) = kLimit`` for ``n ≤ 100`` and ``⌊kLimit · n / 100⌋`` above (the "look-ahead",
which guards against stopping on a lucky early estimate of the variance).

Several outputs: the rule is applied to the *worst* relative half-width over the headline KPIs at
each ``n``, so every one of them is within ``P`` from ``Nsol`` through the end of the look-ahead.

Determinism: replication ``i`` always uses seed ``(s, i)`` and the stopping rule is evaluated on
the prefixes 1..n in replication order, so the chosen ``n`` and every figure do not depend on the
number of processes or the batch sizes. Replications run in batches (for parallel speed) sized
from the current variance estimate; any run beyond the stopping point is discarded.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ooh_sim.core.kpis import label, names_for, placeholders, spec
from ooh_sim.core.runner import Replication, RunResult, default_jobs, iter_replications
from ooh_sim.core.schema import Scenario
from ooh_sim.core.stats import t_interval

DEFAULT_MAX = 500
K_LIMIT = 5
INITIAL = 3  # HRD: three initial replications before the first check


def headline_kpis(scenario: Scenario) -> list[str]:
    """The KPIs whose precision decides ``n``: the catalogue's ``precision`` KPIs of the scenario.

    That is ``station.hours.mean`` when the scenario has police-protection streams, each stream's
    mean response time (arrival → a worker starts), and the utilisation of each rostered staff
    group. Streams with no demand, empty groups and on-call groups (utilisation undefined when
    never called) are left out: their KPI can be undefined, so no number of replications would do.
    """
    return [k for k in names_for(scenario) if spec(k).precision and _defined(scenario, k)]


def _defined(scenario: Scenario, name: str) -> bool:
    """False when the scenario's structure lets the KPI be undefined in a replication."""
    subject = placeholders(name)
    if "S" in subject:
        return scenario.streams[subject["S"]].arrivals.per_week > 0
    if "G" in subject:
        group = scenario.staff[subject["G"]]
        return bool(group.count) and not group.on_call
    return True


def look_ahead(n: int, k_limit: int = K_LIMIT) -> int:
    """HRD's f(kLimit, n): kLimit up to 100 replications, then kLimit per cent of n."""
    return k_limit if n <= 100 else (k_limit * n) // 100


def relative_half_width(values: Sequence[float]) -> float:
    """95% t-interval half-width / |mean| of the finite values (inf when not yet defined)."""
    e = t_interval(np.asarray(values, dtype=float))
    if e.n < 2 or not math.isfinite(e.half_width):
        return math.inf
    if e.half_width == 0:
        return 0.0
    return e.half_width / abs(e.mean) if e.mean != 0 else math.inf


@dataclass
class Precision:
    """What the algorithm did: recorded in summary.json under ``precision``."""

    target: float
    kpis: list[str]
    max_replications: int
    k_limit: int = K_LIMIT
    n: int = 0  # replications used (Nsol plus the look-ahead that confirmed it)
    n_solution: int | None = None  # HRD's Nsol: first n of the final run within target
    reason: Literal["reached", "max_replications"] = "max_replications"
    half_widths: dict[str, float] = field(default_factory=dict)  # relative, at n
    worst_by_n: list[float] = field(default_factory=list)  # worst relative half-width, n = 1..

    def as_dict(self) -> dict[str, Any]:
        def num(x: float) -> float | None:
            return x if math.isfinite(x) else None

        return {
            "method": "Hoad, Robinson & Davies (2010) replications algorithm, applied to the "
            "worst relative 95% CI half-width of the KPIs listed",
            "target": self.target,
            "kpis": self.kpis,
            "k_limit": self.k_limit,
            "max_replications": self.max_replications,
            "n": self.n,
            "n_solution": self.n_solution,
            "reason": self.reason,
            "half_widths": {k: num(v) for k, v in self.half_widths.items()},
        }


def outcome_words(p: Mapping[str, Any]) -> str:
    """How the number of replications was settled (a :meth:`Precision.as_dict`, as in
    summary.json), in words: the one wording of the terminal and the report."""
    target = f"±{p['target']:.1%}"
    if p.get("reason") == "reached":
        sol, n = p.get("n_solution"), p.get("n")
        held = (f", and held for the {n - sol} after them ({n} run)"
                if isinstance(sol, int) and isinstance(n, int) and n > sol else "")  # fmt: skip
        return f"{target} reached with {sol} replications{held}"
    widths = {k: v for k, v in (p.get("half_widths") or {}).items() if v is not None}
    worst = max(widths, key=lambda k: widths[k]) if widths else None
    tail = f"; the widest interval is ±{widths[worst]:.1%}, of {label(worst)}" if worst else ""
    return f"{target} not reached within {p.get('max_replications')} replications{tail}"


@dataclass
class PrecisionRunResult(RunResult):
    """A :class:`RunResult` that also says how its number of replications was chosen."""

    precision: Precision | None = None


class _Checker:
    """HRD's sequential rule on prefixes 1..n of the replications, in index order."""

    def __init__(self, p: Precision, initial: int) -> None:
        self.p, self.initial = p, initial
        self.rows: list[dict[str, float]] = []
        self.n_sol: int | None = None

    def worst(self, n: int) -> float:
        vals = [
            relative_half_width([r.get(k, math.nan) for r in self.rows[:n]]) for k in self.p.kpis
        ]
        return max(vals, default=0.0)

    def feed(self, kpis: dict[str, float]) -> bool:
        """Add replication n (= len + 1); True when the algorithm stops at n."""
        self.rows.append(kpis)
        n = len(self.rows)
        d = self.worst(n)
        self.p.worst_by_n.append(d)
        if n < self.initial:
            return n >= self.p.max_replications
        if d <= self.p.target:
            if self.n_sol is None:
                self.n_sol = n
            if n >= self.n_sol + look_ahead(self.n_sol, self.p.k_limit):
                self.p.reason, self.p.n_solution = "reached", self.n_sol
                return True
        else:
            self.n_sol = None
        if n >= self.p.max_replications:
            self.p.reason, self.p.n_solution = "max_replications", None
            return True
        return False

    def plan(self, jobs: int) -> int:
        """How many replications in total to have after the next batch (a guess: any extra
        replications past the stopping point are discarded, so it only affects speed)."""
        n = len(self.rows)
        if self.n_sol is not None:
            want = self.n_sol + look_ahead(self.n_sol, self.p.k_limit)
        else:
            d = self.p.worst_by_n[-1] if self.p.worst_by_n else math.inf
            # half-width ∝ 1/√n: n* ≈ n (d/P)²; capped so a noisy early variance cannot overshoot
            guess = n * (d / self.p.target) ** 2 if math.isfinite(d) else 2 * n
            want = math.ceil(min(guess, 2 * n + jobs))
            want += look_ahead(want, self.p.k_limit)
        want = max(want, n + jobs, self.initial)
        return min(want, self.p.max_replications)


def run_to_precision(
    scenario: Scenario,
    precision: float,
    *,
    max_replications: int = DEFAULT_MAX,
    seed: int | None = None,
    jobs: int | None = None,
    keep_jobs: bool = True,
    kpis: Sequence[str] | None = None,
    k_limit: int = K_LIMIT,
    initial: int = INITIAL,
    progress: Callable[[int, int], None] | None = None,
) -> PrecisionRunResult:
    """Run replications until the headline KPIs' 95% CIs are within ``precision`` of their means.

    ``precision`` is relative (0.05: half-width ≤ 5% of the mean). Stops with reason
    ``max_replications`` if the target is not met by ``max_replications``.
    """
    seed = scenario.seed if seed is None else seed
    p, ran = replications_to_precision(
        scenario, precision, max_replications=max_replications, seed=seed, jobs=jobs,
        keep_jobs=keep_jobs, kpis=kpis, k_limit=k_limit, initial=initial, progress=progress,
    )  # fmt: skip
    result = PrecisionRunResult.of(scenario, seed, ran[: p.n])
    result.precision = p
    return result


def replications_to_precision(
    scenario: Scenario,
    precision: float,
    *,
    max_replications: int = DEFAULT_MAX,
    seed: int | None = None,
    jobs: int | None = None,
    keep_jobs: bool = True,
    kpis: Sequence[str] | None = None,
    k_limit: int = K_LIMIT,
    initial: int = INITIAL,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Precision, list[Replication]]:
    """HRD's choice of ``n``, and every replication run on the way, in index order (``n`` of
    them, or more when the last batch ran past the stopping point: a comparison that needs more
    than this scenario's own ``n`` reuses them)."""
    if not (precision > 0 and math.isfinite(precision)):
        raise ValueError(f"precision must be a positive number, got {precision!r}")
    if max_replications < 2:
        raise ValueError("max_replications must be at least 2")
    seed = scenario.seed if seed is None else seed
    jobs = default_jobs() if jobs is None else jobs
    names = list(kpis) if kpis is not None else headline_kpis(scenario)
    p = Precision(float(precision), names, max_replications, k_limit)
    check = _Checker(p, max(2, min(initial, max_replications)))
    got: dict[int, Replication] = {}
    stop: int | None = None
    while stop is None:
        have = len(got)
        target = check.plan(jobs)
        batch = list(range(have, target))
        for rep in iter_replications(scenario, seed, batch, jobs=jobs, keep_jobs=keep_jobs):
            got[rep.index] = rep
            if progress:
                progress(len(got), target)
        for i in batch:  # evaluate in index order: the same decision whatever the batching
            if check.feed(got[i].kpis):
                stop = i + 1
                break
    p.n = stop
    ran = [got[i] for i in range(len(got))]
    p.half_widths = {
        k: relative_half_width([r.kpis.get(k, math.nan) for r in ran[:stop]]) for k in names
    }
    return p, ran


def replications_for(
    scenarios: Sequence[Scenario],
    precision: float,
    *,
    max_replications: int = DEFAULT_MAX,
    seed: int | None = None,
    jobs: int | None = None,
    keep_jobs: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[int, dict[str, Precision], dict[str, list[Replication]]]:
    """One number of replications for a comparison: the largest any scenario needs.

    Options are compared on common random numbers, replication by replication, so they must all
    run the same ``n``. Each scenario's own HRD run decides its ``n`` (seed: the first
    scenario's, as in ``compare``). Returns that ``n``, each scenario's choice, and the
    replications each scenario ran on the way (by name), which the comparison then reuses.
    """
    seed = scenarios[0].seed if seed is None else seed
    chosen: dict[str, Precision] = {}
    ran: dict[str, list[Replication]] = {}
    for sc in scenarios:
        chosen[sc.name], ran[sc.name] = replications_to_precision(
            sc, precision, max_replications=max_replications, seed=seed, jobs=jobs,
            keep_jobs=keep_jobs, progress=progress,
        )  # fmt: skip
    return max(p.n for p in chosen.values()), chosen, ran


def precision_at(p: Precision, summary: dict[str, Any], n: int) -> dict[str, Any]:
    """``p`` as recorded for a comparison run with ``n`` replications (half-widths at ``n``)."""
    block = p.as_dict()
    block["own_n"], block["n"] = p.n, n
    block["half_widths"] = {}
    for k in p.kpis:
        e = summary.get(k)
        hw = (
            math.inf if e is None or e.n < 2 else e.half_width / abs(e.mean) if e.mean else math.inf
        )
        block["half_widths"][k] = hw if math.isfinite(hw) else None
    return block
