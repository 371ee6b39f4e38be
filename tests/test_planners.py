"""Issue 14: meet planners where they work — tables (2), figures from Python (3), --set (5),
a library that never prints (6), results a board relies on are kept (8), presentation (9)."""

from __future__ import annotations

import ast
import csv
import inspect
import json
import warnings
from pathlib import Path

import pytest
from conftest import need

from ooh_sim.cli import build_parser, main
from ooh_sim.core.compare import compare
from ooh_sim.core.errors import ScenarioWarning
from ooh_sim.core.loader import load_scenario
from ooh_sim.core.runner import run
from ooh_sim.core.tables import SUMMARY_COLUMNS

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
OPTION = ROOT / "scenarios" / "more_placements.yaml"
SHORT = {"horizon.days": 42, "horizon.warmup_days": 7}
SHORT_SET = ["--set", "horizon.days=42", "--set", "horizon.warmup_days=7"]


@pytest.fixture(scope="module")
def result():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScenarioWarning)
        return run(load_scenario(BASELINE, overrides=SHORT), replications=3, jobs=1)


@pytest.fixture(scope="module")
def comparison():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScenarioWarning)
        scenarios = [load_scenario(f, overrides=SHORT) for f in (BASELINE, OPTION)]
        return compare(scenarios, replications=3, jobs=1)


# ------------------------------------------------------------------ 2. tables


def test_run_folder_has_summary_csv_with_words_and_units(tmp_path: Path) -> None:
    out = tmp_path / "run"
    code = main(["run", str(BASELINE), "-n", "3", "-j", "1", "--out", str(out), "-q",
                 "--no-figures", "--no-jobs-file", *SHORT_SET])  # fmt: skip
    assert code == 0
    rows = list(csv.DictReader((out / "summary.csv").open(encoding="utf-8")))
    assert list(rows[0]) == [c.name for c in SUMMARY_COLUMNS]
    assert list(rows[0])[:8] == ["kpi", "label", "unit", "mean", "ci95_low", "ci95_high", "sd", "n"]
    by = {r["kpi"]: r for r in rows}
    summary = json.loads((out / "summary.json").read_text())
    assert list(by) == list(summary["kpis"])  # every KPI, in summary.json's order
    st = by["station.hours.mean"]
    assert st["label"] == "Average time a child waits in a police station"
    assert st["unit"] == "hours" and st["n"] == "3"
    assert float(st["mean"]) == summary["kpis"]["station.hours.mean"]["mean"]


def test_compare_and_sweep_write_long_csv(tmp_path: Path, comparison) -> None:
    from ooh_sim.io.formats import comparison_csv

    rows = list(csv.DictReader(comparison_csv(comparison).splitlines()))
    assert {"kpi", "scenario", "label", "unit", "mean", "diff_mean"} <= set(rows[0])
    keys = [(r["scenario"], r["kpi"]) for r in rows]
    assert len(keys) == len(set(keys))  # one row per option × KPI
    assert {r["scenario"] for r in rows} == {"baseline", "more_placements"}

    from test_sweep import setup  # the sweep tests' tiny grid experiment

    from ooh_sim.core.experiment import load_experiment
    from ooh_sim.report.folders import run_sweep

    exp = load_experiment(setup(tmp_path, reps=2))
    res = run_sweep(exp, tmp_path / "sweep", jobs=1, figures=False, xlsx=True)
    long = list(csv.DictReader((tmp_path / "sweep" / "sweep_long.csv").open(encoding="utf-8")))
    assert len(long) == len(exp.points) * len(exp.outputs)  # one row per point × KPI
    params = [q.path for q in exp.parameters]
    assert list(long[0]) == ["point", *params, "replications", *(c.name for c in SUMMARY_COLUMNS)]
    assert long[0]["label"] and long[0]["unit"] is not None
    assert (tmp_path / "sweep" / "results.xlsx") in res.files


def test_to_frame(result, comparison) -> None:
    pd = need("pandas")
    f = result.to_frame()
    assert isinstance(f, pd.DataFrame)
    assert list(f.columns) == [c.name for c in SUMMARY_COLUMNS]
    assert len(f) == len(result.summary)
    row = f.set_index("kpi").loc["station.hours.mean"]
    assert row["mean"] == result.summary["station.hours.mean"].mean
    g = comparison.to_frame()
    assert {"kpi", "label", "unit", "scenario", "mean", "diff_mean", "significant"} <= set(g)
    assert len(g) == len(comparison.rows())


