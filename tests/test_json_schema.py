"""The JSON Schemas and the generated docs: every shipped file passes, bad inputs fail, and the
files in the repository are what the code makes now.

An editor sees a file through YAML 1.2 (``1.0e12`` is a number there, and ``17:00`` text), so the
bad-input cases are read that way here; shipped files are read both that way and with the
loader's own reader.
"""

from __future__ import annotations

import importlib.util
import io
import json
import re
import sys
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from ooh_sim import cli
from ooh_sim.core import json_schema, loader
from ooh_sim.core.errors import InputError
from ooh_sim.core.loader import load_scenario, read_yaml
from ooh_sim.io.provenance import parse_comments, resolved_yaml, scenario_notes

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
from bad_inputs.cases import CASES, EXPERIMENT_CASES, Case  # noqa: E402

_spec = importlib.util.spec_from_file_location("gen_docs", ROOT / "tools" / "gen_docs.py")
assert _spec is not None and _spec.loader is not None
gen_docs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen_docs)

Validator = jsonschema.Draft202012Validator
SHIPPED = sorted([*ROOT.glob("scenarios/*.yaml"), *ROOT.glob("experiments/*.yaml")])
MODELINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$")


class _EditorLoader(loader._SafeLoader):
    """The loader's safe reader plus YAML 1.2 floats without a signed exponent (``1.0e12``)."""


_EditorLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


def as_editor_sees(path: Path) -> Any:
    return _json(yaml.load(path.read_text(encoding="utf-8"), Loader=_EditorLoader))


def _json(data: Any) -> Any:
    """YAML data as JSON data: dates become ISO text, as an editor validates them."""
    return json.loads(json.dumps(data, default=str))


def validator(kind: str) -> jsonschema.protocols.Validator:
    schema = json.loads((ROOT / "schemas" / json_schema.FILE_NAMES[kind]).read_text("utf-8"))
    Validator.check_schema(schema)
    return Validator(schema, format_checker=Validator.FORMAT_CHECKER)


def _kind_of(data: dict[str, Any]) -> str:
    if "decisions" in data:
        return "optimise"
    if "parameters" in data:
        return "experiment"
    return "variant" if "extends" in data else "scenario"


