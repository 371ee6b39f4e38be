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
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from ooh_sim.core.errors import InputError
from ooh_sim.core.optimise import OptimiseResult, optimise, summary_text
from ooh_sim.core.optimise_spec import Problem
from ooh_sim.core.version import __version__
from ooh_sim.io.checkpoint import (
    Checkpoint,
    Record,
    append_jsonl,
    start_jsonl,
    study_folder,
)
from ooh_sim.io.files import REPORT, write_atomic
from ooh_sim.io.formats import csv_text, dumps_json, json_safe, read_json

CHECKPOINT = "optimise_checkpoint.jsonl"
FORMAT = 1
OPTIMISE_CSV, OPTIMISE_JSON, SUMMARY_MD, BEST_YAML = (
    "optimise.csv",
    "optimise.json",
    "summary.md",
    "best.yaml",
)
RESULT_FILES = (OPTIMISE_CSV, OPTIMISE_JSON, SUMMARY_MD, BEST_YAML)
FRONTIER_PNG = "cost_frontier.png"
"""The cost-against-target figure (saved by ``report.folders``, which owns the figures)."""
KIND = "optimise"
"""The kind named in an optimise folder's marker (see :func:`ooh_sim.io.files.check_out`)."""
Extra = Callable[[OptimiseResult, Path], Sequence[Path]]
"""Called with the result and the folder, under its lock, to add files (the figure)."""
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


def _is_record(obj: object) -> bool:
    """One replication of one option as :func:`run_optimise` writes it; anything else in a
    checkpoint is damage, not a result."""
    if not isinstance(obj, dict) or type(obj.get("point")) is not int:
        return False
    kp = obj.get("kpis")
    return (
        type(obj.get("replication")) is int
        and isinstance(kp, dict)
        and all(v is None or type(v) in (int, float) for v in kp.values())
    )


_FORMAT = Checkpoint("ooh_sim_optimise_checkpoint", _is_record,
                     lambda r: (r["point"], r["replication"]), "optimise")  # fmt: skip


def read_checkpoint(
    path: Path,
) -> tuple[dict[str, Any] | None, dict[tuple[int, int], dict[str, float]], int]:
    """Header, replications by (point, replication), and the byte length of whole lines (see
    :meth:`ooh_sim.io.checkpoint.Checkpoint.read`)."""
    header, records, good, _ = _FORMAT.read(path)
    return header, _known(records), good


def _known(records: list[Record]) -> dict[tuple[int, int], dict[str, float]]:
    return {
        (r["point"], r["replication"]): {
            k: math.nan if v is None else float(v) for k, v in r["kpis"].items()
        }
        for r in records
    }


def open_checkpoint(
    problem: Problem, out: Path, resume: bool, force: bool = False
) -> tuple[dict[tuple[int, int], dict[str, float]], list[str]]:
    """The replications of the checkpoint being resumed (checked, and trimmed when damaged).

    Without ``resume``, an unfinished run of the same problem (its checkpoint, and no
    optimise.json yet) is refused unless ``force``; otherwise an earlier run's checkpoint and
    results stay, whole, until this run's first batch is saved (:func:`run_optimise`)."""
    path = out / CHECKPOINT
    fingerprint = ("problem_sha256", problem.sha256)
    if not resume and not force and not (out / OPTIMISE_JSON).exists():
        records = _FORMAT.unfinished(path, fingerprint)
        if records is not None:
            n = len(_known(records))
            raise _FORMAT.refuse_restart(path, f"{n} replication{'s' * (n != 1)} done")
    if resume and (path.exists() or path.is_symlink()):
        records, notes = _FORMAT.resume(
            path, fingerprint=fingerprint,
            other=lambda _: "the checkpoint was written for different decisions, scenario, seed "
            "or ooh-sim version; run without --resume to start again, or use another --out "
            "folder")  # fmt: skip
        known = _known(records)
        notes.append(f"resuming: {len(known)} replications already in the checkpoint")
        return known, notes
    if resume:
        return {}, ["nothing to resume (no checkpoint): starting from the first stage"]
    return {}, []


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
            "points": [_point(result, p) for p in range(len(problem.points))],
            "problem_sha256": problem.sha256,
            "version": __version__,
        }
    )


def _point(result: OptimiseResult, p: int) -> dict[str, Any]:
    """One option as optimise.json lists it (the report's table)."""
    st, sel = result.selection.states[p], result.selection
    return {
        "point": p,
        "decisions": result.problem.labels(p),
        "replications": st.n,
        "status": "chosen" if p == sel.best else st.status,
        "feasible": st.overall,
        "eliminated_by": st.eliminated_by,
        "estimates": {k: e.as_dict() for k, e in result.estimates[p].items()},
    }


def read_optimise(out: Path) -> dict[str, Any]:
    """optimise.json of an optimise folder (InputError when missing or not an object)."""
    path = Path(out) / OPTIMISE_JSON
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("points"), list):
        raise InputError("not an optimise result (written by an older ooh-sim?)", file=str(path))
    return data


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
    force: bool = False,
    extras: Sequence[Extra] = (),
) -> tuple[OptimiseResult, list[Path], list[str]]:
    """Run (or resume) the procedure with a checkpoint in ``out``, then write the result files
    and each of ``extras`` (a higher layer's figure), all under the folder's lock.

    ``out`` is checked before any work (:func:`ooh_sim.io.checkpoint.study_folder`): never a
    folder of other files, one holding the optimise file or its scenario, or another kind of
    results; unless ``force``, never one holding a report, nor an unfinished run of the same
    problem without ``resume`` (:func:`open_checkpoint`).
    """
    owned = [CHECKPOINT, *RESULT_FILES, FRONTIER_PNG]
    inputs = [problem.file, problem.scenario_file]
    with study_folder(out, kind=KIND, inputs=inputs, owned=owned, force=force) as out:
        known, notes = open_checkpoint(problem, out, resume, force)
        with contextlib.ExitStack() as stack:
            opened: list[Any] = []

            def save(records: list[Record]) -> None:
                if not opened:  # the first batch: now the checkpoint may be (re)started
                    if not known:
                        start_jsonl(out / CHECKPOINT, _header(problem))
                        for name in (*RESULT_FILES, FRONTIER_PNG, REPORT):  # an earlier run's
                            with contextlib.suppress(FileNotFoundError):
                                (out / name).unlink()
                    path = out / CHECKPOINT
                    opened.append(stack.enter_context(path.open("a", encoding="utf-8")))
                append_jsonl(opened[0], ({**rec, "kpis": {k: _num(v) for k, v in
                                                          rec["kpis"].items()}}
                                         for rec in records))  # fmt: skip

            result = optimise(problem, jobs=jobs, backend=backend, address=address,
                              known=known, on_batch=save, progress=progress)  # fmt: skip
        files = write_outputs(result, out)
        for extra in extras:
            files += extra(result, out)
    return result, files, notes


__all__ = [
    "BEST_YAML",
    "CHECKPOINT",
    "FRONTIER_PNG",
    "KIND",
    "OPTIMISE_CSV",
    "OPTIMISE_JSON",
    "RESULT_FILES",
    "SUMMARY_MD",
    "best_yaml",
    "open_checkpoint",
    "optimise_csv",
    "optimise_dict",
    "read_checkpoint",
    "read_optimise",
    "run_optimise",
    "write_outputs",
]
