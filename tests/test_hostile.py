"""Hostile inputs (issue 13): every case is a real ``python -m ooh_sim`` process under a memory
limit (``RLIMIT_AS``) and a time limit. Each asserts the exit code, a single-line message, and
that every file that existed before is byte-identical after (the folder's tree is hashed).

The cases run once, three processes at a time (:func:`outcomes`); each parametrised test then
checks one case's outcome. A case's process is forked from a server that has imported ooh_sim
once (``tests/case_server.py``; a new interpreter costs about 1 s of CPU, which was most of the
suite), and the cases marked ``fresh`` start a new interpreter to cover the entry point. Genuine
run and sweep folders are made once and copied (:func:`made`). Budget: about 15 s on 2 cores.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import resource
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from bad_inputs.cases import VALID

MEMORY = int(1.5 * 2**30)
"""Address-space limit of each process (numpy, scipy and pydantic need about 0.5 GiB)."""
SECONDS = 60
"""Time limit of each process (the machine may be busy; a bomb would take minutes or forever)."""

TINY = VALID.replace("replications: 2", "replications: 1").replace("days: 14", "days: 7")


@dataclass
class Hostile:
    id: str
    setup: Callable[[Path], list[str]]
    """Write the case's files into a folder; return the ooh-sim arguments."""
    code: int = 2
    expect: tuple[str, ...] = ()
    """Fragments the message must hold (case-insensitive)."""
    changes: tuple[str, ...] = ()
    """Paths (relative, prefixes) the command may create or change; everything else must be
    byte-identical afterwards."""
    check: Callable[[Path, str], None] | None = None
    env: dict[str, str] = field(default_factory=dict)
    limit_fsize: int | None = None
    """RLIMIT_FSIZE in bytes (a full disk, as the process sees it)."""
    fresh: bool = False
    """Run in a new interpreter (``python -m ooh_sim``) rather than forked from the case server,
    so that the entry point and the lazy imports are covered as well."""


