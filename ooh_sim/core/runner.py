"""Replications: run them (in parallel processes), then summarise across them.

This is the Python API under the CLI::

    from ooh_sim import load_scenario, run
    result = run(load_scenario("scenarios/baseline.yaml"), replications=20)
    result.summary["station.hours.mean"]   # Estimate(mean=…, ci95_low=…, …)

Replication ``r`` of a run with seed ``s`` draws only from generators derived from ``(s, r)``,
so the numbers do not depend on how many processes run them or in which order they finish.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import threading
import time
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from typing import IO, TYPE_CHECKING, TypeVar

import numpy as np

from ooh_sim.core import tables
from ooh_sim.core.checks import warn_if_odd
from ooh_sim.core.metrics import compute_kpis, profiles
from ooh_sim.core.model import Model, simulate
from ooh_sim.core.pool import default_jobs, run_tasks
from ooh_sim.core.records import JobTable, job_table
from ooh_sim.core.schema import Scenario
from ooh_sim.core.stats import Estimate, t_interval
from ooh_sim.core.timeline import RunTimeline, record_timeline

if TYPE_CHECKING:
    import pandas as pd

_SUMMARY_HEAD = [c.name for c in tables.SUMMARY_COLUMNS]
log = logging.getLogger(__name__)


@dataclass
class Replication:
    """What one replication contributes to a run."""

    index: int
    kpis: dict[str, float]
    profiles: dict[str, np.ndarray]
    jobs: JobTable | None = None
    model: Model | None = None  # kept only when asked (tests)
    seconds: float = 0.0
    timeline: RunTimeline | None = None  # replication 0's, for the worst-night figure

    def job_blocks(self, rows: int) -> Iterator[JobTable]:
        """The job records ``rows`` at a time (none without records), FOR MEMORY: a writer that
        streams them holds one block, and a stored replication reads only that block from its
        spool (reading whole tables made jobs.csv.gz's peak memory grow with the horizon: a
        10-year replication's table is ~3 MB)."""
        t = self.jobs
        if t is None:
            return
        for lo in range(0, len(t.arrival), rows):
            yield JobTable(*(getattr(t, f.name)[lo : lo + rows] for f in fields(JobTable)))


class _JobSpool:
    """Job tables written to an anonymous temporary file as they come, read back on access.

    A run keeps every job's record for jobs.csv.gz and the figures, ~70 bytes a job: 400 MB for
    1,000 baseline replications if held in memory. On disk, memory stays flat in replications.
    """

    def __init__(self) -> None:
        self._file: IO[bytes] | None = None
        self._at: dict[int, tuple[int, int, tuple[np.dtype, ...]]] = {}  # offset, rows, dtypes
        self._end = 0

    def put(self, index: int, table: JobTable) -> None:
        cols = [np.ascontiguousarray(getattr(table, f.name)) for f in fields(JobTable)]
        if self._file is None:
            self._file = tempfile.TemporaryFile()  # noqa: SIM115 — lives as long as the result
        self._file.seek(self._end)  # seek + write, not os.pwrite: the same on Windows
        for col in cols:
            self._file.write(col.tobytes())
        self._at[index] = (self._end, len(cols[0]), tuple(c.dtype for c in cols))
        self._end += sum(c.nbytes for c in cols)

    def _columns(self, index: int) -> tuple[int, list[tuple[int, np.dtype]]] | None:
        """Replication ``index``'s rows, and each column's offset in the file and dtype."""
        where = self._at.get(index)
        if where is None or self._file is None:
            return None
        at, n, dtypes = where
        cols = []
        for d in dtypes:
            cols.append((at, d))
            at += n * d.itemsize
        return n, cols

    def get(self, index: int) -> JobTable | None:
        """Replication ``index``'s whole table, in one read."""
        found = self._columns(index)
        if found is None:
            return None
        n, cols = found
        first = cols[0][0]
        buf = bytearray(sum(n * d.itemsize for _, d in cols))
        self._file.seek(first)
        self._file.readinto(buf)
        return JobTable(*(np.frombuffer(buf, dtype=d, count=n, offset=at - first)
                          for at, d in cols))  # fmt: skip

    def blocks(self, index: int, rows: int) -> Iterator[JobTable]:
        """Replication ``index``'s table ``rows`` at a time, each block read on its own."""
        found = self._columns(index)
        if found is None:
            return
        n, cols = found
        for lo in range(0, n, rows):
            m = min(rows, n - lo)
            block = []
            for at, d in cols:
                self._file.seek(at + lo * d.itemsize)
                block.append(np.frombuffer(self._file.read(m * d.itemsize), dtype=d))
            yield JobTable(*block)

    def __len__(self) -> int:
        return len(self._at)

    def __getstate__(self) -> dict:
        """Pickled with the file's bytes (a figure process draws from a copy of the result)."""
        return {**self.__dict__, "_file": _spooled(self._file, self._end)}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, _file=_unspooled(state["_file"]))


