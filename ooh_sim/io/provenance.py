"""Where each number in a scenario came from: its YAML comments, kept with the resolved scenario.

Scenario files document their figures in comments (``# DOMAIN: …``, ``# DERIVED: …``,
``# ASSUMPTION …``). YAML parsers drop comments, so this module reads them from the text and maps
each to the dotted key it annotates. ``run`` then writes ``scenario.yaml`` into the results folder:
the resolved scenario (``extends:`` merged, defaults filled in, validated) with those comments
re-attached, so a results folder alone says what was run and on what evidence — the HTML report
reads it from there.

Which key a comment belongs to:

* a comment after a key on the same line, or on a continuation line of that key's value (a flow
  list split over lines), belongs to that key;
* a block of whole-line comments belongs to the next key if it is indented like that key,
  otherwise to the nearest key above it that is indented less (the comment is inside that
  key's block); whole-line comments before the first key, set off by a blank line, are the header.
"""

from __future__ import annotations

import json
import shutil
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ooh_sim.core.loader import normalise_path
from ooh_sim.core.schema import Scenario

KeyPath = tuple[str | int, ...]
# FOR SPEED, libyaml's parser and emitter where PyYAML has them (a comparison writes a
# scenario.yaml per option: the pure-Python ones took most of its file writing); the same nodes,
# marks and text
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
ASSUMPTION = "ASSUMPTION"
EDITOR_LINE = "yaml-language-server:"
"""A shipped file's first line names its JSON Schema for editors: ``# yaml-language-server: …``."""


@dataclass
class Notes:
    """Comments of one scenario: the file header and, per key path, its comment lines."""

    header: list[str] = field(default_factory=list)
    by_path: dict[KeyPath, list[str]] = field(default_factory=dict)
    leaves: set[KeyPath] = field(default_factory=set)  # paths whose value is not a mapping
    order: list[KeyPath] = field(default_factory=list)  # every key path, in file order

    def text(self, path: KeyPath) -> str:
        return " ".join(self.by_path.get(path, []))

    def commented(self) -> list[tuple[KeyPath, str]]:
        """(path, comment) in file order, for keys that carry a comment."""
        return [(p, self.text(p)) for p in self.order if self.by_path.get(p)]


@dataclass
class _Key:
    path: KeyPath
    line: int
    col: int
    end_line: int


def dotted(path: KeyPath) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _comment_start(line: str) -> int:
    """Index of the '#' that starts a comment on this line, or -1 (quotes respected)."""
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return i
    return -1