def _write(folder: Path, name: str, text: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _run_args(out: str = "out", n: int = 1) -> list[str]:
    return ["--out", out, "--no-figures", "-j", "1", "-n", str(n)]


def _made_run(folder: Path, out: str = "res") -> None:
    """A genuine results folder, made in this process (so the setup costs no extra process)."""
    from ooh_sim import cli

    _write(folder, "tiny.yaml", TINY)
    assert cli.main(["run", str(folder / "tiny.yaml"), *_run_args(str(folder / out)), "-q"]) == 0


EXPERIMENT = """name: exp
scenario: tiny.yaml
replications: 1
design: grid
parameters:
  staff.edt.count: [1, 2]
outputs: [station.hours.mean]
"""


def _made_sweep(folder: Path) -> None:
    from ooh_sim import cli

    _write(folder, "tiny.yaml", TINY)
    _write(folder, "exp.yaml", EXPERIMENT)
    argv = ["sweep", str(folder / "exp.yaml"), "--out", str(folder / "sw"), "-q", "-j", "1",
            "--no-figures"]  # fmt: skip
    assert cli.main(argv) == 0


MADE: dict[str, Path] = {}
"""The genuine run and sweep folders cases start from, made once (fixture :func:`made`)."""


def _a_run(folder: Path) -> None:
    shutil.copytree(MADE["run"], folder, symlinks=True, dirs_exist_ok=True)


def _a_sweep(folder: Path) -> None:
    shutil.copytree(MADE["sweep"], folder, symlinks=True, dirs_exist_ok=True)


_BOMB = "".join(
    f"{c}: &{c} [{', '.join([f'*{p}'] * 9) if p else ', '.join(['x'] * 9)}]\n"
    for p, c in zip(["", *"abcdefgh"], "abcdefghi", strict=True)
)


# ------------------------------------------------------------------------------ the cases


def _out_is_input_folder(d: Path) -> list[str]:
    _write(d, "scenarios/s.yaml", TINY)
    _write(d, "scenarios/notes.csv", "a,b\n")
    return ["run", "scenarios/s.yaml", *_run_args("scenarios")]


def _plain_files_folder(d: Path) -> list[str]:
    _write(d, "s.yaml", TINY)
    for n in ("a.csv", "b.json", "c.md", "d.pdf", "e.png", "f.txt", "g.yaml"):
        _write(d, f"mine/{n}", "keep")
    return ["run", "s.yaml", *_run_args("mine")]


def _summary_json_folder(d: Path) -> list[str]:
    _write(d, "s.yaml", TINY)
    _write(d, "mine/summary.json", "{}")
    _write(d, "mine/thesis.docx", "keep")
    return ["run", "s.yaml", *_run_args("mine")]


def _extra_file_in_results(d: Path) -> list[str]:
    _a_run(d)
    _write(d, "res/my_notes.txt", "keep")
    return ["run", "tiny.yaml", *_run_args("res")]


def _input_inside_results(d: Path) -> list[str]:
    _a_run(d)
    return ["run", "res/scenario.yaml", *_run_args("res")]


def _out_is_the_scenario(d: Path) -> list[str]:
    _write(d, "s.yaml", TINY)
    return ["run", "s.yaml", *_run_args("s.yaml")]


def _sweep_onto_other_folder(d: Path) -> list[str]:
    _write(d, "tiny.yaml", TINY)
    _write(d, "exp.yaml", EXPERIMENT)
    _write(d, "mine/data.csv", "keep")
    return ["sweep", "exp.yaml", "--out", "mine", "-j", "1", "--no-figures", "-q"]


def _sweep_bad_dask_keeps_results(d: Path) -> list[str]:
    _a_sweep(d)
    return ["sweep", "exp.yaml", "--out", "sw", "--backend", "dask", "--address", "tcp://[::", "-q"]


def _fit_bad_name_keeps_file(d: Path) -> list[str]:
    _write(d, "fitted.yaml", "name: precious\n")
    _write(d, "log.csv", _LOG)
    return ["fit", "log.csv", "--out", "fitted.yaml", "--name", "bad name!", "--force"]


def _fit_onto_a_scenario(d: Path) -> list[str]:
    _write(d, "fitted.yaml", "name: precious\n")
    _write(d, "log.csv", _LOG)
    return ["fit", "log.csv", "--out", "fitted.yaml"]


def _fit_onto_a_profile(d: Path) -> list[str]:
    rows = "".join(f"2023-01-{2 + i % 20:02d}T{17 + i % 7}:00:00,amhp,30\n" for i in range(150))
    _write(d, "log.csv", "received,stream,worker_minutes\n" + rows)  # enough for its own shape
    _write(d, "f_amhp_profile.csv", "hour_of_week,weight\n")
    return ["fit", "log.csv", "--out", "f.yaml", "--profile", "hour-of-week"]


def _fit_out_is_the_log(d: Path) -> list[str]:
    _write(d, "log.csv", _LOG)
    return ["fit", "log.csv", "--out", "log.csv"]


_LOG = "received,stream,worker_minutes\n" + "".join(
    f"2023-01-{2 + i % 20:02d}T{18 + i % 5}:00:00,amhp,{30 + i}\n" for i in range(60)
)


def _locked(d: Path) -> list[str]:
    _write(d, "s.yaml", TINY)
    return ["run", "s.yaml", *_run_args("out")]


def _stale_staging(d: Path) -> list[str]:
    _write(d, "s.yaml", TINY)
    (d / ".out.tmp-999999999-abc").mkdir()
    _write(d, ".out.tmp-999999999-abc/summary.json", "half")
    return ["run", "s.yaml", *_run_args("out")]


def _symlinked_out(d: Path) -> list[str]:
    _write(d, "s.yaml", TINY)
    (d / "real").mkdir()
    (d / "link").symlink_to("real")
    return ["run", "s.yaml", *_run_args("link")]


def _alias_bomb_in_parent(d: Path) -> list[str]:
    _write(d, "parent.yaml", _BOMB + TINY)
    _write(d, "child.yaml", "extends: parent.yaml\nname: child\n")
    return ["run", "child.yaml", *_run_args()]


def _alias_bomb_in_grid(d: Path) -> list[str]:
    _write(d, "tiny.yaml", TINY)
    _write(d, "exp.yaml", _BOMB + EXPERIMENT.replace("[1, 2]", "*i"))
    return ["sweep", "exp.yaml", "--out", "sw", "-j", "1", "--no-figures", "-q"]


def _recursive_alias(d: Path) -> list[str]:
    _write(d, "s.yaml", "x: &a [*a]\n" + TINY)
    return ["validate", "s.yaml"]


def _huge_flow_list(d: Path) -> list[str]:
    _write(d, "s.yaml", TINY + "extra: [" + "1," * 2_400_000 + "1]\n")
    return ["validate", "s.yaml"]


def _huge_data_file(d: Path) -> list[str]:
    with open(d / "big.csv", "wb") as fh:  # sparse: 300 MB that take no disk
        fh.truncate(300 * 2**20)
    _write(d, "s.yaml", TINY.replace("values: [1, 2, 3]", "file: big.csv"))
    return ["validate", "s.yaml"]


def _many_rows_data_file(d: Path) -> list[str]:
    _write(d, "rows.csv", "1\n" * 1_000_001)
    _write(d, "s.yaml", TINY.replace("values: [1, 2, 3]", "file: rows.csv"))
    return ["validate", "s.yaml"]


def _million_point_sweep(d: Path) -> list[str]:
    _write(d, "tiny.yaml", TINY)
    grid = "  staff.edt.count: [" + ", ".join(str(i) for i in range(1, 1001)) + "]\n"
    grid += "  seed: [" + ", ".join(str(i) for i in range(1000)) + "]\n"
    _write(d, "exp.yaml", EXPERIMENT.replace("  staff.edt.count: [1, 2]\n", grid))
    return ["sweep", "exp.yaml", "--out", "sw", "-j", "1", "--no-figures", "-q"]


def _billion_replications(d: Path) -> list[str]:
    _write(d, "s.yaml", TINY)
    return ["run", "s.yaml", *_run_args(n=1_000_000_000)]


def _million_jobs(d: Path) -> list[str]:
    _write(d, "s.yaml", TINY)
    return ["run", "s.yaml", "--out", "out", "--no-figures", "-n", "1", "--jobs", "1000000"]


def _zero_demand(d: Path) -> list[str]:
    text = re.sub(r"per_week: \d+(\.\d+)?", "per_week: 0", TINY)
    text = text.replace("other_demand_per_week: 1.0", "other_demand_per_week: 0")
    _write(d, "s.yaml", text)
    return ["run", "s.yaml", *_run_args()]


def _short_horizon(d: Path) -> list[str]:
    _write(d, "s.yaml", TINY.replace("days: 7, warmup_days: 2", "days: 0.05, warmup_days: 0"))
    return ["run", "s.yaml", *_run_args()]


def _extends_symlink_loop(d: Path) -> list[str]:
    (d / "loop.yaml").symlink_to("loop.yaml")
    _write(d, "s.yaml", "extends: loop.yaml\nname: s\n")
    return ["validate", "s.yaml"]


def _checkpoint_missing_keys(d: Path) -> list[str]:
    _a_sweep(d)
    _write(d, "sw/sweep_checkpoint.jsonl", '{"ooh_sim_sweep_checkpoint": 1}\n{"point": 0}\n')
    return ["sweep", "exp.yaml", "--out", "sw", "--resume", "-j", "1", "--no-figures", "-q"]


def _checkpoint_fifo(d: Path) -> list[str]:
    _a_sweep(d)
    (d / "sw" / "sweep_checkpoint.jsonl").unlink()
    os.mkfifo(d / "sw" / "sweep_checkpoint.jsonl")
    return ["sweep", "exp.yaml", "--out", "sw", "--resume", "-j", "1", "--no-figures", "-q"]


def _checkpoint_garbage_line(d: Path) -> list[str]:
    _a_sweep(d)
    ck = d / "sw" / "sweep_checkpoint.jsonl"
    lines = ck.read_text().splitlines(keepends=True)
    ck.write_text(lines[0] + "garbage\n" + "".join(lines[1:]))
    return ["sweep", "exp.yaml", "--out", "sw", "--resume", "-j", "1", "--no-figures", "-q"]


def _report_truncated_gzip(d: Path) -> list[str]:
    _a_run(d)
    jobs = d / "res" / "jobs.csv.gz"
    jobs.write_bytes(jobs.read_bytes()[:100])
    return ["report", "res"]


def _report_wrong_types(d: Path) -> list[str]:
    _a_run(d)
    s = d / "res" / "summary.json"
    data = json.loads(s.read_text())
    data["replications"] = "many"
    s.write_text(json.dumps(data))
    return ["report", "res"]


def _report_not_a_mapping(d: Path) -> list[str]:
    _a_run(d)
    (d / "res" / "summary.json").write_text("[1, 2]")
    return ["report", "res"]


def _fit_year(year: int) -> Callable[[Path], list[str]]:
    def setup(d: Path) -> list[str]:
        _write(d, "log.csv", _LOG.replace("2023-01-02T", f"{year}-01-02T"))
        return ["fit", "log.csv", "--out", "fitted.yaml"]

    return setup


def _fit_huge_cell(d: Path) -> list[str]:
    _write(d, "log.csv", _LOG + "2023-01-05T20:00:00,amhp," + "9" * 128 * 1024 + "\n")
    return ["fit", "log.csv", "--out", "fitted.yaml"]


def _fit_escape_header(d: Path) -> list[str]:
    _write(d, "log.csv", "\x1b]0;pwned\x07when,stream,worker_minutes\n2023-01-02T18:00:00,a,1\n")
    return ["fit", "log.csv", "--out", "fitted.yaml"]


def _mathtext_value(d: Path) -> list[str]:
    _write(d, "tiny.yaml", TINY)
    exp = EXPERIMENT.replace("staff.edt.count: [1, 2]", "description: ['$\\\\frac{$', 'b']")
    _write(d, "exp.yaml", exp)
    return ["sweep", "exp.yaml", "--out", "sw", "-j", "1", "-q"]


def _report_full_disk(d: Path) -> list[str]:
    _a_run(d)
    (d / "res" / "report.html").unlink(missing_ok=True)
    return ["report", "res"]


def _roundtrip(d: Path) -> list[str]:
    desc = "   leading spaces\n- a list marker\n? a key marker\n\ttab \x07 bell \x1b esc: x # y"
    _write(d, "s.yaml", TINY.replace(
        "description: a small valid scenario that every bad-input case and loader fuzz mutation "
        "starts from", f"description: {json.dumps(desc)}"))  # fmt: skip
    return ["run", "s.yaml", *_run_args(), "--report"]


def _check_roundtrip(d: Path, err: str) -> None:
    from ooh_sim.core.loader import load_scenario

    a, b = load_scenario(d / "s.yaml"), load_scenario(d / "out" / "scenario.yaml")
    assert a.model_dump() == b.model_dump()


def _escape_in_key(d: Path) -> list[str]:
    _write(d, "s.yaml", TINY.replace("seed: 7", 'seed: 7\n"\\e]0;pwned\\a\\e[2J": 1'))
    return ["validate", "s.yaml"]


def _long_data_line(d: Path) -> list[str]:
    _write(d, "vals.csv", "x\n1\n" + "y" * 10_000 + "\n")
    _write(d, "s.yaml", TINY.replace("values: [1, 2, 3]", "file: vals.csv"))
    return ["validate", "s.yaml"]


def _brackets_in_path(d: Path) -> list[str]:
    return ["validate", "a[bold]b[/bold]/missing.yaml"]


def _yaml_tag(tag: str) -> Callable[[Path], list[str]]:
    def setup(d: Path) -> list[str]:
        _write(d, "s.yaml", TINY.replace("seed: 7", f"seed: 7\nx: {tag}"))
        return ["validate", "s.yaml"]

    return setup


def _threshold_collides(d: Path) -> list[str]:
    # report.thresholds_hours makes KPI names; a threshold must not rename another KPI
    _write(d, "s.yaml", TINY.replace("thresholds_hours: [2, 4, 8]", "thresholds_hours: [2, 2.0]"))
    return ["run", "s.yaml", *_run_args()]


def _bed_overload(d: Path) -> list[str]:
    text = TINY.replace("capacity: 2", "capacity: 1").replace(
        "stay_days: {dist: exponential, mean: 2}", "stay_days: {dist: exponential, mean: 30}"
    )
    _write(d, "s.yaml", text)
    return ["run", "s.yaml", *_run_args(), "--report"]


def _check_bed_warning(d: Path, err: str) -> None:
    assert "beds" in err and "warning" in err, err
    summary = json.loads((d / "out" / "summary.json").read_text())
    assert any("bed" in w for w in summary.get("warnings", [])), summary.get("warnings")
    assert "bed" in (d / "out" / "report.html").read_text().lower()


def _zero_check(d: Path, err: str) -> None:
    summary = json.loads((d / "out" / "summary.json").read_text())
    counts = {k: v["mean"] for k, v in summary["kpis"].items() if k.endswith(".jobs_per_week")}
    assert counts and not any(counts.values()), counts


def _stale_check(d: Path, err: str) -> None:
    assert not (d / ".out.tmp-999999999-abc").exists()
    assert (d / "out" / "summary.json").is_file()


def _symlink_check(d: Path, err: str) -> None:
    assert (d / "link").is_symlink() and (d / "real" / "summary.json").is_file()
    assert sorted(p.name for p in d.iterdir() if p.name.startswith(".")) == []


def _garbage_check(d: Path, err: str) -> None:
    """The damaged line is gone; both points' records are kept (not cut off after it)."""
    lines = (d / "sw" / "sweep_checkpoint.jsonl").read_text().splitlines()
    assert "garbage" not in lines and len(lines) == 3, lines


# fmt: off
HOSTILE = [
    # data loss
    Hostile("out_is_the_input_folder", _out_is_input_folder, expect=("--out", "input file")),
    Hostile("out_of_plain_files", _plain_files_folder, expect=("--out", "not ooh-sim")),
    Hostile("out_with_a_summary_json", _summary_json_folder, expect=("--out", "not ooh-sim")),
    Hostile("out_results_with_an_extra_file", _extra_file_in_results,
            expect=("--out", "my_notes.txt")),
    Hostile("out_holds_the_input", _input_inside_results, expect=("--out", "input")),
    Hostile("out_is_the_scenario_file", _out_is_the_scenario, expect=("--out", "input file")),
    Hostile("sweep_out_of_other_files", _sweep_onto_other_folder, expect=("--out", "not ooh-sim")),
    Hostile("sweep_bad_dask_address_keeps_results", _sweep_bad_dask_keeps_results,
            expect=("address",)),
    Hostile("fit_bad_name_keeps_the_file", _fit_bad_name_keeps_file, expect=("name",)),
    Hostile("fit_out_is_the_log", _fit_out_is_the_log, expect=("input",)),
    Hostile("fit_onto_an_existing_scenario", _fit_onto_a_scenario,
            expect=("fitted.yaml exists", "--force")),
    Hostile("fit_onto_an_existing_profile", _fit_onto_a_profile,
            expect=("f_amhp_profile.csv exists", "--force")),
    Hostile("out_in_use", _locked, expect=("in use by process",)),
    Hostile("stale_staging_removed", _stale_staging, code=0,
            changes=("out", ".out.tmp-999999999-abc"), check=_stale_check),
    Hostile("symlinked_out", _symlinked_out, code=0, changes=("real",), check=_symlink_check),
    # unbounded work
    Hostile("alias_bomb_in_extends_parent", _alias_bomb_in_parent,
            expect=("parent.yaml", "OOH_SIM_MAX_YAML_NODES")),
    Hostile("alias_bomb_in_sweep_grid", _alias_bomb_in_grid, expect=("OOH_SIM_MAX_YAML_NODES",)),
    Hostile("recursive_alias", _recursive_alias, expect=("refers to itself",)),
    Hostile("huge_flow_list", _huge_flow_list, expect=("OOH_SIM_MAX_YAML_NODES",)),
    Hostile("huge_data_file", _huge_data_file, expect=("big.csv", "OOH_SIM_MAX_DATA_BYTES")),
    Hostile("data_file_too_many_rows", _many_rows_data_file,
            expect=("rows.csv", "OOH_SIM_MAX_DATA_ROWS")),
    Hostile("million_point_sweep", _million_point_sweep, expect=("OOH_SIM_MAX_POINTS",)),
    Hostile("billion_replications", _billion_replications,
            expect=("--replications", "OOH_SIM_MAX_REPLICATIONS")),
    Hostile("million_jobs_clipped", _million_jobs, code=0, expect=("cores here",),
            changes=("out",)),
    # crashes where the input is at fault, or runs where it is legal
    Hostile("zero_demand_runs", _zero_demand, code=0, changes=("out",), check=_zero_check),
    Hostile("horizon_of_an_hour_runs", _short_horizon, code=0, changes=("out",), fresh=True),
    Hostile("extends_symlink_loop", _extends_symlink_loop, expect=("loop",)),
    Hostile("checkpoint_missing_keys", _checkpoint_missing_keys, expect=("checkpoint",)),
    Hostile("checkpoint_is_a_fifo", _checkpoint_fifo, expect=("not a regular file",)),
    Hostile("checkpoint_garbage_line_keeps_later_points", _checkpoint_garbage_line, code=0,
            changes=("sw",), check=_garbage_check),
    Hostile("report_truncated_gzip", _report_truncated_gzip, expect=("jobs.csv.gz",)),
    Hostile("report_wrong_types", _report_wrong_types, expect=("replications", "number")),
    Hostile("report_summary_not_a_mapping", _report_not_a_mapping, expect=("damaged",)),
    Hostile("fit_year_1850", _fit_year(1850), expect=("1850", "1900")),
    Hostile("fit_year_2999", _fit_year(2999), expect=("2999", "2200")),
    Hostile("fit_128_kb_cell", _fit_huge_cell, expect=("characters",)),
    Hostile("sweep_mathtext_value", _mathtext_value, code=0, changes=("sw",)),
    Hostile("report_on_a_full_disk", _report_full_disk, expect=("report.html",),
            changes=("res",), limit_fsize=4096),
    Hostile("resolved_scenario_loads_back", _roundtrip, code=0, changes=("out",),
            check=_check_roundtrip),
    # injection
    Hostile("escape_sequence_in_a_key", _escape_in_key, expect=("\\x1b",)),
    Hostile("fit_header_escape_sequence", _fit_escape_header, expect=("\\x1b",)),
    Hostile("long_data_line_cut", _long_data_line, expect=("vals.csv", "…")),
    Hostile("brackets_in_a_path", _brackets_in_path, expect=("a[bold]b[/bold]",)),
    Hostile("yaml_set_tag", _yaml_tag("!!set {a, b}"), expect=("!!set", "not allowed"),
            fresh=True),
    Hostile("yaml_binary_tag", _yaml_tag("!!binary aGk="), expect=("!!binary", "not allowed")),
    Hostile("yaml_omap_tag", _yaml_tag("!!omap [a: 1]"), expect=("!!omap", "not allowed")),
    Hostile("yaml_custom_tag", _yaml_tag("!evil 1"), expect=("!evil", "not allowed")),
    Hostile("threshold_twice_is_one_kpi", _threshold_collides, code=0, changes=("out",)),
    # warnings
    Hostile("bed_overload_warns", _bed_overload, code=0, changes=("out",),
            check=_check_bed_warning),
]
# fmt: on


# ------------------------------------------------------------------------------ running


def tree(folder: Path) -> dict[str, str]:
    """Every file (and link) under ``folder``: relative path → SHA-256 (FIFOs by name only)."""
    out = {}
    for root, dirs, files in os.walk(folder):
        for n in files + [d for d in dirs if (Path(root) / d).is_symlink()]:
            p = Path(root) / n
            rel = p.relative_to(folder).as_posix()
            if p.is_symlink():
                out[rel] = "link:" + os.readlink(p)
            elif p.is_file():
                out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
            else:
                out[rel] = "special"
    return out


@dataclass
class Outcome:
    code: int
    err: str
    seconds: float
    before: dict[str, str]
    after: dict[str, str]
    folder: Path
    peak_kib: int


def _limits(fsize: int | None) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))
        if fsize is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write fails (EFBIG), as when full
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    return apply


