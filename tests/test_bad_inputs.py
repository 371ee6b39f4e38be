"""Robustness and safety (issue #7): every bad input is a clear exit-2 error that names the file,
the key path and the problem, with no traceback and nothing written; suspicious but legal input
is a warning; outputs are replaced atomically (also on Ctrl-C and on a full disk); spreadsheets
cannot be made to run formulas.

Budget: about 30 s (the corpus in-process, a few cases and the Ctrl-C test as real processes).
"""

from __future__ import annotations

import csv
import errno
import gzip
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ooh_sim import cli
from ooh_sim.core.checks import warnings_for
from ooh_sim.core.loader import load_scenario, scenario_from_dict
from ooh_sim.io import files as output
from ooh_sim.io.files import csv_text, safe_cell

sys.path.insert(0, str(Path(__file__).parent))
from bad_inputs.cases import CASES, EXPERIMENT_CASES, VALID, Case

ROOT = Path(__file__).resolve().parents[1]


def leftovers(folder: Path) -> list[str]:
    """Staging or swap folders that a clean exit must not leave behind."""
    return [p.name for p in folder.iterdir() if re.match(r"^\..*\.(tmp|old)-", p.name)]


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    rc = cli.main(argv)
    got = capsys.readouterr()
    return rc, got.out, got.err


def assert_clear_error(case: Case, given: Path, err: str, tmp_path: Path) -> None:
    flat = " ".join(err.split())  # rich may wrap long lines
    assert flat.startswith("error:"), err
    assert "Traceback" not in err and "internal error" not in err, err
    named = str(tmp_path / case.file) if case.file else str(given)
    assert named in flat, f"message does not name {named}: {err}"
    for fragment in case.expect:
        assert fragment.lower() in flat.lower(), f"{fragment!r} missing from: {err}"
    if case.suggestion:
        assert f"did you mean {case.suggestion!r}" in flat, err
    if case.canary:
        assert not (tmp_path / case.canary).exists() and not Path(case.canary).exists()


# --------------------------------------------------------------------------- the corpus


def test_corpus_is_big_enough() -> None:
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)


def test_valid_fixture_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The base every case edits is itself fine (so each case fails for its one edit)."""
    path = tmp_path / "valid.yaml"
    path.write_text(VALID, encoding="utf-8")
    out = tmp_path / "out"
    rc, _, err = run_cli(["run", str(path), *_args(out, 1)], capsys)
    assert rc == 0, err
    assert (out / "summary.json").is_file()


def _args(out: Path, n: int = 2) -> list[str]:
    return ["--out", str(out), "--quiet", "--no-figures", "--jobs", "1", "-n", str(n)]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_scenario(
    case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a YAML tag that ran a command would leave its canary here
    given = case.make(tmp_path)
    out = tmp_path / "out"
    rc, _, err = run_cli(["run", str(given), *_args(out)], capsys)
    assert rc == 2, err
    assert_clear_error(case, given, err, tmp_path)
    assert not out.exists() and not leftovers(tmp_path)

    rc, _, err = run_cli(["validate", str(given)], capsys)
    assert rc == 2
    assert_clear_error(case, given, err, tmp_path)


@pytest.mark.parametrize("case", [c for c in CASES if c.subprocess], ids=lambda c: c.id)
def test_bad_scenario_in_a_real_process(case: Case, tmp_path: Path) -> None:
    given = case.make(tmp_path)
    out = tmp_path / "out"
    p = subprocess.run(
        [sys.executable, "-m", "ooh_sim", "run", str(given), *_args(out)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert p.returncode == 2, p.stderr
    assert_clear_error(case, given, p.stderr, tmp_path)
    assert not out.exists() and not leftovers(tmp_path)


@pytest.mark.parametrize("case", EXPERIMENT_CASES, ids=lambda c: c.id)
def test_bad_experiment(
    case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Experiment-file cases (bad_inputs/cases.py: EXPERIMENT_CASES), through ``sweep``."""
    monkeypatch.chdir(tmp_path)
    given = case.make(tmp_path)
    out = tmp_path / "out"
    argv = ["sweep", str(given), "--out", str(out), "--quiet", "--jobs", "1", "--no-figures"]
    rc, _, err = run_cli(argv, capsys)
    assert rc == 2, err
    assert_clear_error(case, given, err, tmp_path)
    assert not out.exists() and not leftovers(tmp_path)


