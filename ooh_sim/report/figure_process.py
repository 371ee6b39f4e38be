"""Figures drawn in a second process, FOR SPEED: a planner should not wait for matplotlib.

Importing matplotlib and the figure modules takes about half a second, and drawing a folder's
figures about a second; the model and the job file keep only one core busy. So the CLI starts
this process as soon as the input is read: it imports matplotlib on the other core while the
model runs, then draws the figures while the first process writes the files. The numbers are
the same: the figures are drawn by the same functions from a pickled copy of the same result.

It is forked once the first process has imported the model (numpy, pydantic, the schema), so it
shares those modules instead of importing them again: forked before them, it spent twice the CPU
on imports, beside the running model (on this project's 2-core VM, 0.2 s of a default M/M/1
run's 2.3 s). Bad input forks nothing.

Only on Linux, where ``fork`` is safe while the program has no Python threads yet (it starts
before the progress bar's); elsewhere :meth:`FigureProcess.start` returns None and the figures are
drawn in the process itself, as before. numpy's OpenBLAS has threads of its own by then, which
``threading`` does not see: OpenBLAS stops them before a fork (its fork handler), as it must for
any program that forks after importing numpy. This module imports only the standard library.

A folder of several figures is drawn by as many processes as there are cores (at most
:data:`MAX_DRAWERS`): the figure process forks helpers that take the figures one at a time, in
the plan's order, from a shared counter. The first process is by then only writing small files
or waiting (a comparison's ten figures took most of its time outside the simulation).
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

PlanOf = Callable[[Any], Sequence[tuple[str, Callable[[], Any]]]]
"""A module-level function ``plan_of(data)``: the figures of ``data`` as (file name, maker), a
maker returning a figure or None (no such file). Pickled by name: see ooh_sim.report.folders."""
SaveFigure = Callable[[Any, Path], object]
"""A module-level function ``save(figure, path)`` that writes and closes a figure."""

_DATA = "data.pickle"
MAX_DRAWERS = 4
"""At most this many processes draw one folder's figures (each holds its own copy of matplotlib's
working memory)."""


class FigureProcess:
    """A process that has imported matplotlib and draws figures on request (one request at a
    time). :meth:`submit` sends the data and returns at once; the returned function waits for
    the figures and moves them into a folder."""

    def __init__(self, conn: Any, proc: Any) -> None:
        self._conn = conn
        self._proc = proc
        self._folders: list[Path] = []

    @classmethod
    def start(cls, *modules: str) -> FigureProcess | None:
        """A process that imports ``modules`` (the figure modules) at once; None where one
        cannot be forked safely (not Linux, or threads already running)."""
        from multiprocessing import get_all_start_methods, get_context

        if not sys.platform.startswith("linux") or "fork" not in get_all_start_methods():
            return None
        if threading.active_count() > 1:  # fork copies only this thread: locks may be held
            return None
        ctx = get_context("fork")
        ours, theirs = ctx.Pipe()
        proc = ctx.Process(target=_serve, args=(theirs, ours, modules), daemon=True,
                           name="ooh-sim figures")  # fmt: skip
        try:
            proc.start()
        except OSError:  # no more processes allowed: draw here
            return None
        theirs.close()
        return cls(ours, proc)

    def submit(self, plan_of: PlanOf, save: SaveFigure, data: Any) -> Callable[[Path], list[Path]]:
        """Start drawing the figures of ``plan_of(data)`` (each written with ``save``) in the
        other process; the returned function waits for them, moves them into the folder it is
        given and returns their paths. An error in the other process is raised there again."""
        folder = Path(tempfile.mkdtemp(prefix="ooh-sim-figures-"))
        self._folders.append(folder)
        with open(folder / _DATA, "wb") as fh:  # a file, not the pipe: the other process may
            pickle.dump(data, fh, protocol=pickle.HIGHEST_PROTOCOL)  # still be importing
        self._conn.send((plan_of, save, folder))

        def collect(stage: Path) -> list[Path]:
            try:
                ok, value = pickle.loads(self._conn.recv_bytes())
            except (EOFError, OSError):
                raise RuntimeError(
                    "the figure process stopped before drawing the figures"
                ) from None
            if not ok:
                raise value
            moved = [Path(shutil.move(folder / name, stage / name)) for name in value]
            self._discard(folder)
            return moved

        return collect

    def _discard(self, folder: Path) -> None:
        shutil.rmtree(folder, ignore_errors=True)
        with contextlib.suppress(ValueError):
            self._folders.remove(folder)

    def close(self) -> None:
        """Stop the process (at once if it is still drawing figures no one will collect) and
        remove its temporary folders."""
        with contextlib.suppress(OSError):
            self._conn.send(None)
        self._conn.close()
        self._proc.join(timeout=0.5)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join()
        for folder in list(self._folders):
            self._discard(folder)

    def __enter__(self) -> FigureProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _serve(conn: Any, other_end: Any, modules: tuple[str, ...]) -> None:
    """The figure process: import, then draw what is asked until told to stop (or the first
    process is gone: the pipe closes). Ctrl-C is the first process's to handle."""
    import importlib

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    other_end.close()
    for name in modules:
        importlib.import_module(name)
    # FOR SPEED, garbage collections leave out what was imported (see folders.heap_frozen)
    gc.freeze()
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        plan_of, save, folder = request
        try:
            reply: tuple[bool, Any] = (True, draw(plan_of, save, folder))
        except BaseException as e:  # sent back and raised in the first process
            reply = (False, e)
        finally:
            with contextlib.suppress(OSError):
                os.remove(folder / _DATA)
        try:
            conn.send_bytes(_pickled(reply))
        except OSError:  # the first process stopped listening (it failed or was stopped)
            return