class _StoredReplication(Replication):
    """A replication read back from a :class:`Replications` store: its job records are read from
    the spool when first asked for, so going through the replications for their KPIs
    (replications.csv, tables) reads no job records (a 10-year replication's are ~4 MB)."""

    def __init__(self, index: int, kpis: dict[str, float], seconds: float, spool: _JobSpool):
        self._spool: _JobSpool | None = spool
        super().__init__(index, kpis, {}, None, seconds=seconds)

    @property  # type: ignore[override]
    def jobs(self) -> JobTable | None:
        if self._spool is not None:
            self._jobs, self._spool = self._spool.get(self.index), None
        return self._jobs

    @jobs.setter
    def jobs(self, table: JobTable | None) -> None:
        self._jobs = table
        if table is not None:
            self._spool = None

    def job_blocks(self, rows: int) -> Iterator[JobTable]:
        """Block by block from the spool, the whole table never read (unless read already)."""
        if self._spool is None:
            yield from super().job_blocks(rows)
        else:
            yield from self._spool.blocks(self.index, rows)

    def __reduce__(self) -> tuple:
        """Pickled as the plain :class:`Replication` it stands for (never with the spool)."""
        return (Replication, (self.index, self.kpis, self.profiles, self.jobs, None, self.seconds))


_SHARED = threading.local()


@contextlib.contextmanager
def spools_shared() -> Iterator[None]:
    """Within this block, results pickle their spool files as a reference to this process's
    open file (Linux: ``/proc/<pid>/fd/<n>``), not as their bytes: a process forked to draw the
    figures reads the same file while this one is alive, and memory stays flat in
    replications (1,000 baseline replications' job records are ~400 MB)."""
    before = getattr(_SHARED, "on", False)
    _SHARED.on = sys.platform.startswith("linux")
    try:
        yield
    finally:
        _SHARED.on = before


def _spooled(file: IO[bytes] | None, end: int) -> bytes | str | None:
    """A spool file to pickle: its first ``end`` bytes, or (see :func:`spools_shared`) the path
    of this process's open file."""
    if file is None:
        return None
    if getattr(_SHARED, "on", False):
        return f"/proc/{os.getpid()}/fd/{file.fileno()}"
    file.seek(0)
    return file.read(end)


def _unspooled(data: bytes | str | None) -> IO[bytes] | None:
    """The spool file pickled by :func:`_spooled`: the shared file opened again, or a new
    anonymous file holding the bytes."""
    if data is None:
        return None
    if isinstance(data, str):
        return open(data, "rb")  # lives as long as the result
    file = tempfile.TemporaryFile()  # noqa: SIM115 — lives as long as the result
    file.write(data)
    return file


