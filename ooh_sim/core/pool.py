"""Run many independent tasks on an executor, a bounded number in flight: runs, comparisons,
precision batches and sweeps all go through :func:`in_flight`.

The executor is either the local process pool of :func:`process_pool` (Ctrl-C stops its workers
at once, fork-server start) or a Dask cluster's ``Client.get_executor()``: both are a
``concurrent.futures.Executor``. Results come back in the order tasks finish, each with the key
it was submitted under, so callers can put them in order; since every task seeds itself from
its own key (replication, design point), the numbers do not depend on the backend or the number
of processes.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import signal
import sys
import threading
import types
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from multiprocessing import get_all_start_methods, get_context
from typing import Any, TypeVar

from ooh_sim.core.errors import InputError

K = TypeVar("K")
T = TypeVar("T")
R = TypeVar("R")

WINDOW_PER_WORKER = 4
"""Tasks in flight per worker: keeps every worker busy; memory does not grow with the tasks."""


def default_jobs() -> int:
    """The processes this program may use (CPU affinity respected, e.g. in a container)."""
    return max(
        1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )


def in_flight(
    executor: Executor,
    fn: Callable[[T], R],
    tasks: Iterable[tuple[K, T]],
    *,
    window: int,
) -> Iterator[tuple[K, R]]:
    """``(key, fn(task))`` for every ``(key, task)``, in the order they finish, with at most
    ``window`` tasks submitted and not yet collected (the task list may be a lazy generator).

    On any exception (Ctrl-C included) the tasks not started are cancelled; stopping the ones
    running is the executor's job when its ``with`` block is left (see :class:`_Pool`).
    """
    it = iter(tasks)
    owner: dict[Future, K] = {}

    def submit(batch: Iterable[tuple[K, T]]) -> set[Future]:
        out = set()
        for key, task in batch:
            fut = executor.submit(fn, task)
            owner[fut] = key
            out.add(fut)
        return out

    pending = submit(itertools.islice(it, max(1, window)))
    try:
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            pending |= submit(itertools.islice(it, len(done)))
            while done:  # each result released once handed on (a future holds its result)
                fut = done.pop()
                key, result = owner.pop(fut), fut.result()
                del fut
                yield key, result
                del result
    except BaseException:
        for fut in pending:
            fut.cancel()
        raise


def run_tasks(
    fn: Callable[[T], R],
    tasks: Iterable[tuple[K, T]],
    *,
    jobs: int = 1,
    executor: Executor | None = None,
    window: int | None = None,
) -> Iterator[tuple[K, R]]:
    """:func:`in_flight` on ``executor``, or on a local process pool of ``jobs`` processes (in
    this process, in task order, when ``jobs`` is 1)."""
    if executor is not None:
        yield from in_flight(executor, fn, tasks, window=window or WINDOW_PER_WORKER * jobs)
        return
    if jobs <= 1:
        for key, task in tasks:
            yield key, fn(task)
        return
    with process_pool(jobs) as ex:
        yield from in_flight(ex, fn, tasks, window=window or WINDOW_PER_WORKER * jobs)


# --------------------------------------------------------------------------------------------
# the local process pool


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
        if not starting:
            return super().submit(fn, *args, **kwargs)
        if threading.current_thread() is not threading.main_thread():
            with callers_script_hidden():
                return super().submit(fn, *args, **kwargs)
        caught: list[int] = []
        previous = signal.signal(signal.SIGINT, lambda signum, _frame: caught.append(signum))
        try:
            with callers_script_hidden():  # workers start here (on demand, in submit)
                return super().submit(fn, *args, **kwargs)
        finally:
            signal.signal(signal.SIGINT, previous)
            if caught and callable(previous):
                previous(signal.SIGINT, None)  # Python's default handler raises KeyboardInterrupt


def _start_forkserver() -> None:
    """Start the fork server with Ctrl-C ignored (inherited across exec): it spends a second
    importing ooh-sim, and a Ctrl-C then would print its traceback under ours."""
    from multiprocessing import forkserver  # only where there is a fork server (Linux)

    if threading.current_thread() is not threading.main_thread():
        return  # signal handlers can only be set from the main thread
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        forkserver.ensure_running()
    finally:
        signal.signal(signal.SIGINT, previous)


PRELOAD = ["ooh_sim.core.runner", "ooh_sim.core.sweep"]
"""Imported once by the fork server, so that workers forked from it start in milliseconds. Not
``__main__``: workers run only ooh-sim's own functions (see :func:`callers_script_hidden`).
Not scipy.stats: the model draws with numpy (see ooh_sim.core.distributions), and importing it
here held back every parallel run's first replication by most of a second."""

