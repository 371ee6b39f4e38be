"""JSON Schemas of scenario, variant and experiment files, and the reference made from them.

Why: planners edit scenario files by hand. An editor that knows the schema (VS Code with the YAML
extension reads the ``# yaml-language-server: $schema=…`` first line of every shipped file)
completes keys, shows each key's description and underlines a typo or a wrong type as it is typed
— before ``ooh-sim validate`` is run. The schemas are made from the pydantic models that validate
a run, so they cannot drift from them; what pydantic checks in Python code (size limits, clock
times, a few rules between keys) is added here from the same constants. Rules that compare values
(warm-up shorter than the horizon, a stream's skill held by some staff group) stay with the
loader: JSON Schema cannot express them.

Four schemas:

* ``scenario`` — a complete scenario file;
* ``variant`` — a file with ``extends:``, which may leave out anything its parent gives: every key
  optional, values still checked;
* ``experiment`` — a sweep's experiment file;
* ``optimise`` — an optimise file (decisions, constraints, objective).

``docs/scenario-reference.md`` is generated from these schemas by :func:`reference_markdown`.
``ooh-sim schema KIND`` prints a schema; ``python tools/gen_docs.py`` writes the shipped files
(``schemas/*.schema.json``, ``docs/*.md``) and ``--check`` tells whether they are up to date.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any, Literal, get_args

from pydantic import BaseModel

from ooh_sim.core import clock
from ooh_sim.core.experiment import ExperimentSpec
from ooh_sim.core.optimise_spec import OptimiseSpec
from ooh_sim.core.schema import FIRST_YEAR, LAST_YEAR, MAX_DAYS, MAX_PER_WEEK, Scenario

DIALECT = "https://json-schema.org/draft/2020-12/schema"
KINDS = ("scenario", "variant", "experiment", "optimise")
FILE_NAMES = {
    "scenario": "scenario.schema.json",
    "variant": "scenario-variant.schema.json",
    "experiment": "experiment.schema.json",
    "optimise": "optimise.schema.json",
}
"""Where each schema ships, under ``schemas/`` at the top of the repository."""
Kind = Literal["scenario", "variant", "experiment", "optimise"]

_CLOCK_EXAMPLE = ["17:00"]  # the examples schema.ClockTime carries: marks a time of day
_YEARS = (1900, 2200)  # the pattern below spells these years out
_START_PATTERN = r"^(19[0-9]{2}|2[01][0-9]{2}|2200)-[0-9]{2}-[0-9]{2}$"
_PARAMETER_PATH = r"^[A-Za-z_][A-Za-z0-9_]*((\.[A-Za-z0-9_]+)|(\[-?[0-9]+\]))*$"


# --------------------------------------------------------------------------------------------
# Building the schemas


def _models(root: type[BaseModel]) -> dict[str, type[BaseModel]]:
    """Every pydantic model reachable from ``root``, by class name (pydantic's ``$defs`` name)."""
    found: dict[str, type[BaseModel]] = {}

    def visit(tp: Any) -> None:
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if tp.__name__ in found:
                return
            found[tp.__name__] = tp
            for info in tp.model_fields.values():
                visit(info.annotation)
            return
        for arg in get_args(tp):
            visit(arg)

    visit(root)
    return found


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_none=True)
    return json.loads(json.dumps(value, default=str))


def _add_factory_defaults(schema: dict[str, Any], root: type[BaseModel]) -> None:
    """pydantic omits defaults made by ``default_factory``; editors and the reference want them."""
    models = _models(root)
    for name, node in _objects(schema):
        model = models.get(name)
        if model is None:
            continue
        for field_name, info in model.model_fields.items():
            key = info.alias or field_name
            prop = node.get("properties", {}).get(key)
            if prop is not None and info.default_factory is not None and "default" not in prop:
                prop["default"] = _plain(info.default_factory())  # type: ignore[call-arg]