COLUMNS_AT_ONCE = 16
"""KPI columns read from a store's spool at once (summaries, paired differences): a few arrays
of floats, never every replication's KPIs as dicts (~80 bytes a value, which made a comparison's
peak memory grow by ~11 KB a replication)."""


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
        self.jobs = _JobSpool()  # job tables on disk: a default run keeps every job's record
        self.timeline: RunTimeline | None = None  # the one replication that recorded it

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
        self._spool.seek(self._end)  # seek + write, not os.pwrite: the same on Windows
        self._spool.write(record.tobytes())
        self._at[p] = self._end
        self._end += record.nbytes
        self._keys[p] = keys
        self._filled[p] = 1
        self._count += 1
        if rep.jobs is not None:
            self.jobs.put(rep.index, rep.jobs)
        if rep.timeline is not None:
            self.timeline = rep.timeline
        self._early[p] = rep.profiles
        while self._next in self._early:
            self._sum(self._early.pop(self._next))
            self._next += 1

    def _record(self, p: int) -> np.ndarray:
        """Row ``p``'s KPI values in its own key order, then its run time."""
        width = len(self._keys[p] or ()) + 1
        self._spool.seek(self._at[p])  # seek + read, not os.pread: the same on Windows
        raw = self._spool.read(8 * width)
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

    def summary(self, block: int = COLUMNS_AT_ONCE) -> dict[str, Estimate]:
        """Per-KPI t-intervals: the same as ``stats.summarise`` of the rows, without the dicts.

        Columns are gathered ``block`` at a time from the spool, so the whole table is never in
        memory at once.
        """
        out: dict[str, Estimate] = {}
        for first in range(0, len(self.names), block):
            cols = self.columns(self.names[first : first + block])
            out.update((k, t_interval(col)) for k, col in cols.items())
        return out

    def columns(self, names: Sequence[str]) -> dict[str, np.ndarray]:
        """These KPIs' values, one array each in index order (NaN where a replication has no
        such KPI), read from the spool in one pass: 8 bytes a value, where a row as a dict
        costs ~80 (take a few columns at a time, and memory stays flat in replications)."""
        n = len(self)
        cols = {k: np.full(n, np.nan) for k in names}
        for p in range(n):
            values = self._record(p)
            for j, k in enumerate(self._keys[p] or ()):
                col = cols.get(k)
                if col is not None:
                    col[p] = values[j]
        return cols

    def profile(self, name: str) -> np.ndarray:
        """Hour-of-week curve averaged over the replications."""
        return self._sums[name] / self._summed

    def __len__(self) -> int:
        return self._count

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_spool": _spooled(self._spool, self._end)}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, _spool=_unspooled(state["_spool"]))

    def _view(self, p: int) -> Replication:
        values, keys = self._record(p), self._keys[p] or ()
        kpis = {k: float(values[j]) for j, k in enumerate(keys)}
        return _StoredReplication(self._order[p], kpis, float(values[-1]), self.jobs)

    def __getitem__(self, i):  # type: ignore[no-untyped-def, override]
        if isinstance(i, slice):
            return [self._view(p) for p in range(len(self))[i]]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self._view(i)


R = TypeVar("R", bound="RunResult")


