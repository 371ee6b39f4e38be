"""The cheapest option that meets the targets: ranking and selection on common random numbers.

Every option (a point of the decision space, :mod:`ooh_sim.core.optimise_spec`) is simulated
with the SAME random streams: replication ``r`` of every option is ``run_replication(scenario,
seed, r)``, so differences between options are not noise. The procedure is fully sequential,
in batches of replications, and combines two published ones:

* **feasibility check** (Andradóttir & Kim 2010, *Naval Research Logistics* 57:403): for each
  option and constraint ``E[Y] <= q`` the running sum ``R(r) = Σ (Y_j − q)`` is compared with a
  triangular boundary ``g(r) = max(0, h_F² S² / (2ε) − ε r / 2)``: feasible when ``R <= −g``,
  infeasible when ``R >= g``. ``S²`` is the variance of the first ``n0`` values, ``ε`` the
  constraint's tolerance (an option within ε of the bound may be called either way; the
  triangle closes after ``h_F² S² / ε²`` replications, so every check ends);
* **KN elimination** (Kim & Nelson 2001, *ACM TOMACS* 11:251) on the objective with an
  indifference zone ``δ``: option ``i`` is dropped when its objective sum exceeds that of a
  **feasible** option ``l`` by more than ``max(0, h² S²_il / (2δ) − δ r / 2)``, with ``S²_il``
  the variance of the first ``n0`` paired differences (common random numbers make it small).
  Only options already declared feasible may eliminate others: a cheaper option that later
  proves infeasible must not have knocked out the true best.

The triangle is slow to decide options far from the bound when ε is small next to the noise
(its height at ``n0`` is ``h_F² S² / (2ε)``), so each check also has a second, exact rule: at
its ``j``-th look (``j = 0`` after the first stage, then one per batch) a one-sided Student-t
bound at level ``a_j = a · 6 / (π² (j+1)²)`` (the levels add up to ``a``) that lies wholly on
one side of ``q`` decides it. A check ends at the first rule that decides, and each rule has
half of the check's error ``a``.

``h_F²`` and ``h²`` are the constants ``(n0 − 1)[(2a)^(−2/(n0−1)) − 1]`` with Bonferroni
splits: half of ``1 − confidence`` over the ``k·s`` feasibility checks, half over the ``k − 1``
comparisons, so the option returned is feasible (within ε) and within δ of the best feasible
option with probability at least ``confidence``. The procedure stops when one feasible option
is left, when none is, or when the replication budget is spent (then the best-looking feasible
option is returned and cheaper options still undecided are listed).

Decisions are checked only at batch ends, using every replication run so far; the batch size is
part of the problem, not of ``jobs``, so the result is the same whatever the number of
processes. Replications are cached by (option, replication): a resumed run replays the same
path from its checkpoint.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ooh_sim.core import kpis
from ooh_sim.core.errors import InputError
from ooh_sim.core.loader import scenario_from_dict
from ooh_sim.core.optimise_spec import Constraint, Problem
from ooh_sim.core.pool import (
    WINDOW_PER_WORKER,
    dask_executor,
    default_jobs,
    import_distributed,
    process_pool,
    run_tasks,
)
from ooh_sim.core.runner import replication_kpis
from ooh_sim.core.schema import Scenario
from ooh_sim.core.stats import Estimate, t_interval, t_quantile

REPORT_KPIS = (
    "cost.per_week",
    "cost.council.per_week",
    "cost.police.per_week",
    "cost.health.per_week",
    "cost.total.per_week",
    "station.hours.mean",
    "station.hours.p90",
    "station.officer_hours_per_week",
)
"""KPIs kept for every replication besides the objective and constraints (for the summary)."""

FEASIBLE, INFEASIBLE, UNDECIDED = "yes", "no", "undecided"
CHUNK = 5
"""Replications of one option per task sent to a worker (amortises pickling the scenario)."""


# --------------------------------------------------------------------------------------------
# the procedure, on any source of replications


@dataclass(frozen=True)
class Settings:
    """How the procedure runs (from the optimise file)."""

    first_stage: int = 10
    batch: int = 5
    confidence: float = 0.95
    indifference: float | None = None  # δ; None = 1% of the mean |objective| after stage 1
    max_replications: int = 20_000


@dataclass
class PointState:
    """Where one option stands: replications used, feasibility per constraint, elimination."""

    n: int = 0
    feasible: list[str] = field(default_factory=list)  # per constraint: yes / no / undecided
    status: str = "alive"  # alive | infeasible | eliminated
    decided_at: int | None = None  # replications when it was found infeasible or eliminated
    eliminated_by: int | None = None

    @property
    def overall(self) -> str:
        if INFEASIBLE in self.feasible:
            return INFEASIBLE
        return FEASIBLE if all(f == FEASIBLE for f in self.feasible) else UNDECIDED


@dataclass
class Selection:
    """The procedure's outcome over ``k`` options."""

    states: list[PointState]
    best: int | None
    delta: float
    reason: str  # one_left | none_feasible | budget
    replications: int  # spent (every replication run, including the last batch's)
    undecided_better: list[int]  # options still undecided that looked better than ``best``
    h2_select: float
    h2_feasible: float