def _objects(schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(model name, object schema) for the root and every ``$defs`` entry."""
    yield schema.get("title", ""), schema
    yield from schema.get("$defs", {}).items()


def _walk(node: Any, fn: Callable[[dict[str, Any]], None]) -> None:
    if isinstance(node, dict):
        fn(node)
        for v in node.values():
            _walk(v, fn)
    elif isinstance(node, list):
        for v in node:
            _walk(v, fn)


def _tidy(node: dict[str, Any]) -> None:
    """Drop pydantic's generated property titles; named entries (staff groups, streams) as
    ``propertyNames`` + ``additionalProperties`` so a badly formed name is an error too."""
    for prop in node.get("properties", {}).values():
        if isinstance(prop, dict):
            prop.pop("title", None)
    patterns = node.get("patternProperties")
    if isinstance(patterns, dict) and len(patterns) == 1:
        ((pattern, value),) = patterns.items()
        del node["patternProperties"]
        node["propertyNames"] = {**node.get("propertyNames", {}), "pattern": pattern}
        node["additionalProperties"] = value
    if node.get("examples") == _CLOCK_EXAMPLE and node.get("type") == "string":
        node["pattern"] = clock._HHMM.pattern  # what parse_hhmm accepts


def _prop(schema: dict[str, Any], model: str, key: str) -> dict[str, Any]:
    node = schema if schema.get("title") == model else schema["$defs"][model]
    prop = node["properties"][key]
    return prop


def _limits(schema: dict[str, Any]) -> None:
    """Size limits that pydantic checks in validators (same constants as the loader)."""
    if (FIRST_YEAR, LAST_YEAR) != _YEARS:
        raise AssertionError("schema.FIRST_YEAR/LAST_YEAR changed: update _START_PATTERN")
    _prop(schema, "Arrivals", "per_week")["maximum"] = MAX_PER_WEEK
    _prop(schema, "Placements", "other_demand_per_week")["maximum"] = MAX_PER_WEEK
    _prop(schema, "Horizon", "days")["maximum"] = MAX_DAYS
    _prop(schema, "Horizon", "start")["pattern"] = _START_PATTERN
    _prop(schema, "Scenario", "name")["not"] = {"pattern": r"\.\."}


def _rules_between_keys(schema: dict[str, Any]) -> None:
    """The rules between keys that JSON Schema can state (complete files only: in a variant the
    other key may come from the parent)."""
    defs = schema["$defs"]
    police_only = ("transport", "officers", "officer_release_hours", "limit_hours")
    defs["Stream"]["allOf"] = [
        {
            "if": {"properties": {"kind": {"const": "referral"}}},
            "then": {"properties": {k: {"type": "null"} for k in police_only}},
        }
    ]
    on_call = {"required": ["on_call"], "properties": {"on_call": {"const": True}}}
    callout = {"required": ["callout"], "properties": {"callout": {"type": "object"}}}
    defs["StaffGroup"]["allOf"] = [
        {"if": on_call, "then": callout},
        {"if": callout, "then": on_call},
    ]
    defs["Callout"]["anyOf"] = [
        {"required": [k], "properties": {k: {"type": t}}}
        for k, t in (("queue_length", "integer"), ("child_waiting_hours", "number"))
    ]
    defs["Empirical"]["oneOf"] = [{"required": ["values"]}, {"required": ["file"]}]


def _header(schema: dict[str, Any], title: str, description: str) -> dict[str, Any]:
    head = {"$schema": DIALECT, "title": title, "description": description}
    return {**head, **{k: v for k, v in schema.items() if k not in head}}


def _model_schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema(by_alias=True, mode="validation")
    _add_factory_defaults(schema, model)
    _walk(schema, _tidy)
    return schema


def scenario_schema() -> dict[str, Any]:
    """JSON Schema of a complete scenario file."""
    schema = _model_schema(Scenario)
    _limits(schema)
    _rules_between_keys(schema)
    return _header(
        schema,
        "ooh-sim scenario",
        "One configuration of an out-of-hours Emergency Duty Team: staff, streams of work, "
        "emergency placements, costs. Every key: docs/scenario-reference.md.",
    )


def _optional(node: dict[str, Any]) -> None:
    node.pop("required", None)
    if "oneOf" in node:  # without the 'dist' tag several laws may fit a partial mapping
        node["anyOf"] = node.pop("oneOf")
    node.pop("discriminator", None)


def variant_schema() -> dict[str, Any]:
    """JSON Schema of a variant file (``extends:`` another scenario): everything optional."""
    schema = _model_schema(Scenario)
    _limits(schema)
    _walk(schema, _optional)
    schema["properties"] = {
        "extends": {
            "type": "string",
            "minLength": 1,
            "description": "The scenario this file changes, relative to this file (e.g. "
            "baseline.yaml). Mappings merge key by key; lists and single values replace the "
            "parent's; null sets a value to empty.",
        },
        **schema["properties"],
    }
    schema["required"] = ["extends"]
    return _header(
        schema,
        "ooh-sim scenario variant",
        "A scenario that extends another: only the keys that differ from the parent. "
        "Every key: docs/scenario-reference.md.",
    )


def experiment_schema() -> dict[str, Any]:
    """JSON Schema of an experiment (sweep) file."""
    schema = _model_schema(ExperimentSpec)
    schema["properties"]["name"]["not"] = {"pattern": r"\.\."}
    params = schema["properties"]["parameters"]
    params["propertyNames"] = {"pattern": _PARAMETER_PATH}
    array_values = {"additionalProperties": {"type": "array"}}
    range_values = {"additionalProperties": {"type": "object"}}
    schema["allOf"] = [
        {
            "if": {"properties": {"design": {"const": "grid"}}},
            "then": {"properties": {"parameters": array_values, "samples": {"type": "null"}}},
            "else": {
                "required": ["samples"],
                "properties": {"parameters": range_values, "samples": {"type": "integer"}},
            },
        }
    ]
    return _header(
        schema,
        "ooh-sim experiment",
        "A sweep: one scenario, the settings to vary (dotted paths into it) and the design "
        "(grid, lhs, sobol). See experiments/README.md and docs/scenario-reference.md.",
    )


def optimise_schema() -> dict[str, Any]:
    """JSON Schema of an optimise file."""
    schema = _model_schema(OptimiseSpec)
    schema["properties"]["name"]["not"] = {"pattern": r"\.\."}
    return _header(
        schema,
        "ooh-sim optimise file",
        "The options a planner may choose from (decisions: dotted paths into the scenario), the "
        "KPI targets (constraints) and the goal (objective); `ooh-sim optimise FILE` finds the "
        "cheapest option that meets the targets with 95% confidence. See the README.",
    )


SCHEMAS: dict[str, Callable[[], dict[str, Any]]] = {
    "scenario": scenario_schema,
    "variant": variant_schema,
    "experiment": experiment_schema,
    "optimise": optimise_schema,
}


def schema_text(kind: str) -> str:
    """The schema as the JSON text that ships in ``schemas/`` (stable: a diff shows a change)."""
    return json.dumps(SCHEMAS[kind](), indent=2, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------------------------
# The scenario reference (Markdown)


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return schema["$defs"][ref.removeprefix("#/$defs/")]
    return node


def _def_name(node: dict[str, Any]) -> str | None:
    ref = node.get("$ref")
    return ref.removeprefix("#/$defs/") if isinstance(ref, str) else None


def _is_distribution(node: dict[str, Any]) -> bool:
    return "discriminator" in node


def _without_null(node: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    options = node.get("anyOf")
    if isinstance(options, list) and any(o.get("type") == "null" for o in options):
        rest = [o for o in options if o.get("type") != "null"]
        if len(rest) == 1:
            return rest[0], True
        return {**node, "anyOf": rest}, True
    return node, False


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return f"{value:g}" if abs(value) < 1e15 else str(value)
    if isinstance(value, str):
        return value if value else '""'
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_fmt(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        if len(value) > 4 and len(set(map(str, value))) == 1:
            return f"[{_fmt(value[0])} × {len(value)}]"
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return json.dumps(value)


def _type_text(schema: dict[str, Any], node: dict[str, Any]) -> str:
    """A type in planner's words, with its constraints."""
    node, nullable = _without_null(node)
    text = _type_core(schema, node)
    return f"{text}, or empty" if nullable else text


def _type_core(schema: dict[str, Any], node: dict[str, Any]) -> str:
    if _is_distribution(node):
        return "[distribution](#distributions)"
    name = _def_name(node)
    if name is not None:
        return "section (below)" if name != "Shift" else "shift"
    if "anyOf" in node:
        return " or ".join(_type_core(schema, o) for o in node["anyOf"])
    if "enum" in node:
        return "one of " + ", ".join(f"`{_fmt(v)}`" for v in node["enum"])
    if "const" in node:
        return f"`{_fmt(node['const'])}`"
    t = node.get("type")
    if t == "array":
        items = node.get("items", {})
        inner = _type_core(schema, items) if items else "values"
        n_min, n_max = node.get("minItems"), node.get("maxItems")
        if n_min is not None and n_min == n_max:
            count = f"{n_min} "
        elif n_min and n_max:
            count = f"{n_min}–{n_max} "
        elif n_max:
            count = f"up to {n_max} "
        elif n_min:
            count = f"at least {n_min} "
        else:
            count = ""
        return f"list of {count}{_plural(inner)}"
    if t == "object":
        value = node.get("additionalProperties")
        if isinstance(value, dict):
            inner = _type_core(schema, value)
            return f"names → {_plural(inner)}"
        return "mapping"
    base = {
        "number": "number",
        "integer": "whole number",
        "string": "text",
        "boolean": "true/false",
    }.get(str(t), str(t))
    if node.get("format") == "date":
        base = "date YYYY-MM-DD"
    elif node.get("format") == "path":
        base = "file path"
    elif node.get("pattern") == clock._HHMM.pattern:
        base = "time HH:MM"
    bounds = []
    if "minimum" in node:
        bounds.append(f"≥ {node['minimum']:,}")
    if "exclusiveMinimum" in node:
        bounds.append(f"> {node['exclusiveMinimum']:,}")
    if "maximum" in node:
        bounds.append(f"≤ {node['maximum']:,}")
    return f"{base} {', '.join(bounds)}" if bounds else base


def _plural(text: str) -> str:
    if text.startswith("date "):
        return "dates " + text[5:]
    for word in ("whole number", "number", "shift", "text"):
        if text.startswith(word):
            return word + "s" + text[len(word) :]
    if text.startswith("section"):
        return "sections (below)"
    return text


def md_text(text: str) -> str:
    """Text for a Markdown table cell: one line, ``|`` escaped, and ``<name>`` outside code
    spans escaped so that it is shown rather than taken for an HTML tag."""
    parts = " ".join(text.split()).replace("|", "\\|").split("`")
    return "`".join(
        p if i % 2 else p.replace("<", "&lt;").replace(">", "&gt;") for i, p in enumerate(parts)
    )


_cell = md_text


def _rows(
    schema: dict[str, Any], node: dict[str, Any], prefix: str
) -> tuple[list[str], list[tuple[str, dict[str, Any]]]]:
    """Table rows of one section, and the subsections (path, object schema) it leads to."""
    required = set(node.get("required", []))
    rows: list[str] = []
    below: list[tuple[str, dict[str, Any]]] = []
    for key, prop in node.get("properties", {}).items():
        path = f"{prefix}.{key}" if prefix else key
        core, _ = _without_null(prop)
        if key in required:
            default = "**required**"
        elif "default" in prop:
            d = prop["default"]
            if d is None:
                default = "empty"
            elif _def_name(core) is not None and not _is_distribution(core):
                default = "(see below)"
            else:
                default = f"`{_fmt(d)}`"
        else:
            default = ""
        extra = []
        if core.get("pattern") == _START_PATTERN:
            extra.append(f"a year from {FIRST_YEAR} to {LAST_YEAR}")
        elif "pattern" in core and core.get("pattern") != clock._HHMM.pattern:
            extra.append(f"pattern `{core['pattern']}`")
        if "maxLength" in core:
            extra.append(f"at most {core['maxLength']} characters")
        if core.get("minProperties"):
            extra.append(f"at least {core['minProperties']}")
        names = core.get("propertyNames", {}).get("pattern")
        if names == _PARAMETER_PATH:
            extra.append("each a dotted path into the scenario, as in the tables above")
        elif names:
            extra.append("each name a letter, then letters, digits or `_`")
        description = prop.get("description", "")
        if extra:
            description = f"{description} ({'; '.join(extra)})" if description else "; ".join(extra)
        rows.append(
            f"| `{path}` | {_cell(_type_text(schema, prop))} | {_cell(default)} "
            f"| {_cell(description)} |"
        )
        below += _subsections(schema, core, path)
    return rows, below


def _subsections(
    schema: dict[str, Any], node: dict[str, Any], path: str
) -> list[tuple[str, dict[str, Any]]]:
    if _is_distribution(node):
        return []
    name = _def_name(node)
    if name is not None:
        return [(path, _resolve(schema, node))]
    if "anyOf" in node:
        return [s for o in node["anyOf"] for s in _subsections(schema, o, path)]
    if node.get("type") == "array" and isinstance(node.get("items"), dict):
        return _subsections(schema, node["items"], f"{path}[]")
    value = node.get("additionalProperties")
    if node.get("type") == "object" and isinstance(value, dict):
        entry = {"staff": "<group>", "streams": "<stream>"}.get(path, "<name>")
        return _subsections(schema, value, f"{path}.{entry}")
    return []


def _sections(schema: dict[str, Any], node: dict[str, Any], prefix: str, level: int) -> list[str]:
    rows, below = _rows(schema, node, prefix)
    out: list[str] = []
    if prefix:
        out += [f"{'#' * level} `{prefix}`", ""]
        if node.get("description"):
            out += [node["description"], ""]
    out += ["| key | type | default | meaning |", "|---|---|---|---|", *rows, ""]
    for path, sub in below:
        out += _sections(schema, sub, path, level)
    return out


def _distributions(schema: dict[str, Any]) -> list[str]:
    out = [
        "## Distributions",
        "",
        "Durations (hours), stays (days) and other uncertain quantities are written as a "
        "mapping whose `dist` names the law, e.g. `{dist: lognormal, mean: 1.0, sd: 0.5}`. "
        "Values are never negative.",
        "",
    ]
    for node in schema["$defs"].values():
        dist = node.get("properties", {}).get("dist", {})
        if "const" not in dist:
            continue
        params = [k for k in node["properties"] if k != "dist"]
        required = set(node.get("required", []))
        out += [f"### `dist: {dist['const']}`", ""]
        if node.get("description"):
            out += [node["description"], ""]
        out += ["| key | type | meaning |", "|---|---|---|"]
        for k in params:
            prop = node["properties"][k]
            need = "" if k in required else " (optional)"
            out.append(
                f"| `{k}` | {_cell(_type_text(schema, prop))}{need} "
                f"| {_cell(prop.get('description', ''))} |"
            )
        shown = [k for k in params if k in required] or params[:1]
        example = {"dist": dist["const"], **{k: "…" for k in shown}}
        out += ["", f"Example: `{_fmt(example)}`", ""]
    return out


def reference_markdown() -> str:
    """``docs/scenario-reference.md``: every key of scenario, experiment and optimise files."""
    scenario = scenario_schema()
    experiment = experiment_schema()
    out = [
        "# Scenario, experiment and optimise file reference",
        "",
        "<!-- Generated by `python tools/gen_docs.py` from the scenario schema (the pydantic "
        "models in ooh_sim/core/schema.py); do not edit by hand. -->",
        "",
        "Every key of a scenario file, its type, default and meaning. Keys left out take the "
        "default; a key that is not listed here is an error (`ooh-sim validate` suggests the "
        "nearest name). Durations are in hours, `stay_days` in days, money in £. Paths such as "
        "`streams.<stream>.arrivals.per_week` are what `ooh-sim sweep` experiment files vary.",
        "",
        "Editors: every shipped scenario starts with a line such as "
        "`# yaml-language-server: $schema=../schemas/scenario.schema.json`; with the YAML "
        "extension of VS Code (or any editor using yaml-language-server) keys are completed and "
        "mistakes underlined as you type. `ooh-sim schema scenario|variant|experiment` prints "
        "the schemas; the files are in `schemas/`.",
        "",
        "A **variant** starts with `extends: <parent file>` and gives only what differs "
        "(`schemas/scenario-variant.schema.json`): mappings merge key by key, lists and single "
        "values replace the parent's, `null` sets a value to empty, and a variant without "
        "`name:` is named after its file.",
        "",
        "Checked when a scenario is loaded but not by the editor: the warm-up is shorter than "
        "the horizon; each stream's skill is held by some staff group; a stream's arrival "
        "profile gives weight to cover hours; cover and shift times are in order; "
        "a distribution's parameters are consistent (min ≤ mode ≤ max); data files exist; "
        "the whole replication fits in memory.",
        "",
        "## Scenario files",
        "",
    ]
    out += _sections(scenario, scenario, "", 3)
    out += _distributions(scenario)
    out += [
        "## Experiment files",
        "",
        experiment["description"],
        "",
    ]
    out += _sections(experiment, experiment, "", 3)
    out += [
        "With `design: grid` each parameter is a list of values (every combination runs); with "
        "`lhs` or `sobol` each is a range `{low, high}` and `samples` is required.",
        "",
    ]
    optimise = optimise_schema()
    out += ["## Optimise files", "", optimise["description"], ""]
    out += _sections(optimise, optimise, "", 3)
    return "\n".join(out).rstrip("\n") + "\n"


__all__ = [
    "FILE_NAMES",
    "KINDS",
    "SCHEMAS",
    "experiment_schema",
    "md_text",
    "optimise_schema",
    "reference_markdown",
    "scenario_schema",
    "schema_text",
    "variant_schema",
]