# --------------------------------------------------------------------------- warnings


def _scenario(tmp_path: Path, text: str):
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    return path, load_scenario(path)


def test_a_stream_nobody_rostered_can_serve_is_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # adults only by the on-call manager, and by a day worker whose shift misses cover entirely
    text = VALID.replace(
        "edt: {count: 1, skills: [children, adults], roster: cover}",
        "edt: {count: 1, skills: [children], roster: cover}\n  day: {count: 1, skills: [adults], "
        'roster: [{days: [mon, tue, wed, thu, fri], start: "10:00", end: "16:00"}]}',
    )
    path, sc = _scenario(tmp_path, text)
    got = warnings_for(sc)
    never = [w for w in got if w.startswith("streams.adults.skill:")]
    assert len(never) == 1, got
    assert "no rostered worker with skill 'adults' is ever on shift" in never[0]
    assert "on-call callout (manager)" in never[0]

    rc, out, err = run_cli(["validate", str(path)], capsys)
    assert rc == 0 and ": ok" in out
    assert "warning:" in err and "streams.adults.skill" in err and str(path) in err

    rc, _, err = run_cli(["run", str(path), *_args(tmp_path / "out", 1)], capsys)
    assert rc == 0 and "warning:" in err and "streams.adults.skill" in err


def test_a_partly_uncovered_stream_says_when_and_how_much(tmp_path: Path) -> None:
    # the only children worker is on Fri/Sat nights; children arrive all through cover
    text = VALID.replace("skills: [children, adults], roster: cover", "skills: [adults]").replace(
        "manager: {count: 1, skills: [children, adults]", "manager: {count: 1, skills: [adults]"
    )
    _, sc = _scenario(tmp_path, text)
    msg = next(w for w in warnings_for(sc) if w.startswith("streams.police_protection.skill"))
    share = float(re.search(r"(\d+)% of police_protection jobs", msg).group(1)) / 100
    # cover 128 h a week, of which Fri/Sat 18:00-02:00 is 16 h (evening-weighted profile: more)
    assert 0.6 < share < 0.9, msg
    assert "pass to the day team" in msg


def test_overload_warning_uses_the_bottleneck_skill_set(tmp_path: Path) -> None:
    """1 worker, cover always: 0.6 h of work an hour is fine; 1.2 is an overload at every hour."""
    base = {
        "name": "x",
        "calendar": {"cover": "always"},
        "staff": {"w": {"count": 1, "skills": ["a", "b"], "roster": "always"}},
        "streams": {
            "s": {"skill": "a", "arrivals": {"per_week": 168 * 0.6},
                  "duration": {"dist": "fixed", "value": 1.0}},
            "t": {"skill": "b", "arrivals": {"per_week": 168 * 0.6},
                  "duration": {"dist": "fixed", "value": 1.0}},
        },
    }  # fmt: skip
    got = warnings_for(scenario_from_dict(base))
    assert len(got) == 1, got
    assert "skills a, b" in got[0] and "≥ 1 in 168 hours" in got[0] and "1.20" in got[0]
    assert "more work arrives over the week than can be done" in got[0]
    # each skill alone is fine: a second worker for skill b only removes the warning
    base["staff"]["v"] = {"count": 1, "skills": ["b"], "roster": "always"}
    assert warnings_for(scenario_from_dict(base)) == []


def test_a_quiet_scenario_has_no_warnings() -> None:
    assert warnings_for(scenario_from_dict(_quiet())) == []


def _quiet() -> dict:
    return {
        "name": "q",
        "calendar": {"cover": "always"},
        "staff": {"w": {"count": 2, "skills": ["a"], "roster": "always"}},
        "streams": {"s": {"skill": "a", "arrivals": {"per_week": 10},
                          "duration": {"dist": "exponential", "mean": 1.0}}},
    }  # fmt: skip