ENV = {**{k: v for k, v in os.environ.items() if k != "OOH_SIM_DEBUG"}, "COLUMNS": "120"}
"""Every case's environment (plus the case's own ``env``)."""


def _fresh(case: Hostile, folder: Path, argv: list[str]) -> tuple[int, str, float, int]:
    """``python -m ooh_sim`` in a new interpreter: exit code, stderr, seconds, peak RSS (KiB).

    Reaped with ``wait4``, as the case server does, so the peak is this case's (and its own
    children's), not that of any child this test process ever had."""
    t0 = time.monotonic()
    with tempfile.TemporaryFile() as fh:
        p = subprocess.Popen([sys.executable, "-m", "ooh_sim", *argv], cwd=folder,
                             env={**ENV, **case.env}, stdout=subprocess.DEVNULL, stderr=fh,
                             preexec_fn=_limits(case.limit_fsize))  # fmt: skip
        pidfd = os.pidfd_open(p.pid)
        try:
            done, _, _ = select.select([pidfd], [], [], SECONDS)
        finally:
            os.close(pidfd)
        if not done:
            p.kill()
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        fh.seek(0)
        err = fh.read().decode("utf-8", "replace")
    code = p.returncode if done else -1
    if not done:
        err = f"timed out after {SECONDS} s: {err!r}"
    return code, err, time.monotonic() - t0, usage.ru_maxrss


