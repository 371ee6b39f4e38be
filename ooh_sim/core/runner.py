"""Replications: run them (in parallel processes), then summarise across them.

This is the Python API under the CLI::

    from ooh_sim import load_scenario, run
    result = run(load_scenario("scenarios/baseline.yaml"), replications=20)
    result.summary["station.hours.mean"]   # Estimate(mean=…, ci95_low=…, …)

Replication ``r`` of a run with seed ``s`` draws only from generators derived from ``(s, r)``,
so the numbers do not depend on how many processes run them or in which order they finish.
"""

from __future__ import annotations

import itertools
import os
import signal
import sys
import tempfile
import threading
import time
from array import array
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import get_context

import numpy as np

from ooh_sim.core.metrics import JobTable, compute_kpis, job_table, profiles
from ooh_sim.core.model import Model, simulate
from ooh_sim.core.schema import Scenario
from ooh_sim.core.stats import Estimate, t_interval


@dataclass
class Replication:
    """What one replication contributes to a run."""

    index: int
    kpis: dict[str, float]
    profiles: dict[str, np.ndarray]
    jobs: JobTable | None = None
    model: Model | None = None  # kept only when asked (timelines, tests)
    seconds: float = 0.0


class Replications(Sequence[Replication]):
    """A run's replications, aggregated as they finish so that memory does not grow with them.

    Each replication's KPI values (and its run time) go to an anonymous temporary file as one
    float64 record, so 10,000 replications hold no more memory than 1,000 (the KPI table is
    the only per-replication output, and it goes to ``replications.csv`` anyway). Hour-of-week
    profiles are summed in index order — a small buffer holds the replications that finish
    early — so :meth:`profile` equals the mean of a list of profiles bit for bit, whatever the
    number of processes. Job tables are kept only when the replications carry them. After
    :meth:`finish`, items are light :class:`Replication` views read back on access, in index
    order, without ``profiles`` or ``model``.
    """

    def __init__(self, indices: Sequence[int]) -> None:
        order = indices if isinstance(indices, range) else sorted(indices)
        self._order = order  # the replication index of each row
        self._row_of = (
            None
            if isinstance(order, range) and order.step == 1
            else {i: p for p, i in enumerate(order)}
        )
        n = len(order)
        self._filled = bytearray(n)
        self._count = 0
        self._next = 0  # row of the next profile to sum
        self._early: dict[int, dict[str, np.ndarray]] = {}
        self._sums: dict[str, np.ndarray] = {}
        self._summed = 0
        self.names: list[str] = []  # KPI columns
        self._keys: list[tuple[str, ...] | None] = [None] * n  # each row's own KPI names
        self._shared: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._spool = tempfile.TemporaryFile()  # noqa: SIM115 — lives as long as the result
        self._at = array("q", [-1]) * n  # byte offset of each row's record in the spool
        self._end = 0
        self.jobs: dict[int, JobTable] = {}

    def add(self, rep: Replication) -> None:
        n = len(self._order)
        if self._row_of is not None:
            p = self._row_of.get(rep.index, -1)
        else:
            p = rep.index - self._order[0] if n else -1
        if not 0 <= p < n or self._filled[p]:
            raise ValueError(f"replication {rep.index} was not expected, or came twice")
        keys = tuple(rep.kpis)
        shared = self._shared.get(keys)
        if shared is None:  # a new set of KPI names (normally only with the first replication)
            shared = self._shared[keys] = keys
            self.names.extend(k for k in keys if k not in self.names)
        keys = shared
        record = np.fromiter((*rep.kpis.values(), rep.seconds), float, len(keys) + 1)
        os.pwrite(self._spool.fileno(), record.tobytes(), self._end)
        self._at[p] = self._end
        self._end += record.nbytes
        self._keys[p] = keys
        self._filled[p] = 1
        self._count += 1
        if rep.jobs is not None:
            self.jobs[rep.index] = rep.jobs
        self._early[p] = rep.profiles
        while self._next in self._early:
            self._sum(self._early.pop(self._next))
            self._next += 1

    def _record(self, p: int) -> np.ndarray:
        """Row ``p``'s KPI values in its own key order, then its run time."""
        width = len(self._keys[p] or ()) + 1
        raw = os.pread(self._spool.fileno(), 8 * width, self._at[p])
        return np.frombuffer(raw, dtype=float)

    def _sum(self, profiles: dict[str, np.ndarray]) -> None:
        for name, curve in profiles.items():
            total = self._sums.get(name)
            if total is None:
                self._sums[name] = np.array(curve, dtype=float)
            else:
                total += curve
        self._summed += 1

    def finish(self) -> Replications:
        """Drop rows that never came (an interrupted run); KPI columns in order of first
        appearance by index, as ``stats.summarise`` orders them."""
        for p in sorted(self._early):
            self._sum(self._early.pop(p))
        if self._count < len(self._order):
            keep = [p for p in range(len(self._order)) if self._filled[p]]
            self._keys = [self._keys[p] for p in keep]
            self._at = array("q", [self._at[p] for p in keep])
            self._order = [self._order[p] for p in keep]
            self._row_of, self._filled = {}, bytearray([1]) * len(keep)
        names: list[str] = []
        for keys in {id(k): k for k in self._keys if k is not None}.values():  # distinct, in order
            names.extend(k for k in keys if k not in names)
        self.names = names
        return self

    def summary(self, block: int = 16) -> dict[str, Estimate]:
        """Per-KPI t-intervals: the same as ``stats.summarise`` of the rows, without the dicts.

        Columns are gathered ``block`` at a time from the spool, so the whole table is never in
        memory at once.
        """
        out: dict[str, Estimate] = {}
        n = len(self)
        for first in range(0, len(self.names), block):
            cols = {k: np.full(n, np.nan) for k in self.names[first : first + block]}
            for p in range(n):
                values = self._record(p)
                for j, k in enumerate(self._keys[p] or ()):
                    col = cols.get(k)
                    if col is not None:
                        col[p] = values[j]
            out.update((k, t_interval(col)) for k, col in cols.items())
        return out

    def profile(self, name: str) -> np.ndarray:
        """Hour-of-week curve averaged over the replications."""
        return self._sums[name] / self._summed

    def __len__(self) -> int:
        return self._count

    def _view(self, p: int) -> Replication:
        values, keys = self._record(p), self._keys[p] or ()
        kpis = {k: float(values[j]) for j, k in enumerate(keys)}
        index = self._order[p]
        return Replication(index, kpis, {}, self.jobs.get(index), seconds=float(values[-1]))

    def __getitem__(self, i):  # type: ignore[no-untyped-def, override]
        if isinstance(i, slice):
            return [self._view(p) for p in range(len(self))[i]]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self._view(i)