def test_staff_skill_typo_is_a_warning_with_a_suggestion() -> None:
    data = _quiet()
    data["staff"]["amhp_rota"] = {"count": 1, "skills": ["b_"], "roster": "always"}
    data["streams"]["t"] = {"skill": "a", "arrivals": {"per_week": 0},
                            "duration": {"dist": "fixed", "value": 1}}  # fmt: skip
    got = warnings_for(scenario_from_dict(data))
    assert any(w.startswith("staff.amhp_rota.skills: no stream needs b_") for w in got), got
    assert any(w.startswith("streams.t.arrivals.per_week: is 0") for w in got), got


# --------------------------------------------------------------------------- outputs


def _valid_path(tmp_path: Path) -> Path:
    path = tmp_path / "valid.yaml"
    path.write_text(VALID, encoding="utf-8")
    return path


def test_out_under_a_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file.txt").write_text("x")
    rc, _, err = run_cli(["run", str(_valid_path(tmp_path)), *_args(tmp_path / "file.txt/sub")],
                         capsys)  # fmt: skip
    assert rc == 2 and "--out" in err and "is a file, not a folder" in err, err
    assert (tmp_path / "file.txt").read_text() == "x" and not leftovers(tmp_path)


def test_out_in_an_unwritable_place_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, _, err = run_cli(["run", str(_valid_path(tmp_path)), *_args(Path("/proc/ooh-sim/x"))],
                         capsys)  # fmt: skip
    assert rc == 2 and "error: --out: cannot write to /proc" in " ".join(err.split()), err