def h_squared(n0: int, a: float) -> float:
    """``(n0 − 1)[(2a)^(−2/(n0−1)) − 1]``: the KN / Andradóttir–Kim boundary constant."""
    return (n0 - 1) * ((2.0 * a) ** (-2.0 / (n0 - 1)) - 1.0)


def _first_finite(x: np.ndarray, n0: int) -> np.ndarray:
    return x[np.isfinite(x)][:n0]


def select(
    k: int,
    constraints: Sequence[Constraint],
    sample: Callable[[list[int], int, int], Mapping[int, np.ndarray]],
    settings: Settings,
    *,
    maximise: bool = False,
) -> Selection:
    """Run the procedure. ``sample(points, a, b)`` returns, per point, an array of shape
    ``(b − a, 1 + len(constraints))``: the objective then each constrained KPI in replications
    ``a … b−1`` (NaN where undefined)."""
    n0, s = settings.first_stage, len(constraints)
    alpha = 1.0 - settings.confidence
    a_sel, a_feas = (alpha / 2, alpha / 2) if s else (alpha, 0.0)
    h2 = h_squared(n0, a_sel / max(k - 1, 1)) if k > 1 else 0.0
    a_check = a_feas / (k * s) if s else 0.0  # error of one feasibility check
    hf2 = h_squared(n0, a_check / 2) if s else 0.0
    sign = -1.0 if maximise else 1.0  # minimise sign × objective
    data: dict[int, list[np.ndarray]] = {i: [] for i in range(k)}
    states = [PointState(feasible=[UNDECIDED] * s) for _ in range(k)]
    spent = 0

    def run(points: list[int], a: int, b: int) -> None:
        nonlocal spent
        got = sample(points, a, b)
        for p in points:
            data[p].append(np.asarray(got[p], dtype=float).reshape(b - a, 1 + s))
            states[p].n = b
        spent += len(points) * (b - a)

    def arr(p: int) -> np.ndarray:
        return np.concatenate(data[p]) if data[p] else np.empty((0, 1 + s))

    run(list(range(k)), 0, n0)
    first = {p: arr(p) for p in range(k)}
    objective_means = [np.nanmean(first[p][:, 0]) for p in range(k)]
    delta = settings.indifference
    if delta is None:
        finite = [abs(m) for m in objective_means if math.isfinite(m)]
        delta = 0.01 * float(np.mean(finite)) if finite else 1.0
        delta = delta if delta > 0 else 1.0
    var_f = {
        (p, c): float(np.var(_first_finite(first[p][:, 1 + c], n0), ddof=1))
        if np.isfinite(first[p][:, 1 + c]).sum() >= 2
        else math.nan
        for p in range(k)
        for c in range(s)
    }
    var_d: dict[tuple[int, int], float] = {}

    def pair_var(i: int, j: int) -> float:
        key = (min(i, j), max(i, j))
        if key not in var_d:
            d = first[i][:, 0] - first[j][:, 0]
            d = d[np.isfinite(d)]
            var_d[key] = float(np.var(d, ddof=1)) if len(d) >= 2 else math.nan
        return var_d[key]

    n = n0
    reason = "budget"
    while True:
        alive = [p for p in range(k) if states[p].status == "alive"]
        values = {p: arr(p) for p in alive}
        # feasibility checks
        for p in alive:
            st = states[p]
            for c, con in enumerate(constraints):
                if st.feasible[c] != UNDECIDED or not math.isfinite(var_f[(p, c)]):
                    continue
                y = values[p][:, 1 + c]
                y = y[np.isfinite(y)]
                r = len(y)
                total = (
                    float((y - con.bound).sum()) if con.op == "<=" else float((con.bound - y).sum())
                )
                eps = con.tolerance
                g = max(0.0, hf2 * var_f[(p, c)] / (2 * eps) - eps * r / 2)
                if total <= -g:
                    st.feasible[c] = FEASIBLE
                elif total >= g:
                    st.feasible[c] = INFEASIBLE
                elif r >= 2:  # the exact rule: a one-sided t bound, alpha spent look by look
                    look = (n - n0) // settings.batch
                    level = a_check / 2 * 6 / (math.pi * (look + 1)) ** 2
                    half = t_quantile(1 - level, r - 1) * float(np.std(y, ddof=1))
                    half /= math.sqrt(r)
                    if total / r + half < 0:
                        st.feasible[c] = FEASIBLE
                    elif total / r - half > 0:
                        st.feasible[c] = INFEASIBLE
            if st.overall == INFEASIBLE:
                st.status, st.decided_at = "infeasible", n
        # KN elimination among the options still in, by options known to be feasible
        alive = [p for p in alive if states[p].status == "alive"]
        judges = [p for p in alive if states[p].overall == FEASIBLE]
        dropped: dict[int, int] = {}
        for i in alive:
            for j in judges:
                if j == i:
                    continue
                d = sign * (values[i][:, 0] - values[j][:, 0])
                d = d[np.isfinite(d)]
                v = pair_var(i, j)
                if not math.isfinite(v):
                    continue
                w = max(0.0, h2 * v / (2 * delta) - delta * len(d) / 2)
                if float(d.sum()) > w:
                    dropped[i] = j
                    break
        for i, j in dropped.items():
            states[i].status, states[i].decided_at, states[i].eliminated_by = "eliminated", n, j
        alive = [p for p in alive if states[p].status == "alive"]
        if not alive:
            reason = "none_feasible"
            break
        if len(alive) == 1 and states[alive[0]].overall == FEASIBLE:
            reason = "one_left"
            break
        if spent + settings.batch * len(alive) > settings.max_replications:
            reason = "budget"
            break
        run(alive, n, n + settings.batch)
        n += settings.batch

    alive = [p for p in range(k) if states[p].status == "alive"]
    means = {p: sign * float(np.nanmean(arr(p)[:, 0])) for p in alive}
    feasible = [p for p in alive if states[p].overall == FEASIBLE]
    best = min(feasible, key=lambda p: (means[p], p)) if feasible else None
    undecided = sorted(
        (
            p
            for p in alive
            if states[p].overall == UNDECIDED and (best is None or means[p] < means[best])
        ),
        key=lambda p: (means[p], p),
    )
    return Selection(states, best, float(delta), reason, spent, undecided, h2, hf2)