# --------------------------------------------------------------------------------------------
# shipped files


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_shipped_file_names_its_schema_and_passes_it(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    m = MODELINE.match(first)
    assert m, f"{path.name}: first line must be '# yaml-language-server: $schema=…', got {first!r}"
    data = read_yaml(path)
    kind = _kind_of(data)
    assert m.group(1) == f"../schemas/{json_schema.FILE_NAMES[kind]}", (path.name, kind)
    v = validator(kind)
    for seen in (_json(data), as_editor_sees(path)):
        errors = [
            f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in v.iter_errors(seen)
        ]
        assert not errors, errors


def test_the_shipped_files_are_all_there() -> None:
    names = {p.name for p in SHIPPED}
    assert {"baseline.yaml", "combined.yaml", "staffing_placements.yaml"} <= names
    kinds = {_kind_of(read_yaml(p)) for p in SHIPPED}
    assert {"scenario", "variant", "experiment"} <= kinds


@pytest.mark.parametrize("name", ["baseline.yaml", "combined.yaml"])
def test_a_resolved_scenario_passes_the_complete_schema(name: str) -> None:
    """The scenario.yaml a run writes is a complete scenario (extends: merged, defaults in)."""
    text = resolved_yaml(load_scenario(ROOT / "scenarios" / name))
    errors = list(validator("scenario").iter_errors(_json(yaml.safe_load(text))))
    assert not errors, [e.message for e in errors]


def test_the_editor_line_is_not_taken_for_a_note() -> None:
    """The first line is for editors: not the file header, not a note on `extends` in the
    resolved scenario.yaml or the report's assumptions."""
    for path in SHIPPED:
        notes = parse_comments(path.read_text(encoding="utf-8"))
        text = " ".join([*notes.header, *(c for _, c in notes.commented())])
        assert "yaml-language-server" not in text, path.name
    variant = ROOT / "scenarios" / "combined.yaml"
    notes = scenario_notes(variant)
    assert notes.header and all("yaml-language-server" not in h for h in notes.header)
    text = resolved_yaml(load_scenario(variant), notes)
    assert "yaml-language-server" not in text


# --------------------------------------------------------------------------------------------
# bad inputs: the cases of tests/bad_inputs/cases.py that a JSON Schema can state

SCHEMA_CASES = {
    # every misspelt key, at every level, and a misspelt choice
    "typo_top_level", "typo_horizon", "typo_calendar", "typo_staff_group", "typo_shift",
    "typo_callout", "typo_stream", "typo_arrivals", "typo_profile", "typo_distribution_parameter",
    "typo_placements", "typo_out_of_area", "typo_day_team", "typo_policy", "typo_costs",
    "typo_report", "typo_in_a_choice", "typo_weekday", "typo_roster_word",
    # wrong types
    "type_count_is_text", "type_skills_not_a_list", "type_arrivals_not_a_mapping",
    "type_staff_is_a_list", "type_bad_date", "type_bool_is_text", "type_capacity_fraction",
    # out-of-range values and size limits
    "rate_negative", "rate_infinite", "rate_huge", "rate_other_demand_huge",
    "duration_mean_zero", "priority_out_of_range", "staff_count_huge", "threshold_negative",
    "horizon_zero", "horizon_huge", "horizon_year_9999",
    # structure: required keys, distributions, the rules between keys a schema can state
    "streams_empty", "shift_bad_time", "callout_without_trigger", "on_call_without_callout",
    "transport_on_a_referral", "distribution_unknown", "distribution_parameter_missing",
    "distribution_name_missing",
    # names that would escape results/
    "name_escapes_results", "name_absolute_path", "name_with_slash",
}  # fmt: skip
EXPERIMENT_SCHEMA_CASES = {
    "experiment_lhs_with_a_list", "experiment_empty_grid", "experiment_design_typo",
    "experiment_name_escapes",
}  # fmt: skip
"""Left to the loader: YAML syntax and safety, files and ``extends:`` chains, values that must
be compared with each other (warm-up and horizon, min ≤ mode ≤ max, a skill some group has,
profile weight inside cover, shift start ≠ end, the total size), data-file contents, NaN (JSON
has no NaN), and experiment paths and outputs (they depend on the scenario)."""


def _paths(errors: list[jsonschema.ValidationError]) -> set[str]:
    out: set[str] = set()
    for e in errors:
        text = ""
        for p in e.absolute_path:
            text += f"[{p}]" if isinstance(p, int) else (f".{p}" if text else str(p))
        out.add(text)
        out |= _paths(list(e.context or []))
    return out


def _rejected_where_expected(case: Case, kind: str, tmp_path: Path) -> None:
    path = case.make(tmp_path)
    errors = list(validator(kind).iter_errors(as_editor_sees(path)))
    assert errors, f"{case.id}: the {kind} schema accepts it"
    where = case.expect[0]
    near = [  # the error is at the key, at the mapping holding it, or inside it
        p
        for p in _paths(errors)
        if where == p or where.startswith((f"{p}.", f"{p}[")) or p.startswith(f"{where}.")
    ]
    top_level = not p_has_parent(where) and "" in _paths(errors)
    assert near or top_level, (case.id, where, sorted(_paths(errors)))


def p_has_parent(path: str) -> bool:
    return "." in path or "[" in path


@pytest.mark.parametrize("case", [c for c in CASES if c.id in SCHEMA_CASES], ids=lambda c: c.id)
def test_the_scenario_schema_rejects_a_bad_input(case: Case, tmp_path: Path) -> None:
    _rejected_where_expected(case, "scenario", tmp_path)


@pytest.mark.parametrize(
    "case", [c for c in EXPERIMENT_CASES if c.id in EXPERIMENT_SCHEMA_CASES], ids=lambda c: c.id
)
def test_the_experiment_schema_rejects_a_bad_input(case: Case, tmp_path: Path) -> None:
    _rejected_where_expected(case, "experiment", tmp_path)


def test_how_many_bad_inputs_the_schemas_reject() -> None:
    """48 of the scenario corpus and 4 of the experiment corpus; the rest are the loader's."""
    ids = {c.id for c in CASES}
    assert ids >= SCHEMA_CASES, SCHEMA_CASES - ids
    assert {c.id for c in EXPERIMENT_CASES} >= EXPERIMENT_SCHEMA_CASES
    assert (len(SCHEMA_CASES), len(EXPERIMENT_SCHEMA_CASES)) == (48, 4)


def test_the_base_of_the_corpus_passes(tmp_path: Path) -> None:
    path = tmp_path / "valid.yaml"
    path.write_text((ROOT / "tests" / "bad_inputs" / "valid.yaml").read_text("utf-8"), "utf-8")
    assert not list(validator("scenario").iter_errors(as_editor_sees(path)))


# --------------------------------------------------------------------------------------------
# variants and experiments


def test_a_variant_may_leave_out_anything_but_not_misspell(tmp_path: Path) -> None:
    v = validator("variant")
    ok = {"extends": "baseline.yaml", "staff": {"edt": {"count": 2}},
          "streams": {"amhp": {"duration": {"mean": 5}}}, "costs": None}  # fmt: skip
    assert not list(v.iter_errors(ok))
    for bad in (
        {"extends": "baseline.yaml", "staff": {"edt": {"cuont": 2}}},
        {"extends": "baseline.yaml", "placements": {"capacity": -1}},
        {"staff": {"edt": {"count": 2}}},  # a variant names its parent
    ):
        assert list(v.iter_errors(bad)), bad
    assert list(validator("scenario").iter_errors({"extends": "baseline.yaml", "name": "x"}))


def test_an_experiment_design_needs_the_right_parameter_shape() -> None:
    v = validator("experiment")
    grid = {"name": "e", "scenario": "s.yaml", "parameters": {"staff.edt.count": [1, 2]}}
    lhs = {"name": "e", "scenario": "s.yaml", "design": "lhs", "samples": 8,
           "parameters": {"staff.edt.count": {"low": 1, "high": 3}}}  # fmt: skip
    assert not list(v.iter_errors(grid)) and not list(v.iter_errors(lhs))
    assert list(v.iter_errors({**grid, "samples": 8}))
    assert list(v.iter_errors({**lhs, "samples": None}))
    assert list(v.iter_errors({**grid, "parameters": {"staff edt": [1]}}))


# --------------------------------------------------------------------------------------------
# generated files and the command


@pytest.mark.parametrize("rel", sorted(gen_docs.generated()))
def test_generated_file_is_up_to_date(rel: str) -> None:
    path = ROOT / rel
    assert path.is_file(), f"{rel} missing: run python tools/gen_docs.py"
    assert path.read_text(encoding="utf-8") == gen_docs.generated()[rel](), (
        f"{rel} is out of date: run python tools/gen_docs.py"
    )


def _properties(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for name, node in [("(root)", schema), *schema.get("$defs", {}).items()]:
        for key, prop in node.get("properties", {}).items():
            out.append((name, key, prop))
    return out


@pytest.mark.parametrize("kind", ["scenario", "experiment", "optimise"])
def test_every_key_has_a_description(kind: str) -> None:
    """The reference and the editor's hover text say what each key means."""
    missing = [f"{m}.{k}" for m, k, p in _properties(json_schema.SCHEMAS[kind]())
               if k != "dist" and not p.get("description")]  # fmt: skip
    assert not missing, f"add description= to these fields: {missing}"


def test_the_reference_lists_every_key_path() -> None:
    text = (ROOT / "docs" / "scenario-reference.md").read_text(encoding="utf-8")
    for path in ("horizon.warmup_days", "staff.<group>.roster[].start", "placements.stay_days",
                 "streams.<stream>.arrivals.profile.by_hour", "costs.placement_night",
                 "staff.<group>.callout.child_waiting_hours"):  # fmt: skip
        assert f"| `{path}` |" in text, path
    for dist in (
        "exponential",
        "lognormal",
        "gamma",
        "triangular",
        "uniform",
        "fixed",
        "empirical",
    ):
        assert f"### `dist: {dist}`" in text


@pytest.mark.parametrize("kind", json_schema.KINDS)
def test_ooh_sim_schema_prints_the_shipped_schema(kind: str) -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        assert cli.main(["schema", kind]) == 0
    shipped = (ROOT / "schemas" / json_schema.FILE_NAMES[kind]).read_text(encoding="utf-8")
    assert out.getvalue() == shipped
    assert json.loads(out.getvalue())["$schema"] == json_schema.DIALECT


def test_repository_text_never_points_outside_it() -> None:
    """Users have only the repository: no pointer to a design or domain file outside it."""
    bad = re.compile(r"\.\./shared|shared/DESIGN|shared/DOMAIN|DESIGN\.md|DOMAIN\.md")
    files = [*ROOT.glob("docs/*.md"), *ROOT.glob("schemas/*.json"), *SHIPPED,
             *ROOT.glob("*/README.md"), ROOT / "README.md", ROOT / "CITATION.cff",
             *ROOT.glob("ooh_sim/**/*.py")]  # fmt: skip  (code: report and error texts)
    hits = [str(f.relative_to(ROOT)) for f in files if f.is_file() and bad.search(f.read_text())]
    assert not hits, hits


def test_input_error_is_what_the_loader_raises_for_a_case_the_schema_leaves_out(
    tmp_path: Path,
) -> None:
    """A rule between values (warm-up vs horizon) passes the schema; the loader refuses it."""
    case = next(c for c in CASES if c.id == "warmup_not_shorter")
    path = case.make(tmp_path)
    assert not list(validator("scenario").iter_errors(as_editor_sees(path)))
    with pytest.raises(InputError):
        load_scenario(path)


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib is in Python 3.11 and later")
def test_licence_and_citation_agree_with_the_package() -> None:
    import tomllib  # not an extra to install (conftest.need): a Python version's module
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text("utf-8"))
    assert project["license"] == cff["license"] == "MIT"
    assert str(cff["version"]) == project["version"] and cff["cff-version"] == "1.2.0"
    assert cff["authors"] == [{"name": "ooh-sim contributors"}] and "doi" not in cff
    assert (ROOT / "LICENSE").read_text("utf-8").startswith("MIT License")
