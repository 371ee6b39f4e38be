"""``ooh-sim run``: the output contract (README "Outputs and KPIs") and clean failure on bad input.

Run both as a real process (``python -m ooh_sim``: exit codes and stderr as a user sees them) and
in-process through ``ooh_sim.cli.main`` (fast, and the way other tools embed it).
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import ooh_sim
from ooh_sim.cli import main
from ooh_sim.core.records import JOB_FILE_HEADER
from ooh_sim.io import formats

SCENARIO = """\
name: cli_small
horizon: {start: 2023-01-02, days: 35, warmup_days: 7}
replications: 4
seed: 11
calendar: {cover: out_of_hours, bank_holidays: england}
staff:
  edt: {count: 1, skills: [children, adults], roster: cover}
streams:
  pp:
    kind: police_protection
    skill: children
    priority: 1
    arrivals: {per_week: 2}
    duration: {dist: lognormal, mean: 1.0, sd: 0.5}
    transport: {dist: lognormal, mean: 1.0, sd: 0.4}
    officers: 2
    deadline_hours: 4
  a:
    kind: referral
    skill: adults
    priority: 2
    arrivals: {per_week: 25}
    duration: {dist: exponential, mean: 1.5}
    deadline_hours: 8
placements:
  capacity: 1
  stay_days: {dist: exponential, mean: 2}
  search: {dist: fixed, value: 0.5}
costs: {worker_hour: 45, officer_hour: 40, callout: 150, placement_night: 250}
report: {thresholds_hours: [2, 4, 8]}
"""

# the files' formats are declared once (core.records, io.formats); the test reads them there
# optional keys: precision (with --precision), overrides (with --set)
SUMMARY_KEYS = {c.name for c in formats.SUMMARY_KEYS} - {"precision", "overrides"}
ESTIMATE_KEYS = {"mean", "ci95_low", "ci95_high", "sd", "n"}
JOB_COLUMNS = list(JOB_FILE_HEADER)
CONTRACT_KPIS = [
    *(f"station.hours.{s}" for s in ("mean", "p50", "p90", "p95", "max")),
    *(f"station.share_over_{h}h" for h in (2, 4, 8)),
    "station.children_per_week",
    "station.officer_hours_per_week",
    *(
        f"streams.{s}.{k}"
        for s in ("pp", "a")
        for k in (
            "per_week",
            "response_hours.mean",
            "response_hours.p90",
            "completion_hours.mean",
            "deadline_breach_share",
            "handed_over_share",
        )
    ),
    "staff.edt.utilisation",
    "staff.edt.overtime_hours_per_week",
    "placements.none_free_share",
    "cost.per_week",
]


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    f = tmp_path / "cli_small.yaml"
    f.write_text(SCENARIO, encoding="utf-8")
    return f


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ooh_sim", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )


def read_csv(path: Path) -> list[dict[str, str]]:
    """Rows as column → text (jobs.csv.gz too: it is plain gzipped CSV)."""
    if path.suffix != ".gz":
        return formats.read_rows(path)
    with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def num(cell: str) -> float:
    return math.nan if cell == "" else float(cell)


# --------------------------------------------------------------------------- outputs


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real CLI run (subprocess) shared by the output checks below."""
    tmp = tmp_path_factory.mktemp("cli")
    f = tmp / "cli_small.yaml"
    f.write_text(SCENARIO, encoding="utf-8")
    out = tmp / "out"
    proc = cli("run", str(f), "--out", str(out), "--seed", "99", "--replications", "3",
               "--jobs", "1", "--quiet")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""  # --quiet: no table, no progress
    assert "Traceback" not in proc.stderr
    return out


def test_summary_json_contract(run_dir: Path) -> None:
    s = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    assert set(s) == SUMMARY_KEYS
    assert s["scenario"] == "cli_small"
    assert s["seed"] == 99  # --seed overrides the file's 11
    assert s["replications"] == 3  # --replications overrides the file's 4
    assert s["version"] == ooh_sim.__version__
    assert re.fullmatch(r"[0-9a-f]{64}", s["config_sha256"])
    missing = [k for k in CONTRACT_KPIS if k not in s["kpis"]]
    assert not missing
    for name, e in s["kpis"].items():
        assert set(e) == ESTIMATE_KEYS, name
        assert 0 <= e["n"] <= 3
        if e["n"] >= 2:
            assert e["ci95_low"] <= e["mean"] <= e["ci95_high"], name
            assert e["sd"] >= 0
    assert s["kpis"]["streams.a.per_week"]["n"] == 3


