"""Figures drawn in a second process, FOR SPEED: a planner should not wait for matplotlib.

Importing matplotlib and the figure modules takes about half a second, and drawing a folder's
figures about a second; the model and the job file keep only one core busy. So the CLI starts
this process first: it imports matplotlib on the other core while the model runs, then draws
the figures while the first process writes the files. The numbers are the same: the figures are
drawn by the same functions from a pickled copy of the same result.

Only on Linux, where ``fork`` is safe while the program has no threads yet (it starts before the
progress bar's); elsewhere :meth:`FigureProcess.start` returns None and the figures are drawn in
the process itself, as before. This module imports only the standard library: it is imported
before anything else a command needs.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

SaveFigures = Callable[[Any, Path], list[Path]]
"""A module-level function ``save(data, folder)`` that draws the figures of ``data`` into
``folder`` and returns their paths (pickled by name: see ooh_sim.report.folders)."""

_DATA = "data.pickle"


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

    def submit(self, save: SaveFigures, data: Any) -> Callable[[Path], list[Path]]:
        """Start drawing ``save(data, folder)`` in the other process; the returned function
        waits for it, moves the figures into the folder it is given and returns their paths.
        An error in the other process is raised there again."""
        folder = Path(tempfile.mkdtemp(prefix="ooh-sim-figures-"))
        self._folders.append(folder)
        with open(folder / _DATA, "wb") as fh:  # a file, not the pipe: the other process may
            pickle.dump(data, fh, protocol=pickle.HIGHEST_PROTOCOL)  # still be importing
        self._conn.send((save, folder))

        def collect(stage: Path) -> list[Path]:
            try:
                ok, value = self._conn.recv()
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
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        save, folder = request
        try:
            with open(folder / _DATA, "rb") as fh:
                data = pickle.load(fh)
            os.remove(folder / _DATA)
            made = save(data, folder)
            reply: tuple[bool, Any] = (True, [p.name for p in made])
        except BaseException as e:  # sent back and raised in the first process
            reply = (False, e)
        try:
            conn.send(reply)
        except Exception:  # an exception that does not pickle: its words
            conn.send((False, RuntimeError(f"{type(reply[1]).__name__}: {reply[1]}")))