def _walk(node: yaml.Node, path: KeyPath, keys: list[_Key], block_lines: set[int]) -> None:
    if isinstance(node, yaml.ScalarNode):
        if node.style in ("|", ">"):  # a block scalar's lines are text, never comments
            block_lines.update(range(node.start_mark.line + 1, node.end_mark.line + 1))
        return
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if not isinstance(k, yaml.ScalarNode):
                continue
            p = (*path, k.value)
            end = v.end_mark.line
            if v.end_mark.column == 0 and end > k.start_mark.line:
                end -= 1  # block collections end at the start of the next line
            keys.append(_Key(p, k.start_mark.line, k.start_mark.column, end))
            _walk(v, p, keys, block_lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            if isinstance(item, yaml.MappingNode) and item.flow_style is False:
                keys.append(_Key((*path, i), item.start_mark.line, item.start_mark.column, -1))
            _walk(item, (*path, i), keys, block_lines)


def parse_comments(text: str) -> Notes:
    """Map every comment of a YAML mapping document to the key path it annotates."""
    notes = Notes()
    try:
        root = yaml.compose(text, Loader=_LOADER)
    except yaml.YAMLError:
        return notes
    keys: list[_Key] = []
    block_lines: set[int] = set()
    if root is not None:
        _walk(root, (), keys, block_lines)
    keys.sort(key=lambda k: (k.line, k.col))
    notes.order = [k.path for k in keys]
    by_line: dict[int, list[_Key]] = {}
    for k in keys:
        by_line.setdefault(k.line, []).append(k)
    leaf_paths = {k.path for k in keys}
    notes.leaves = {
        p for p in leaf_paths if not any(q[: len(p)] == p and q != p for q in leaf_paths)
    }
    first_key = keys[0].line if keys else 10**9

    def add(path: KeyPath | None, comment: str) -> None:
        if not comment or comment.startswith(EDITOR_LINE):  # the editor's line is no note
            return
        if path is None:
            notes.header.append(comment)
        else:
            notes.by_path.setdefault(path, []).append(comment)

    lines = text.splitlines()
    block: list[tuple[int, int, str]] = []  # (line, column, text) of a run of full-line comments

    def flush(next_line: int) -> None:
        if not block:
            return
        col = block[0][1]
        after = next((k for k in keys if k.line >= next_line), None)
        gap = any(not lines[i].strip() for i in range(block[-1][0] + 1, next_line))
        target: KeyPath | None
        if block[0][0] < first_key and (gap or after is None):
            target = None  # the file header
        elif after is not None and after.col == col:
            target = after.path
        else:
            above = [k for k in keys if k.line < block[0][0] and k.col < col]
            target = above[-1].path if above else None
        for _, _, c in block:
            add(target, c)
        block.clear()

    for i, line in enumerate(lines):
        if i in block_lines:
            continue
        pos = _comment_start(line)
        code = line[:pos] if pos >= 0 else line
        comment = line[pos + 1 :].strip() if pos >= 0 else ""
        if not code.strip():
            if pos >= 0:
                block.append((i, pos, comment))
            continue
        flush(i)
        if pos < 0:
            continue
        if i in by_line:
            add(by_line[i][0].path, comment)  # the outermost key starting on this line (flow maps)
        else:
            inside = [k for k in keys if k.line < i <= k.end_line]
            add(max(inside, key=lambda k: len(k.path)).path if inside else None, comment)
    flush(len(lines))
    return notes


def _extends_chain(path: Path) -> list[Path]:
    """The file and its ``extends:`` ancestors, most basic first (the loader checks cycles)."""
    chain = [path]
    seen = {path.resolve()}
    while True:
        try:
            data = yaml.load(chain[0].read_text(encoding="utf-8"), Loader=_LOADER)
        except (OSError, yaml.YAMLError):
            break
        ref = data.get("extends") if isinstance(data, dict) else None
        if not isinstance(ref, str):
            break
        parent = chain[0].parent / ref
        if not parent.is_file() or parent.resolve() in seen or len(chain) > 32:
            break
        seen.add(parent.resolve())
        chain.insert(0, parent)
    return chain


def scenario_notes(path: str | Path) -> Notes:
    """Comments of a scenario file and of the files it extends (a variant's own comments win).

    A key's comment comes from the most derived file that sets that key with a comment; a leaf
    value set by a variant without a comment loses its parent's comment (which no longer applies).
    """
    chain = _extends_chain(Path(path))
    out = Notes()
    for f in chain:
        n = parse_comments(f.read_text(encoding="utf-8"))
        if n.header:
            out.header += [f"({f.name})", *n.header] if len(chain) > 1 else n.header
        for p in n.order:
            if p not in out.order:
                out.order.append(p)
            if p in n.by_path:
                out.by_path[p] = n.by_path[p]
            elif p in n.leaves:
                out.by_path.pop(p, None)
        out.leaves |= n.leaves
    return out


# --------------------------------------------------------------------------------------------
# The resolved scenario, annotated


def _flow(value: Any) -> str:
    text = yaml.dump(value, Dumper=_DUMPER, default_flow_style=True, width=10**9,
                     allow_unicode=True)  # fmt: skip
    return text.removesuffix("\n").removesuffix("\n...").strip()


def _block_text(value: str) -> str:
    """Block scalar indicator that reproduces ``value`` exactly: folded when it is one line."""
    folded = "\n" not in value and "  " not in value and value == value.strip()
    return ">-" if folded else "|-"


def _block_safe(value: str) -> bool:
    """Whether a block scalar loads back as exactly ``value``: printable lines that neither start
    nor end with white space (else the text is written quoted, with escapes, on one line)."""
    return all(
        line.isprintable() and line == line.strip() for line in value.split("\n")
    ) and not value.endswith("\n")


def _text_lines(value: str) -> list[str]:
    if _block_text(value) == ">-":
        return textwrap.wrap(value, 92, break_long_words=False, break_on_hyphens=False)
    return value.split("\n")


def _data(scenario: Scenario, folder: Path | None) -> dict[str, Any]:
    """The scenario as plain data that loads back to the same scenario from ``folder``.

    Empirical distributions keep their values inline (the file they came from is not needed);
    a profile file is copied into ``folder`` so the results folder is self-contained.
    """
    data = scenario.model_dump(mode="json", by_alias=True)
    # nulls are defaults everywhere today; keep them only if dropping them changed the scenario
    lean = scenario.model_dump(mode="json", by_alias=True, exclude_none=True)
    try:
        if Scenario.model_validate(lean).model_dump(mode="json", by_alias=True) == data:
            data = lean
    except ValueError:
        pass
    for name, stream in scenario.streams.items():
        prof = data["streams"][name]["arrivals"]["profile"]
        src = stream.arrivals.profile.file
        if src is not None:
            dest = f"profile_{name}.csv"
            if folder is not None:
                shutil.copyfile(src, folder / dest)
            prof["file"] = dest
        else:
            prof.pop("file", None)

    def strip(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("dist") == "empirical":
                node.pop("file", None)
            for v in node.values():
                strip(v)
        elif isinstance(node, list):
            for v in node:
                strip(v)

    strip(data)
    return data


def _set_notes(notes: Notes, overrides: Mapping[str, object]) -> Notes:
    """``notes`` with each key changed by ``--set`` saying so: the source file's comment on it
    describes the file's value, not the one run (count = 2 beside "one EDT social worker")."""
    by_path = dict(notes.by_path)
    for key in overrides:
        path = tuple(int(k) if k.lstrip("-").isdigit() else k
                     for k in normalise_path(key).split("."))  # fmt: skip
        # a list item (thresholds_hours.-1) is marked on its list's key, which is where the
        # file's note on it is (a list is written on its key's line, or below it)
        path = path[: next((i for i, k in enumerate(path) if isinstance(k, int)), len(path))]
        was = notes.text(path)
        by_path[path] = [f"set with --set for this run (the file's own note: {was})" if was
                         else "set with --set for this run"]  # fmt: skip
    return Notes(notes.header, by_path, notes.leaves, notes.order)


def resolved_yaml(
    scenario: Scenario,
    notes: Notes | None = None,
    *,
    source: str | None = None,
    folder: Path | None = None,
    overrides: Mapping[str, object] | None = None,
) -> str:
    """YAML of the resolved scenario with each key's comment from ``notes`` re-attached, and the
    keys changed by ``--set`` (``overrides``) marked as such."""
    from ooh_sim.core.version import __version__

    notes = _set_notes(notes or Notes(), overrides or {})
    out = [
        f"# Resolved scenario '{scenario.name}' as run by ooh-sim {__version__}"
        + (f" from {source}" if source else ""),
        "# (extends: merged, defaults filled in, validated); `ooh-sim run` accepts it as is.",
        "# comments are those of the source file(s), attached to the keys they annotate.",
    ]
    if overrides:
        # JSON: one line whatever the value (a newline in a --set text ended the comment, and
        # the rest of the line broke the file)
        shown = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in overrides.items())
        out.append(f"# Changed for this run with --set: {shown}.")
    if notes.header:
        out += ["#", "# Source file header:", *(f"#   {h}" for h in notes.header)]
    out.append("")

    def has_notes(path: KeyPath) -> bool:
        return any(p[: len(path)] == path and p != path for p in notes.by_path)

    def emit(node: dict[str, Any], path: KeyPath, indent: int) -> None:
        pad = " " * indent
        for key, value in node.items():
            p = (*path, key)
            comment = notes.by_path.get(p, [])
            if len(comment) > 1:  # several lines: above the key, as in the source
                out.extend(f"{pad}# {c}" for c in comment)
                tail = ""
            else:
                tail = f"  # {comment[0]}" if comment else ""
            k = _flow(key)
            if isinstance(value, dict) and value and ("dist" not in value or has_notes(p)):
                out.append(f"{pad}{k}:{tail}")
                emit(value, p, indent + 2)
            elif isinstance(value, list) and value and all(isinstance(x, dict) for x in value):
                out.append(f"{pad}{k}:{tail}")
                for i, item in enumerate(value):
                    c = notes.text((*p, i))
                    out.append(f"{pad}  - {_flow(item)}" + (f"  # {c}" if c else ""))
            elif isinstance(value, str) and ("\n" in value or len(value) > 90) and _block_safe(
                    value):  # fmt: skip
                out.append(f"{pad}{k}: {_block_text(value)}{tail}")
                out.extend(f"{pad}  {line}" if line else "" for line in _text_lines(value))
            else:
                out.append(f"{pad}{k}: {_flow(value)}{tail}")

    emit(_data(scenario, folder), (), 0)
    return "\n".join(out) + "\n"


def write_resolved(
    scenario: Scenario,
    folder: Path,
    source: str | Path | None = None,
    overrides: Mapping[str, object] | None = None,
) -> Path:
    """Write ``scenario.yaml`` (and any profile file it needs) into ``folder``."""
    notes = scenario_notes(source) if source is not None and Path(source).is_file() else None
    path = Path(folder) / "scenario.yaml"
    text = resolved_yaml(scenario, notes, source=None if source is None else str(source),
                         folder=folder, overrides=overrides)  # fmt: skip
    path.write_text(text, encoding="utf-8")
    return path


def assumptions(notes: Notes) -> list[tuple[str, str]]:
    """(dotted key, comment) of every comment that flags an ASSUMPTION."""
    return [(dotted(p), c) for p, c in notes.commented() if ASSUMPTION in c.upper()]
