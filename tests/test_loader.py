"""The file-format layer: good scenarios load; every bad input names file, key and likely fix."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path

import pytest

from ooh_sim.core.errors import InputError, InputErrors, did_you_mean
from ooh_sim.core.loader import (
    MAX_BYTES,
    apply_overrides,
    deep_merge,
    load_scenario,
    read_yaml,
    scenario_from_dict,
)

MINIMAL = """\
name: mini
horizon: {start: 2023-01-02, days: 28, warmup_days: 7}
staff:
  edt: {count: 1, skills: [children, adults]}
streams:
  a:
    kind: referral
    skill: children
    arrivals: {per_week: 2}
    duration: {dist: lognormal, mean: 1.0, sd: 0.5}
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def edit(old: str, new: str) -> str:
    assert old in MINIMAL, old
    return MINIMAL.replace(old, new, 1)


# --------------------------------------------------------------------------- good inputs


def test_minimal_scenario_loads(tmp_path: Path) -> None:
    sc = load_scenario(write(tmp_path, "mini.yaml", MINIMAL))
    assert sc.name == "mini"
    assert sc.horizon.days == 28
    assert sc.streams["a"].duration.mean == pytest.approx(1.0)


def test_unquoted_clock_time_stays_a_time(tmp_path: Path) -> None:
    # YAML 1.1 would read 18:00 as the base-60 integer 1080.
    text = MINIMAL.replace(
        "{count: 1, skills: [children, adults]}",
        "{count: 1, skills: [children, adults], roster: [{days: [fri], start: 18:00, end: 02:00}]}",
    )
    sc = load_scenario(write(tmp_path, "s.yaml", text))
    shift = sc.staff["edt"].roster[0]
    assert (shift.start, shift.end) == ("18:00", "02:00")


def test_extends_deep_merges_child_over_parent(tmp_path: Path) -> None:
    write(tmp_path, "base.yaml", MINIMAL)
    child = write(
        tmp_path,
        "child.yaml",
        "extends: base.yaml\nname: child\nstreams: {a: {arrivals: {per_week: 5}}}\n"
        "horizon: {days: 56}\n",
    )
    sc = load_scenario(child)
    assert sc.name == "child"
    assert sc.streams["a"].arrivals.per_week == 5  # overridden nested key
    assert sc.streams["a"].skill == "children"  # siblings kept
    assert sc.streams["a"].duration.mean == pytest.approx(1.0)
    assert (sc.horizon.days, sc.horizon.warmup_days) == (56, 7)