def test_replications_csv_matches_summary(run_dir: Path) -> None:
    s = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    rows = read_csv(run_dir / "replications.csv")
    with open(run_dir / "replications.csv", encoding="utf-8") as fh:
        header = next(csv.reader(fh))
    assert header == ["replication", *s["kpis"]]
    assert [r["replication"] for r in rows] == ["0", "1", "2"]
    for name, e in s["kpis"].items():
        vals = np.array([num(r[name]) for r in rows])
        vals = vals[np.isfinite(vals)]
        assert len(vals) == e["n"], name
        if len(vals):
            assert vals.mean() == pytest.approx(e["mean"], rel=1e-12, abs=1e-12), name


def test_jobs_csv_columns_and_consistency(run_dir: Path) -> None:
    jobs = read_csv(run_dir / "jobs.csv.gz")
    with gzip.open(run_dir / "jobs.csv.gz", "rt", encoding="utf-8") as fh:
        assert fh.readline().rstrip("\n").split(",") == JOB_COLUMNS
    assert {r["replication"] for r in jobs} == {"0", "1", "2"}
    assert {r["stream"] for r in jobs} == {"pp", "a"}
    origin = dt.datetime(2023, 1, 2)
    for r in jobs:
        arrival, start, end = num(r["arrival_h"]), num(r["start_h"]), num(r["end_h"])
        stamp = dt.datetime.fromisoformat(r["arrival"])
        assert abs((stamp - origin).total_seconds() - arrival * 3600) <= 0.5 + 1e-6
        if math.isnan(start):
            assert r["response_hours"] == "" and r["worker"] == ""
        else:
            assert num(r["response_hours"]) == pytest.approx(start - arrival, abs=2e-6)
            assert r["worker"] == "edt#1"
        if not math.isnan(end):
            assert num(r["completion_hours"]) == pytest.approx(end - arrival, abs=2e-6)
        assert r["handed_over"] in ("0", "1")
        if r["stream"] == "a":
            assert r["station_hours"] == ""
    kids = [r for r in jobs if r["stream"] == "pp"]
    assert any(r["station_hours"] != "" for r in kids)
    assert any(r["handed_over"] == "1" for r in jobs)


def test_kpis_recomputed_from_jobs_file(run_dir: Path) -> None:
    """The per-replication KPIs can be rebuilt from jobs.csv.gz (independent of metrics.py)."""
    jobs = read_csv(run_dir / "jobs.csv.gz")
    reps = read_csv(run_dir / "replications.csv")
    warmup, weeks = 7 * 24.0, (35 - 7) / 7
    for rep in reps:
        mine = [r for r in jobs if r["replication"] == rep["replication"]]
        meas = [r for r in mine if num(r["arrival_h"]) >= warmup]
        a = [r for r in meas if r["stream"] == "a"]
        resp = [num(r["response_hours"]) for r in a if r["start_h"] != ""]
        assert num(rep["streams.a.per_week"]) == pytest.approx(len(a) / weeks, rel=1e-12)
        assert num(rep["streams.a.response_hours.mean"]) == pytest.approx(np.mean(resp), abs=1e-5)
        station = [num(r["station_hours"]) for r in meas if r["station_hours"] != ""]
        if station:
            assert num(rep["station.hours.mean"]) == pytest.approx(np.mean(station), abs=1e-5)
            assert num(rep["station.officer_hours_per_week"]) == pytest.approx(
                2 * sum(station) / weeks, abs=1e-4
            )
        handed = np.mean([r["handed_over"] == "1" for r in a])
        assert num(rep["streams.a.handed_over_share"]) == pytest.approx(handed, rel=1e-12)


def test_figures_are_png(run_dir: Path) -> None:
    pngs = sorted(run_dir.glob("*.png"))
    assert pngs
    for p in pngs:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", p.name


# --------------------------------------------------------------------------- in-process


def test_main_default_folder_and_table(
    scenario_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """Without --out results go to results/<name>/; without --quiet a KPI table is printed."""
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(scenario_file), "-n", "2", "--jobs", "1", "--no-figures"]) == 0
    out = tmp_path / "results" / "cli_small"
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert s["replications"] == 2 and s["seed"] == 11  # the file's seed
    assert not list(out.glob("*.png"))
    text = capsys.readouterr().out
    assert "station.hours.mean" in text and "cli_small" in text


