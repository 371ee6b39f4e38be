"""Issue 14, item 1: ooh-sim runs on Windows, macOS and Linux.

No POSIX-only call anywhere in the package; replications in worker processes started with
``spawn`` (the only start method on Windows, the default on macOS) give the same numbers as the
default, also from a flat script without an ``if __name__ == "__main__":`` guard.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ooh_sim.core.errors import InputError
from ooh_sim.core.loader import load_scenario
from ooh_sim.core.pool import START_METHOD_VARIABLE, start_method
from ooh_sim.core.runner import run

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "ooh_sim"

POSIX_ONLY_MODULES = {"fcntl", "resource", "termios", "pwd", "grp", "posix", "tty", "pty"}
POSIX_ONLY_OS = {
    "pread", "pwrite", "fork", "forkpty", "getuid", "geteuid", "getgid", "setsid", "killpg",
    "getpgid", "setpgid", "sched_setaffinity", "getloadavg", "sync", "mkfifo", "nice",
}  # fmt: skip
"""Calls that do not exist on Windows (``os.sched_getaffinity`` is allowed behind ``hasattr``)."""


def _guarded(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """Inside ``if sys.platform …`` / ``if os.name …`` / ``hasattr(os, …)`` or a ``try`` that
    catches ImportError/AttributeError: a platform branch, not an unconditional call."""
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If | ast.IfExp):
            text = ast.unparse(node.test)
            if any(t in text for t in ("sys.platform", "os.name", "hasattr(", "platform.system")):
                return True
        if isinstance(node, ast.Try):
            caught = " ".join(ast.unparse(h.type) for h in node.handlers if h.type is not None)
            if "ImportError" in caught or "AttributeError" in caught:
                return True
    return False


def test_no_posix_only_calls() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(tree):
            bad = None
            if isinstance(node, ast.Import):
                bad = next((a.name for a in node.names if a.name in POSIX_ONLY_MODULES), None)
            elif isinstance(node, ast.ImportFrom) and node.module in POSIX_ONLY_MODULES:
                bad = node.module
            elif (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "os"
                and node.attr in POSIX_ONLY_OS
            ):
                bad = f"os.{node.attr}"
            elif (
                isinstance(node, ast.Call)
                and ast.unparse(node.func) == "os.kill"
                and len(node.args) == 2
                and ast.unparse(node.args[1]) == "0"
            ):
                bad = "os.kill(pid, 0) (on Windows signal 0 is CTRL_C_EVENT: it interrupts)"
            if bad and not _guarded(node, parents):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {bad}")
    assert not found, "POSIX-only calls (no Windows):\n" + "\n".join(found)


def test_start_method_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(START_METHOD_VARIABLE, "spawn")
    assert start_method() == "spawn"
    assert start_method("forkserver") == "forkserver"
    monkeypatch.setenv(START_METHOD_VARIABLE, "fork")  # unsafe with threads: refused
    with pytest.raises(InputError, match="start method 'fork'"):
        start_method()


SCRIPT = """\
# a planner's flat script: no main guard, as typed into a file on a Windows laptop
import json
import ooh_sim

short = {{"horizon.days": 42, "horizon.warmup_days": 7}}
scenario = ooh_sim.load_scenario({scenario!r}, overrides=short)
result = ooh_sim.run(scenario, replications=4, jobs=2)
print(json.dumps({{k: e.mean for k, e in result.summary.items()}}))
"""


def _script_run(tmp_path: Path, method: str | None) -> dict[str, float]:
    script = tmp_path / "flat_script.py"
    script.write_text(SCRIPT.format(scenario=str(ROOT / "scenarios" / "baseline.yaml")))
    env = {k: v for k, v in os.environ.items() if k != START_METHOD_VARIABLE}
    if method:
        env[START_METHOD_VARIABLE] = method
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _nan_equal(a: dict[str, float | None], b: dict[str, float]) -> None:
    assert list(a) == list(b)
    for k in a:
        x, y = a[k], b[k]
        assert (x is None and (y is None or y != y)) or x == y, k


@pytest.mark.parametrize("method", ["spawn", None])
def test_flat_script_without_guard_runs_in_parallel(tmp_path: Path, method: str | None) -> None:
    """spawn (Windows, macOS) and the default (fork server on Linux): a guard-less script with
    jobs=2 runs, and its numbers are bit-identical to one process."""
    got = _script_run(tmp_path, method)
    short = {"horizon.days": 42, "horizon.warmup_days": 7}
    scenario = load_scenario(ROOT / "scenarios" / "baseline.yaml", overrides=short)
    want = {k: e.mean for k, e in run(scenario, replications=4, jobs=1).summary.items()}
    _nan_equal(json.loads(json.dumps(got)), want)


def test_spawn_pool_in_process_matches_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same process, spawn forced: bit-identical to the fork server."""
    short = {"horizon.days": 35, "horizon.warmup_days": 7}
    scenario = load_scenario(ROOT / "scenarios" / "baseline.yaml", overrides=short)
    default = run(scenario, replications=4, jobs=2).summary
    monkeypatch.setenv(START_METHOD_VARIABLE, "spawn")
    spawned = run(scenario, replications=4, jobs=2).summary
    assert list(default) == list(spawned)
    for k in default:
        a, b = default[k], spawned[k]
        assert a == b or (a.mean != a.mean and b.mean != b.mean), k


def test_readme_states_platforms() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert all(os_name in text for os_name in ("Windows", "macOS", "Linux"))


# keep the script text honest for the linter: it must parse as Python
ast.parse(textwrap.dedent(SCRIPT.format(scenario="x.yaml")))


def test_worked_notebook_runs(tmp_path: Path) -> None:
    """Issue 14, item 7: the worked notebook (a jupytext script) runs top to bottom as a flat
    script with jobs=2 — no main guard — and ends by naming the summary table it wrote."""
    notebook = ROOT / "examples" / "planner_notebook.py"
    done = subprocess.run(
        [sys.executable, str(notebook)], cwd=tmp_path, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "summary table:" in done.stdout and "summary.csv" in done.stdout
