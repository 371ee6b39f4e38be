"""The file-format layer: YAML scenario files → validated :class:`~ooh_sim.schema.Scenario`.

Everything that can go wrong with a hand-edited file is turned into an :class:`InputError` that
names the file, the dotted key path and, where a typo is likely, what was probably meant. The
simulation core never imports this module; it only ever sees a validated ``Scenario``.
"""

from __future__ import annotations

import copy
import re
import types
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
import yaml.cyaml
from pydantic import BaseModel, ValidationError

from ooh_sim.core import limits
from ooh_sim.core.distributions import DIST_NAMES
from ooh_sim.core.errors import InputError, InputErrors, did_you_mean
from ooh_sim.core.schema import (
    FOLDER_NAME_PATTERN,
    IDENTIFIER_PATTERN,
    FieldError,
    Scenario,
    SkillError,
)

MAX_BYTES = limits.YAML_BYTES.default
"""Scenario files are small; a huge file is a mistake (or an attack), not a scenario
(``limits.YAML_BYTES``, raised with ``OOH_SIM_MAX_YAML_BYTES``)."""
MAX_EXTENDS_DEPTH = 32

# --------------------------------------------------------------------------------------------
# Reading YAML


class _SafeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` (plain data only) with two planner traps removed.

    * ``start: 17:00`` unquoted is a YAML 1.1 base-60 integer (1020); here it stays "17:00".
    * A key given twice in one mapping is an error instead of silently keeping the last.
    """

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, yaml.Node] = {}
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                    continue
                key = f"{key_node.tag}\0{key_node.value}"
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None,
                        None,
                        f"key {key_node.value!r} appears twice in one mapping (first at line "
                        f"{seen[key].start_mark.line + 1})",
                        key_node.start_mark,
                    )
                seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


# Plain data only: sets, ordered maps, pairs and binary are not scenario values (a !!set also
# iterates in a different order in each process, so the config hash would change run to run).
_SafeLoader.yaml_constructors = {
    tag: fn
    for tag, fn in yaml.SafeLoader.yaml_constructors.items()
    if tag is None or tag.rpartition(":")[2] not in ("set", "omap", "pairs", "binary")
}
_INT_TAG, _FLOAT_TAG = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
_SafeLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_INT_TAG, _FLOAT_TAG)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
# PyYAML's own int/float patterns minus the sexagesimal (base-60) alternatives.
_SafeLoader.add_implicit_resolver(
    _INT_TAG,
    re.compile(
        r"""^(?:[-+]?0b[0-1_]+
            |[-+]?0[0-7_]+
            |[-+]?(?:0|[1-9][0-9_]*)
            |[-+]?0x[0-9a-fA-F_]+)$""",
        re.X,
    ),
    list("-+0123456789"),
)
_SafeLoader.add_implicit_resolver(
    _FLOAT_TAG,
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?
            |\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
            |[-+]?\.(?:inf|Inf|INF)
            |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


if getattr(yaml, "__with_libyaml__", False):

    class _FastLoader(yaml.cyaml.CParser, _SafeLoader):  # type: ignore[misc]
        """libyaml's parser with the resolvers and constructors of :class:`_SafeLoader`."""

        def __init__(self, stream: str) -> None:
            yaml.cyaml.CParser.__init__(self, stream)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)

else:  # pragma: no cover - PyYAML without libyaml
    _FastLoader = None  # type: ignore[assignment,misc]


def _count_values(text: str) -> None:
    """Refuse a file whose values, aliases expanded, exceed ``limits.YAML_NODES`` — or that has
    an alias inside its own anchor — before anything is built (libyaml's event stream: fast, and
    flat in memory). A syntax error is left to the loader, which words it."""
    most = limits.YAML_NODES.value
    total = 0
    open_: list[list[Any]] = []  # per collection being read: [anchor, expanded size so far]
    sizes: dict[str, int] = {}
    events = yaml.parse(text, Loader=_EVENTS)
    try:
        for ev in events:
            if isinstance(ev, yaml.AliasEvent):
                if ev.anchor not in sizes:
                    if not any(a == ev.anchor for a, _ in open_):
                        return  # an undefined alias: the loader below words it
                    raise yaml.composer.ComposerError(
                        None, None, f"alias *{ev.anchor} refers to itself (a recursive structure)",
                        ev.start_mark,
                    )  # fmt: skip
                size = sizes[ev.anchor]
            elif isinstance(ev, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                open_.append([ev.anchor, 1])
                total += 1
                continue
            elif isinstance(ev, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                anchor, size = open_.pop()
                if anchor is not None:
                    sizes[anchor] = size
                if open_:
                    open_[-1][1] += size
                continue
            elif isinstance(ev, yaml.ScalarEvent):
                size = 1
                if ev.anchor is not None:
                    sizes[ev.anchor] = 1
            else:
                continue
            if open_:
                open_[-1][1] += size
            total += size
            if total > most:
                raise yaml.composer.ComposerError(
                    None, None, limits.YAML_NODES.problem(), ev.start_mark
                )
    except yaml.composer.ComposerError:
        raise
    except yaml.YAMLError:
        return  # malformed: the loader below says where and why
    finally:
        events.close()


_EVENTS = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _safe_load(text: str) -> Any:
    """``yaml.safe_load`` semantics (no Python object tags), via the stricter loader above.

    The values are counted first (:func:`_count_values`); libyaml then builds the data when it is
    installed (fast), and the pure-Python loader words any error.
    """
    _count_values(text)
    if _FastLoader is not None:
        fast = _FastLoader(text)
        try:
            return fast.get_single_data()
        except yaml.YAMLError:
            pass  # the pure-Python loader below gives the same error with its usual wording
        finally:
            fast.dispose()
    loader = _SafeLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """A one-line description of a YAML error, led by the line/column where it was noticed."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    if "OOH_SIM_MAX_" in problem or "refers to itself" in problem:
        return f"{problem}{where}"
    tag = re.search(r"constructor for the tag '([^']*)'", problem)
    if tag:
        name = tag.group(1).replace("tag:yaml.org,2002:", "!!")
        return f"YAML tag {name!r}{where} is not allowed (scenario files hold plain data only)"
    if context:
        problem = f"{context}: {problem}"
    return f"malformed YAML{where}: {problem}"


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read one YAML file into a mapping, refusing anything that is not a small plain-data file."""
    p = Path(path)
    file = str(path)
    try:
        if not p.exists():
            raise InputError("file not found", file=file, suggestion=_sibling_guess(p))
        if p.is_dir():
            raise InputError("is a directory, not a scenario file", file=file)
        if not p.is_file():
            raise InputError("not a regular file", file=file)
        most = limits.YAML_BYTES.value
        limits.YAML_BYTES.check(p.stat().st_size, file=file)
        with p.open("rb") as fh:
            raw = fh.read(most + 1)
    except (OSError, ValueError, RuntimeError) as exc:  # ValueError: a NUL byte in the path
        reason = getattr(exc, "strerror", None) or exc  # RuntimeError: a symlink loop
        raise InputError(f"cannot read file: {reason}", file=file) from None
    limits.YAML_BYTES.check(len(raw), file=file)  # grew between stat and read
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise InputError(
            f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at line {line}, column {col}); "
            "save the file as UTF-8",
            file=file,
        ) from None
    try:
        data = _safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(_yaml_problem(exc), file=file) from None
    except RecursionError:
        raise InputError("malformed YAML: nested too deeply", file=file) from None
    if data is None:
        raise InputError("file is empty (expected a mapping of scenario keys)", file=file)
    if not isinstance(data, dict):
        csv = " (a log of contacts as CSV is read by `ooh-sim fit`)" if str(file).lower(
            ).endswith(".csv") else ""  # fmt: skip
        raise InputError(
            f"top level must be a mapping of keys (name: …, staff: …), not a {_kind(data)}{csv}",
            file=file,
        )
    bad = [k for k in data if not isinstance(k, str)]
    if bad:
        raise InputError(f"top-level keys must be names, got {limits.quote(bad[0])}", file=file)
    return data


SIBLING_CUTOFF = 0.8
"""How alike a missing file's name (without its suffix) and a neighbour's must be to suggest it:
"fited.yaml" → "fitted.yaml", but not "fit.yaml" or "listed.yaml" (whole names that share
".yaml" look alike to difflib whatever comes before it)."""


def _sibling_guess(p: Path) -> str | None:
    """For a missing file, a name in the same folder that is plausibly the one meant: the same
    name with another suffix ("baseline.yml" → "baseline.yaml"), or a close spelling of its name
    with the same suffix."""
    try:
        names = [c.name for c in p.parent.iterdir()] if p.parent.is_dir() else []
    except OSError:
        return None
    stem, suffix = Path(p.name).stem.lower(), Path(p.name).suffix.lower()
    same_stem = [n for n in names if Path(n).stem.lower() == stem and n != p.name]
    if same_stem:
        return same_stem[0]
    by_stem = {Path(n).stem: n for n in names if Path(n).suffix.lower() == suffix}
    found = did_you_mean(Path(p.name).stem, by_stem, cutoff=SIBLING_CUTOFF)
    return None if found is None else by_stem[found]


def _kind(value: object) -> str:
    return {list: "list", str: "string", int: "number", float: "number", bool: "boolean"}.get(
        type(value), type(value).__name__
    )


# --------------------------------------------------------------------------------------------
# extends:


def deep_merge(parent: Mapping[str, Any], child: Mapping[str, Any]) -> dict[str, Any]:
    """``child`` over ``parent``: mappings merge key by key; lists, scalars and null replace. A
    distribution whose ``dist`` changes replaces the parent's whole: the old law's parameters
    (an empirical's ``values``) mean nothing to the new one and would only be reported as
    unknown keys."""
    out = copy.deepcopy(dict(parent))
    for key, value in child.items():
        old = out.get(key)
        if isinstance(value, Mapping) and isinstance(old, Mapping) and _same_law(old, value):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _same_law(parent: Mapping[str, Any], child: Mapping[str, Any]) -> bool:
    """Whether ``child`` may merge into ``parent``: not when both name a different ``dist``."""
    return not ("dist" in child and "dist" in parent and child["dist"] != parent["dist"])


def read_with_extends(path: str | Path) -> dict[str, Any]:
    """Read a scenario file and resolve its ``extends:`` chain into one merged mapping."""
    return _resolve_extends(Path(path), [])


def _resolve_extends(path: Path, chain: list[Path]) -> dict[str, Any]:
    file = str(path)
    data = read_yaml(path)
    here = _resolved(path, file)
    parent_ref = data.pop("extends", None)
    if parent_ref is None:
        return data
    if not isinstance(parent_ref, str) or not parent_ref.strip():
        raise InputError("must be the path of another scenario file", file=file, path="extends")
    parent = path.parent / parent_ref
    seen = [*chain, here]
    if _resolved(parent, file) in seen:
        names = " → ".join(str(p.name) for p in [*seen, _resolved(parent, file)])
        raise InputError(f"files extend each other in a cycle: {names}", file=file, path="extends")
    if len(seen) >= MAX_EXTENDS_DEPTH:
        raise InputError(
            f"extends chain longer than {MAX_EXTENDS_DEPTH} files", file=file, path="extends"
        )
    if not parent.is_file():
        what = "is a directory, not a file" if parent.is_dir() else "not found"
        raise InputError(
            f"parent scenario {parent_ref!r} {what} (looked in {path.parent})",
            file=file,
            path="extends",
            suggestion=None if parent.is_dir() else _sibling_guess(parent),
        )
    base = _resolve_extends(parent, seen)
    if parent.resolve().parent != here.parent:
        _rebase_files(base, parent.resolve().parent)
    if "name" not in data:
        # a variant must not overwrite its parent's results/<name>/: default to its file name
        data["name"] = path.stem
    return deep_merge(base, data)


def _resolved(path: Path, file: str) -> Path:
    """``path.resolve()``, with a symlink loop reported as bad input (it raises otherwise)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        raise InputError(f"cannot resolve {path}: a symbolic link loop", file=file,
                         path="extends") from None  # fmt: skip


def _rebase_files(node: Any, folder: Path) -> None:
    """Make a parent's relative data-file paths absolute, so they stay relative to the parent.

    Only ``file:`` keys of distributions (``dist:`` present) and arrival profiles are paths.
    """
    if isinstance(node, list):
        for item in node:
            _rebase_files(item, folder)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "profile" and isinstance(value, dict):
                _rebase_one(value, folder)
            _rebase_files(value, folder)
        if "dist" in node:
            _rebase_one(node, folder)


def _rebase_one(node: dict[str, Any], folder: Path) -> None:
    ref = node.get("file")
    if isinstance(ref, str) and ref and not Path(ref).is_absolute():
        node["file"] = str(folder / ref)


# --------------------------------------------------------------------------------------------
# Walking the schema alongside the data (for error paths and override checks)


def _strip(tp: Any) -> tuple[Any, str | None]:
    """Remove ``Annotated`` and ``Optional`` wrappers; return the core type and discriminator."""
    disc: str | None = None
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            args = get_args(tp)
            for meta in args[1:]:
                d = getattr(meta, "discriminator", None)
                if isinstance(d, str):
                    disc = d
            tp = args[0]
            continue
        if origin in (Union, types.UnionType):
            members = [a for a in get_args(tp) if a is not type(None)]
            if len(members) == 1:
                tp = members[0]
                continue
        return tp, disc


def _field_type(model: type[BaseModel], key: object) -> Any:
    """The annotation of ``model``'s field spelled ``key`` in YAML (alias first), or None."""
    for name, info in model.model_fields.items():
        if key in (info.alias, name):
            tp = info.annotation
            return Annotated[tp, info] if info.discriminator else tp
    return None


def _field_names(model: type[BaseModel]) -> list[str]:
    """The keys a YAML user may write for ``model`` (aliases where a field has one)."""
    return [info.alias or name for name, info in model.model_fields.items()]


def _union_members(tp: Any) -> list[Any] | None:
    if get_origin(tp) in (Union, types.UnionType):
        return [a for a in get_args(tp) if a is not type(None)]
    return None


def _tag_of(member: Any, disc: str) -> list[str]:
    core, _ = _strip(member)
    if isinstance(core, type) and issubclass(core, BaseModel) and disc in core.model_fields:
        return [str(a) for a in get_args(_strip(core.model_fields[disc].annotation)[0])]
    return []


def _member_for_label(members: list[Any], label: str) -> Any | None:
    """Which union member pydantic meant by a loc label like ``list[Shift]`` or ``literal[...]``."""
    low = label.lower()
    for m in members:
        core, _ = _strip(m)
        origin = get_origin(core)
        if origin is Literal and low.startswith("literal["):
            return m
        if origin is list and low.startswith("list["):
            return m
        if origin is dict and low.startswith("dict["):
            return m
        name = getattr(core, "__name__", "")
        if name and (low == name.lower() or low.endswith(f", {name.lower()}]")):
            return m
    return None


def _fits(member: Any, value: object) -> bool:
    """Whether ``value``'s YAML shape could be meant for this union member."""
    core, _ = _strip(member)
    origin = get_origin(core)
    if origin is list or core is list:
        return isinstance(value, list)
    if origin is dict or core is dict or (isinstance(core, type) and issubclass(core, BaseModel)):
        return isinstance(value, dict)
    return not isinstance(value, (list, dict))


class _Walk:
    """Where a pydantic ``loc`` points, in YAML terms."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.parent_model: type[BaseModel] | None = None
        self.annotation: Any = None
        self.is_key = False  # loc ends in '[key]': the dict key itself is bad
        self.wrong_branch = False  # error from a union branch the input's shape rules out
        self.law: tuple[int, str, Any] | None = None  # inside a distribution: (depth, tag, model)

    @property
    def path(self) -> str:
        return _join(self.parts)


def _join(parts: list[str]) -> str:
    out = ""
    for p in parts:
        out += p if p.startswith("[") or not out else f".{p}"
    return out


def _walk(loc: tuple[Any, ...], data: Any, root: type[BaseModel] = Scenario) -> _Walk:
    w = _Walk()
    tp: Any = root
    value: Any = data
    for seg in loc:
        core, disc = _strip(tp)
        members = _union_members(core)
        if members is not None and isinstance(seg, str):
            # A union: pydantic inserts the branch (tag or type label) into loc; skip it.
            if disc is not None:
                tp = next((m for m in members if seg in _tag_of(m, disc)), None)
                if disc == "dist":
                    w.law = (len(w.parts), seg, _strip(tp)[0] if tp is not None else None)
            else:
                tp = _member_for_label(members, seg)
                if tp is not None and not _fits(tp, value):
                    w.wrong_branch = w.wrong_branch or any(_fits(m, value) for m in members)
            continue
        if seg == "[key]":
            w.is_key = True
            continue
        if isinstance(core, type) and issubclass(core, BaseModel):
            w.parent_model = core
            tp = _field_type(core, seg)
        elif get_origin(core) is dict:
            w.parent_model = None
            tp = get_args(core)[1]
        elif get_origin(core) is list and isinstance(seg, int):
            tp = get_args(core)[0]
        else:
            tp = None
        w.parts.append(f"[{seg}]" if isinstance(seg, int) and isinstance(value, list) else str(seg))
        value = _child(value, seg)
    w.annotation = tp
    return w


def _child(value: Any, seg: Any) -> Any:
    if isinstance(value, dict):
        return value.get(seg)
    if isinstance(value, list) and isinstance(seg, int) and -len(value) <= seg < len(value):
        return value[seg]
    return None


# --------------------------------------------------------------------------------------------
# Validation → InputErrors

_PATTERN_TEXT = {
    IDENTIFIER_PATTERN: "must start with a letter and use only letters, digits and _",
    FOLDER_NAME_PATTERN: (
        "must start with a letter or digit and use only letters, digits, '_', '-' and '.'"
    ),
}


def _got(problem: str, value: object) -> str:
    """Append the offending scalar value unless the message already quotes it."""
    if isinstance(value, (dict, list, tuple, set)) or value is None:
        return problem
    shown = value.isoformat() if hasattr(value, "isoformat") else repr(value)  # dates
    if len(shown) > 40:
        shown = shown[:37] + "…"
    if isinstance(value, str) and shown in problem:
        return problem
    return f"{problem} (got {shown})"


def _literals(annotation: Any, ctx: Mapping[str, Any]) -> list[str]:
    core, _ = _strip(annotation)
    if get_origin(core) is Literal:
        return [str(a) for a in get_args(core)]
    return re.findall(r"'([^']*)'", str(ctx.get("expected", "")))


def _convert(
    err: Mapping[str, Any], data: Any, file: str | None, root: type[BaseModel] = Scenario
) -> InputError | None:
    """One pydantic error → an InputError in YAML terms (None: noise from a ruled-out branch)."""
    kind = err["type"]
    ctx = err.get("ctx") or {}
    value = err.get("input")
    msg = re.sub(r"^(Value error|Assertion failed), ", "", str(err.get("msg", "")))
    msg = re.sub(r"\s*For further information visit \S+", "", msg)
    msg = re.sub(r"^Input should be ", "must be ", msg)  # the setting, not "Input"

    if kind == "value_error" and isinstance(ctx.get("error"), SkillError):
        exc: SkillError = ctx["error"]
        return InputError(
            f"no staff group has skill {exc.skill!r} (staff skills: {', '.join(exc.known)})",
            file=file,
            path=f"streams.{exc.stream}.skill",
            suggestion=did_you_mean(exc.skill, exc.known),
        )
    if kind == "value_error" and isinstance(ctx.get("error"), FieldError):
        located: FieldError = ctx["error"]  # a cross-field rule that names its own key path
        return InputError(
            located.problem, file=file, path=located.path, suggestion=located.suggestion
        )

    w = _walk(tuple(err.get("loc", ())), data, root)
    if w.wrong_branch:
        return None
    path, suggestion = w.path, None

    if kind == "extra_forbidden":
        key = w.parts[-1] if w.parts else ""
        known = _field_names(w.parent_model) if w.parent_model else []
        suggestion = did_you_mean(key, known)
        where = f"in {_join(w.parts[:-1])}" if len(w.parts) > 1 else "at the top level"
        problem = f"unknown key {key!r} {where}"
        if known and not suggestion:
            problem += f" (allowed: {', '.join(known)})"
    elif kind in ("union_tag_invalid", "union_tag_not_found"):
        disc = str(ctx.get("discriminator", "dist")).strip("'")
        tags = re.findall(r"'([^']*)'", str(ctx.get("expected_tags", ""))) or list(DIST_NAMES)
        path = _join([*w.parts, disc])
        if kind == "union_tag_invalid":
            tag = ctx.get("tag")
            problem = f"unknown {'distribution' if disc == 'dist' else disc} {tag!r}"
            suggestion = did_you_mean(tag, tags)
        else:
            problem = f"missing {disc!r}"
        problem += f" (one of: {', '.join(tags)})"
    elif kind == "literal_error":
        options = _literals(w.annotation, ctx)
        problem = _got(msg, value)
        suggestion = did_you_mean(value, options)
    elif kind == "missing":
        problem = "required key missing"
    elif kind in ("too_short", "too_long") and "actual_length" in ctx:
        limit = (
            f"at least {ctx.get('min_length')}"
            if kind == "too_short"
            else (f"at most {ctx.get('max_length')}")
        )
        problem = f"needs {limit} entries, got {ctx['actual_length']}"
    elif kind in ("model_type", "dict_type"):
        problem = _got("should be a mapping of keys", value)
    elif kind == "string_pattern_mismatch":
        rule = _PATTERN_TEXT.get(str(ctx.get("pattern")), f"must match {ctx.get('pattern')}")
        problem = _got(f"{'name ' if w.is_key else ''}{rule}", value)
    else:
        problem = f"bad name: {_got(msg, value)}" if w.is_key else _got(msg, value)
    return InputError(problem, file=file, path=path, suggestion=suggestion)


def scenario_from_dict(
    data: Any, *, file: str | Path | None = None, base_dir: str | Path | None = None
) -> Scenario:
    """Validate plain data as a Scenario, reporting every problem in YAML terms at once."""
    shown = None if file is None else str(file)
    if not isinstance(data, dict):
        raise InputError(f"a scenario must be a mapping of keys, not a {_kind(data)}", file=shown)
    try:
        return Scenario.model_validate(
            data, context={"base_dir": None if base_dir is None else Path(base_dir)}
        )
    except ValidationError as exc:
        raw = exc.errors(include_url=False)
    except OSError as exc:  # a referenced data file could not be read
        raise InputError(f"cannot read a referenced file: {exc}", file=shown) from None
    raise input_errors(raw, data, shown) from None


def input_errors(
    raw: Sequence[Mapping[str, Any]],
    data: Any,
    file: str | None,
    root: type[BaseModel] = Scenario,
    *,
    reword: Callable[[Mapping[str, Any]], str | None] | None = None,
) -> InputErrors:
    """pydantic's errors for ``data`` validated as ``root`` (a scenario, an experiment …), each
    in YAML terms, once: the one wording of validation errors. ``reword(err)`` may give a
    problem text of its own for an error (the key path is still worked out here)."""
    errors: list[InputError] = []
    laws: dict[int, tuple[list[str], str, Any]] = {}  # id(error) → its distribution, if any
    for err in raw:
        e = _convert(err, data, file, root)
        own = reword(err) if reword is not None and e is not None else None
        if e is not None and own is not None:
            e = InputError(own, file=file, path=e.path)
        if e is not None and not any((e.path, e.problem) == (o.path, o.problem) for o in errors):
            w = _walk(tuple(err.get("loc", ())), data, root)
            if w.law is not None:
                depth, tag, model = w.law
                laws[id(e)] = (w.parts[:depth], tag, model)
            errors.append(e)
    if not errors:  # cannot happen (a failed union fails in every branch), but never say nothing
        errors = [InputError(str(err.get("msg")), file=file) for err in raw]
    return InputErrors(_one_per_distribution(without_typo_echoes(errors), laws))


def _one_per_distribution(
    errors: list[InputError], laws: Mapping[int, tuple[list[str], str, Any]]
) -> list[InputError]:
    """Several problems inside one distribution (``{dist: lognormal, mean: -1}``: a bad mean and
    a missing sd) as one message at the distribution's key path, naming the settings it takes."""
    groups: dict[str, list[int]] = {}
    for i, e in enumerate(errors):
        if id(e) in laws:
            groups.setdefault(_join(laws[id(e)][0]), []).append(i)
    merged: dict[int, InputError | None] = {}
    for path, members in groups.items():
        if len(members) < 2:
            continue
        _, tag, model = laws[id(errors[members[0]])]
        items = [_law_item(errors[i], path) for i in members]
        takes = ", ".join(n for n in _field_names(model) if n != "dist") if model else ""
        problem = f"not a valid {tag} distribution: {'; '.join(items)}" + (
            f" (a {tag} takes {takes})" if takes else ""
        )
        hint = next((errors[i].suggestion for i in members if errors[i].suggestion), None)
        merged[members[0]] = InputError(problem, file=errors[0].file, path=path, suggestion=hint)
        merged.update(dict.fromkeys(members[1:]))
    out = (merged.get(i, e) for i, e in enumerate(errors))  # None: merged into another
    return [e for e in out if e is not None]


def _law_item(e: InputError, law_path: str) -> str:
    """One problem of a distribution, in words relative to it ("sd is missing")."""
    leaf = e.path[len(law_path) :].lstrip(".")
    if e.problem == "required key missing":
        return f"{leaf} is missing"
    if e.problem.startswith("unknown key"):
        return f"{leaf!r} is not one of its settings"
    return f"{leaf} {e.problem}" if leaf else e.problem


def without_typo_echoes(errors: list[InputError]) -> list[InputError]:
    """Drop the "required key missing" that a misspelt key also causes: the typo says it all."""
    typos = {
        _join([e.path.rpartition(".")[0], e.suggestion]) if "." in e.path else e.suggestion
        for e in errors
        if e.suggestion and e.problem.startswith("unknown key")
    }
    kept = [e for e in errors if not (e.problem == "required key missing" and e.path in typos)]
    return kept or errors


# --------------------------------------------------------------------------------------------
# Overrides (CLI and sweeps)


def _schema_child(tp: Any, key: str, value: Any) -> tuple[bool, Any, list[str]]:
    """Whether ``key`` may appear under a node of type ``tp`` holding ``value``.

    Returns (allowed, child type, candidate keys for 'did you mean').
    """
    core, disc = _strip(tp)
    members = _union_members(core)
    if members is not None:
        if disc is not None and isinstance(value, dict):
            tag = value.get(disc)
            members = [m for m in members if tag in _tag_of(m, disc)] or members
        fitting = [m for m in members if _fits(m, value if value is not None else {})]
        cands: list[str] = []
        for m in fitting or members:
            ok, child, more = _schema_child(m, key, value)
            if ok:
                return True, child, more
            cands += more
        return False, None, cands
    if isinstance(core, type) and issubclass(core, BaseModel):
        names = _field_names(core)
        return key in names, _field_type(core, key), names
    if get_origin(core) is dict:
        keys = [str(k) for k in value] if isinstance(value, dict) else []
        # New entries in a dict of named things (staff groups, streams) cannot be made this way.
        return key in keys, get_args(core)[1], keys
    if get_origin(core) is list and isinstance(value, list):
        ok = key.lstrip("-").isdigit() and -len(value) <= int(key) < len(value)
        return ok, get_args(core)[0], []
    return False, None, []


def normalise_path(path: object) -> str:
    """``a.b[0].c`` → ``a.b.0.c`` (error paths show list items in brackets; overrides may too)."""
    return re.sub(r"\[(-?\d+)\]", r".\1", str(path))


def apply_overrides(
    data: Mapping[str, Any], overrides: Mapping[str, object] | None, *, file: str | None = None
) -> dict[str, Any]:
    """A deep copy of ``data`` with each dotted path (``staff.edt.count``) set to its value.

    A path must name a real scenario setting (in the data, or a schema default); a typo is an
    InputError with a suggestion, so that a sweep never silently varies nothing.
    """
    out = copy.deepcopy(dict(data))
    for dotted, new in (overrides or {}).items():
        parts = normalise_path(dotted).split(".")
        if not all(parts):
            raise InputError("not a dotted key path", file=file, path=str(dotted))
        node: Any = out
        tp: Any = Scenario
        for i, key in enumerate(parts):
            ok, child_tp, candidates = _schema_child(tp, key, node)
            if not ok:
                where = f"in {'.'.join(parts[:i])}" if i else "at the top level"
                what = f"item {key}" if key.lstrip("-").isdigit() else f"key {key!r}"
                problem = f"override names no setting: no {what} {where}"
                suggestion = did_you_mean(key, candidates)
                if candidates and not suggestion:
                    problem += f" (valid here: {', '.join(dict.fromkeys(candidates))})"
                raise InputError(problem, file=file, path=str(dotted), suggestion=suggestion)
            last = i == len(parts) - 1
            index: Any = int(key) if isinstance(node, list) else key
            if last:
                node[index] = copy.deepcopy(new)
            else:
                if isinstance(node, dict) and not isinstance(node.get(key), (dict, list)):
                    if node.get(key) is not None:
                        where = ".".join(parts[: i + 1])
                        raise InputError(
                            f"override goes inside {where}, which is not a mapping",
                            file=file,
                            path=str(dotted),
                        )
                    node[key] = {}  # a section left to its defaults
                node = node[index]
            tp = child_tp
    return out


def setting_type(data: Mapping[str, Any], dotted: str) -> Any:
    """The schema type of the setting ``dotted`` names in ``data`` (``Annotated``/``Optional``
    removed; None if unknown), e.g. ``int`` for ``staff.edt.count``.

    Call it on a path :func:`apply_overrides` accepts: a sweep uses it to tell a numeric setting
    (which may take a ``{low, high}`` range) from a choice or a text.
    """
    tp: Any = Scenario
    node: Any = data
    for key in normalise_path(dotted).split("."):
        _, tp, _ = _schema_child(tp, key, node)
        if isinstance(node, dict):
            node = node.get(key)
        elif isinstance(node, list):
            node = node[int(key)]
        else:
            node = None
    return _strip(tp)[0] if tp is not None else None


def setting_words(data: Mapping[str, Any], dotted: str) -> tuple[str, str | None]:
    """The schema's words for the setting ``dotted`` names in ``data``: its field description
    (first sentence) and the names of the streams or staff groups on its path ("edt"), for a
    figure's axis instead of the dotted key; ("", None) for a path the schema does not know."""
    tp: Any = Scenario
    node: Any = data
    words, names = "", []
    for key in normalise_path(dotted).split("."):
        core, _ = _strip(tp)
        models = [core] if isinstance(core, type) and issubclass(core, BaseModel) else [
            _strip(m)[0] for m in _union_members(core) or []
        ]  # fmt: skip
        info = next(
            (f for m in models if isinstance(m, type) and issubclass(m, BaseModel)
             for n, f in m.model_fields.items() if key in (f.alias, n)),
            None,
        )  # fmt: skip
        if info is not None:
            first = re.split(r"(?<!i\.e)(?<!e\.g)\.\s+(?=[A-Z(])", info.description or "")[0]
            first = first.rstrip(".")
            # a distribution's parameter ("Average value") says what it is the mean of
            words = f"{words}: {first[:1].lower()}{first[1:]}" if len(models) > 1 else first
        elif get_origin(core) is dict:
            names.append(key)
        _, tp, _ = _schema_child(tp, key, node)
        node = _child(node, int(key) if isinstance(node, list) and key.isdigit() else key)
        if tp is None:
            return "", None
    return words, ", ".join(names) or None


COMMANDS = {"scenario": "run", "experiment": "sweep", "optimise": "optimise"}
"""The command that takes each kind of file."""


OPTIMISE_KEYS = ("decisions", "constraints", "objective")
"""Top-level keys only an optimise file has."""


def file_kind(data: Mapping[str, Any]) -> str:
    """What a file is, from its top-level keys. A study names its ``scenario:`` (a key no
    scenario has): an optimise file if it has any of :data:`OPTIMISE_KEYS`, else an experiment.
    Not by ``parameters:`` or ``decisions:`` alone: a study with that key misspelt would be
    called a scenario, sent to ``run``, and its typo never named (its own checks name it, with
    a "did you mean")."""
    if "scenario" in data and "streams" not in data:
        return "optimise" if any(k in data for k in OPTIMISE_KEYS) else "experiment"
    return "scenario"


def check_kind(data: Mapping[str, Any], wanted: str, file: str | Path) -> None:
    """A file of another kind is one clear error, not every key it has that this kind lacks
    (an optimise file given to ``sweep`` listed ten)."""
    kind = file_kind(data)
    if kind != wanted:
        a, b = ("an" if k[0] in "aeiou" else "a" for k in (kind, wanted))
        raise InputError(f"this is {a} {kind} file, not {b} {wanted} file: run it with "
                         f"`ooh-sim {COMMANDS[kind]} {file}`", file=str(file))  # fmt: skip


def load_scenario(path: str | Path, *, overrides: Mapping[str, object] | None = None) -> Scenario:
    """Read, resolve ``extends:``, apply overrides and validate one scenario file."""
    data = read_with_extends(path)
    check_kind(data, "scenario", path)
    data = apply_overrides(data, overrides, file=str(path))
    try:
        return scenario_from_dict(data, file=str(path), base_dir=Path(path).parent)
    except InputErrors as exc:
        # Say when the bad value came from an override, not from the file the message names.
        set_here = {normalise_path(k) for k in overrides or {}}
        for e in exc.errors:
            dotted = normalise_path(e.path)
            if any(dotted == k or dotted.startswith(f"{k}.") for k in set_here):
                e.problem += " (value set by override)"
        raise InputErrors(exc.errors) from None


__all__ = [
    "COMMANDS",
    "MAX_BYTES",
    "apply_overrides",
    "check_kind",
    "deep_merge",
    "file_kind",
    "load_scenario",
    "normalise_path",
    "read_with_extends",
    "read_yaml",
    "scenario_from_dict",
    "setting_type",
    "setting_words",
    "without_typo_echoes",
]