def test_extends_chain_and_parent_in_other_folder(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    write(tmp_path / "lib", "values.csv", "hours\n1\n2\n3\n")
    write(
        tmp_path / "lib",
        "base.yaml",
        MINIMAL.replace(
            "{dist: lognormal, mean: 1.0, sd: 0.5}", "{dist: empirical, file: values.csv}"
        ),
    )
    write(tmp_path / "lib", "mid.yaml", "extends: base.yaml\nreplications: 3\n")
    sc = load_scenario(write(tmp_path, "top.yaml", "extends: lib/mid.yaml\nseed: 9\n"))
    assert (sc.replications, sc.seed) == (3, 9)
    assert sc.streams["a"].duration.mean == pytest.approx(2.0)  # file found beside the parent


def test_deep_merge_replaces_lists_and_sets_null() -> None:
    parent = {"a": {"x": [1, 2], "y": 1}, "b": 2}
    merged = deep_merge(parent, {"a": {"x": [3]}, "b": None})
    assert merged == {"a": {"x": [3], "y": 1}, "b": None}
    assert parent == {"a": {"x": [1, 2], "y": 1}, "b": 2}


def test_overrides_set_values_and_fill_default_sections(tmp_path: Path) -> None:
    path = write(tmp_path, "s.yaml", MINIMAL)
    sc = load_scenario(
        path,
        overrides={
            "staff.edt.count": 2,
            "placements.capacity": 3,
            "streams.a.duration.sd": 0.25,
        },
    )
    assert sc.staff["edt"].count == 2
    assert sc.placements.capacity == 3
    assert sc.streams["a"].duration.sd == 0.25
    data = read_yaml(path)
    assert apply_overrides(data, {"staff.edt.count": 5}) is not data
    assert data["staff"]["edt"]["count"] == 1  # pure


def test_override_error_says_value_came_from_override(tmp_path: Path) -> None:
    path = write(tmp_path, "s.yaml", MINIMAL)
    with pytest.raises(InputError, match=r"horizon\.days: .*set by override"):
        load_scenario(path, overrides={"horizon.days": -1})


def test_did_you_mean() -> None:
    assert did_you_mean("strems", ["streams", "staff"]) == "streams"
    assert did_you_mean("Streams", ["streams"]) == "streams"
    assert did_you_mean("zzz", ["streams"]) is None


def test_errors_pickle_and_render_many() -> None:
    one = InputError("bad", file="f.yaml", path="a.b", suggestion="c")
    assert str(one) == "f.yaml: a.b: bad — did you mean 'c'?"
    assert str(pickle.loads(pickle.dumps(one))) == str(one)
    many = InputErrors([InputError(f"p{i}", file="f.yaml", path=f"k{i}") for i in range(25)])
    text = str(pickle.loads(pickle.dumps(many)))
    assert text.count("\n") == 20 and text.endswith("… and 5 more problems")


def test_several_problems_reported_at_once(tmp_path: Path) -> None:
    text = edit("days: 28", "days: abc") + "replications: 0\n"
    with pytest.raises(InputErrors) as info:
        load_scenario(write(tmp_path, "s.yaml", text))
    paths = [e.path for e in info.value.errors]
    assert paths == ["horizon.days", "replications"]


# --------------------------------------------------------------------------- bad inputs

Setup = Callable[[Path], tuple[Path, dict[str, object] | None]]


def scenario(text: str, overrides: dict[str, object] | None = None) -> Setup:
    return lambda d: (write(d, "s.yaml", text), overrides)


def raw(data: bytes) -> Setup:
    def make(d: Path) -> tuple[Path, None]:
        (d / "s.yaml").write_bytes(data)
        return d / "s.yaml", None

    return make


def extends_cycle(d: Path) -> tuple[Path, None]:
    write(d, "b.yaml", "extends: s.yaml\n")
    return write(d, "s.yaml", "extends: b.yaml\n" + MINIMAL), None


def directory(d: Path) -> tuple[Path, None]:
    (d / "s.yaml").mkdir()
    return d / "s.yaml", None


# (id, setup, key path expected in the message or '', fragments, suggestion or None)
BAD: list[tuple[str, Setup, str, list[str], str | None]] = [
    ("unknown top key", scenario(MINIMAL.replace("streams:", "strems:")), "strems", [], "streams"),
    (
        "unknown nested key",
        scenario(edit("    duration:", "    durration:")),
        "streams.a.durration",
        ["unknown key"],
        "duration",
    ),
    ("wrong type", scenario(edit("days: 28", "days: abc")), "horizon.days", ["'abc'"], None),
    (
        "negative rate",
        scenario(edit("per_week: 2", "per_week: -1")),
        "streams.a.arrivals.per_week",
        ["greater than or equal to 0", "-1"],
        None,
    ),
    (
        "nan rate",
        scenario(edit("per_week: 2", "per_week: .nan")),
        "streams.a.arrivals.per_week",
        ["finite"],
        None,
    ),
    (
        "lognormal mean 0",
        scenario(edit("mean: 1.0", "mean: 0")),
        "streams.a.duration.mean",
        ["greater than 0"],
        None,
    ),
    (
        "unknown dist",
        scenario(edit("dist: lognormal", "dist: lognorml")),
        "streams.a.duration.dist",
        ["unknown distribution"],
        "lognormal",
    ),
    (
        "missing dist parameter",
        scenario(edit(", sd: 0.5", "")),
        "streams.a.duration.sd",
        ["required"],
        None,
    ),
    (
        "empty shift",
        scenario(
            edit(
                "skills: [children, adults]}",
                "skills: [children, adults], "
                "roster: [{days: [mon], start: '20:00', end: '20:00'}]}",
            )
        ),
        "staff.edt.roster[0]",
        ["cannot be empty"],
        None,
    ),
    (
        "warmup too long",
        scenario(edit("warmup_days: 7", "warmup_days: 28")),
        "horizon",
        ["warmup_days"],
        None,
    ),
    ("zero days", scenario(edit("days: 28, warmup_days: 7", "days: 0")), "horizon.days", [], None),
    (
        "unknown skill",
        scenario(edit("skill: children", "skill: chidren")),
        "streams.a.skill",
        ["no staff group"],
        "children",
    ),
    (
        "bad clock time",
        scenario(
            edit(
                "skills: [children, adults]}",
                "skills: [children, adults], "
                "roster: [{days: [mon], start: '25:00', end: '02:00'}]}",
            )
        ),
        "staff.edt.roster[0].start",
        ["25:00"],
        None,
    ),
    (
        "bad literal",
        scenario(MINIMAL + "policy: {dispatch: prority}\n"),
        "policy.dispatch",
        [],
        "priority",
    ),
    ("extends cycle", extends_cycle, "extends", ["cycle", "b.yaml"], None),
    (
        "extends missing parent",
        scenario("extends: nothere.yaml\n"),
        "extends",
        ["nothere.yaml", "not found"],
        None,
    ),
    ("malformed yaml", scenario("name: x\nstaff: [a, b\n"), "", ["malformed YAML", "line"], None),
    (
        "python tag",
        scenario('name: !!python/object/apply:os.system ["echo hi"]\n'),
        "",
        ["not allowed", "line 1"],
        None,
    ),
    (
        "duplicate key",
        scenario(MINIMAL + "name: again\n"),
        "",
        ["'name' appears twice", "line 11"],
        None,
    ),
    ("non-utf8", raw(b"name: caf\xe9\n"), "", ["UTF-8", "line 1"], None),
    ("missing file", lambda d: (d / "s.yaml", None), "", ["not found"], None),
    ("directory", directory, "", ["directory"], None),
    ("empty file", scenario(""), "", ["empty"], None),
    ("top-level list", scenario("- a\n- b\n"), "", ["mapping", "list"], None),
    ("too large", raw(b"#" * (MAX_BYTES + 1)), "", ["too large"], None),
    ("path-like name", scenario(edit("name: mini", "name: ../../x")), "name", ["../../x"], None),
    (
        "bad override path",
        scenario(MINIMAL, {"staff.edt.cout": 2}),
        "staff.edt.cout",
        ["override"],
        "count",
    ),
    (
        "override of unknown group",
        scenario(MINIMAL, {"staff.ed.count": 2}),
        "staff.ed.count",
        ["override"],
        "edt",
    ),
]


@pytest.mark.parametrize(
    ("setup", "path", "fragments", "suggestion"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD],
)
def test_bad_input_is_reported_with_file_path_and_hint(
    tmp_path: Path,
    setup: Setup,
    path: str,
    fragments: list[str],
    suggestion: str | None,
) -> None:
    file, overrides = setup(tmp_path)
    with pytest.raises(InputError) as info:
        load_scenario(file, overrides=overrides)
    err = info.value
    text = str(err)
    assert "s.yaml" in text
    if path:
        assert f": {path}: " in text
        assert path in {e.path for e in getattr(err, "errors", [err])}
    for fragment in fragments:
        assert fragment in text
    if suggestion:
        assert f"did you mean {suggestion!r}" in text
    assert "http" not in text  # no pydantic URLs


def test_scenario_from_dict_without_file() -> None:
    with pytest.raises(InputError, match=r"^strems: unknown key"):
        scenario_from_dict({"name": "x", "strems": {}, "staff": {"edt": {"skills": ["a"]}}})
    with pytest.raises(InputError, match="mapping"):
        scenario_from_dict([1, 2])