# --------------------------------------------------------------------------------------------
# replications of scenarios: the one adapter to the process pool (or a Dask cluster)


def replications_task(
    task: tuple[Scenario, int, list[int], list[str]],
) -> list[tuple[int, dict[str, float]]]:
    """Run in a worker: replications of one option (common random numbers: no point index in
    the seed), only the KPIs wanted."""
    scenario, seed, indices, names = task
    out = []
    for r in indices:
        kp = replication_kpis(scenario, seed, r)
        out.append((r, {n: float(kp[n]) for n in names if n in kp}))
    return out


class Evaluator:
    """The one adapter to :mod:`ooh_sim.core.pool`: a local process pool or a Dask cluster,
    held open for the whole procedure (its batches are small and many)."""

    def __init__(self, jobs: int, backend: str = "local", address: str | None = None) -> None:
        if backend not in ("local", "dask"):
            raise InputError(f"unknown backend {backend!r} (local or dask)", path="--backend")
        if backend == "dask":
            import_distributed()  # say so before starting anything
        elif address:
            raise InputError("--address applies only to --backend dask", path="--address")
        self.jobs, self.backend, self.address = jobs, backend, address
        self._executor: Executor | None = None
        self._window = WINDOW_PER_WORKER * jobs
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> Evaluator:
        if self.backend == "dask":
            ex, slots = self._stack.enter_context(dask_executor(self.address, self.jobs))
            self._executor, self._window = ex, WINDOW_PER_WORKER * slots
        elif self.jobs > 1:
            self._executor = self._stack.enter_context(process_pool(self.jobs))
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.__exit__(*exc)  # type: ignore[arg-type]

    def run(
        self, work: Sequence[tuple[Scenario, Sequence[int]]], seed: int, names: list[str]
    ) -> Iterator[tuple[int, int, dict[str, float]]]:
        """Yield ``(position in work, replication, {kpi: value})`` in any order."""
        size = CHUNK if self._executor is not None else 1
        tasks = (
            (w, (sc, seed, list(idx[a : a + size]), names))
            for w, (sc, idx) in enumerate(work)
            for a in range(0, len(idx), size)
        )
        for w, got in run_tasks(
            replications_task,
            tasks,
            jobs=1 if self._executor is None else self.jobs,
            executor=self._executor,
            window=self._window,
        ):
            for r, kp in got:
                yield w, r, kp


