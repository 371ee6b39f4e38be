"""What sweeps and optimise runs share: a guarded results folder and a JSON-lines checkpoint.

**The folder.** A study writes into its ``--out`` folder for a long time (and is resumed in it),
so it is checked before any work (:func:`ooh_sim.io.files.check_out`: never a folder of other
files, never one that holds or is an input, never another kind of results), locked for one
writer, and marked as ooh-sim's with its kind and every file it may write.

**The checkpoint.** Its first line is a header (the format, and the fingerprint of what decides
the numbers); each later line is one result, appended as soon as it exists (flushed and
fsync'd), so a killed study loses only the work that was running. On resume, a line cut short
by a kill ends the file, and a damaged line in the middle is skipped: the results after it are
kept and the damaged one simply runs again. A FIFO, device or folder is refused (reading it
could hang).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ooh_sim.core.errors import InputError
from ooh_sim.io.files import (
    cannot_write,
    check_out,
    folder_lock,
    read_marker,
    write_atomic,
    write_marker,
)

Record = dict[str, Any]


# --------------------------------------------------------------------------------------------
# the folder


@contextlib.contextmanager
def study_folder(
    out: Path,
    *,
    kind: str,
    inputs: Sequence[str | Path | None],
    owned: Iterable[str],
    force: bool = False,
) -> Iterator[Path]:
    """Check ``out`` (before any work), create it, hold its lock, and mark it as ooh-sim's
    ``kind`` of results owning ``owned`` (plus whatever its marker listed already); yields the
    folder to write (a symbolic link followed to its folder)."""
    out = check_out(Path(out), inputs=inputs, kind=kind, force=force)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise cannot_write(out, e) from None
    with folder_lock(out):
        check_out(out, inputs=inputs, kind=kind, force=force)  # again, now no one else writes
        marker = read_marker(out)
        write_marker(out, kind, [*owned, *(marker["files"] if marker else [])])  # type: ignore[misc]
        yield out  # the marker is written before the files: the folder stays ooh-sim's


# --------------------------------------------------------------------------------------------
# the checkpoint


@dataclass(frozen=True)
class Checkpoint:
    """One kind of JSON-lines checkpoint: the key its header line has, what a record looks like
    (anything else is damage), what identifies a record (a later copy is ignored), and its name
    in messages ("sweep", "optimise")."""

    header_key: str
    is_record: Callable[[Any], bool]
    key: Callable[[Record], Hashable]
    what: str

    def read(self, path: Path) -> tuple[Record | None, list[Record], int, int]:
        """Header, records (the first copy of each key), the byte length of the file up to its
        last whole line, and the number of damaged lines skipped. A first line without the
        header key gives ``(None, [], …)``: not this kind of checkpoint."""
        file = str(path)
        try:
            if not path.is_file():
                raise InputError(f"not a regular file (a {self.what} checkpoint is one)",
                                 file=file, path="--resume")  # fmt: skip
            raw = path.read_bytes()
        except OSError as e:
            raise InputError(f"cannot read: {e.strerror or e}", file=file,
                             path="--resume") from None  # fmt: skip
        header: Record | None = None
        records: list[Record] = []
        seen: set[Hashable] = set()
        good = damaged = 0
        for line in raw.splitlines(keepends=True):
            if not line.endswith(b"\n"):
                break
            good += len(line)
            try:
                obj = json.loads(line)
            except ValueError:
                obj = None
            if header is None:
                if not isinstance(obj, dict) or self.header_key not in obj:
                    return None, [], good, 0
                header = obj
            elif self.is_record(obj):
                k = self.key(obj)
                if k not in seen:
                    seen.add(k)
                    records.append(obj)
            else:
                damaged += 1
        return header, records, good, damaged

    def unfinished(self, path: Path, fingerprint: tuple[str, str]) -> list[Record] | None:
        """The records of an earlier run of the same study in ``path`` (same ``fingerprint``),
        or None: no checkpoint, one that cannot be read, or another study's."""
        if not path.is_file():
            return None
        header, records, _, _ = self.read(path)
        name, value = fingerprint
        return records if header is not None and header.get(name) == value else None

    def refuse_restart(self, path: Path, done: str) -> InputError:
        """Starting again would throw away finished work the user may have forgotten to resume
        (Ctrl-C says "run again with --resume"): say so, and how to do either."""
        return InputError(
            f"holds an unfinished {self.what} of the same file ({done}); add --resume to "
            "continue it, or --force to start again",
            file=str(path),
        )

    def resume(
        self, path: Path, *, fingerprint: tuple[str, str], other: Callable[[Record], str]
    ) -> tuple[list[Record], list[str]]:
        """The records of a checkpoint being resumed, and notes for the user. Refused
        (InputError) when it is not this kind of checkpoint, or when its header's
        ``fingerprint`` (key, value) differs (``other(header)`` says why in words). A damaged or
        cut checkpoint is rewritten whole (atomically): the header and its good records."""
        header, records, good, damaged = self.read(path)
        if header is None:
            raise InputError(
                f"not {'an' if self.what[0] in 'aeiou' else 'a'} {self.what} checkpoint (or its "
                "first line is damaged); delete it, or run without --resume to start again",
                file=str(path),
                path="--resume",
            )
        name, value = fingerprint
        if header.get(name) != value:
            raise InputError(other(header), file=str(path), path="--resume")
        notes: list[str] = []
        cut = good < path.stat().st_size
        if damaged or cut:
            start_jsonl(path, header, records)
            if damaged:
                notes.append(f"skipped {damaged} damaged line{'s' if damaged > 1 else ''} in "
                             "the checkpoint (that work runs again)")  # fmt: skip
            if cut:
                notes.append("dropped an incomplete last line from the checkpoint")
        return records, notes


def _line(obj: Record) -> str:
    return json.dumps(obj, sort_keys=True, allow_nan=False) + "\n"


def start_jsonl(path: Path, header: Record, records: Iterable[Record] = ()) -> None:
    """Write a checkpoint afresh (atomically): its header, then ``records``."""
    write_atomic(path, "".join(_line(r) for r in [header, *records]))


def append_jsonl(fh: IO[str], records: Iterable[Record]) -> None:
    """Append records to an open checkpoint and make them durable before going on."""
    for record in records:
        fh.write(_line(record))
    fh.flush()
    os.fsync(fh.fileno())


__all__ = [
    "Checkpoint",
    "Record",
    "append_jsonl",
    "start_jsonl",
    "study_folder",
]
