"""A comparison's results folder: comparison.json, comparison.csv and a folder per scenario."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ooh_sim.core.compare import Comparison
from ooh_sim.core.precision import precision_at
from ooh_sim.io.files import Extra, folder_files, staged_folder
from ooh_sim.io.formats import (
    COMPARISON_CSV,
    COMPARISON_JSON,
    REPLICATIONS,
    SUMMARY,
    SUMMARY_CSV,
    comparison_config_sha256,
    comparison_csv,
    comparison_json,
    summary_csv,
    summary_json,
    write_replications_csv,
)
from ooh_sim.io.provenance import write_resolved


def default_out(names: list[str], root: Path = Path("results")) -> Path:
    """``results/compare-a-vs-b…``; long lists shorten to the first two and a count."""
    full = "compare-" + "-vs-".join(names)
    if len(full) <= 80:
        return root / full
    more = len(names) - 2
    return root / f"compare-{names[0]}-vs-{names[1]}-and-{more}-more"[:120]


def write_comparison(
    c: Comparison,
    out: Path,
    *,
    sources: Sequence[str | Path | None] | None = None,
    extras: Sequence[Extra] = (),
    force: bool = False,
) -> list[Path]:
    """Write comparison.json, comparison.csv, and a folder per scenario with its summary.json,
    replications.csv and scenario.yaml (so ``ooh-sim report`` can describe it).

    ``sources`` are the scenario files, in the order of ``c.results``: their comments are kept in
    each scenario.yaml. When ``c.precision`` says how ``n`` was chosen, each summary.json records
    its scenario's own choice. ``extras`` (figures) are called with the staging folder, which
    replaces ``out`` only when complete (see ``staged_folder``).
    """
    config = comparison_config_sha256([r.scenario for r in c.results])
    with staged_folder(out, kind="comparison", inputs=list(sources or []), config=config,
                       force=force) as stage:  # fmt: skip
        (stage / COMPARISON_JSON).write_text(comparison_json(c), encoding="utf-8")
        (stage / COMPARISON_CSV).write_text(comparison_csv(c), encoding="utf-8")
        for res, src in zip(c.results, sources or [None] * len(c.results), strict=True):
            sub = stage / res.scenario.name
            sub.mkdir()
            chosen = None
            if c.precision is not None:
                chosen = precision_at(c.precision[res.scenario.name], res.summary, c.replications)
            (sub / SUMMARY).write_text(summary_json(res, chosen), encoding="utf-8")
            (sub / SUMMARY_CSV).write_text(summary_csv(res), encoding="utf-8")
            write_replications_csv(res, sub / REPLICATIONS)
            write_resolved(res.scenario, sub, src, res.overrides)
        for extra in extras:
            extra(stage)
        files = folder_files(out, stage)
    return files


__all__ = ["default_out", "write_comparison"]
