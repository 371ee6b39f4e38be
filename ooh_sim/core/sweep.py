"""A sweep's computation: run design points (local processes or a Dask cluster) and analyse them.

Replication ``r`` of every design point draws from ``RandomStreams(seed, r)`` — common random
numbers, so differences between neighbouring points are not noise — or, with the experiment key
``common_random_numbers: false``, from ``RandomStreams(seed, r, point=p)``. Either way a point's
numbers do not depend on which process ran it, when, or next to what. :func:`run_points`
yields one plain record per finished point (what the checkpoint stores);
:func:`table_from_records` puts records in point order as a :class:`SweepTable`, from which the
sensitivity ranking is computed. Keeping the checkpoint, resuming and writing the files is
:mod:`ooh_sim.io.sweep_store`'s job.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ooh_sim.core.errors import InputError
from ooh_sim.core.experiment import Experiment, import_salib_sobol
from ooh_sim.core.loader import apply_overrides, scenario_from_dict
from ooh_sim.core.pool import (
    DASK_MISSING,
    WINDOW_PER_WORKER,
    dask_executor,
    import_distributed,
    run_tasks,
)
from ooh_sim.core.runner import default_jobs, replication_kpis
from ooh_sim.core.stats import Estimate, t_interval

BACKENDS = ("local", "dask")

# --------------------------------------------------------------------------------------------
# one design point (runs in a worker process)


@dataclass(frozen=True)
class PointTask:
    """Everything a worker needs for one design point (plain data: pickles anywhere)."""

    point: int
    overrides: dict[str, Any]
    base: dict[str, Any]
    scenario_file: str
    seed: int
    replications: int
    common_random_numbers: bool = True  # replication r of every point: the same streams


def run_point(task: PointTask) -> dict[str, Any]:
    """All replications of one point → a checkpoint record (KPIs per replication, by index)."""
    t0 = time.perf_counter()
    data = apply_overrides(task.base, task.overrides)
    sc = scenario_from_dict(data, file=task.scenario_file, base_dir=Path(task.scenario_file).parent)
    stream_point = None if task.common_random_numbers else task.point
    reps = [replication_kpis(sc, task.seed, r, stream_point) for r in range(task.replications)]
    return {
        "point": task.point,
        "kpis": [{k: _json_num(v) for k, v in kp.items()} for kp in reps],
        "seconds": round(time.perf_counter() - t0, 4),
    }


def _json_num(x: float) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def point_tasks(exp: Experiment, skip: Iterable[int] = ()) -> Iterator[tuple[int, PointTask]]:
    """``(point, task)`` for every design point not in ``skip``, in point order (lazily)."""
    done = set(skip)
    where = str(exp.scenario_file.resolve())  # workers may run in another folder
    for p in range(len(exp.points)):
        if p not in done:
            yield p, PointTask(p, exp.points[p], exp.base, where, exp.seed, exp.replications,
                               exp.spec.common_random_numbers)  # fmt: skip


def check_backend(backend: str, address: str | None) -> None:
    """An unknown backend, a missing Dask or a stray ``--address`` is said before anything runs."""
    if backend not in BACKENDS:
        raise InputError(f"unknown backend {backend!r} (local or dask)", path="--backend")
    if backend == "dask":
        import_distributed()
    elif address:
        raise InputError("--address applies only to --backend dask", path="--address")


def run_points(
    tasks: Iterable[tuple[int, PointTask]],
    *,
    jobs: int | None = None,
    backend: str = "local",
    address: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Checkpoint records of the tasks' points, in the order they finish, a bounded number in
    flight: on a local process pool, or on a Dask cluster (at ``address``, or a local one)."""
    check_backend(backend, address)
    jobs = default_jobs() if jobs is None else jobs
    if backend == "local":
        for _, record in run_tasks(run_point, tasks, jobs=jobs):
            yield record
        return
    with dask_executor(address, jobs) as (ex, slots):
        window = WINDOW_PER_WORKER * slots
        for _, record in run_tasks(run_point, tasks, executor=ex, window=window):
            yield record


@dataclass
class SweepTable:
    """Per-point results of the output KPIs (what tables and figures are made from)."""

    parameters: list[str]
    outputs: list[str]
    values: list[dict[str, Any]]  # parameter values per point
    reps: list[list[dict[str, float]]]  # per point, per replication: output → value
    estimates: list[dict[str, Estimate]]  # per point: output → t-interval

    def means(self, output: str) -> np.ndarray:
        return np.array([e[output].mean for e in self.estimates], dtype=float)


