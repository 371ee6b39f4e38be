"""How figures are written: the PNG writer, drawing in the figure process (and its helpers), and
garbage collection left as it was (ooh_sim.report.folders, ooh_sim.report.figure_process)."""

from __future__ import annotations

import gc
import io
import pickle
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import unavailable
from PIL import Image  # matplotlib's own dependency (matplotlib is ooh-sim's)

import ooh_sim
from ooh_sim.core.runner import spools_shared
from ooh_sim.report import figure_process, folders

ROOT = Path(__file__).resolve().parent.parent
LINUX = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork: Linux only")


def _started(*modules: str) -> figure_process.FigureProcess:
    """A figure process; where none can be forked (threads running), see conftest.unavailable."""
    process = figure_process.FigureProcess.start(*modules)
    if process is None:
        unavailable("no figure process could be forked (threads running)",
                    "a test process without threads of its own")  # fmt: skip
    return process


@pytest.fixture(scope="module")
def result():
    sc = ooh_sim.load_scenario(ROOT / "scenarios" / "baseline.yaml")
    return ooh_sim.run(sc, replications=2, seed=3, jobs=1)


@pytest.mark.parametrize("alpha", [255, 128])
def test_png_bytes_hold_the_pixels_and_the_resolution(alpha):
    rng = np.random.default_rng(1)
    rgba = rng.integers(0, 256, size=(7, 5, 4), dtype=np.uint8)
    rgba[..., 3] = 255
    rgba[0, 0, 3] = alpha
    png = Image.open(io.BytesIO(folders.png_bytes(rgba, 110)))
    assert png.mode == ("RGB" if alpha == 255 else "RGBA")  # no alpha channel when opaque
    want = rgba[..., :3] if alpha == 255 else rgba
    assert np.array_equal(np.asarray(png), want)
    assert png.info["dpi"] == pytest.approx((110, 110), abs=0.01)


def test_a_saved_figure_has_the_pixels_matplotlib_saves(result, tmp_path):
    from ooh_sim.viz.run_figures import station_by_hour
    from ooh_sim.viz.style import SAVE_DPI

    ours = folders.save_figure(station_by_hour(result), tmp_path / "a.png")
    fig = station_by_hour(result)  # the same figure through matplotlib's own writer
    fig.get_layout_engine().execute(fig)
    fig.set_layout_engine(None)
    buf = io.BytesIO()
    fig.savefig(buf, dpi=SAVE_DPI)
    theirs = np.asarray(Image.open(buf).convert("RGB"))
    assert np.array_equal(np.asarray(Image.open(ours)), theirs)


def test_garbage_collection_is_left_as_it_was(result, tmp_path):
    assert gc.get_freeze_count() == 0
    made = folders.save_run_figures(result, tmp_path)
    assert made and gc.get_freeze_count() == 0 and gc.isenabled()


@LINUX
def test_helpers_draw_the_same_files_as_one_process(result, tmp_path, monkeypatch):
    one = tmp_path / "one"
    one.mkdir()
    here = [p.name for p in folders.save_run_figures(result, one)]
    monkeypatch.setattr(figure_process, "_drawers", lambda n: min(n, 3))  # whatever the cores
    many = tmp_path / "many"
    many.mkdir()
    with spools_shared(), open(many / figure_process._DATA, "wb") as fh:
        pickle.dump(result, fh)  # as FigureProcess.submit does
    names = figure_process.draw(folders.run_figure_plan, folders.save_figure, many)
    assert names == here  # the plan's order
    for name in names:
        assert (many / name).read_bytes() == (one / name).read_bytes(), name


def _failing_plan(data):
    def boom():
        raise ValueError(f"no figure for {data}")

    return [(f"{i}.png", boom) for i in range(3)]


@LINUX
def test_an_error_in_a_helper_is_raised(tmp_path, monkeypatch):
    monkeypatch.setattr(figure_process, "_drawers", lambda n: min(n, 2))
    (tmp_path / figure_process._DATA).write_bytes(pickle.dumps("x"))
    with pytest.raises(ValueError, match="no figure for x"):
        figure_process.draw(_failing_plan, folders.save_figure, tmp_path)


class _Unpicklable(Exception):
    """An error that cannot cross a pipe as itself: it holds a lock."""

    def __init__(self) -> None:
        super().__init__("drawing failed holding a lock")
        self.lock = threading.Lock()


def _unpicklable_plan(data):
    def boom():
        raise _Unpicklable()

    return [("0.png", boom)]


def test_an_error_that_does_not_pickle_is_sent_in_words():
    """What the figure process and its helpers send back (_pickled) always unpickles."""
    with pytest.raises(TypeError):
        pickle.dumps(_Unpicklable())
    ok, err = pickle.loads(figure_process._pickled((False, _Unpicklable())))
    assert not ok and isinstance(err, RuntimeError)
    assert str(err) == "_Unpicklable: drawing failed holding a lock"
    assert pickle.loads(figure_process._pickled((True, ["a.png"]))) == (True, ["a.png"])