def _forked(
    server: str, case: Hostile, folder: Path, argv: list[str]
) -> tuple[int, str, float, int]:
    """The same process, forked from the case server (``tests/case_server.py``)."""
    request = {"cwd": str(folder), "argv": argv, "env": case.env, "memory": MEMORY,
               "fsize": case.limit_fsize, "seconds": SECONDS}  # fmt: skip
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(server)
        s.sendall((json.dumps(request) + "\n").encode())
        a = json.loads(s.makefile("r", encoding="utf-8").readline())
    err = f"timed out after {SECONDS} s: {a['stderr']!r}" if a["timed_out"] else a["stderr"]
    return (-1 if a["timed_out"] else a["code"]), err, a["seconds"], a["peak_kib"]


def _execute(case: Hostile, folder: Path, server: str) -> Outcome:
    folder.mkdir(parents=True)
    argv = case.setup(folder)
    holder = None
    if case.id == "out_in_use":  # another writer holds the folder's lock
        import fcntl

        holder = open(folder / ".out.ooh-sim.lock", "w")  # noqa: SIM115
        fcntl.flock(holder, fcntl.LOCK_EX)
        holder.write(f"{os.getpid()}\n")
        holder.flush()
    before = tree(folder)
    if case.fresh:
        code, err, seconds, peak = _fresh(case, folder, argv)
    else:
        code, err, seconds, peak = _forked(server, case, folder, argv)
    if holder is not None:
        holder.close()
    return Outcome(code, err, seconds, before, tree(folder), folder, peak)