def test_to_frame_without_pandas_says_how_to_install(result, monkeypatch) -> None:
    import builtins

    real = builtins.__import__

    def no_pandas(name, *args, **kwargs):
        if name == "pandas":
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pandas)
    from ooh_sim.core.errors import InputError

    with pytest.raises(InputError, match="pip install pandas"):
        result.to_frame()


def test_short_repr_and_html(result, comparison) -> None:
    text = repr(result)
    assert len(text) < 2000 and len(text.splitlines()) <= 20
    assert "Average time a child waits in a police station" in text
    assert all(len(line) <= 100 for line in text.splitlines())
    html = result._repr_html_()
    assert html.startswith("<div>") and "<table>" in html and "95% CI" in html
    ctext = repr(comparison)
    assert len(ctext) < 4000 and "more_placements" in ctext and "Δ" in ctext
    assert "<table>" in comparison._repr_html_()


def test_xlsx_one_sheet_per_table(tmp_path: Path) -> None:
    openpyxl = need("openpyxl")
    out = tmp_path / "cmp"
    code = main(["compare", str(BASELINE), str(OPTION), "-n", "2", "-j", "1", "--out", str(out),
                 "-q", "--no-figures", "--xlsx", *SHORT_SET])  # fmt: skip
    assert code == 0
    wb = openpyxl.load_workbook(out / "results.xlsx", read_only=True)
    assert wb.sheetnames == ["comparison", "baseline", "more_placements"]
    head = [c.value for c in next(wb["baseline"].iter_rows(max_row=1))]
    assert head == [c.name for c in SUMMARY_COLUMNS]
    values = [r for r in wb["comparison"].iter_rows(min_row=2, values_only=True)]
    assert isinstance(values[0][2], float)  # numbers stay numbers


def test_xlsx_without_openpyxl_exits_2_before_running(tmp_path, monkeypatch, capsys) -> None:
    from ooh_sim.io import formats

    def missing():
        raise formats.InputError(formats.XLSX_MISSING, path="--xlsx")

    monkeypatch.setattr(formats, "openpyxl_workbook", missing)
    code = main(["run", str(BASELINE), "-n", "2", "-j", "1", "--out", str(tmp_path / "r"), "-q",
                 "--no-figures", "--xlsx", *SHORT_SET])  # fmt: skip
    assert code == 2
    assert "ooh-sim[xlsx]" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


# ------------------------------------------------------------------ 3. figures from Python


def _plotting_functions():
    from ooh_sim.viz import (
        compare_figures,
        optimise_figures,
        run_figures,
        sweep_figures,
        timeline_figures,
    )

    for mod in (run_figures, compare_figures, sweep_figures, timeline_figures, optimise_figures):
        for name, fn in inspect.getmembers(mod, inspect.isfunction):
            if fn.__module__ == mod.__name__ and not name.startswith("_"):
                ret = inspect.signature(fn).return_annotation
                if "Figure" in str(ret) and not str(ret).startswith("list"):  # not the plans
                    yield f"{mod.__name__}.{name}", fn


def test_every_plotting_function_accepts_ax() -> None:
    found = dict(_plotting_functions())
    assert len(found) >= 10
    missing = [n for n, fn in found.items() if "ax" not in inspect.signature(fn).parameters]
    assert not missing, f"no ax= parameter: {missing}"


def test_figures_drawn_into_given_axes(tmp_path: Path, result, comparison) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    from ooh_sim.viz import compare_figures as cf
    from ooh_sim.viz import run_figures as rf
    from ooh_sim.viz import sweep_figures as sf
    from ooh_sim.viz import timeline_figures as tf

    calls = [
        lambda ax: rf.hour_of_week(result, ax=ax),
        lambda ax: rf.station_hours(result, ax=ax),
        lambda ax: rf.station_by_hour(result, ax=ax),
        lambda ax: tf.worst_night_figure(result, ax=ax),
        lambda ax: cf.station_ecdf(comparison, ax=ax),
        lambda ax: cf.kpi_bars(comparison, ax=ax),
        lambda ax: cf.station_by_hour(comparison, ax=ax),
        lambda ax: cf.option_night(comparison, 1, ax=ax),
    ]
    from test_sweep import setup

    from ooh_sim.core.experiment import load_experiment
    from ooh_sim.report.folders import run_sweep

    exp = load_experiment(setup(tmp_path, reps=2))
    t = run_sweep(exp, tmp_path / "sweep", jobs=1, figures=False).table
    calls += [
        lambda ax: sf.output_figure(exp, t, "station.hours.mean", ax=ax),
        lambda ax: sf.heatmap(exp, t, "station.hours.mean", ax=ax),
        lambda ax: sf.sensitivity_figure(
            exp, [{"output": "x", "parameter": "p", "src": 0.5, "rank": 1, "r2": 0.9}], ax=ax
        ),
    ]
    for i, call in enumerate(calls):
        fig, ax = plt.subplots(1, 2, figsize=(12, 4))
        got = call(ax[1])
        assert isinstance(got, Figure), i
        assert got is fig, i  # drawn on the caller's figure, returned
        plt.close(fig)