def test_main_seed_changes_results(scenario_file: Path, tmp_path: Path, capsys) -> None:
    def kpis(seed: str, folder: str) -> dict:
        rc = main(["run", str(scenario_file), "--seed", seed, "-n", "2", "--jobs", "1",
                   "--out", str(tmp_path / folder), "--quiet", "--no-figures"])  # fmt: skip
        assert rc == 0
        return json.loads((tmp_path / folder / "summary.json").read_text())["kpis"]

    a, b, c = kpis("1", "a"), kpis("2", "b"), kpis("1", "c")
    assert a == c
    assert a["streams.a.response_hours.mean"] != b["streams.a.response_hours.mean"]
    assert capsys.readouterr().out == ""


# --------------------------------------------------------------------------- bad input

BAD = {
    "unknown-key": (
        SCENARIO.replace("skills: [children, adults]", "skils: [children, adults]"),
        ["staff.edt.skils", "skills"],
    ),
    "wrong-type": (SCENARIO.replace("count: 1", "count: two"), ["staff.edt.count"]),
    "negative-rate": (
        SCENARIO.replace("per_week: 25", "per_week: -25"),
        ["streams.a.arrivals.per_week"],
    ),
    "empty-shift": (
        SCENARIO.replace("roster: cover", 'roster: [{days: [fri], start: "18:00", end: "18:00"}]'),
        ["staff.edt.roster", "18:00"],
    ),
    "malformed-yaml": (SCENARIO.replace("streams:\n", "streams: [\n"), ["line"]),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_scenario_exits_2_in_process(case: str, tmp_path: Path, capsys) -> None:
    text, must_name = BAD[case]
    assert text != SCENARIO
    f = tmp_path / f"{case}.yaml"
    f.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    assert main(["run", str(f), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f.name in err
    for word in must_name:
        assert word in err, (word, err)
    assert "Traceback" not in err
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == [f.name]  # no staging leftovers either


def test_missing_file_exits_2(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert main(["run", str(tmp_path / "nope.yaml"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "nope.yaml" in err and "not found" in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize("case", ["unknown-key", "malformed-yaml"])
def test_bad_scenario_exits_2_as_a_process(case: str, tmp_path: Path) -> None:
    text, must_name = BAD[case]
    f = tmp_path / f"{case}.yaml"
    f.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    proc = cli("run", str(f), "--out", str(out))
    assert proc.returncode == 2
    assert f.name in proc.stderr and all(w in proc.stderr for w in must_name)
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert not out.exists()


def test_bad_options_exit_2(scenario_file: Path, tmp_path: Path, capsys) -> None:
    for args in (["-n", "0"], ["--seed", "-1"], ["--jobs", "x"]):
        with pytest.raises(SystemExit) as exc:  # argparse's own exit on bad usage
            main(["run", str(scenario_file), "--out", str(tmp_path / "o"), *args])
        assert exc.value.code == 2, args
        err = capsys.readouterr().err
        assert args[0] in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_output_is_written_atomically_over_old_results(scenario_file: Path, tmp_path: Path) -> None:
    """A second run replaces the folder wholesale (no stale files from the first); a file that
    ooh-sim did not write there stops it (exit 2, nothing touched): replacing means deleting."""
    out = tmp_path / "out"
    args = ["run", str(scenario_file), "--out", str(out), "-n", "2", "--jobs", "1", "--quiet"]
    assert main([*args, "--no-figures"]) == 0
    assert (out / "jobs.csv.gz").exists()
    (out / "notes.txt").write_text("a planner's own notes")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert main([*args, "--no-figures", "--no-jobs-file"]) == 2
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    (out / "notes.txt").unlink()
    assert main([*args, "--no-figures", "--no-jobs-file"]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"summary.json", "replications.csv"} <= names
    assert "jobs.csv.gz" not in names
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_jobs_file_reads_as_text(run_dir: Path) -> None:
    """gzip stream is plain UTF-8 CSV, readable without ooh-sim (e.g. by a spreadsheet)."""
    raw = gzip.decompress((run_dir / "jobs.csv.gz").read_bytes())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8"))))
    assert rows[0] == JOB_COLUMNS and all(len(r) == len(JOB_COLUMNS) for r in rows)


def test_job_file_timestamps_are_numpys_text() -> None:
    """jobs.csv.gz's arrival stamps are formatted a day at a time (FOR SPEED); the text is
    numpy's ISO text for any second from year 1 to 9999, before 1970, across days and years."""
    import numpy as np

    from ooh_sim.io.formats import _iso_seconds

    rng = np.random.default_rng(7)
    t = np.concatenate([rng.integers(-62_135_596_800, 253_402_300_799, 20_000),
                        rng.integers(1_672_617_600, 1_672_617_600 + 3 * 86_400, 20_000),
                        np.array([-1, 0, 86_399, 86_400, 951_782_400, 951_868_799])])  # fmt: skip
    got = [bytes(row[row != 0]).decode() for row in _iso_seconds(t)]
    assert got == np.datetime_as_string(t.astype("datetime64[s]")).tolist()


def test_job_file_numbers_are_pythons_text() -> None:
    """jobs.csv.gz's hours are built as digits a column at a time (FOR SPEED); every cell is
    Python's ``%.6f`` (blank for NaN), halves, huge values and infinities included, and whole
    numbers are ``str``."""
    import math

    import numpy as np

    from ooh_sim.io.formats import _fixed6, _whole

    rng = np.random.default_rng(3)
    x = np.concatenate([
        rng.uniform(-1e3, 1e5, 20_000), rng.lognormal(0, 6, 20_000),
        rng.integers(0, 10**7, 20_000) / 1e6 + 5e-7,  # near halves of the last digit
        np.array([0.0, -0.0, 5e-7, 1.5e-6, 2.5e-6, 123.4567895, 2.0**50 / 1e6, 1e15, -1e15,
                  1e300, 5e-324, math.nan, math.inf, -math.inf]),
    ])  # fmt: skip
    got = [bytes(row[row != 0]).decode() for row in _fixed6(x)]
    assert got == ["" if math.isnan(v) else format(v, ".6f") for v in x.tolist()]
    whole = rng.integers(0, 10**12, 2_000)
    assert [bytes(row[row != 0]).decode() for row in _whole(whole)] == [str(v) for v in whole]


def test_validate_recognises_experiment_files(tmp_path: Path, capsys) -> None:
    """`validate` checks an experiment as an experiment (not as a scenario with odd keys)."""
    repo = Path(__file__).resolve().parents[1]
    assert main(["validate", str(repo / "experiments" / "staffing_placements.yaml")]) == 0
    assert "design points" in capsys.readouterr().out
    bad = tmp_path / "bad_experiment.yaml"
    bad.write_text(
        f"name: x\nscenario: {repo / 'scenarios' / 'baseline.yaml'}\n"
        "parameters: {staff.edt.cuont: [1, 2]}\noutputs: [station.hours.mean]\n"
    )
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "parameters.staff.edt.cuont" in err and "staff.edt.count" in err


def test_messages_print_what_the_user_wrote(tmp_path: Path, capsys) -> None:
    """A key the user typed is echoed as typed: ``:fire:`` is not turned into an emoji (rich's
    default), so the message names the key that is really in the file."""
    repo = Path(__file__).resolve().parents[1]
    bad = tmp_path / "x.yaml"
    bad.write_text(f"extends: {repo / 'scenarios' / 'baseline.yaml'}\n':fire:': 1\n")
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "unknown key ':fire:'" in err and "\N{FIRE}" not in err, err


def test_help_and_validate_import_no_numpy() -> None:
    """`--help` and `validate` of a scenario (its warnings included), a grid experiment and an
    optimise file never import numpy, scipy, matplotlib or pandas, nor tokenise: FOR SPEED (issue
    15: numpy alone is ~80 ms of the 0.3 s `validate` may take, tokenize's regexes ~3 ms). A
    fresh process, so nothing is loaded."""
    repo = Path(__file__).resolve().parents[1]
    files = [repo / "scenarios/baseline.yaml", repo / "experiments/staffing_placements.yaml",
             repo / "experiments/cheapest_within_4h.yaml"]  # fmt: skip
    code = (
        "import contextlib, io, sys\n"
        "from ooh_sim.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    main(['--help'])\n"
        "rc = main(['validate', *sys.argv[1:]])\n"
        "heavy = {'numpy', 'scipy', 'matplotlib', 'pandas'}\n"
        "print(rc, sorted(m for m in sys.modules if m.partition('.')[0] in heavy))\n"
        # nothing parsed a built-in's signature (see schema.py); Python 3.12+ tokenises a
        # signature in C, where the regexes this counts are never compiled either way
        "import tokenize\n"
        "compiled = getattr(tokenize, '_compile', None)\n"
        "print('tokenised:', compiled.cache_info().currsize if compiled else 0)\n"
    )
    got = subprocess.run([sys.executable, "-c", code, *map(str, files)],
                         capture_output=True, text=True, check=True)  # fmt: skip
    assert got.stdout.count(": ok (") == len(files), got.stdout + got.stderr
    assert got.stdout.splitlines()[-2:] == ["0 []", "tokenised: 0"], got.stdout
