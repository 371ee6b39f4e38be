"""A fork server for ``tests/test_hostile.py``: ``python -m ooh_sim`` without the import cost.

Starting Python and importing numpy, scipy.stats, pydantic and ooh_sim costs about 1 s of CPU per
process, which was most of the hostile suite's time (about 50 cases). This server imports them
once, then forks one real process per case: the case process sets its memory (``RLIMIT_AS``) and
file-size limits, changes to the case's folder, and runs ``ooh_sim``'s ``__main__`` exactly as
``python -m ooh_sim`` does (``sys.exit`` and ``atexit`` as usual). A watcher process (forked per
request, so cases run concurrently) reaps it with ``wait4`` — exit code, wall time and peak RSS —
kills it after the time limit, and answers with one JSON line.

Usage: ``python tests/case_server.py SOCKET``; prints ``ready`` when it accepts requests. A request
is one JSON line: ``{"cwd", "argv", "env", "memory", "fsize", "seconds"}``.
"""

from __future__ import annotations

import json
import os
import resource
import select
import signal
import socket
import sys
import tempfile
import time

PRELOAD = (
    "ooh_sim.cli",
    "ooh_sim.core.loader",
    "ooh_sim.core.runner",
    "ooh_sim.core.experiment",
    "ooh_sim.report.folders",
    "ooh_sim.report.html",
    "scipy.stats",
)
"""What most cases import anyway; lazily imported modules not listed here still load per case."""


def _watch(conn: socket.socket) -> dict | None:
    """In the watcher: read the request, fork the case (returns the request in the case process
    only), wait for it within its time limit, answer, and exit."""
    request = json.loads(conn.makefile("r", encoding="utf-8").readline())
    out = tempfile.TemporaryFile()  # noqa: SIM115 (open until the case has exited)
    err = tempfile.TemporaryFile()  # noqa: SIM115
    sys.stdout.flush()
    sys.stderr.flush()
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        conn.close()
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        return request
    pidfd = os.pidfd_open(pid)
    done, _, _ = select.select([pidfd], [], [], request["seconds"])
    if not done:
        os.kill(pid, signal.SIGKILL)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.monotonic() - t0
    texts = []
    for f in (out, err):
        f.seek(0)
        texts.append(f.read().decode("utf-8", "replace"))
    answer = {"code": os.waitstatus_to_exitcode(status), "stdout": texts[0], "stderr": texts[1],
              "seconds": seconds, "timed_out": not done, "peak_kib": usage.ru_maxrss,
              "cpu": usage.ru_utime + usage.ru_stime}  # fmt: skip
    conn.sendall((json.dumps(answer) + "\n").encode())
    conn.close()
    os._exit(0)


def _serve(path: str) -> dict:
    """Accept requests for ever; returns only in a forked case process, with its request."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # watchers are reaped by the kernel
    print("ready", flush=True)
    while True:
        conn, _ = listener.accept()
        if os.fork() == 0:
            listener.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the watcher waits for its case
            request = _watch(conn)
            if request is not None:
                return request
        conn.close()


def _run_case(request: dict) -> None:
    """In the case process: the limits, the folder, the environment, then ``python -m ooh_sim``."""
    import runpy

    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    resource.setrlimit(resource.RLIMIT_AS, (request["memory"], request["memory"]))
    if request["fsize"] is not None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write fails (EFBIG), as when full
        resource.setrlimit(resource.RLIMIT_FSIZE, (request["fsize"], request["fsize"]))
    os.chdir(request["cwd"])
    os.environ.update(request["env"])
    sys.argv = ["-m", *request["argv"]]
    runpy.run_module("ooh_sim", run_name="__main__", alter_sys=True)


if __name__ == "__main__":  # guarded: a spawned pool worker re-imports this file as __mp_main__
    import gc
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)
    gc.freeze()  # the imported objects are never collected: forks share their pages untouched
    _run_case(_serve(sys.argv[1]))