# ------------------------------------------------------------------ 5. --set


def test_set_changes_the_run_and_is_recorded(tmp_path: Path) -> None:
    out = tmp_path / "r"
    code = main(["run", str(BASELINE), "-n", "2", "-j", "1", "--out", str(out), "-q",
                 "--no-figures", "--no-jobs-file", "--set", "staff.edt.count=2",
                 "--set", "name=two_workers", *SHORT_SET])  # fmt: skip
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["overrides"]["staff.edt.count"] == 2  # typed: a number
    assert summary["overrides"]["name"] == "two_workers"
    assert summary["scenario"] == "two_workers"
    import yaml

    resolved = yaml.safe_load((out / "scenario.yaml").read_text())
    assert resolved["staff"]["edt"]["count"] == 2


def test_set_takes_a_list_for_a_list_setting(tmp_path: Path) -> None:
    """A list setting takes a YAML list (it was refused as "must be a valid list"); a map is
    still not one setting."""
    out = tmp_path / "r"
    assert main(["run", str(BASELINE), "-n", "2", "-j", "1", "--out", str(out), "-q",
                 "--no-figures", "--no-jobs-file", "--set", "report.thresholds_hours=[3, 6]",
                 *SHORT_SET]) == 0  # fmt: skip
    summary = json.loads((out / "summary.json").read_text())
    assert summary["overrides"]["report.thresholds_hours"] == [3, 6]
    assert [k for k in summary["kpis"] if k.startswith("station.share_over_")] == [
        "station.share_over_3h", "station.share_over_6h"]  # fmt: skip
    assert main(["run", str(BASELINE), "-n", "2", "--out", str(tmp_path / "m"), "-q",
                 "--set", "staff.edt={count: 2}"]) == 2  # fmt: skip


@pytest.mark.parametrize(
    ("setting", "says"),
    [
        ("staff.edt.cout=2", "did you mean 'count'"),
        ("staff.edt.count=two", "staff.edt.count"),
        ("stafff.edt.count=2", "did you mean 'staff'"),
    ],
)
def test_bad_set_exits_2_with_key_path(tmp_path, capsys, setting: str, says: str) -> None:
    for cmd in (["run", str(BASELINE)], ["compare", str(BASELINE), str(OPTION)]):
        code = main([*cmd, "-n", "2", "--out", str(tmp_path / "o"), "-q", "--set", setting])
        err = capsys.readouterr().err
        assert code == 2
        assert says in err
        assert len([line for line in err.splitlines() if line.startswith("error")]) == 1
        assert "Traceback" not in err


def test_set_applies_to_every_compared_scenario(tmp_path: Path) -> None:
    out = tmp_path / "c"
    code = main(["compare", str(BASELINE), str(OPTION), "-n", "2", "-j", "1", "--out", str(out),
                 "-q", "--no-figures", "--set", "staff.edt.count=2", *SHORT_SET])  # fmt: skip
    assert code == 0
    for name in ("baseline", "more_placements"):
        s = json.loads((out / name / "summary.json").read_text())
        assert s["overrides"]["staff.edt.count"] == 2


# ------------------------------------------------------------------ 6. logging and warnings


def test_library_prints_nothing() -> None:
    """No print( in the package outside the CLI and the app's launcher (which is a CLI)."""
    found = []
    for path in sorted((ROOT / "ooh_sim").rglob("*.py")):
        if path.name == "cli.py" or path.parts[-2:] == ("app", "launch.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "print"
            ):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not found