def table_from_records(exp: Experiment, records: Iterable[Mapping[str, Any]]) -> SweepTable:
    """Point records (any order; the first of each point counts) → the output KPIs in point
    order; every design point must be there."""
    by_point: dict[int, list[dict[str, float]]] = {}
    for r in records:
        if r["point"] in by_point:
            continue
        by_point[r["point"]] = [
            {k: math.nan if kp.get(k) is None else float(kp[k]) for k in exp.outputs}
            for kp in r["kpis"]
        ]
    missing = [p for p in range(len(exp.points)) if p not in by_point]
    if missing:
        raise InputError(
            f"{len(missing)} design points have no results (first: {missing[0]})",
            path="points",
        )
    reps = [by_point[p] for p in range(len(exp.points))]
    est = [{k: t_interval([r[k] for r in rs]) for k in exp.outputs} for rs in reps]
    return SweepTable([p.path for p in exp.parameters], exp.outputs, exp.points, reps, est)


def standardised_regression(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Standardised regression coefficients (SRC) of ``y`` on the columns of ``x``, and R².

    SRC_j = b_j · sd(x_j) / sd(y) from a least-squares fit. With near-independent inputs (an
    LHS or Sobol design) SRC_j² is the share of the variance of y that x_j explains linearly;
    when R² is low the relation is not linear and the ranking says little.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    ok = np.isfinite(y) & np.all(np.isfinite(x), axis=1)
    x, y = x[ok], y[ok]
    d = x.shape[1]
    nan = np.full(d, math.nan)
    if len(y) <= d + 1:
        return nan, math.nan
    sx, sy = x.std(axis=0, ddof=1), y.std(ddof=1)
    if sy == 0 or not np.all(sx > 0):
        return nan, math.nan
    z = (x - x.mean(axis=0)) / sx
    zy = (y - y.mean()) / sy
    coef, *_ = np.linalg.lstsq(np.column_stack([np.ones(len(zy)), z]), zy, rcond=None)
    resid = zy - np.column_stack([np.ones(len(zy)), z]) @ coef
    r2 = 1.0 - float(resid @ resid) / float(zy @ zy)
    return coef[1:], r2


def sensitivity(exp: Experiment, table: SweepTable) -> list[dict[str, Any]]:
    """SRC of every numeric parameter for every output (rows for sensitivity.csv)."""
    names = [p.path for p in exp.parameters if p.numeric]
    if not names:
        return []
    x = np.array([[float(v[n]) for n in names] for v in table.values], dtype=float)
    rows: list[dict[str, Any]] = []
    for k in table.outputs:
        src, r2 = standardised_regression(x, table.means(k))
        order = np.argsort(-np.nan_to_num(np.abs(src), nan=-1.0), kind="stable")
        rank = np.empty(len(names), dtype=int)
        rank[order] = np.arange(1, len(names) + 1)
        sobol = sobol_indices(exp, table.means(k)) if exp.design == "saltelli" else None
        for j, n in enumerate(names):
            rows.append(
                {"output": k, "parameter": n, "src": float(src[j]), "rank": int(rank[j]), "r2": r2}
            )
            if sobol is not None:
                rows[-1].update({key: float(v[j]) for key, v in sobol.items()})
    return rows


def sobol_indices(exp: Experiment, y: np.ndarray) -> dict[str, np.ndarray] | None:
    """Sobol first-order (``s1``) and total (``st``) indices of one output's point means, with
    95% bootstrap half-widths (``s1_conf``, ``st_conf``): SALib's Saltelli/Jansen estimators on
    a ``design: saltelli`` sweep. Unlike the SRC ranking they need no linearity: ``st − s1`` is
    what a parameter does through interactions. None if any point mean is undefined."""
    y = np.asarray(y, dtype=float)
    if not np.all(np.isfinite(y)) or np.ptp(y) == 0:
        return None
    _, analyze = import_salib_sobol()
    d = len(exp.parameters)
    problem = {"num_vars": d, "names": [p.path for p in exp.parameters],
               "bounds": [[0.0, 1.0]] * d}  # fmt: skip
    with np.errstate(all="ignore"):
        res = analyze.analyze(problem, y, calc_second_order=False, conf_level=0.95,
                              num_resamples=1000, seed=exp.seed)  # fmt: skip
    return {"s1": res["S1"], "s1_conf": res["S1_conf"], "st": res["ST"], "st_conf": res["ST_conf"]}


__all__ = [
    "BACKENDS",
    "DASK_MISSING",
    "PointTask",
    "SweepTable",
    "check_backend",
    "point_tasks",
    "run_point",
    "run_points",
    "sensitivity",
    "sobol_indices",
    "standardised_regression",
    "table_from_records",
]