def test_out_on_a_read_only_disk_is_said_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read-only place (a mounted share, say; os.access says no even to root) is refused
    before the model runs, as any bad --out is, not after the simulation."""
    from ooh_sim.core.model import Model

    shared = tmp_path / "share"
    shared.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: (
        not (mode & os.W_OK and Path(p) == shared) and real(p, mode, **kw)))  # fmt: skip
    monkeypatch.setattr(os, "statvfs", lambda p: type("V", (), {"f_flag": os.ST_RDONLY})())

    def never(self: Model) -> Model:
        raise AssertionError("simulated before checking --out")

    monkeypatch.setattr(Model, "run", never)
    rc, _, err = run_cli(["run", str(_valid_path(tmp_path)), *_args(shared / "out")], capsys)
    assert rc == 2, err
    assert f"error: --out: cannot write to {shared}: Read-only file system" in " ".join(err.split())
    assert sorted(os.listdir(shared)) == []


def test_out_never_deletes_a_folder_of_other_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".bashrc").write_text("keep me")
    rc, _, err = run_cli(["run", str(_valid_path(tmp_path)), *_args(home)], capsys)
    assert rc == 2 and "not ooh-sim results" in " ".join(err.split()), err
    assert (home / ".bashrc").read_text() == "keep me" and sorted(os.listdir(home)) == [".bashrc"]


def test_full_disk_keeps_the_previous_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, out = _valid_path(tmp_path), tmp_path / "results" / "x"
    assert run_cli(["run", str(path), *_args(out, 1)], capsys)[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def full(self: Path, *a: object, **k: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full)
    monkeypatch.setattr("ooh_sim.io.files.write_jobs_csv_gz", full)  # streams jobs.csv.gz
    rc, _, err = run_cli(["run", str(path), *_args(out, 2)], capsys)
    assert rc == 2 and "No space left on device" in err and "--out" in err, err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert not leftovers(out.parent)


def test_new_results_replace_old_ones_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, out = _valid_path(tmp_path), tmp_path / "out"
    assert run_cli(["run", str(path), *_args(out, 1)], capsys)[0] == 0
    (out / "stale.png").write_bytes(b"from an earlier run")  # e.g. a figure no longer made
    marker = json.loads((out / output.MARKER).read_text())
    output.write_marker(out, marker["kind"], [*marker["files"], "stale.png"])
    assert run_cli(["run", str(path), *_args(out, 2)], capsys)[0] == 0
    assert not (out / "stale.png").exists()
    assert json.loads((out / "summary.json").read_text())["replications"] == 2
    assert not leftovers(tmp_path)
    assert oct(out.stat().st_mode & 0o777) != oct(0o700)  # readable as the umask allows


def test_ctrl_c_during_the_swap_is_held_until_the_swap_is_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "summary.json").write_text("old")
    output.write_marker(target, "run", ["summary.json"])
    real_replace = os.replace

    def replace_then_interrupt(src: object, dst: object) -> None:
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C between the two renames
        real_replace(src, dst)

    monkeypatch.setattr(output.os, "replace", replace_then_interrupt)
    with pytest.raises(KeyboardInterrupt), output.staged_folder(target) as stage:
        (stage / "summary.json").write_text("new")
    assert (target / "summary.json").read_text() == "new"  # complete new results, not none
    assert not leftovers(tmp_path)


def test_a_failed_swap_puts_the_old_results_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "summary.json").write_text("old")
    output.write_marker(target, "run", ["summary.json"])
    real_replace, calls = os.replace, []

    def second_fails(src: object, dst: object) -> None:
        calls.append(src)
        if len(calls) == 2:  # the new folder into place
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real_replace(src, dst)

    monkeypatch.setattr(output.os, "replace", second_fails)
    with pytest.raises(cli.InputError, match="cross-device"), output.staged_folder(target) as st:
        (st / "summary.json").write_text("new")
    assert (target / "summary.json").read_text() == "old"
    assert not leftovers(tmp_path)


# --------------------------------------------------------------------------- Ctrl-C


def _descendants(pid: int) -> list[int]:
    kids = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if int((p / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    kids.append(int(p.name))
            except (OSError, ValueError, IndexError):
                pass
    return kids + [g for k in kids for g in _descendants(k)]


def _alive(pid: int) -> bool:
    try:
        return (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]) != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize(
    ("command", "jobs", "previous", "when"),
    [
        ("run", 2, True, "working"),
        ("run", 2, False, "starting"),
        ("run", 1, True, "working"),
        ("compare", 2, True, "working"),
    ],
)
def test_ctrl_c_stops_cleanly_and_keeps_old_results(
    tmp_path: Path, command: str, jobs: int, previous: bool, when: str
) -> None:
    """SIGINT to the process group (what Ctrl-C in a terminal does) mid-run: exit 130, the old
    results intact (or none), no traceback (from any process), no staging folder, no worker
    process left running. 'starting': while the process pool is still coming up."""
    out = tmp_path / "results"
    if previous:  # earlier results of the same kind, which ooh-sim may replace
        out.mkdir()
        (out / "summary.json").write_text('{"old": true}')
        output.write_marker(out, "run" if command == "run" else "comparison", ["summary.json"])
    scenarios = [str(ROOT / "scenarios" / "baseline.yaml")]
    if command == "compare":
        scenarios.append(str(ROOT / "scenarios" / "more_placements.yaml"))
    cmd = [sys.executable, "-m", "ooh_sim", command, *scenarios,
           "-n", "2000", "--jobs", str(jobs), "--out", str(out), "--no-figures"]  # fmt: skip

    def working(pid: int) -> bool:
        """Worker processes up (parallel), or three seconds of CPU (serial)."""
        if when == "starting":
            return bool(_descendants(pid))
        if jobs > 1:
            return len(_descendants(pid)) >= jobs + 2  # + fork server, tracker
        return _cpu_seconds(pid) > 3.0

    starting = when == "starting"
    rc, err, workers, stop_seconds = _interrupt_when(
        cmd, tmp_path, working, poll=0.02 if starting else 0.1, settle=0.1 if starting else 1.0
    )
    assert rc == 130, err
    assert "interrupted" in err and "Traceback" not in err, err
    assert stop_seconds < 10, f"took {stop_seconds:.1f} s to stop"
    if previous:
        assert sorted(os.listdir(out)) == [output.MARKER, "summary.json"]
        assert (out / "summary.json").read_text() == '{"old": true}'
    else:
        assert not out.exists()
    assert not leftovers(tmp_path)
    assert_no_orphans(workers)


def _interrupt_when(
    cmd: list[str], cwd: Path, ready: Callable[[int], bool], *, poll: float, settle: float
) -> tuple[int, str, list[int], float]:
    """Start ``cmd`` in its own session, wait until ``ready(pid)``, then Ctrl-C its process group
    (as a terminal does). Returns exit code, stderr, the descendants seen, and seconds to stop."""
    p = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and p.poll() is None and not ready(p.pid):
            time.sleep(poll)
        time.sleep(settle)
        assert p.poll() is None, "finished before it could be interrupted"
        workers = _descendants(p.pid)
        os.killpg(p.pid, signal.SIGINT)
        t0 = time.monotonic()
        _, err = p.communicate(timeout=30)  # hangs if a worker keeps the pipes open
        stop_seconds = time.monotonic() - t0
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    return p.returncode, err.decode(), workers, stop_seconds


def assert_no_orphans(workers: list[int]) -> None:
    for _ in range(50):  # exited workers may stay zombies for a moment before being reaped
        if not any(_alive(w) for w in workers):
            break
        time.sleep(0.1)
    assert not any(_alive(w) for w in workers), "orphan worker processes"


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- safety


def test_yaml_object_tags_never_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for tag in ("!!python/object/apply:os.system ['touch PWNED']",
                "!!python/object/new:os.system ['touch PWNED']",
                "!!python/name:os.system"):  # fmt: skip
        path = tmp_path / "s.yaml"
        path.write_text(f"name: {tag}\n", encoding="utf-8")
        with pytest.raises(cli.InputError, match="not allowed"):
            load_scenario(path)
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize(
    ("cell", "safe"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+cmd", "'+cmd"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("-1.5", "-1.5"),  # a negative number is not a formula
        ("-2e-05", "-2e-05"),
        ("+3", "+3"),
        (-4.25, -4.25),
        ("plain", "plain"),
    ],
)
def test_safe_cell(cell: object, safe: object) -> None:
    assert safe_cell(cell) == safe


def test_csv_text_neutralises_formulas_but_not_negative_numbers() -> None:
    text = csv_text(["=h", "x"], [["=1+1", -2.5], ["@x", "-0.75"], ["ok", ""]])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [["'=h", "x"], ["'=1+1", "-2.5"], ["'@x", "-0.75"], ["ok", ""]]


def test_every_csv_a_run_writes_is_formula_safe(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Text cells in replications.csv and jobs.csv.gz never start a formula; numbers (negative
    ones too) stay numbers. Names reach CSVs only as identifiers, so this is defence in depth."""
    path, out = _valid_path(tmp_path), tmp_path / "out"
    assert run_cli(["run", str(path), *_args(out, 2)], capsys)[0] == 0
    tables = [(out / "replications.csv").read_text(encoding="utf-8"),
              gzip.decompress((out / "jobs.csv.gz").read_bytes()).decode()]  # fmt: skip
    for table in tables:
        for row in csv.reader(io.StringIO(table)):
            for cell in row:
                if cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
                    float(cell)  # only a number may start like a formula