START_METHOD_VARIABLE = "OOH_SIM_START_METHOD"
START_METHODS = ("forkserver", "spawn")
"""How worker processes start: ``forkserver`` (Linux default) or ``spawn`` (Windows and macOS
default; set ``OOH_SIM_START_METHOD=spawn`` to try a Windows-like run on Linux). Never plain
``fork``: it is unsafe in a program with threads (the progress bar's)."""


def start_method(requested: str | None = None) -> str:
    """The start method for worker processes: ``requested``, else the environment variable, else
    the platform's default (the fork server where there is one, Linux)."""
    method = requested or os.environ.get(START_METHOD_VARIABLE) or None
    if method is None:
        return "forkserver" if sys.platform.startswith("linux") else "spawn"
    if method not in START_METHODS or method not in get_all_start_methods():
        usable = [m for m in START_METHODS if m in get_all_start_methods()]
        raise InputError(
            f"unknown start method {method!r} (on this system: {', '.join(usable)})",
            path=START_METHOD_VARIABLE,
        )
    return method


@contextlib.contextmanager
def callers_script_hidden() -> Iterator[None]:
    """While worker processes start, show ``multiprocessing`` a main module without a file.

    Under ``spawn`` (Windows, macOS) and the fork server, every new worker re-runs the script
    that started the program, as ``__mp_main__``, to rebuild what it defined. A flat script with
    no ``if __name__ == "__main__":`` guard then starts its whole run again inside each worker,
    which fails (``BrokenProcessPool``). Workers here run only ooh-sim's own functions, imported
    by module name, so they need nothing from that script: with a stand-in main module during
    start-up they do not run it (the same idea as loky's "no main" context). Process start is
    quick and happens in ``submit`` in the caller's thread.
    """
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    sys.modules["__main__"] = types.ModuleType("__main__")  # no __file__, no __spec__
    try:
        yield
    finally:
        sys.modules["__main__"] = main


def process_pool(jobs: int, method: str | None = None) -> ProcessPoolExecutor:
    """A process pool that is safe to start from a program with threads (progress bars), from a
    notebook, and from a script with or without a main guard, on Linux, macOS and Windows.

    On Linux the fork server imports ooh-sim (numpy, pydantic …) once and forks the workers from it:
    they start in milliseconds instead of each spending a second on imports (which costs a
    short run much of its parallel speed-up), and share those pages. Elsewhere (or with
    ``method="spawn"`` / ``OOH_SIM_START_METHOD=spawn``) each worker starts a fresh interpreter.
    Either way every replication seeds itself from its own number: the numbers are the same.
    """
    method = start_method(method)
    ctx = get_context(method)
    if method == "forkserver":
        ctx.set_forkserver_preload(PRELOAD)
        _start_forkserver()
    return _Pool(max_workers=jobs, mp_context=ctx, initializer=_ignore_sigint)


# --------------------------------------------------------------------------------------------
# a Dask cluster (optional dependency)

DASK_MISSING = (
    "the dask backend needs the optional dependency dask[distributed]; install it with "
    "pip install 'ooh-sim[dask]'"
)


def import_distributed() -> Any:
    """``distributed``, or an InputError saying how to install it (an optional extra)."""
    try:
        import distributed  # optional and slow to import: only for the dask backend
    except ImportError:
        raise InputError(DASK_MISSING, path="--backend") from None
    return distributed


@contextlib.contextmanager
def dask_client(address: str | None, jobs: int) -> Iterator[Any]:
    """A client of the scheduler at ``address``, or of a LocalCluster of ``jobs`` processes."""
    distributed = import_distributed()
    if address:
        try:
            client = distributed.Client(address, timeout="20s")
        except (OSError, TimeoutError, ValueError) as e:
            raise InputError(
                f"cannot reach the Dask scheduler at {address!r}: {e}", path="--address"
            ) from None
        with client:
            yield client
        return
    with (
        distributed.LocalCluster(
            n_workers=jobs,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@contextlib.contextmanager
def dask_executor(address: str | None, jobs: int) -> Iterator[tuple[Executor, int]]:
    """A Dask cluster as a ``concurrent.futures.Executor``, and its number of worker threads.

    Leaving the block on an exception cancels the tasks still queued or running there.
    """
    with dask_client(address, jobs) as client:
        ex = client.get_executor(pure=False)  # every task runs, even with equal arguments
        try:
            yield ex, sum(client.nthreads().values()) or jobs
        except BaseException:
            ex.shutdown(wait=False)  # cancels the cluster's remaining tasks
            raise


__all__ = [
    "DASK_MISSING",
    "START_METHODS",
    "START_METHOD_VARIABLE",
    "callers_script_hidden",
    "dask_client",
    "dask_executor",
    "default_jobs",
    "import_distributed",
    "in_flight",
    "process_pool",
    "run_tasks",
    "start_method",
]