@dataclass
class RunResult:
    """A scenario's replications and their summary (mean, sd, 95% t-interval per KPI).

    Built by :meth:`of` everywhere (run, compare, precision), so every result is summarised the
    same way, from the same compact store.
    """

    scenario: Scenario
    seed: int
    replications: Sequence[Replication]  # the compact Replications made by of(), or a list
    summary: dict[str, Estimate] = field(default_factory=dict)
    overrides: dict[str, object] = field(default_factory=dict)  # --set key path → value

    @classmethod
    def of(
        cls: type[R],
        scenario: Scenario,
        seed: int,
        replications: Replications | Iterable[Replication],
    ) -> R:
        """The result of these replications (a store being filled, or replications in any
        order), summarised: equal to ``stats.summarise`` of their KPI dicts, without ``n`` dicts."""
        if isinstance(replications, Replications):
            store = replications
        else:
            reps = sorted(replications, key=lambda r: r.index)
            store = Replications([r.index for r in reps])
            for rep in reps:
                store.add(rep)
        result = cls(scenario, seed, store.finish())
        result.summary = store.summary()
        return result

    def kpi_columns(self, names: Sequence[str]) -> dict[str, np.ndarray]:
        """These KPIs over the replications, one array each (see :meth:`Replications.columns`)."""
        if isinstance(self.replications, Replications):
            return self.replications.columns(names)
        return {k: np.array([r.kpis.get(k, np.nan) for r in self.replications], dtype=float)
                for k in names}  # fmt: skip

    def profile(self, name: str) -> np.ndarray:
        """Hour-of-week curve averaged over replications."""
        if isinstance(self.replications, Replications):
            return self.replications.profile(name)
        return np.mean([r.profiles[name] for r in self.replications], axis=0)

    @property
    def has_job_records(self) -> bool:
        """Whether any replication kept its job records (none of them read to find out)."""
        if isinstance(self.replications, Replications):
            return len(self.replications.jobs) > 0
        return any(r.jobs is not None for r in self.replications)

    def station_children(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Arrival time and station hours of every measured child (arrived after the warm-up,
        collected before the horizon) over all replications, pooled — what the distribution
        figures and the app draw; None when no replication kept its job records."""
        sc = self.scenario
        ids = [list(sc.streams).index(s) for s in sc.police_streams]
        arrive, stay = [], []
        for r in self.replications:
            t = r.jobs
            if t is None:
                continue
            ok = np.isin(t.stream, ids) & (t.arrival >= sc.horizon.warmup_hours)
            ok &= ~np.isnan(t.station_end)
            arrive.append(t.arrival[ok])
            stay.append((t.station_end - t.arrival)[ok])
        return (np.concatenate(arrive), np.concatenate(stay)) if arrive else None

    @property
    def timeline(self) -> RunTimeline | None:
        """Replication 0's timeline record (None if replication 0 did not record one)."""
        if isinstance(self.replications, Replications):
            return self.replications.timeline
        return next((r.timeline for r in self.replications if r.timeline is not None), None)

    def to_frame(self) -> pd.DataFrame:
        """The summary as a pandas DataFrame, one row per KPI: kpi, label, unit, mean,
        ci95_low, ci95_high, sd, n (the columns of summary.csv; pandas is optional)."""
        return tables.frame(tables.summary_rows(self.summary), _SUMMARY_HEAD)

    def _title(self) -> str:
        n = len(self.replications)
        return f"RunResult {self.scenario.name}: {n} replications, seed {self.seed}"

    _MORE = "all KPIs: .summary, .to_frame(); write_run(result, folder) for the files"

    def __repr__(self) -> str:
        """The headline KPIs, a few lines (not every replication's numbers)."""
        return tables.text_view(self._title(), self.summary, self._MORE)

    def _repr_html_(self) -> str:
        rows = [(label, mean, ci) for _, label, mean, ci in tables.headline_lines(self.summary)]
        return tables.html_view(self._title(), ("KPI", "mean", "95% CI"), rows, self._MORE)


def run_replication(
    scenario: Scenario,
    seed: int,
    index: int,
    *,
    point: int | None = None,
    keep_jobs: bool = True,
    keep_model: bool = False,
    keep_timeline: bool | None = None,
    keep_profiles: bool = True,
) -> Replication:
    """Run one replication. ``keep_timeline`` (default: replication 0 of a run, not of a sweep
    point) records what the worst-night figure draws, so figures never re-run the model;
    ``keep_profiles``: the hour-of-week curves the figures draw."""
    t0 = time.perf_counter()
    m = simulate(scenario, seed, index, point)
    jobs = job_table(m)
    rep = Replication(
        index,
        compute_kpis(m, jobs),
        profiles(m, jobs) if keep_profiles else {},
        jobs if keep_jobs else None,
        m if keep_model else None,
    )
    rep.seconds = time.perf_counter() - t0
    if keep_timeline or (keep_timeline is None and index == 0 and point is None):
        rep.timeline = record_timeline(m)
    return rep


def replication_kpis(
    scenario: Scenario, seed: int, index: int, point: int | None = None
) -> dict[str, float]:
    """The KPIs of one replication and nothing else (no job records, profiles or timeline):
    what sweeps and optimise keep of a replication."""
    rep = run_replication(scenario, seed, index, point=point, keep_jobs=False,
                          keep_timeline=False, keep_profiles=False)  # fmt: skip
    return rep.kpis


def _run_chunk(task: tuple[Scenario, int, list[int], bool, bool]) -> list[Replication]:
    scenario, seed, indices, keep_jobs, figures = task
    timeline = None if figures else False  # None: replication 0 records it
    kw = dict(keep_jobs=keep_jobs, keep_timeline=timeline, keep_profiles=figures)
    return [run_replication(scenario, seed, i, **kw) for i in indices]


CHUNK_DAYS = 3650
"""At most this many simulated days (replications × horizon) in one chunk of work: a chunk's
results (job records and all) travel back in one piece, so long horizons go one by one."""


def iter_replications(
    scenario: Scenario,
    seed: int,
    indices: Sequence[int],
    *,
    jobs: int = 1,
    keep_jobs: bool = True,
    figures: bool = True,
) -> Iterator[Replication]:
    """Yield replications as they finish (any order); callers sort by ``index``."""
    kw = dict(jobs=jobs, keep_jobs=keep_jobs, figures=figures)
    for _, rep in iter_many([(scenario, indices)], seed, **kw):
        yield rep


def iter_many(
    work: Sequence[tuple[Scenario, Sequence[int]]],
    seed: int,
    *,
    jobs: int = 1,
    keep_jobs: bool = True,
    figures: bool = True,
) -> Iterator[tuple[int, Replication]]:
    """Replications of several scenarios through ONE process pool (starting one takes a moment):
    yields ``(position in work, replication)`` as they finish, in any order. Without
    ``figures`` the replications keep no hour-of-week profiles and replication 0 records no
    timeline (nothing will draw them)."""
    total = sum(len(ix) for _, ix in work)
    if total <= 1:
        jobs = 1
    # several chunks per process: amortises pickling, keeps the progress bar moving, and keeps
    # the idle tail short (a process that finishes early waits for at most one small chunk);
    # long horizons in smaller chunks (CHUNK_DAYS), so memory does not grow with the horizon
    days = max((sc.horizon.days for sc, _ in work), default=1.0)
    size = 1 if jobs <= 1 else max(1, min(10, total // (jobs * 4), int(CHUNK_DAYS // days)))
    chunks = (
        (w, (work[w][0], seed, list(ix[i : i + size]), keep_jobs, figures))
        for w, (_, ix) in enumerate(work)
        for i in range(0, len(ix), size)
    )
    for w, reps in run_tasks(_run_chunk, chunks, jobs=jobs):
        reps.reverse()
        while reps:  # each handed on and released in turn: the chunk is not held meanwhile
            yield w, reps.pop()


def run(
    scenario: Scenario,
    *,
    replications: int | None = None,
    seed: int | None = None,
    jobs: int | None = None,
    keep_jobs: bool = True,
    figures: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> RunResult:
    """Run the scenario's replications and summarise them (mean, sd, 95% t-interval per KPI).

    ``keep_jobs``: keep every job's record (jobs.csv.gz); ``figures``: keep what the figures
    draw (hour-of-week profiles, replication 0's timeline; without it ``result.profile`` and
    ``result.timeline`` are empty). Legal but suspicious settings are warned
    about with ``warnings.warn`` (ScenarioWarning)."""
    n = replications or scenario.replications
    seed = scenario.seed if seed is None else seed
    jobs = default_jobs() if jobs is None else jobs
    warn_if_odd(scenario)
    log.info("run %s: %d replications, seed %d, %d processes", scenario.name, n, seed, jobs)
    done = Replications(range(n))  # aggregated as they come: memory does not grow with n
    reps = iter_replications(
        scenario, seed, range(n), jobs=jobs, keep_jobs=keep_jobs, figures=figures
    )
    for rep in reps:
        done.add(rep)
        del rep  # its job records are in the spool now: not held while the next one comes
        if progress:
            progress(len(done), n)
    return RunResult.of(scenario, seed, done)