@LINUX
def test_an_error_that_does_not_pickle_reaches_the_first_process(tmp_path):
    process = _started("ooh_sim.report.folders")
    with process:
        collect = process.submit(_unpicklable_plan, folders.save_figure, "x")
        with pytest.raises(RuntimeError, match="_Unpicklable: drawing failed holding a lock"):
            collect(tmp_path)


def _slow_plan(data):
    import time

    return [("0.png", lambda: time.sleep(0.2))]  # no figure, after a while


@LINUX
def test_a_figure_process_whose_first_process_has_gone_ends_quietly(capfd):
    """The first process stops listening while figures are drawn (its --out could not be
    written, say): the figure process's reply has nowhere to go, and it ends without a word (a
    traceback there once followed the first process's one-line error)."""
    process = _started("ooh_sim.report.folders")
    process.submit(_slow_plan, folders.save_figure, "x")
    process._conn.close()  # gone while it draws (0.2 s): its reply will meet a closed pipe
    process._proc.join(timeout=60)  # no race with close()'s short wait before it kills
    assert process._proc.exitcode == 0
    process.close()
    assert capfd.readouterr().err == ""


@LINUX
def test_the_figure_process_draws_a_runs_folder(result, tmp_path):
    process = _started("ooh_sim.report.folders")
    with process:
        out = folders.write_run(result, tmp_path / "run", figure_process=process)
    here = tmp_path / "here"
    here.mkdir()
    for p in folders.save_run_figures(result, here):
        assert (tmp_path / "run" / p.name).read_bytes() == p.read_bytes()
    assert {p.name for p in out} >= {p.name for p in here.iterdir()}


@LINUX
def test_timelines_drawn_as_replications_come_match_those_drawn_at_the_end(tmp_path):
    """compare(first=TimelinesAsTheyCome): each option's night is drawn while the others run;
    the folder holds the same files, byte for byte, as when every figure is drawn at the end."""
    from ooh_sim.core.compare import compare

    base = ooh_sim.load_scenario(ROOT / "scenarios" / "baseline.yaml")
    more = ooh_sim.load_scenario(ROOT / "scenarios" / "more_placements.yaml")
    process = _started("ooh_sim.report.folders")
    with process:
        early = folders.TimelinesAsTheyCome(process, [base.name, more.name])
        c = compare([base, more], 2, 5, 1, first=early)
        assert early.drawn == [base.name, more.name]  # both started before the comparison ended
        out = folders.write_comparison(c, tmp_path / "early", figure_process=process,
                                       timelines=early)  # fmt: skip
    late = folders.write_comparison(compare([base, more], 2, 5, 1), tmp_path / "late")
    assert sorted(p.name for p in out) == sorted(p.name for p in late)
    for p in late:
        if p.suffix == ".png":
            assert (tmp_path / "early" / p.relative_to(tmp_path / "late")).read_bytes() == (
                p.read_bytes()
            ), p.name


_WHEN_STARTED = """
import sys, threading
import simpy
from ooh_sim.report import figure_process

runs = []  # simpy's run loop, counted: the model's replications run after the fork
_run = simpy.Environment.run
simpy.Environment.run = lambda env, *a, **k: (runs.append(1), _run(env, *a, **k))[1]

def start(*modules):  # records what the first process had done when it would fork
    shared = [m for m in ("numpy", "pydantic", "ooh_sim.core.runner") if m in sys.modules]
    sys.stderr.write(f"STARTED {' '.join(shared)} threads={threading.active_count()} "
                     f"ran={len(runs)}\\n")
    return None  # the figures are then drawn in this process

figure_process.FigureProcess.start = staticmethod(start)
from ooh_sim.cli import main
code = main(sys.argv[1:])
sys.stderr.write(f"RAN {len(runs)}\\n")
sys.exit(code)
"""


@pytest.mark.parametrize("command", ["run", "compare"])
def test_the_figure_process_is_forked_after_the_input_and_the_models_imports(command, tmp_path):
    """It shares the model's imports (forked before them it imported numpy and pydantic again,
    beside the running model), and is forked before the model runs and before any thread (the
    progress bar's: not --quiet); bad input forks nothing."""
    import subprocess

    scenario = str(ROOT / "scenarios" / "baseline.yaml")
    files = (
        [scenario]
        if command == "run"
        else [scenario, str(ROOT / "scenarios" / "more_placements.yaml")]
    )
    tiny = ["-n", "1", "--jobs", "1", "--set", "horizon.days=14", "--set", "horizon.warmup_days=7"]

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", _WHEN_STARTED, *args], cwd=tmp_path,
                              capture_output=True, text=True, timeout=300)  # fmt: skip

    ok = cli(command, *files, *tiny, "--out", str(tmp_path / "out"))
    assert ok.returncode == 0, ok.stderr
    started = [line.split()[1:] for line in ok.stderr.splitlines() if line.startswith("STARTED")]
    assert started == [["numpy", "pydantic", "ooh_sim.core.runner", "threads=1", "ran=0"]]
    assert f"RAN {len(files)}" in ok.stderr  # the model did run, after the fork
    bad = cli(command, *files, *tiny, "--set", "staff.edt.cuont=2", "--out", str(tmp_path / "b"))
    assert bad.returncode == 2 and "did you mean" in bad.stderr
    assert "STARTED" not in bad.stderr and not (tmp_path / "b").exists()