def test_swept_text_values_are_formula_safe_in_sweep_csvs() -> None:
    """A sweep may vary a text setting (e.g. description): its cells are neutralised too."""
    from ooh_sim.io.formats import value_text

    assert value_text("=cmd|' /C calc'!A0") == "'=cmd|' /C calc'!A0"
    assert value_text("@x") == "'@x"
    assert value_text(-1.5) == "-1.5" and value_text(-3) == -3


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_ctrl_c_stops_a_parallel_sweep_and_its_workers(tmp_path: Path) -> None:
    """Ctrl-C during `sweep --jobs 2`: exit 130, the checkpoint kept, no worker left running."""
    out = tmp_path / "sweep"
    cmd = [sys.executable, "-m", "ooh_sim", "sweep",
           str(ROOT / "experiments" / "staffing_placements.yaml"), "--jobs", "2",
           "--out", str(out), "--quiet", "--no-figures"]  # fmt: skip
    rc, err, workers, _ = _interrupt_when(
        cmd, tmp_path, lambda pid: len(_descendants(pid)) >= 4, poll=0.1, settle=1.0
    )  # ready: fork server, tracker, two workers
    assert rc == 130, err
    assert "--resume" in err and "Traceback" not in err
    assert_no_orphans(workers)


@pytest.mark.parametrize(
    ("command", "file", "kind", "wanted", "instead"),
    [
        ("sweep", "experiments/cheapest_within_4h.yaml", "an optimise", "an experiment",
         "optimise"),
        ("run", "experiments/staffing_placements.yaml", "an experiment", "a scenario", "sweep"),
        ("compare", "experiments/demand_growth.yaml", "an experiment", "a scenario", "sweep"),
        ("optimise", "scenarios/baseline.yaml", "a scenario", "an optimise", "run"),
        ("sweep", "scenarios/baseline.yaml", "a scenario", "an experiment", "run"),
    ],
)
def test_a_file_of_another_kind_is_one_clear_error(
    command: str, file: str, kind: str, wanted: str, instead: str,
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """An optimise file given to sweep listed ten missing or unknown keys; now one line says
    what the file is and which command takes it."""
    path = ROOT / file
    files = [str(ROOT / "scenarios/baseline.yaml"), str(path)] if command == "compare" else [
        str(path)]  # fmt: skip
    rc, _, err = run_cli([command, *files, "--out", str(tmp_path / "o"), "-q"], capsys)
    assert rc == 2, err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert lines == [f"error: {path}: this is {kind} file, not {wanted} file: run it with "
                     f"`ooh-sim {instead} {path}`"], err  # fmt: skip
    assert not (tmp_path / "o").exists()


def test_a_contact_log_given_as_a_scenario_names_fit(capsys: pytest.CaptureFixture[str]) -> None:
    log = ROOT / "examples" / "events_example.csv"
    rc, _, err = run_cli(["validate", str(log)], capsys)
    assert rc == 2 and "read by `ooh-sim fit`" in " ".join(err.split()), err


@pytest.mark.parametrize(
    ("command", "file", "key", "misspelt"),
    [
        ("sweep", "experiments/staffing_placements.yaml", "parameters", "paramters"),
        ("validate", "experiments/staffing_placements.yaml", "parameters", "paramters"),
        ("optimise", "experiments/cheapest_within_4h.yaml", "decisions", "decision"),
        ("validate", "experiments/cheapest_within_4h.yaml", "decisions", "decision"),
    ],
)
def test_a_study_with_its_key_block_misspelt_is_told_the_typo_not_another_command(
    command: str, file: str, key: str, misspelt: str,
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """The file kind was once told by ``parameters:`` / ``decisions:`` alone, so a study with
    that key misspelt was called a scenario file and sent to `ooh-sim run`."""
    text = (ROOT / file).read_text().replace(f"\n{key}:", f"\n{misspelt}:")
    text = text.replace("../scenarios/", f"{ROOT}/scenarios/")
    path = tmp_path / "study.yaml"
    path.write_text(text)
    extra = [] if command == "validate" else ["--out", str(tmp_path / "o"), "-q"]
    rc, _, err = run_cli([command, str(path), *extra], capsys)
    assert rc == 2, err
    assert f"unknown key '{misspelt}'" in err and f"did you mean '{key}'" in err, err
    assert "run it with" not in err, err


def test_a_study_naming_another_study_as_its_scenario_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An experiment whose scenario: is an optimise file listed every optimise key as unknown
    to a scenario; it is one line naming the file and the command that takes it."""
    text = (ROOT / "experiments/staffing_placements.yaml").read_text()
    text = text.replace("../scenarios/baseline.yaml", f"{ROOT}/experiments/cheapest_within_4h.yaml")
    path = tmp_path / "e.yaml"
    path.write_text(text)
    rc, _, err = run_cli(["validate", str(path)], capsys)
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert rc == 2 and len(lines) == 1, err
    assert "this is an optimise file, not a scenario file" in lines[0], err
