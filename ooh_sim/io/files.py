"""Result folders (README "Outputs and KPIs"), written atomically.

The files' formats are in :mod:`.formats`.

Everything for one output folder is first written into a hidden sibling staging folder, then
swapped in with renames. A reader — or a run interrupted with Ctrl-C — therefore only ever sees
the previous complete results or the new complete results, never a mix or a half-written file.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from ooh_sim.core.errors import InputError
from ooh_sim.core.runner import RunResult
from ooh_sim.core.version import __version__
from ooh_sim.io.formats import (
    JOBS,
    REPLICATIONS,
    SUMMARY,
    SUMMARY_CSV,
    config_sha256,
    csv_text,
    dumps_json,
    safe_cell,
    summary_csv,
    summary_dict,
    summary_json,
    write_csv,
    write_jobs_csv_gz,
    write_replications_csv,
)
from ooh_sim.io.provenance import write_resolved

Extra = Callable[[Path], object]
"""Called with the staging folder to add files (figures) to a folder before it is swapped in."""

MARKER = ".ooh-sim.json"
"""Written into every folder ooh-sim makes: its kind and the files it wrote there. A folder is
replaced only when it holds this marker and nothing but the files it lists (or is empty)."""
OWNED = "/"
"""A marker entry ending in this owns a whole subfolder (a sweep's ``figures/``)."""
_LITTER = {".DS_Store", "Thumbs.db", "desktop.ini"}  # left by file browsers
_OURS = re.compile(r"^\.(?P<name>.+)\.(?P<what>tmp|old)-(?P<pid>\d+)-[^/]*$")
"""Staging (``tmp``) and swapped-away (``old``) folders beside a target, named by process."""


def read_marker(folder: Path) -> dict[str, object] | None:
    """The marker of an ooh-sim folder, or None (missing, not a regular file, or damaged)."""
    path = folder / MARKER
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > 16 * 2**20:
            return None
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        return None
    return data


def _marker_text(kind: str, files: Sequence[str], config: str | None = None) -> str:
    data = {"ooh_sim": __version__, "kind": kind, "files": sorted(set(files))}
    if config is not None:
        data["config_sha256"] = config  # what the results were made from (see _check_replace)
    return dumps_json(data)


def write_marker(folder: Path, kind: str, files: Sequence[str], config: str | None = None) -> None:
    """Say (atomically) that ooh-sim made ``folder`` and wrote ``files`` (relative paths) in it
    (from the configuration ``config``; by default the one the marker already names)."""
    if config is None:
        old = read_marker(folder)
        config = None if old is None else old.get("config_sha256")  # type: ignore[assignment]
    write_atomic(folder / MARKER, _marker_text(kind, files, config), mark=False)


REPORT = "report.html"
"""A folder holding this is what a board was shown: only --force replaces it."""


def _check_replace(target: Path, marker: dict[str, object], config: str | None) -> None:
    """Results a board relies on are not replaced by a quick run: refuse a folder holding a
    report, or one made from another configuration (scenario changed since), unless forced."""
    if REPORT in marker["files"]:  # type: ignore[operator]
        raise InputError(
            f"{target} holds {REPORT}, a report people may rely on; choose another --out, or "
            "add --force to replace it",
            path="--out",
        )
    made_from = marker.get("config_sha256")
    if config is not None and made_from is not None and made_from != config:
        raise InputError(
            f"{target} holds results of a different configuration (the scenario changed since "
            "they were made); choose another --out, or add --force to replace them",
            path="--out",
        )


def _strangers(folder: Path) -> list[str]:
    """Files or folders in ``folder`` that ooh-sim did not write there (relative paths); all of
    them when it has no marker. An empty folder has none."""
    marker = read_marker(folder)
    listed = set(marker["files"]) if marker else set()  # type: ignore[arg-type]
    owned = tuple(f for f in listed if f.endswith(OWNED))
    found: list[str] = []
    for root, dirs, names in os.walk(folder):
        rel = Path(root).relative_to(folder).as_posix()
        prefix = "" if rel == "." else f"{rel}/"
        for d in list(dirs):
            if f"{prefix}{d}/".startswith(owned) and owned:
                dirs.remove(d)  # a subfolder ooh-sim owns as a whole
            elif (Path(root) / d).is_symlink():
                dirs.remove(d)
                found.append(f"{prefix}{d}")
        for n in names:
            name = f"{prefix}{n}"
            if n in _LITTER or (name == MARKER and marker) or _OURS.match(n) or n.endswith(
                    ".ooh-sim.lock"):  # fmt: skip
                continue
            if name not in listed or (Path(root) / n).is_symlink():
                found.append(name)
        if len(found) > 3:
            break
    return found


def _replaceable(folder: Path) -> bool:
    """Whether an existing ``--out`` folder may be swapped away: empty, or made by ooh-sim (its
    marker) and holding nothing else — or a subfolder its parent's marker owns as a whole.

    Replacing means deleting: ``--out scenarios``, ``--out ~`` or ``--out .`` must never wipe a
    folder of other files, whatever their names.
    """
    parent = read_marker(folder.parent)
    if parent is not None and f"{folder.name}{OWNED}" in parent["files"]:  # type: ignore[operator]
        return True
    return not _strangers(folder)


def cannot_write(folder: Path, error: OSError | str) -> InputError:
    """The one wording of an ``--out`` that cannot be written, from the error or its reason."""
    if isinstance(error, PermissionError):
        error = "permission denied"
    elif isinstance(error, OSError):
        error = error.strerror or str(error)
    return InputError(f"cannot write to {folder}: {error}", path="--out")


def _unwritable(folder: Path) -> str | None:
    """Why files cannot be made in ``folder`` (an existing folder), or None. ``os.access`` also
    says no for a read-only file system, even to root."""
    if os.access(folder, os.W_OK | os.X_OK):
        return None
    if hasattr(os, "statvfs") and os.statvfs(folder).f_flag & os.ST_RDONLY:
        return "Read-only file system"
    return "permission denied"


def check_out(
    target: Path,
    *,
    inputs: Sequence[str | Path | None] = (),
    kind: str | None = None,
    config: str | None = None,
    force: bool = False,
) -> Path:
    """Refuse (InputError, nothing touched) an ``--out`` that may not be written: a file, a folder
    of other files, a folder of another ``kind`` of ooh-sim results, or one that holds (or is)
    an input; unless ``force``, also one holding a report or results of a configuration other
    than ``config`` (:func:`_check_replace`). Returns the folder to write (a symbolic link
    followed to its folder).

    Commands call this before any work, so a bad ``--out`` is said at once, not after an hour.
    """
    target = Path(os.path.abspath(target))  # '..' resolved
    if target.is_symlink():  # write where the link points; the link itself stays
        target = Path(os.path.realpath(target))
    if target == target.parent:  # "/" has no name to stage beside
        raise InputError(f"cannot replace {target}; choose a subfolder", path="--out")
    for f in inputs:
        if f is None:
            continue
        real, here = Path(os.path.realpath(f)), Path(os.path.realpath(target))
        if real == here or here in real.parents:
            raise InputError(
                f"{target} holds an input file ({f}); results never replace their inputs — "
                "choose another folder",
                path="--out",
            )
    for p in (target, *target.parents):
        if (p.exists() or p.is_symlink()) and not p.is_dir():
            what = "exists and is not a folder" if p == target else "is a file, not a folder"
            raise InputError(f"{p} {what}", path="--out")
        if p.exists():
            break
    base = next(p for p in target.parents if p.is_dir())  # where the staging folder will go
    why = _unwritable(base)
    if why is not None:
        raise cannot_write(base, why)
    if target.is_dir():
        try:
            strangers = [] if _replaceable(target) else _strangers(target)
            marker = read_marker(target)
        except OSError as e:
            raise InputError(f"cannot read {target}: {e.strerror or e}", path="--out") from None
        if strangers:
            shown = ", ".join(strangers[:3]) + (", …" if len(strangers) > 3 else "")
            raise InputError(
                f"{target} holds files that are not ooh-sim results ({shown}), and writing there "
                "would delete them; choose a new or empty folder",
                path="--out",
            )
        if kind is not None and marker is not None and marker.get("kind") not in (kind, None):
            raise InputError(
                f"{target} holds ooh-sim {marker.get('kind')} results, not {kind} results; "
                "choose another folder (or delete it first)",
                path="--out",
            )
        if marker is not None and not force:
            _check_replace(target, marker, config)
    return target


# --------------------------------------------------------------------------------------------
# one writer per folder


if sys.platform == "win32":
    import msvcrt

    def _try_lock(fd: int) -> None:
        """Lock the lock file's first byte without waiting (OSError if another process has it)."""
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

    def _alive(pid: int) -> bool:
        """Windows has no signal 0 (``os.kill(pid, 0)`` would send Ctrl-C): ask for a handle."""
        import ctypes

        handle = ctypes.windll.kernel32.OpenProcess(0x1000, False, pid)  # query-limited access
        if not handle:
            return False
        ctypes.windll.kernel32.CloseHandle(handle)
        return True

else:
    import fcntl

    def _try_lock(fd: int) -> None:
        """An advisory lock on the whole file without waiting (OSError if another has it)."""
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _alive(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except OSError:  # e.g. another user's process
            return True
        return True


def _read_at_start(fd: int, size: int) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)
    return os.read(fd, size)


def _write_at_start(fd: int, data: bytes) -> None:
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, data)