# --------------------------------------------------------------------------------------------
# the optimise run


Record = dict[str, Any]
"""One replication of one option: ``{"point": p, "replication": r, "kpis": {name: value}}``."""


@dataclass
class Versus:
    """The chosen option against the scenario as it is ("today"), paired by replication."""

    replications: int
    differences: dict[str, Estimate]  # KPI → estimate of chosen − today
    today: dict[str, Estimate]


@dataclass
class OptimiseResult:
    problem: Problem
    selection: Selection
    estimates: list[dict[str, Estimate]]  # per point: KPI → t-interval over its replications
    versus: Versus | None
    ran: int  # replications simulated in this run (not read from a checkpoint)
    seconds: float = 0.0

    @property
    def best(self) -> int | None:
        return self.selection.best


def _today_point(problem: Problem) -> int | None:
    """The option equal to the scenario as it is, if the decision space contains it."""
    plain = problem.base
    for i in range(len(problem.points)):
        if problem.data(i) == plain:
            return i
    return None


def optimise(
    problem: Problem,
    *,
    jobs: int | None = None,
    backend: str = "local",
    address: str | None = None,
    known: Mapping[tuple[int, int], Mapping[str, float]] | None = None,
    on_batch: Callable[[list[Record]], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
    compare_today: bool = True,
) -> OptimiseResult:
    """Run the ranking-and-selection procedure on ``problem``, then the chosen option against
    today's scenario. ``known`` holds replications from a checkpoint (point, replication) →
    KPIs; ``on_batch`` receives each batch of new ones to save. ``compare_today=False`` skips
    the chosen option's paired comparison with today's scenario (the validation benchmark)."""
    t0 = time.perf_counter()
    jobs = default_jobs() if jobs is None else jobs
    spec = problem.spec
    settings = Settings(
        spec.first_stage,
        spec.batch,
        spec.confidence,
        spec.indifference,
        spec.budget.max_replications,
    )
    names = list(dict.fromkeys([*problem.kpis, *REPORT_KPIS]))
    cache: dict[tuple[int, int], dict[str, float]] = {k: dict(v) for k, v in (known or {}).items()}
    scenarios: dict[int, Scenario] = {}
    ran = 0
    columns = problem.kpis

    def scenario(p: int) -> Scenario:
        if p not in scenarios:
            scenarios[p] = problem.scenario(p)
        return scenarios[p]

    with Evaluator(jobs, backend, address) as ev:

        def fetch(work: list[tuple[int, list[int]]]) -> None:
            nonlocal ran
            todo = [(p, [r for r in rs if (p, r) not in cache]) for p, rs in work]
            todo = [(p, rs) for p, rs in todo if rs]
            if not todo:
                return
            new: list[Record] = []
            for w, r, kp in ev.run([(scenario(p), rs) for p, rs in todo], problem.seed, names):
                p = todo[w][0]
                cache[(p, r)] = kp
                new.append({"point": p, "replication": r, "kpis": kp})
            new.sort(key=lambda x: (x["point"], x["replication"]))
            ran += len(new)
            if on_batch:
                on_batch(new)

        def sample(points: list[int], a: int, b: int) -> dict[int, np.ndarray]:
            fetch([(p, list(range(a, b))) for p in points])
            if progress:
                progress(len(cache), settings.max_replications)
            return {
                p: np.array(
                    [[cache[(p, r)].get(c, math.nan) for c in columns] for r in range(a, b)],
                    dtype=float,
                )
                for p in points
            }

        sel = select(
            len(problem.points),
            problem.constraints,
            sample,
            settings,
            maximise=problem.sense == "maximise",
        )
        versus = None
        if sel.best is not None and compare_today:
            n = sel.states[sel.best].n
            today = _today_point(problem)
            if today is None:  # run today's scenario on the same replications
                today_sc = scenario_from_dict(
                    problem.base,
                    file=str(problem.scenario_file),
                    base_dir=problem.scenario_file.parent,
                )
                got: dict[int, dict[str, float]] = {}
                for _, r, kp in ev.run([(today_sc, list(range(n)))], problem.seed, names):
                    got[r] = kp
                ran += n
                today_rows = [got[r] for r in range(n)]
            else:
                fetch([(today, list(range(n)))])
                today_rows = [cache[(today, r)] for r in range(n)]
            best_rows = [cache[(sel.best, r)] for r in range(n)]
            versus = _versus(best_rows, today_rows, names)

    estimates = []
    for p in range(len(problem.points)):
        rows = [cache[(p, r)] for r in range(sel.states[p].n) if (p, r) in cache]
        estimates.append(
            {
                c: t_interval([row.get(c, math.nan) for row in rows])
                for c in names
                if any(c in row for row in rows)
            }
        )
    return OptimiseResult(problem, sel, estimates, versus, ran, time.perf_counter() - t0)


def _versus(
    best: list[dict[str, float]], today: list[dict[str, float]], names: list[str]
) -> Versus:
    diffs, base = {}, {}
    for c in names:
        a = np.array([row.get(c, math.nan) for row in best], dtype=float)
        b = np.array([row.get(c, math.nan) for row in today], dtype=float)
        if np.isfinite(a).any() and np.isfinite(b).any():
            diffs[c] = t_interval(a - b)
            base[c] = t_interval(b)
    return Versus(len(best), diffs, base)


# --------------------------------------------------------------------------------------------
# plain words


def _pounds(x: float) -> int:
    """Whole pounds of ``|x|``, halves rounded up: the rule `money_words` says "no change" by
    (below £0.50), so £0.50 is "£1", never "£0 more"."""
    return math.floor(abs(x) + 0.5)


def _money(x: float) -> str:
    return f"£{_pounds(x):,}"


def _ci_money(low: float, high: float, saving: bool = False) -> str:
    """The 95% CI in the sentence's own direction: of the saving when it says "save" or "less"
    (a saving of £231 has a CI of £220 to £241, not −241 to −220)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return ""
    low, high = (-high, -low) if saving else (low, high)
    return f" (95% CI {_signed_money(low)} to {_signed_money(high)})"


def _signed_money(x: float) -> str:
    return f"−{_money(x)}" if x < 0 and _pounds(x) else _money(x)  # never "£-0"


def money_words(who: str | None, mean: float, low: float, high: float) -> str:
    """What an option costs a budget holder (None: the cost as a whole) a week against today,
    with its 95% CI, in a board's words; the one wording of summary.md, the terminal and
    report.html. A council cost is said as a cost either way, another holder's fall as a
    saving."""
    whom = "" if who is None else f"{who} "
    if abs(mean) < 0.5:
        ci = "" if low == high else _ci_money(low, high)
        return f"{who or 'cost'}: no change{ci}"
    if who is None or who == "council" or mean > 0:
        more = "more" if mean > 0 else "less"
        ci = _ci_money(low, high, saving=mean < 0)
        return f"costs {whom}{_money(mean)} a week {more} than today{ci}"
    return f"{who} save {_money(mean)} a week{_ci_money(low, high, saving=True)}"


def summary_text(result: OptimiseResult) -> str:
    """The board's answer in one paragraph, then the procedure's bookkeeping."""
    problem, sel = result.problem, result.selection
    targets = (
        " and ".join(c.text.replace("<=", "≤").replace(">=", "≥") for c in problem.constraints)
        or "no target"
    )
    conf = f"{problem.spec.confidence:.0%}"
    lines: list[str] = []
    if sel.best is None:
        why = (
            "every option was found infeasible"
            if sel.reason == "none_feasible"
            else "none was shown feasible within the replication budget"
        )
        lines.append(f"No option meets {targets} with {conf} confidence ({why}).")
    else:
        what = ", ".join(f"{k} = {v}" for k, v in problem.labels(sel.best).items())
        verb = (
            "Cheapest"
            if problem.objective.startswith("cost.") and problem.sense == "minimise"
            else "Best"
        )
        head = f"{verb} option meeting {targets} with {conf} confidence: {what}."
        lines.append(head)
        v = result.versus
        if v is not None:
            words = []
            for who in kpis.BUDGET_HOLDERS:
                e = v.differences.get(f"cost.{who}.per_week")
                if e is not None:
                    words.append(money_words(who, e.mean, e.ci95_low, e.ci95_high))
            if not words and "cost.per_week" in v.differences:
                e = v.differences["cost.per_week"]
                words.append(money_words(None, e.mean, e.ci95_low, e.ci95_high))
            for c in problem.constraints:
                e, t = v.differences.get(c.kpi), v.today.get(c.kpi)
                if e is not None and t is not None:
                    now, was = kpis.format(c.kpi, t.mean + e.mean), kpis.format(c.kpi, t.mean)
                    words.append(f"{c.kpi} {now} (today {was})")
            if words:
                lines.append(
                    "It " + "; ".join(words) + f" — paired over {v.replications} "
                    "replications on common random numbers."
                )
    if sel.undecided_better:
        shown = "; ".join(
            ", ".join(f"{k} = {v}" for k, v in problem.labels(p).items())
            for p in sel.undecided_better[:3]
        )
        lines.append(
            f"Not settled within the budget: {len(sel.undecided_better)} cheaper "
            f"option(s) could not yet be shown feasible or infeasible ({shown})."
        )
    k = len(problem.points)
    counts = {
        s: sum(1 for st in sel.states if st.status == s)
        for s in ("infeasible", "eliminated", "alive")
    }
    lines.append(
        f"{k} options, {sel.replications:,} replications ({sel.replications / k:.0f} an option "
        f"on average); {counts['infeasible']} found infeasible, {counts['eliminated']} "
        f"eliminated as dearer than a feasible option (indifference zone δ = {sel.delta:,.4g} "
        f"on {problem.objective}); stopped: {sel.reason.replace('_', ' ')}."
    )
    return "\n\n".join(lines)


__all__ = [
    "FEASIBLE",
    "INFEASIBLE",
    "REPORT_KPIS",
    "UNDECIDED",
    "Evaluator",
    "OptimiseResult",
    "PointState",
    "Selection",
    "Settings",
    "Versus",
    "h_squared",
    "money_words",
    "optimise",
    "select",
    "summary_text",
]