@pytest.fixture(scope="module")
def case_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fork server that has imported ooh_sim once (its socket's path)."""
    path = str(tmp_path_factory.mktemp("server") / "s")
    server = subprocess.Popen([sys.executable, str(Path(__file__).parent / "case_server.py"),
                               path], env=ENV, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)  # fmt: skip
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        yield path
    finally:
        server.kill()
        server.wait()


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One genuine run folder and one sweep folder; cases copy them rather than each making its
    own (in this process, so no extra process either)."""
    for kind, make in (("run", _made_run), ("sweep", _made_sweep)):
        MADE[kind] = tmp_path_factory.mktemp(f"made-{kind}")
        make(MADE[kind])
    return MADE


@pytest.fixture(scope="module")
def outcomes(
    tmp_path_factory: pytest.TempPathFactory, case_server: str, made: dict[str, Path]
) -> dict[str, Outcome]:
    """Every case, run once, a few at a time: most of a case's time is its own process, so two
    cores keep three cases busy."""
    root = tmp_path_factory.mktemp("hostile")
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {c.id: pool.submit(_execute, c, root / c.id, case_server) for c in HOSTILE}
    return {k: f.result() for k, f in futures.items()}


@pytest.mark.parametrize("case", HOSTILE, ids=lambda c: c.id)
def test_hostile(case: Hostile, outcomes: dict[str, Outcome]) -> None:
    o = outcomes[case.id]
    assert o.code == case.code, o.err
    assert o.seconds < SECONDS, o.err
    assert "Traceback" not in o.err and "internal error" not in o.err, o.err
    assert "\x1b" not in o.err and "\x07" not in o.err, repr(o.err)
    lines = [line for line in o.err.splitlines() if line.strip()]
    if case.code == 2:
        assert len(lines) == 1 and lines[0].startswith("error:"), o.err
    flat = " ".join(o.err.split()).lower()
    for fragment in case.expect:
        assert fragment.lower() in flat, (fragment, o.err)
    changed = [
        k for k, v in o.before.items()
        if o.after.get(k) != v and not k.startswith(case.changes or ("\0",))
    ]  # fmt: skip
    assert not changed, f"changed or removed: {changed}"
    new = [k for k in o.after if k not in o.before and not k.startswith(case.changes or ("\0",))]
    assert not new, f"written where it should not be: {new}"
    if case.check is not None:
        case.check(o.folder, o.err)


def test_memory_limit_holds(outcomes: dict[str, Outcome]) -> None:
    """No case came near the memory limit (ru_maxrss of the largest child)."""
    peak = max(o.peak_kib for o in outcomes.values())
    assert peak * 1024 < MEMORY, f"peak RSS {peak / 1024:.0f} MiB"


# ------------------------------------------------------------------------------ in-process


def test_an_internal_error_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ooh_sim import cli

    def broken(_args: object) -> int:
        raise RuntimeError("something\nbroke\non several lines")

    monkeypatch.delenv("OOH_SIM_DEBUG", raising=False)
    monkeypatch.setitem(cli.COMMANDS, "validate", broken)
    assert cli.main(["validate", "x.yaml"]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "something broke on several lines" in err and "OOH_SIM_DEBUG" in err


PAYLOADS = ("<script>alert(1)</script>", "<meta http-equiv=refresh content=0;url=//x>",
            '" onload="alert(1)')  # fmt: skip


def _poison(obj: object, payload: str) -> object:
    if isinstance(obj, dict):
        return {k: _poison(v, payload) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_poison(v, payload) for v in obj]
    if isinstance(obj, (str, int, float)) and not isinstance(obj, bool):
        return payload
    return obj


@pytest.mark.parametrize("payload", PAYLOADS)
def test_html_injection_from_summary_json(
    tmp_path: Path, payload: str, made: dict[str, Path]
) -> None:
    """Every string and number of summary.json replaced by markup: either the folder is refused
    (a number that is not a number) or nothing arrives unescaped in report.html."""
    from ooh_sim.core.errors import InputError
    from ooh_sim.report.html import REPORT_NAME, write_report

    _a_run(tmp_path)
    res = tmp_path / "res"
    data = json.loads((res / "summary.json").read_text())
    for key in list(data):  # one field at a time, so each is tried on its own
        poisoned = {**data, key: _poison(data[key], payload)}
        (res / "summary.json").write_text(json.dumps(poisoned))
        try:
            write_report(res)
        except InputError:
            continue
        page = (res / REPORT_NAME).read_text()
        assert payload not in page, key
        assert "<script" not in page.lower() and "<meta http-equiv=refresh" not in page, key


@pytest.mark.parametrize("payload", PAYLOADS)
def test_html_injection_from_the_scenario(tmp_path: Path, payload: str) -> None:
    """Markup in the scenario's free text (description, comments) is escaped in report.html."""
    from ooh_sim import cli
    from ooh_sim.report.html import REPORT_NAME

    text = TINY.replace("description: a small", f"# {payload}\ndescription: {json.dumps(payload)}"
                        "\n# a small")  # fmt: skip
    text = text.replace("seed: 7", f"seed: 7  # {payload}")
    _write(tmp_path, "s.yaml", text)
    out = tmp_path / "out"
    assert cli.main(["run", str(tmp_path / "s.yaml"), *_run_args(str(out)), "-q", "--report"]) == 0
    page = (out / REPORT_NAME).read_text()
    assert payload not in page
    assert "<script" not in page.lower() and "<meta http-equiv=refresh" not in page.lower()
    assert "form-action 'none'" in page and "default-src 'none'" in page


def test_jobs_file_written_by_a_run_is_gzip(made: dict[str, Path]) -> None:
    """Sanity for the truncated-gzip case: the file a run writes is a whole gzip stream."""
    assert gzip.decompress((made["run"] / "res" / "jobs.csv.gz").read_bytes())


# ------------------------------------------------------------------------------ large designs


def _grid(folder: Path, counts: list[int], seeds: int, name: str) -> Path:
    _write(folder, "tiny.yaml", TINY)
    grid = f"  staff.edt.count: {counts}\n  seed: {list(range(seeds))}\n"
    return _write(folder, name, EXPERIMENT.replace("  staff.edt.count: [1, 2]\n", grid))


def _cpu_seconds(load: Callable[[], object]) -> float:
    t0 = time.process_time()
    load()
    return time.process_time() - t0


def test_checking_a_design_is_linear_in_its_points(tmp_path: Path) -> None:
    """Every point checked as a scenario (~0.5 ms each), bad points counted once per problem:
    ten times the points cost about ten times the time (CPU time, the best of three runs each:
    the machine may be busy — one run of the large design on a busy 2-core CI machine measured
    15.1 times)."""
    from ooh_sim.core.errors import InputErrors
    from ooh_sim.core.experiment import load_experiment

    def fails(path: Path) -> InputErrors:
        with pytest.raises(InputErrors) as caught:
            load_experiment(path)
        return caught.value

    small = _grid(tmp_path, [-1, 1, 2], 60, "small.yaml")  # 180 points, 60 bad
    large = _grid(tmp_path, [-1, 1, 2], 600, "large.yaml")  # 1,800 points, 600 bad
    errors: list[InputErrors] = []
    t_large = min(_cpu_seconds(lambda: errors.append(fails(large))) for _ in range(3))
    t_small = min(_cpu_seconds(lambda: fails(small)) for _ in range(3))
    assert t_large / t_small < 15, (t_small, t_large)
    (err,) = errors[0].errors
    assert "600 of 1800 design points fail like this" in str(err), str(err)


def test_a_100000_point_design_is_linear_and_reports_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The largest design allowed (``OOH_SIM_MAX_POINTS``): making, checking, hashing 100,000
    points stays linear (10,000 → 100,000 points: under 15 times the time) and the checking
    reports its progress. A point's own scenario check (~0.5 ms, measured above) is replaced by
    the first point's scenario here, so that the test takes a second, not a minute."""
    from ooh_sim.core import experiment, limits

    real = experiment.Experiment.scenario
    first: dict[int, object] = {}

    def first_scenario(self: experiment.Experiment, point: int) -> object:
        if not first:
            first[0] = real(self, 0)
        return first[0]

    monkeypatch.setattr(experiment.Experiment, "scenario", first_scenario)
    path_10k = _grid(tmp_path, list(range(1, 11)), 1000, "e10k.yaml")
    path_100k = _grid(tmp_path, list(range(1, 101)), 1000, "e100k.yaml")
    assert limits.POINTS.value >= 100_000
    seen: list[tuple[int, int]] = []
    exp = experiment.load_experiment(path_100k, progress=lambda d, t: seen.append((d, t)))
    assert len(exp.points) == 100_000
    assert seen[0] == (0, 100_000) and seen[-1] == (100_000, 100_000)
    assert len(seen) >= 100_000 // experiment.PROGRESS_EVERY
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    t_10k = min(_cpu_seconds(lambda: experiment.load_experiment(path_10k)) for _ in range(2))
    t_100k = min(_cpu_seconds(lambda: experiment.load_experiment(path_100k)) for _ in range(2))
    assert t_100k / t_10k < 15, (t_10k, t_100k)


def test_the_cli_shows_a_bar_while_checking_a_large_design(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over 1,000 points: a bar (rich) from the first point to the last; at most 1,000 points, or
    with ``-q``: none. (Tried with the threshold at 100, to check fewer points.)"""
    from ooh_sim import cli

    assert cli.CHECKING_BAR_FROM == 1_000
    monkeypatch.setattr(cli, "CHECKING_BAR_FROM", 100)

    bars: list[list[tuple[int, int]]] = []

    class Bar:
        def start(self) -> None:
            bars.append([])

        def stop(self) -> None:
            bars[-1].append((-1, -1))

    def progress(quiet: bool, label: str, unit: str = "") -> tuple[Bar, Callable]:
        assert not quiet and "design points" in label
        return Bar(), lambda d, t: bars[-1].append((d, t))

    monkeypatch.setattr(cli, "_progress", progress)
    small = _grid(tmp_path, [1, 2], 50, "small.yaml")  # 100 points
    large = _grid(tmp_path, [1, 2, 3], 100, "large.yaml")  # 300 points
    assert len(cli._load_experiment(small).points) == 100 and not bars
    cli._load_experiment(large, quiet=True)
    assert not bars
    cli._load_experiment(large)
    (bar,) = bars
    assert bar[0] == (0, 300) and bar[-2:] == [(300, 300), (-1, -1)]


# ------------------------------------------------------------------------------ threshold names

THRESHOLDS = [2, 2.0, 2.0000001, 1e-05, 0.1 + 0.2, 0.3, 123456.78912345678, 1e20, 1 / 3]


def test_a_threshold_never_takes_another_kpis_name() -> None:
    """``report.thresholds_hours`` makes the ``station.share_over_<H>h`` names: equal thresholds
    (2 and 2.0) are one KPI; any two different ones get different names (``{h:g}`` would print
    2.0000001 as ``2`` and replace the share over 2 h), and each name is one the catalogue
    reads back as that threshold — never another KPI's name."""
    from ooh_sim.core import kpis
    from ooh_sim.core.loader import scenario_from_dict

    data = yaml.safe_load(TINY)
    data["report"] = {"thresholds_hours": THRESHOLDS}
    scenario = scenario_from_dict(data)
    names = kpis.names_for(scenario)
    shares = [n for n in names if kpis.spec(n).name == "station.share_over_<H>h"]
    assert len(shares) == len(set(map(float, THRESHOLDS))) == len(THRESHOLDS) - 1, shares
    for name, h in zip(shares, dict.fromkeys(map(float, THRESHOLDS)), strict=True):
        assert float(kpis.placeholders(name)["H"]) == h, (name, h)
        assert re.fullmatch(r"station\.share_over_[0-9][0-9.e+\-]*h", name), name
    others = set(names) - set(shares)
    assert not any(kpis.spec(n).name == "station.share_over_<H>h" for n in others)
    assert "station.share_over_2h" in shares and "station.share_over_2.0000001h" in shares


def test_a_run_gives_each_threshold_its_own_kpi() -> None:
    """The KPIs a run computes are the names above, one value each (none overwritten)."""
    from ooh_sim.core import kpis
    from ooh_sim.core.loader import scenario_from_dict
    from ooh_sim.core.runner import run_replication

    data = yaml.safe_load(TINY)
    data["report"] = {"thresholds_hours": THRESHOLDS}
    scenario = scenario_from_dict(data)
    got = run_replication(scenario, 7, 0, keep_jobs=False).kpis
    assert sorted(got) == sorted(kpis.names_for(scenario))
    shares = {float(kpis.placeholders(n)["H"]): v for n, v in got.items() if "share_over" in n}
    assert shares[1e-05] >= shares[1 / 3] >= shares[2.0] >= shares[2.0000001] >= shares[1e20]


@pytest.mark.parametrize(
    ("design", "samples", "points"),
    [("sobol", 65, 128), ("saltelli", 17, 32 * 4), ("lhs", 101, 101)],
)
def test_the_points_limit_counts_the_points_a_design_makes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, design: str, samples: int, points: int
) -> None:
    """Sobol rounds ``samples`` up to a power of 2 and Saltelli makes (parameters + 2) points
    per sample: the limit counts those, before any is made or checked."""
    from ooh_sim.core.errors import InputError
    from ooh_sim.core.experiment import load_experiment

    monkeypatch.setenv("OOH_SIM_MAX_POINTS", "100")
    _write(tmp_path, "tiny.yaml", TINY)
    ranges = "  staff.edt.count: {low: 1, high: 3}\n  staff.nights.count: {low: 1, high: 2}\n"
    text = EXPERIMENT.replace("design: grid", f"design: {design}\nsamples: {samples}")
    path = _write(tmp_path, "exp.yaml", text.replace("  staff.edt.count: [1, 2]\n", ranges))
    with pytest.raises(InputError) as caught:
        load_experiment(path)
    assert f"too many design points: {points}, the limit is 100" in str(caught.value)
    assert "OOH_SIM_MAX_POINTS" in str(caught.value)