@dataclass
class RunResult:
    scenario: Scenario
    seed: int
    replications: Sequence[Replication]  # a list, or the compact Replications made by run()
    summary: dict[str, Estimate] = field(default_factory=dict)

    @property
    def kpi_rows(self) -> list[dict[str, float]]:
        return [r.kpis for r in self.replications]

    def profile(self, name: str) -> np.ndarray:
        """Hour-of-week curve averaged over replications."""
        if isinstance(self.replications, Replications):
            return self.replications.profile(name)
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
    m = simulate(scenario, seed, index, point)
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


def _ignore_sigint() -> None:
    """Worker initializer: Ctrl-C is for the parent, which stops the pool (no worker tracebacks)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class _Pool(ProcessPoolExecutor):
    """Leaving the ``with`` block on an exception (Ctrl-C) kills the workers instead of waiting
    for the work in flight, so an interrupted run stops at once and leaves no processes behind."""

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        # shutdown() forgets the worker processes; remember them so __exit__ can still stop them
        self._last_processes = dict(getattr(self, "_processes", None) or {})
        super().shutdown(wait=wait, cancel_futures=cancel_futures)

    def __exit__(self, exc_type, exc, tb):  # type: ignore[no-untyped-def]
        if exc_type is not None:
            # no public way to stop running work before Python 3.14 (terminate_workers)
            known = getattr(self, "_processes", None) or getattr(self, "_last_processes", {})
            for proc in list(known.values()):
                if proc.is_alive():
                    proc.terminate()
            # no waiting: a worker killed mid-way through sending a large result leaves a partial
            # message that the pool's manager thread would wait on for ever
            self.shutdown(wait=False, cancel_futures=True)
            return False
        return super().__exit__(exc_type, exc, tb)

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
        """Submit with Ctrl-C held back while a worker may be starting: a process that the fork
        server is still handing over when we exit prints a traceback instead of dying quietly."""
        starting = len(getattr(self, "_processes", None) or ()) < self._max_workers
        if not starting or threading.current_thread() is not threading.main_thread():
            return super().submit(fn, *args, **kwargs)
        caught: list[int] = []
        previous = signal.signal(signal.SIGINT, lambda signum, _frame: caught.append(signum))
        try:
            return super().submit(fn, *args, **kwargs)
        finally:
            signal.signal(signal.SIGINT, previous)
            if caught and callable(previous):
                previous(signal.SIGINT, None)  # Python's default handler raises KeyboardInterrupt


def _start_forkserver() -> None:
    """Start the fork server with Ctrl-C ignored (inherited across exec): it spends a second
    importing ooh-sim, and a Ctrl-C then would print its traceback under ours."""
    from multiprocessing import forkserver

    if threading.current_thread() is not threading.main_thread():
        return  # signal handlers can only be set from the main thread
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        forkserver.ensure_running()
    finally:
        signal.signal(signal.SIGINT, previous)


def pool(jobs: int) -> ProcessPoolExecutor:
    """A process pool that is safe to start from a program with threads (progress bars).

    On Linux the fork server imports ooh-sim (numpy, scipy …) once and forks the workers from it:
    they start in milliseconds instead of each spending a second on imports (which costs a
    short run much of its parallel speed-up), and share those pages.
    """
    if sys.platform.startswith("linux"):
        ctx = get_context("forkserver")
        ctx.set_forkserver_preload(["__main__", "ooh_sim.runner"])
        _start_forkserver()
    else:
        ctx = get_context("spawn")
    return _Pool(max_workers=jobs, mp_context=ctx, initializer=_ignore_sigint)


def iter_replications(
    scenario: Scenario,
    seed: int,
    indices: list[int],
    *,
    jobs: int = 1,
    keep_jobs: bool = True,
) -> Iterator[Replication]:
    """Yield replications as they finish (any order); callers sort by ``index``."""
    for _, rep in iter_many([(scenario, indices)], seed, jobs=jobs, keep_jobs=keep_jobs):
        yield rep


def iter_many(
    work: Sequence[tuple[Scenario, Sequence[int]]],
    seed: int,
    *,
    jobs: int = 1,
    keep_jobs: bool = True,
) -> Iterator[tuple[int, Replication]]:
    """Replications of several scenarios through ONE process pool (starting one takes a moment):
    yields ``(position in work, replication)`` as they finish, in any order."""
    total = sum(len(ix) for _, ix in work)
    if jobs <= 1 or total <= 1:
        for w, (scenario, indices) in enumerate(work):
            for i in indices:
                yield w, run_replication(scenario, seed, i, keep_jobs=keep_jobs)
        return
    # several chunks per process: amortises pickling, keeps the progress bar moving, and keeps
    # the idle tail short (a process that finishes early waits for at most one small chunk)
    size = max(1, min(10, total // (jobs * 4)))
    chunks = (
        (w, list(ix[i : i + size]))
        for w, (_, ix) in enumerate(work)
        for i in range(0, len(ix), size)
    )
    window = 4 * jobs  # chunks in flight: keeps every process busy, memory flat in the run length

    def submit(w: int, c: list[int]) -> Future:
        fut = ex.submit(_run_chunk, work[w][0], seed, c, keep_jobs)
        owner[fut] = w
        return fut

    owner: dict[Future, int] = {}
    with pool(jobs) as ex:
        pending = {submit(w, c) for w, c in itertools.islice(chunks, window)}
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                pending |= {submit(w, c) for w, c in itertools.islice(chunks, len(done))}
                for fut in done:
                    w = owner.pop(fut)
                    for rep in fut.result():
                        yield w, rep
        except BaseException:
            for f in pending:
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
    done = Replications(range(n))  # aggregated as they come: memory does not grow with n
    for rep in iter_replications(scenario, seed, list(range(n)), jobs=jobs, keep_jobs=keep_jobs):
        done.add(rep)
        if progress:
            progress(len(done), n)
    result = RunResult(scenario, seed, done.finish())
    result.summary = done.summary()  # == summarise(result.kpi_rows), without n dicts
    return result
