"""Replications: run them (in parallel processes), then summarise across them.

This is the Python API under the CLI::

    from ooh_sim import load_scenario, run
    result = run(load_scenario("scenarios/baseline.yaml"), replications=20)
    result.summary["station.hours.mean"]   # Estimate(mean=…, ci95_low=…, …)

Replication ``r`` of a run with seed ``s`` draws only from generators derived from ``(s, r)``,
so the numbers do not depend on how many processes run them or in which order they finish.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context

import numpy as np

from .metrics import JobTable, compute_kpis, job_table, profiles
from .model import Model
from .rng import RandomStreams
from .schema import Scenario
from .stats import Estimate, summarise


@dataclass
class Replication:
    """What one replication contributes to a run."""

    index: int
    kpis: dict[str, float]
    profiles: dict[str, np.ndarray]
    jobs: JobTable | None = None
    model: Model | None = None  # kept only when asked (timelines, tests)
    seconds: float = 0.0


@dataclass
class RunResult:
    scenario: Scenario
    seed: int
    replications: list[Replication]
    summary: dict[str, Estimate] = field(default_factory=dict)

    @property
    def kpi_rows(self) -> list[dict[str, float]]:
        return [r.kpis for r in self.replications]

    def profile(self, name: str) -> np.ndarray:
        """Hour-of-week curve averaged over replications."""
        return np.mean([r.profiles[name] for r in self.replications], axis=0)


def run_replication(
    scenario: Scenario,
    seed: int,
    index: int,
    *,
    point: int | None = None,
    keep_jobs: bool = True,
    keep_model: bool = False,
) -> Replication:
    t0 = time.perf_counter()
    m = Model(scenario, RandomStreams(seed, index, point)).run()
    jobs = job_table(m)
    rep = Replication(
        index,
        compute_kpis(m, jobs),
        profiles(m, jobs),
        jobs if keep_jobs else None,
        m if keep_model else None,
    )
    rep.seconds = time.perf_counter() - t0
    return rep


def _run_chunk(scenario: Scenario, seed: int, indices: list[int], keep_jobs: bool):
    return [run_replication(scenario, seed, i, keep_jobs=keep_jobs) for i in indices]


def default_jobs() -> int:
    return max(
        1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )


def pool(jobs: int) -> ProcessPoolExecutor:
    """A process pool that is safe to start from a program with threads (progress bars)."""
    method = "forkserver" if sys.platform.startswith("linux") else "spawn"
    return ProcessPoolExecutor(max_workers=jobs, mp_context=get_context(method))


def iter_replications(
    scenario: Scenario,
    seed: int,
    indices: list[int],
    *,
    jobs: int = 1,
    keep_jobs: bool = True,
) -> Iterator[Replication]:
    """Yield replications as they finish (any order); callers sort by ``index``."""
    if jobs <= 1 or len(indices) <= 1:
        for i in indices:
            yield run_replication(scenario, seed, i, keep_jobs=keep_jobs)
        return
    # a few chunks per process: amortises pickling, keeps the progress bar moving
    size = max(1, min(25, len(indices) // (jobs * 4)))
    chunks = [indices[i : i + size] for i in range(0, len(indices), size)]
    with pool(jobs) as ex:
        futures = [ex.submit(_run_chunk, scenario, seed, c, keep_jobs) for c in chunks]
        try:
            for fut in as_completed(futures):
                yield from fut.result()
        except BaseException:
            for f in futures:
                f.cancel()
            raise


def run(
    scenario: Scenario,
    *,
    replications: int | None = None,
    seed: int | None = None,
    jobs: int | None = None,
    keep_jobs: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> RunResult:
    """Run the scenario's replications and summarise them (mean, sd, 95% t-interval per KPI)."""
    n = replications or scenario.replications
    seed = scenario.seed if seed is None else seed
    jobs = default_jobs() if jobs is None else jobs
    done: list[Replication] = []
    for rep in iter_replications(scenario, seed, list(range(n)), jobs=jobs, keep_jobs=keep_jobs):
        done.append(rep)
        if progress:
            progress(len(done), n)
    done.sort(key=lambda r: r.index)
    result = RunResult(scenario, seed, done)
    result.summary = summarise(result.kpi_rows)
    return result
