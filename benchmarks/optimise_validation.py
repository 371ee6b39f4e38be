"""Validation of ``ooh-sim optimise`` on the shipped experiment (issue 16).

1. **Truth by brute force**: every option of ``experiments/cheapest_within_4h.yaml`` is run
   ``--truth-replications`` times (default 1,000) on common random numbers; the option means
   define which options meet the target and which is the cheapest that does.
2. **The optimiser, ``--runs`` times** (default 40), each from scratch with its own random
   order of replications. So that 40 runs fit a 2-core machine, the runs draw their replications
   from a **bank**: another ``--bank-replications`` (default 1,000) replications of every option,
   disjoint from the truth's (replications 1,000 … 1,999 of the same seed: independent streams).
   Run ``m`` takes bank replication ``π_m(r)`` as its replication ``r`` for EVERY option — one
   random permutation ``π_m`` per run, so common random numbers are kept — and the real
   procedure (:func:`ooh_sim.core.optimise.select`) decides on them. A run that needs more than
   the bank goes on with a fresh permutation of it (counted as ``bank_wraps``). One more run
   simulates for real (``optimise``), as the CLI does, as a check.
   A run is **right** when the option it returns truly meets the target (its brute-force mean is
   within the bound) and its true cost is within the indifference zone δ of the true best's;
   **right within tolerance** also accepts an option whose true value misses the bound by less
   than the constraint's tolerance ε (what the procedure guarantees). The replications each run
   spent are compared with the brute force's (options × truth replications).

The horizon is shortened (``--days``, ``--warmup-days``; default 35 and 7: 4 measured weeks) so
that the 56,000 replications of truth and bank fit the machine; the scenario is otherwise the
shipped baseline's (so the station-hour figures are those of 4-week periods, not of a year).
Results are cached in ``--cache``. Run from the repo root::

    python -m benchmarks.optimise_validation --jobs 2 --output benchmarks/optimise_validation.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

from ooh_sim.core.optimise import Evaluator, Settings, optimise, select
from ooh_sim.core.optimise_spec import load_problem
from ooh_sim.core.schema import Horizon

ROOT = Path(__file__).resolve().parent.parent
EXPERIMENT = ROOT / "experiments" / "cheapest_within_4h.yaml"
TRUTH_SEED = 1_000_003


def brute_force(problem, replications: int, jobs: int, cache: Path | None) -> dict:
    """Objective and constraint KPIs of every option in replications ``0 … replications−1``."""
    key = {"sha": problem.sha256, "replications": replications, "seed": TRUTH_SEED}
    if cache is not None and cache.exists():
        stored = json.loads(cache.read_text())
        if stored.get("key") == key:
            return stored
    names = problem.kpis
    k = len(problem.points)
    values = np.full((k, replications, len(names)), np.nan)
    t0 = time.perf_counter()
    work = [(problem.scenario(p), range(replications)) for p in range(k)]
    with Evaluator(jobs) as ev:
        for done, (w, r, kp) in enumerate(ev.run(work, TRUTH_SEED, names), 1):
            values[w, r] = [kp.get(n, math.nan) for n in names]
            if done % 5000 == 0:
                print(
                    f"  brute force: {done:,} replications, {time.perf_counter() - t0:.0f} s",
                    file=sys.stderr,
                    flush=True,
                )
    out = {
        "key": key,
        "kpis": names,
        "values": values.tolist(),
        "seconds": time.perf_counter() - t0,
    }
    if cache is not None:
        cache.write_text(json.dumps(out))
    return out


def bank_sampler(bank: np.ndarray, seed: int, wraps: list[int]):
    """``sample(points, a, b)`` for :func:`select`: bank replications in run ``seed``'s order."""
    rng = np.random.default_rng(seed)
    order = list(rng.permutation(bank.shape[1]))

    def sample(points, a, b):
        while len(order) < b:
            order.extend(rng.permutation(bank.shape[1]))
            wraps[0] += 1
        idx = order[a:b]
        return {p: bank[p, idx, :] for p in points}

    return sample


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=float, default=35)
    ap.add_argument("--warmup-days", type=float, default=7)
    ap.add_argument("--truth-replications", type=int, default=1000)
    ap.add_argument("--bank-replications", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/ooh_optimise_truth.json"))
    ap.add_argument("--output", type=Path)
    ap.add_argument("--no-real-run", action="store_true", help="only the runs on the bank")
    a = ap.parse_args(argv)
    horizon = Horizon(days=a.days, warmup_days=a.warmup_days)
    problem = load_problem(EXPERIMENT, horizon=horizon)
    k = len(problem.points)
    print(
        f"{problem.name}: {k} options, horizon {a.days:g} days ({a.warmup_days:g} warm-up)",
        file=sys.stderr,
    )
    n_truth = a.truth_replications
    data = brute_force(problem, n_truth + a.bank_replications, a.jobs, a.cache)
    values = np.array(data["values"], dtype=float)  # option, replication, kpi
    truth, bank = values[:, :n_truth, :], values[:, n_truth:, :]
    names = data["kpis"]
    means = np.nanmean(truth, axis=1)
    ses = np.nanstd(truth, axis=1, ddof=1) / np.sqrt(np.isfinite(truth).sum(axis=1))
    obj = means[:, 0]
    cons = problem.constraints
    cols = [1 + names[1:].index(c.kpi) for c in cons]
    slack = np.array(
        [[c.slack(means[p, j]) for c, j in zip(cons, cols, strict=True)] for p in range(k)]
    ).reshape(k, len(cons))
    tol = np.array([c.tolerance for c in cons])
    feasible = np.all(slack >= 0, axis=1)
    acceptable = np.all(slack >= -tol, axis=1)  # within the tolerance of every bound
    desirable = np.all(slack >= tol, axis=1)  # inside every bound by the tolerance
    sign = -1.0 if problem.sense == "maximise" else 1.0
    best = int(np.argmin(np.where(feasible, sign * obj, np.inf)))
    best_desirable = int(np.argmin(np.where(desirable, sign * obj, np.inf)))
    spec = problem.spec
    settings = Settings(
        spec.first_stage,
        spec.batch,
        spec.confidence,
        spec.indifference,
        spec.budget.max_replications,
    )

    def judge(chosen, delta):
        """(strict, as guaranteed): strict = truly feasible and within δ of the cheapest truly
        feasible option; as guaranteed (Andradóttir & Kim's tolerance) = within ε of every bound
        and within δ of the cheapest option inside every bound by ε."""
        if chosen is None:
            return False, False
        strict = feasible[chosen] and sign * obj[chosen] <= sign * obj[best] + delta
        promised = acceptable[chosen] and (sign * obj[chosen] <= sign * obj[best_desirable] + delta)
        return bool(strict), bool(promised)

    runs = []
    t0 = time.perf_counter()
    for seed in range(1, a.runs + 1):
        wraps = [0]
        sel = select(
            k, cons, bank_sampler(bank, seed, wraps), settings, maximise=problem.sense == "maximise"
        )
        right, right_promised = judge(sel.best, sel.delta)
        runs.append(
            {
                "seed": seed,
                "chosen": sel.best,
                "right": right,
                "right_as_guaranteed": right_promised,
                "replications": sel.replications,
                "max_per_option": max(st.n for st in sel.states),
                "bank_wraps": wraps[0],
                "stopped": sel.reason,
            }
        )
        print(
            f"  run {seed:2d}: option {sel.best} ({'right' if right else 'WRONG'}), "
            f"{sel.replications:,} replications, {sel.reason}",
            file=sys.stderr,
            flush=True,
        )
    problem.seed = 1
    t1 = time.perf_counter()
    real = None if a.no_real_run else optimise(problem, jobs=a.jobs, compare_today=False)
    real_right, real_right_promised = (
        judge(real.best, real.selection.delta) if real else (None, None)
    )
    brute = k * n_truth
    spent = np.array([r["replications"] for r in runs])
    summary = {
        "experiment": str(EXPERIMENT.relative_to(ROOT)),
        "options": k,
        "horizon_days": a.days,
        "warmup_days": a.warmup_days,
        "truth_replications": n_truth,
        "bank_replications": a.bank_replications,
        "simulation_seconds": data.get("seconds"),
        "true_best": {
            "point": best,
            "decisions": problem.labels(best),
            "objective": float(obj[best]),
            "slack": slack[best].tolist(),
        },
        "truly_feasible": int(feasible.sum()),
        "truth": [
            {
                "point": p,
                "decisions": problem.labels(p),
                "objective": float(obj[p]),
                "objective_se": float(ses[p, 0]),
                **{c.kpi: float(means[p, j]) for c, j in zip(cons, cols, strict=True)},
                **{f"{c.kpi}.se": float(ses[p, j]) for c, j in zip(cons, cols, strict=True)},
                "feasible": bool(feasible[p]),
            }
            for p in range(k)
        ],
        "runs": len(runs),
        "right_share": float(np.mean([r["right"] for r in runs])),
        "right_as_guaranteed_share": float(np.mean([r["right_as_guaranteed"] for r in runs])),
        "best_desirable": {
            "point": best_desirable,
            "decisions": problem.labels(best_desirable),
            "objective": float(obj[best_desirable]),
        },
        "replications_mean": float(spent.mean()),
        "replications_max": int(spent.max()),
        "share_of_brute_force_mean": float(spent.mean() / brute),
        "share_of_brute_force_max": float(spent.max() / brute),
        "bank_wraps": int(sum(r["bank_wraps"] for r in runs)),
        "runs_seconds": t1 - t0,
        "real_run": None
        if real is None
        else {
            "seed": 1,
            "chosen": real.best,
            "right": real_right,
            "right_as_guaranteed": real_right_promised,
            "replications": real.selection.replications,
            "seconds": time.perf_counter() - t1,
        },
        "jobs": a.jobs,
        "load_average": os.getloadavg(),
        "per_run": runs,
    }
    text = json.dumps(summary, indent=2, default=str)
    print(text)
    if a.output:
        tmp = a.output.with_suffix(".tmp")
        tmp.write_text(text + "\n")
        os.replace(tmp, a.output)
    ok = (
        summary["right_as_guaranteed_share"] >= 0.95 and summary["share_of_brute_force_mean"] <= 0.4
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