def _pickled(reply: tuple[bool, Any]) -> bytes:
    """``reply`` pickled, or for an exception that does not pickle, its words in one that does
    (the first process must hear of the error, whatever it holds)."""
    try:
        return pickle.dumps(reply)
    except Exception:
        return pickle.dumps((False, RuntimeError(f"{type(reply[1]).__name__}: {reply[1]}")))


def _load(folder: Path) -> Any:
    with open(folder / _DATA, "rb") as fh:
        return pickle.load(fh)


def _drawers(figures: int) -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(cores, figures, MAX_DRAWERS))


def draw(plan_of: PlanOf, save: SaveFigure, folder: Path) -> list[str]:
    """Draw the figures of the data pickled in ``folder`` into ``folder``, by :func:`_drawers`
    processes taking them in turn; their file names, in the plan's order.

    Each helper loads the data itself: a result reads its job records from the first
    process's spool files, and a file opened before the fork would share its read position
    between processes."""
    from multiprocessing import get_context

    n = len(plan_of(_load(folder)))  # this process's copy is dropped before the fork
    helpers = _drawers(n) - 1
    try:
        counter = get_context("fork").Value("i", 0) if helpers else None
    except (OSError, ImportError):  # no shared memory for the lock: one process draws
        counter = None
    if counter is None:
        return [name for _, name in _draw_share(plan_of, save, folder, None)]
    me = os.getpid()
    children: list[tuple[int, int]] = []  # (pid, read end of its reply pipe)
    try:
        for _ in range(helpers):
            r, w = os.pipe()
            pid = _fork()
            if pid == 0:  # a helper: draw, say what (or the error), and leave at once
                os.close(r)
                code = 0
                try:
                    out: tuple[bool, Any] = (True, _draw_share(plan_of, save, folder, counter, me))
                except BaseException as e:
                    out, code = (False, e), 1
                try:
                    with os.fdopen(w, "wb") as fh:
                        fh.write(_pickled(out))
                finally:
                    os._exit(code)
            os.close(w)
            children.append((pid, r))
        made = _draw_share(plan_of, save, folder, counter)
    finally:
        replies = []
        for pid, r in children:
            with os.fdopen(r, "rb") as fh:
                raw = fh.read()
            os.waitpid(pid, 0)
            replies.append(pickle.loads(raw) if raw else
                           (False, RuntimeError("a figure-drawing process stopped")))  # fmt: skip
    for ok, value in replies:
        if not ok:
            raise value
        made += value
    return [name for _, name in sorted(made)]


def _fork() -> int:
    """``os.fork``; only reached in the figure process, which exists only where fork does."""
    if hasattr(os, "fork"):
        return os.fork()
    raise OSError("this platform cannot fork")  # pragma: no cover (FigureProcess.start)


def _draw_share(
    plan_of: PlanOf, save: SaveFigure, folder: Path, counter: Any, parent: int | None = None
) -> list[tuple[int, str]]:
    """Draw figures of the plan, the next not yet taken each time (all of them without a
    ``counter``); (index, file name) of those made. A helper whose parent is gone stops."""
    plan = plan_of(_load(folder))
    made = []
    i = -1
    while True:
        if counter is None:
            i += 1
        else:
            with counter.get_lock():
                i = counter.value
                counter.value += 1
        if i >= len(plan) or (parent is not None and os.getppid() != parent):
            return made
        name, make = plan[i]
        fig = make()
        if fig is not None:
            save(fig, folder / name)
            made.append((i, name))