@contextlib.contextmanager
def folder_lock(target: Path) -> Iterator[None]:
    """Hold the lock of ``target`` (a file beside it, removed again): a second writer to the same
    folder gets "in use by process N" instead of racing this one. The kernel drops the lock
    when a process dies, so a killed run never leaves a folder locked."""
    path = target.parent / f".{target.name}.ooh-sim.lock"
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise cannot_write(target.parent, e) from None
        try:
            _try_lock(fd)
        except OSError as e:
            try:
                holder = _read_at_start(fd, 32).decode(errors="replace").strip()
            except OSError:  # Windows: the holder's locked byte cannot be read
                holder = ""
            os.close(fd)
            if e.errno in (errno.EAGAIN, errno.EACCES):
                who = f"process {holder}" if holder.isdigit() else "another process"
                raise InputError(
                    f"{target} is in use by {who} (another ooh-sim writing there); wait for it, "
                    "or choose another folder",
                    path="--out",
                ) from None
            raise
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the holder removed the file as we opened it: take the new one
    try:
        os.ftruncate(fd, 0)
        _write_at_start(fd, f"{os.getpid()}\n".encode())
        _remove_stale(target)
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
        os.close(fd)


def _remove_stale(target: Path) -> None:
    """Staging folders of ``target`` left by killed processes are removed; results a killed
    process had swapped away but not yet replaced are put back (called under the lock)."""
    with contextlib.suppress(OSError):
        for p in target.parent.iterdir():
            m = _OURS.match(p.name)
            if not m or m["name"] != target.name:
                continue
            pid = int(m["pid"])
            if pid != os.getpid() and _alive(pid):
                continue
            if m["what"] == "old" and not (target.exists() or target.is_symlink()):
                os.replace(p, target)  # killed between the two renames of a swap
            else:
                shutil.rmtree(p, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: Path, data: bytes | str, *, mark: bool = True) -> Path:
    """Write one file atomically: a temporary file beside it, fsync'd, renamed over ``path``.

    A reader sees the old file or the new one, never half of one; a full disk leaves the old
    file (an InputError). In a folder ooh-sim made, the file is added to its marker, so that
    the folder can still be replaced later. (For a whole folder use :func:`staged_folder`.)
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    path = Path(path)
    marker = read_marker(path.parent) if mark else None
    if marker is not None and path.name not in marker["files"]:  # type: ignore[operator]
        files = [*marker["files"], path.name]  # type: ignore[misc]
        write_marker(path.parent, str(marker.get("kind", "results")), files)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as e:
        raise InputError(f"cannot write {path}: {e.strerror or e}", path=str(path)) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; results are shared
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise InputError(f"cannot write {path}: {e.strerror or e}", path=str(path)) from None
        raise
    return path


@contextlib.contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Hold back Ctrl-C while folders are renamed, then deliver it (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught and callable(previous):
            previous(signal.SIGINT, None)
        elif caught and previous == signal.SIG_DFL:
            raise KeyboardInterrupt


def _swap(stage: Path, target: Path) -> None:
    """Put ``stage`` where ``target`` is; if that fails the previous ``target`` is put back."""
    old = None
    if target.exists() or target.is_symlink():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-{os.getpid()}-", dir=target.parent))
        os.replace(target, old)  # onto the empty folder just made: a unique name, atomically
    try:
        os.replace(stage, target)
    except BaseException:
        if old is not None:
            os.replace(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def staged_folder(
    target: Path,
    *,
    kind: str | None = None,
    inputs: Sequence[str | Path | None] = (),
    config: str | None = None,
    force: bool = False,
) -> Iterator[Path]:
    """Yield a staging folder; on success, swap it in place of ``target`` atomically.

    ``target`` must pass :func:`check_out` (never a folder of other files, never one holding an
    input). With ``kind`` the folder gets a marker listing what was written (``run``,
    ``comparison`` …); without one it must be owned by its parent's marker (a sweep's figures).
    One writer at a time (:func:`folder_lock`). On any exception (Ctrl-C included) the staging
    folder is removed, ``target`` is untouched and folders made on the way to it are removed
    again. An unwritable or full disk is an InputError.
    """
    target = check_out(target, inputs=inputs, kind=kind, config=config, force=force)
    parent = target.parent
    missing = [p for p in (parent, *parent.parents) if not p.exists()]
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        _remove_empty(missing)
        raise cannot_write(parent, e) from None
    try:
        with folder_lock(target):
            # again, now that no other writer can change it
            check_out(target, inputs=inputs, kind=kind, config=config, force=force)
            try:
                stage = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-{os.getpid()}-",
                                              dir=parent))  # fmt: skip
                os.chmod(stage, 0o777 & ~_umask())  # mkdtemp makes it private; results are shared
            except OSError as e:
                raise cannot_write(parent, e) from None
            try:
                yield stage
                if kind is not None:
                    names = [p.relative_to(stage).as_posix() for p in stage.rglob("*")
                             if p.is_file()]  # fmt: skip
                    (stage / MARKER).write_text(_marker_text(kind, names, config), encoding="utf-8")
                with _interrupts_deferred():
                    _swap(stage, target)
            except OSError as e:
                _discard(stage, [])
                raise cannot_write(target, e) from None
            except BaseException:
                _discard(stage, [])
                raise
    except BaseException:
        _remove_empty(missing)
        raise


def _discard(stage: Path, missing: list[Path]) -> None:
    with _interrupts_deferred():
        shutil.rmtree(stage, ignore_errors=True)
        _remove_empty(missing)


def _remove_empty(folders: list[Path]) -> None:
    """Remove folders this run created on the way to ``--out`` (deepest first, only if empty)."""
    for p in folders:
        try:
            p.rmdir()
        except OSError:
            return


def write_run(
    result: RunResult,
    out: Path,
    *,
    source: str | Path | None = None,
    extras: Sequence[Extra] = (),
    force: bool = False,
) -> list[Path]:
    """Write summary.json, summary.csv, replications.csv, jobs.csv.gz (when replications kept
    their job records) and scenario.yaml into ``out``, atomically; each of ``extras`` is called
    with the staging folder first, so a higher layer's files (figures) arrive in the same swap.
    An ``out`` holding a report, or results of another configuration, is replaced only with
    ``force``.

    scenario.yaml is the resolved scenario with the comments of ``source`` (the scenario file, if
    given) attached, so the folder alone is enough to re-run it or to build the HTML report.
    """
    config = config_sha256(result.scenario)
    with staged_folder(out, kind="run", inputs=[source], config=config, force=force) as stage:
        write_resolved(result.scenario, stage, source, result.overrides)
        (stage / SUMMARY).write_text(summary_json(result), encoding="utf-8")
        (stage / SUMMARY_CSV).write_text(summary_csv(result), encoding="utf-8")
        write_replications_csv(result, stage / REPLICATIONS)
        if result.has_job_records:
            with open(stage / JOBS, "wb") as fh:  # streamed: never the whole file in memory
                write_jobs_csv_gz(result, fh)
        for extra in extras:
            extra(stage)
        names = sorted(p.name for p in stage.iterdir())
    return [out / n for n in names]


def folder_files(out: Path, stage: Path) -> list[Path]:
    """Every file written into ``stage``, as it will be named under ``out`` (sorted)."""
    names = sorted(p.relative_to(stage).as_posix() for p in stage.rglob("*") if p.is_file())
    return [out / n for n in names]


__all__ = [
    "MARKER",
    "check_out",
    "config_sha256",
    "csv_text",
    "dumps_json",
    "folder_files",
    "folder_lock",
    "read_marker",
    "safe_cell",
    "staged_folder",
    "summary_dict",
    "write_atomic",
    "write_csv",
    "write_marker",
    "write_run",
]
