"""An optimise run's folder: the resumable checkpoint, optimise.csv, optimise.json, summary.md
and best.yaml.

Every replication the procedure runs is appended to ``optimise_checkpoint.jsonl`` as soon as its
batch is done (flushed and fsync'd). The procedure is deterministic given its replications, so
``resume=True`` feeds the checkpoint's replications back to it: it retraces the same path
without simulating them again and goes on from where the run was stopped, giving the same
``optimise.csv`` as an uninterrupted run.

``best.yaml`` is a scenario that ``extends`` the optimise file's scenario (by a path relative to
the output folder) and sets only what the chosen option changes, so ``ooh-sim run best.yaml``
runs it as it is.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from ooh_sim.core.errors import InputError
from ooh_sim.core.optimise import (
    OptimiseResult,
    Record,
    optimise,
    summary_text,
)
from ooh_sim.core.optimise_spec import Problem
from ooh_sim.core.version import __version__
from ooh_sim.io.files import write_atomic
from ooh_sim.io.formats import csv_text, dumps_json, json_safe

CHECKPOINT = "optimise_checkpoint.jsonl"
FORMAT = 1
OPTIMISE_CSV, OPTIMISE_JSON, SUMMARY_MD, BEST_YAML = (
    "optimise.csv",
    "optimise.json",
    "summary.md",
    "best.yaml",
)
RESULT_FILES = (OPTIMISE_CSV, OPTIMISE_JSON, SUMMARY_MD, BEST_YAML)
STATS = ("mean", "ci95_low", "ci95_high")

# --------------------------------------------------------------------------------------------
# checkpoint


def _header(problem: Problem) -> dict[str, Any]:
    return {
        "ooh_sim_optimise_checkpoint": FORMAT,
        "problem": problem.name,
        "problem_sha256": problem.sha256,
        "points": len(problem.points),
        "version": __version__,
    }


def read_checkpoint(
    path: Path,
) -> tuple[dict[str, Any] | None, dict[tuple[int, int], dict[str, float]], int]:
    """Header, replications by (point, replication), and the byte length of whole lines (a
    line cut short by a kill ends the good part)."""
    header: dict[str, Any] | None = None
    known: dict[tuple[int, int], dict[str, float]] = {}
    good = 0
    for line in path.read_bytes().splitlines(keepends=True):
        if not line.endswith(b"\n"):
            break
        try:
            obj = json.loads(line)
        except ValueError:
            break
        if header is None:
            if not isinstance(obj, dict) or "ooh_sim_optimise_checkpoint" not in obj:
                break
            header = obj
        elif isinstance(obj, dict) and isinstance(obj.get("point"), int):
            kp = {k: math.nan if v is None else float(v) for k, v in obj["kpis"].items()}
            known.setdefault((obj["point"], int(obj["replication"])), kp)
        else:
            break
        good += len(line)
    return header, known, good


def open_checkpoint(
    problem: Problem, out: Path, resume: bool
) -> tuple[dict[tuple[int, int], dict[str, float]], list[str]]:
    """Start a fresh checkpoint, or check and trim the existing one; return its replications."""
    path = out / CHECKPOINT
    notes: list[str] = []
    if resume and path.exists():
        header, known, good = read_checkpoint(path)
        if header is None:
            raise InputError(
                "not an optimise checkpoint (or its first line is damaged); delete it, or run "
                "without --resume to start again",
                file=str(path),
                path="--resume",
            )
        if header.get("problem_sha256") != problem.sha256:
            raise InputError(
                "the checkpoint was written for different decisions, scenario, seed or ooh-sim "
                "version; run without --resume to start again, or use another --out folder",
                file=str(path),
                path="--resume",
            )
        if good < path.stat().st_size:
            with path.open("r+b") as fh:
                fh.truncate(good)
                fh.flush()
                os.fsync(fh.fileno())
            notes.append("dropped an incomplete last line from the checkpoint")
        notes.append(f"resuming: {len(known)} replications already in the checkpoint")
        return known, notes
    if resume:
        notes.append("nothing to resume (no checkpoint): starting from the first stage")
    for name in RESULT_FILES:
        with contextlib.suppress(FileNotFoundError):
            (out / name).unlink()
    write_atomic(path, (json.dumps(_header(problem), sort_keys=True) + "\n").encode())
    return {}, notes


def _num(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


# --------------------------------------------------------------------------------------------
# result files


def optimise_csv(result: OptimiseResult) -> str:
    """One row per option: decisions, replications, status, feasibility, estimates with CIs."""
    problem, sel = result.problem, result.selection
    kpis = problem.kpis
    header = [
        "point",
        *(d.name for d in problem.decisions),
        "replications",
        "status",
        "feasible",
        "eliminated_at",
        "eliminated_by",
        "chosen",
        *(f"{k}.{s}" for k in kpis for s in STATS),
    ]
    rows = []
    for p, st in enumerate(sel.states):
        est = result.estimates[p]
        status = "chosen" if p == sel.best else st.status
        rows.append(
            [
                p,
                *problem.labels(p).values(),
                st.n,
                status,
                st.overall,
                "" if st.decided_at is None else st.decided_at,
                "" if st.eliminated_by is None else st.eliminated_by,
                "true" if p == sel.best else "false",
                *(getattr(est[k], s) if k in est else math.nan for k in kpis for s in STATS),
            ]
        )
    return csv_text(header, rows)


def optimise_dict(result: OptimiseResult) -> dict[str, Any]:
    problem, sel = result.problem, result.selection
    v = result.versus
    return json_safe(
        {
            "optimise": problem.name,
            "file": str(problem.file),
            "scenario": str(problem.scenario_file),
            "seed": problem.seed,
            "options": len(problem.points),
            "decisions": [{"name": d.name, "options": d.labels} for d in problem.decisions],
            "constraints": [
                {"kpi": c.kpi, "op": c.op, "bound": c.bound, "tolerance": c.tolerance}
                for c in problem.constraints
            ],
            "objective": {"kpi": problem.objective, "sense": problem.sense},
            "confidence": problem.spec.confidence,
            "indifference": sel.delta,
            "first_stage": problem.spec.first_stage,
            "batch": problem.spec.batch,
            "max_replications": problem.spec.budget.max_replications,
            "method": (
                "ranking and selection on common random numbers: Andradottir & Kim (2010) "
                "feasibility check with tolerance per constraint, plus an exact one-sided t rule "
                "with alpha spent by halves; Kim & Nelson (2001) elimination on the objective "
                "with indifference zone, only by options declared feasible; Bonferroni splits"
            ),
            "h2_select": sel.h2_select,
            "h2_feasible": sel.h2_feasible,
            "stopped": sel.reason,
            "replications": sel.replications,
            "chosen": None
            if sel.best is None
            else {"point": sel.best, "decisions": problem.labels(sel.best)},
            "undecided_cheaper": sel.undecided_better,
            "versus_today": None
            if v is None
            else {
                "replications": v.replications,
                "difference": {k: e.as_dict() for k, e in v.differences.items()},
                "today": {k: e.as_dict() for k, e in v.today.items()},
            },
            "summary": summary_text(result),
            "problem_sha256": problem.sha256,
            "version": __version__,
        }
    )


def best_yaml(result: OptimiseResult, out: Path) -> str | None:
    """A scenario extending the optimise file's scenario with the chosen option's settings."""
    problem, best = result.problem, result.best
    if best is None:
        return None
    rel = os.path.relpath(problem.scenario_file.resolve(), out.resolve())
    what = ", ".join(f"{k} = {v}" for k, v in problem.labels(best).items())
    body = {
        "extends": Path(rel).as_posix(),
        "name": f"{problem.name}_best",
        "description": f"The option chosen by ooh-sim optimise {problem.file.name}: {what}.",
        **problem.patch(best),
    }
    lines = [f"# {line}" if line else "#" for line in summary_text(result).splitlines()]
    text = yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=100)
    return "\n".join(["# Written by ooh-sim optimise; runs as it is: ooh-sim run best.yaml",
                      *lines, text])  # fmt: skip


def write_outputs(result: OptimiseResult, out: Path) -> list[Path]:
    """optimise.csv, optimise.json, summary.md and (when an option was chosen) best.yaml."""
    files = {
        OPTIMISE_CSV: optimise_csv(result),
        OPTIMISE_JSON: dumps_json(optimise_dict(result)),
        SUMMARY_MD: f"# {result.problem.name}\n\n{summary_text(result)}\n",
    }
    best = best_yaml(result, out)
    if best is not None:
        files[BEST_YAML] = best
    written = []
    for name, text in files.items():
        write_atomic(out / name, text.encode())
        written.append(out / name)
    return written


def run_optimise(
    problem: Problem,
    out: Path,
    *,
    jobs: int | None = None,
    backend: str = "local",
    address: str | None = None,
    resume: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[OptimiseResult, list[Path], list[str]]:
    """Run (or resume) the procedure with a checkpoint in ``out``, then write the result files."""
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"cannot create {out}: {e.strerror or e}", path="--out") from None
    known, notes = open_checkpoint(problem, out, resume)
    with (out / CHECKPOINT).open("a", encoding="utf-8") as fh:

        def save(records: list[Record]) -> None:
            for rec in records:
                row = {**rec, "kpis": {k: _num(v) for k, v in rec["kpis"].items()}}
                fh.write(json.dumps(row, sort_keys=True, allow_nan=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

        result = optimise(problem, jobs=jobs, backend=backend, address=address, known=known,
                          on_batch=save, progress=progress)  # fmt: skip
    return result, write_outputs(result, out), notes


__all__ = [
    "BEST_YAML",
    "CHECKPOINT",
    "OPTIMISE_CSV",
    "OPTIMISE_JSON",
    "RESULT_FILES",
    "SUMMARY_MD",
    "best_yaml",
    "open_checkpoint",
    "optimise_csv",
    "optimise_dict",
    "read_checkpoint",
    "run_optimise",
    "write_outputs",
]