def test_run_warns_with_warnings_and_records_them(tmp_path: Path) -> None:
    sc = load_scenario(BASELINE, overrides=SHORT)  # the baseline has one warning on purpose
    with pytest.warns(ScenarioWarning, match="queues will build"):
        res = run(sc, replications=2, jobs=1)
    from ooh_sim.io.formats import summary_dict

    d = summary_dict(res)
    assert any("queues will build" in w for w in d["warnings"])
    assert {"python", "ooh-sim", "numpy", "scipy", "simpy", "pydantic"} <= set(d["packages"])


def test_cli_shows_each_warning_once(tmp_path: Path, capfd) -> None:
    code = main(["run", str(BASELINE), "-n", "2", "-j", "1", "--out", str(tmp_path / "r"),
                 "-q", "--no-figures", *SHORT_SET])  # fmt: skip
    assert code == 0
    err = capfd.readouterr().err
    assert err.count("queues will build") == 1


# ------------------------------------------------------------------ 8. board's results kept


def _run(out: Path, *extra: str) -> int:
    return main(["run", str(BASELINE), "-n", "2", "-j", "1", "--out", str(out), "-q",
                 "--no-figures", "--no-jobs-file", *SHORT_SET, *extra])  # fmt: skip


def test_run_refuses_to_replace_other_configuration_or_report(tmp_path: Path, capsys) -> None:
    out = tmp_path / "r"
    assert _run(out) == 0
    assert _run(out) == 0  # the same configuration: a rerun replaces it
    marker = json.loads((out / ".ooh-sim.json").read_text())
    assert marker["config_sha256"] == json.loads((out / "summary.json").read_text())[
        "config_sha256"]  # fmt: skip
    before = (out / "summary.json").read_bytes()
    capsys.readouterr()
    assert _run(out, "--set", "staff.edt.count=2") == 2  # another configuration
    err = capsys.readouterr().err
    assert "different configuration" in err and "--force" in err
    assert len(err.strip().splitlines()) == 1
    assert (out / "summary.json").read_bytes() == before  # nothing touched
    assert _run(out, "--set", "staff.edt.count=2", "--force") == 0

    assert main(["report", str(out)]) == 0
    capsys.readouterr()
    assert _run(out, "--set", "staff.edt.count=2") == 2  # same configuration, but a report
    err = capsys.readouterr().err
    assert "report.html" in err and "--force" in err
    assert (out / "report.html").exists()
    assert _run(out, "--set", "staff.edt.count=2", "--force") == 0
    assert not (out / "report.html").exists()


# ------------------------------------------------------------------ 9. presentation (CLI)


def _helps(parser):
    import argparse

    yield parser.format_help()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _helps(sub)


def test_help_has_no_markup_and_every_positional_is_explained() -> None:
    import argparse

    parser = build_parser()
    for text in _helps(parser):
        assert "``" not in text and ":func:" not in text
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                for a in sub._actions:
                    if not a.option_strings and a.dest != "help":
                        assert a.help, f"{name} {a.dest}: no help"
    compare_help = next(
        a.choices["compare"] for a in parser._actions if isinstance(a, argparse._SubParsersAction)
    ).format_help()
    assert "results/compare-" in " ".join(compare_help.split())


def test_terminal_table_fits_80_columns(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    from ooh_sim import cli

    monkeypatch.setattr(cli, "console", cli.Console(width=80, highlight=False))
    code = main(["run", str(BASELINE), "-n", "3", "-j", "1", "--out", str(tmp_path / "r"),
                 "--no-figures", "--no-jobs-file", *SHORT_SET])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert "Average time a child waits in a police station" in " ".join(
        " ".join(line.replace("│", " ").split()) for line in lines
    ) or "Average time a child waits" in out
    assert "e+0" not in out  # no 8.22e+03
    assert any("£" in line and "," in line for line in lines)  # £15,047: thousands separated
    assert "…" not in out  # nothing truncated


def test_rounding_rule_examples() -> None:
    from ooh_sim.core import kpis

    assert kpis.format("cost.per_week", -48.2, signed=True) == "−£48"
    assert kpis.format("station.hours.mean", 0.004, signed=True) == "+0.0040 h"
    assert kpis.format("cost.per_week", 8220.0) == "£8,220"
    assert kpis.format("station.hours.mean", 3.46) == "3.5 h"  # at most one decimal for hours
    assert kpis.format("station.hours.mean", 12.345) == "12.3 h"
    assert kpis.format("station.hours.mean", 123.4) == "123 h"  # three significant figures
    assert kpis.format("station.hours.mean", 1.95) == "1.9 h"  # 1.95 is 1.9499… in binary
