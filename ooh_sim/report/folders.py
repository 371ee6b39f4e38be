"""Complete results folders: io's files plus viz's figures saved as PNG, swapped in at once.

``run``, ``compare``, ``sweep`` and ``optimise`` write through here; io alone writes the same
folders without figures (and without matplotlib).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ooh_sim.core.runner import RunResult, spools_shared
from ooh_sim.io import files, formats
from ooh_sim.io.files import staged_folder

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ooh_sim.core.compare import Comparison
    from ooh_sim.core.experiment import Experiment
    from ooh_sim.core.optimise import OptimiseResult
    from ooh_sim.core.optimise_spec import Problem
    from ooh_sim.io.sweep_store import SweepResult
    from ooh_sim.report.figure_process import FigureProcess

# matplotlib (through ooh_sim.viz) is imported only when figures are wanted, FOR SPEED: it takes
# a good part of a second, which a --no-figures run should not pay.

FIGURES = "figures"
"""A sweep's figures go into this subfolder (a run's and a comparison's sit beside the files)."""


def save_figure(fig: Figure, path: Path | io.BytesIO) -> Path | io.BytesIO:
    """Lay out, write and close a figure; no timestamp in the PNG, so reruns are byte-identical.

    FOR SPEED, the layout is applied by its engine directly and the engine removed:
    ``fig.tight_layout()`` leaves a placeholder engine on the figure, and ``savefig`` draws a
    figure with an engine twice; and PNG compression level 1 (flat colours: files hardly grow).
    """
    from matplotlib.layout_engine import TightLayoutEngine

    from ooh_sim.viz.style import SAVE_DPI, plt  # lazily, for speed (see above)

    # a figure that knows its margins has its engine (viz.style.FixedMargins); then none: with
    # an engine, savefig draws the figure twice (once to lay it out)
    (fig.get_layout_engine() or TightLayoutEngine()).execute(fig)
    fig.set_layout_engine(None)
    fig.savefig(path, dpi=SAVE_DPI, metadata={"Software": None}, pil_kwargs={"compress_level": 1})
    plt.close(fig)
    return path


Plan = Sequence[tuple[str, Callable[[], "Figure | None"]]]


def save_figures(plan: Plan, folder: Path) -> list[Path]:
    """Make each planned figure in turn and save it as ``folder/<name>`` (a maker returning None:
    no such figure for these results). One at a time: only one figure is ever in memory."""
    made = []
    for name, make in plan:
        fig = make()
        if fig is not None:
            made.append(save_figure(fig, folder / name))
    return made


def save_run_figures(result: RunResult, folder: Path) -> list[Path]:
    """A run's figures (:data:`ooh_sim.viz.run_figures.RUN_FIGURES`), saved into ``folder``."""
    from ooh_sim.viz.run_figures import RUN_FIGURES  # lazily, for speed (see above)

    return save_figures([(name, lambda make=make: make(result)) for name, make in RUN_FIGURES],
                        folder)  # fmt: skip


def save_comparison_figures(c: Comparison, folder: Path) -> list[Path]:
    """A comparison's figures, saved into ``folder``."""
    from ooh_sim.viz.compare_figures import comparison_figure_plan  # lazily, for speed

    return save_figures(comparison_figure_plan(c), folder)


def write_run(
    result: RunResult,
    out: Path,
    *,
    figures: bool = True,
    source: str | Path | None = None,
    xlsx: bool = False,
    force: bool = False,
    figure_process: FigureProcess | None = None,
) -> list[Path]:
    """summary.json, summary.csv, replications.csv, jobs.csv.gz, scenario.yaml (see
    :func:`ooh_sim.io.files.write_run`) and the run's figures, into ``out`` atomically; with
    ``xlsx``, results.xlsx too (one sheet per table; needs openpyxl). With a
    ``figure_process``, the figures are drawn there while this process writes the files."""
    extras: list[Callable[[Path], object]] = []
    if xlsx:
        data = formats.xlsx_bytes(formats.run_sheets(result))  # before any work: may be missing
        extras.append(lambda stage: (stage / formats.XLSX).write_bytes(data))
    if figures:
        extras.append(_figures_for(save_run_figures, result, figure_process))
    return files.write_run(result, out, source=source, extras=extras, force=force)


def _figures_for(
    save: Callable[[Any, Path], list[Path]], data: Any, process: FigureProcess | None
) -> Callable[[Path], list[Path]]:
    """``save(data, stage)`` as an extra of a folder: started now in ``process`` (collected
    when the folder's other files are written), or run here when there is none."""
    if process is not None:
        with spools_shared():  # the job records are read from this process's files, not copied
            return process.submit(save, data)
    return lambda stage: save(data, stage)


def write_comparison(
    c: Comparison,
    out: Path,
    *,
    figures: bool = True,
    sources: Sequence[str | Path | None] | None = None,
    xlsx: bool = False,
    force: bool = False,
    figure_process: FigureProcess | None = None,
) -> list[Path]:
    """comparison.json, comparison.csv, a folder per scenario (see
    :func:`ooh_sim.io.comparison_files.write_comparison`) and the comparison's figures; with
    ``xlsx``, results.xlsx too (the comparison, then each scenario's summary)."""
    extras: list[Callable[[Path], object]] = []
    if xlsx:
        data = formats.xlsx_bytes(formats.comparison_sheets(c))
        extras.append(lambda stage: (stage / formats.XLSX).write_bytes(data))
    if figures:
        extras.append(_figures_for(save_comparison_figures, c, figure_process))
    from ooh_sim.io import comparison_files  # lazily, FOR SPEED: `run` needs no scipy.stats

    return comparison_files.write_comparison(c, out, sources=sources, extras=extras, force=force)


def write_sweep_figures(res: SweepResult, exp: Experiment) -> list[Path]:
    """The sweep's figures, into ``figures/`` beside its files (replaced as a whole)."""
    from ooh_sim.viz.sweep_figures import sweep_figure_plan  # lazily, for speed (see above)

    assert res.table is not None
    out = res.out / FIGURES
    with staged_folder(out) as stage:
        plan = sweep_figure_plan(exp, res.table, list(res.sensitivity or []))
        names = [p.name for p in save_figures(plan, stage)]
    return [out / n for n in names]


def run_sweep(
    exp: Experiment,
    out: Path,
    *,
    figures: bool = True,
    xlsx: bool = False,
    **kwargs: object,
) -> SweepResult:
    """:func:`ooh_sim.io.sweep_store.run_sweep` (same keywords), then the figures (and with
    ``xlsx``, results.xlsx: the long and the wide sweep table)."""
    if xlsx:
        formats.openpyxl_workbook()  # says at once, not after the sweep, when openpyxl is missing
    from ooh_sim.io import sweep_store  # lazily, FOR SPEED: `run` needs no scipy.stats

    res = sweep_store.run_sweep(exp, out, **kwargs)  # type: ignore[arg-type]
    if xlsx and res.table is not None:
        data = formats.xlsx_bytes(formats.sweep_sheets(res.table))
        res.files.append(files.write_atomic(res.out / formats.XLSX, data))
    if figures:
        res.files += write_sweep_figures(res, exp)
    return res


def write_frontier(result: OptimiseResult, out: Path) -> list[Path]:
    """The optimise cost-against-target figure, written atomically into ``out``."""
    from ooh_sim.io.optimise_files import FRONTIER_PNG  # lazily, FOR SPEED (scipy.stats)
    from ooh_sim.viz.optimise_figures import cost_frontier  # lazily, for speed (see above)

    png = save_figure(cost_frontier(result), io.BytesIO())
    assert isinstance(png, io.BytesIO)
    return [files.write_atomic(out / FRONTIER_PNG, png.getvalue())]


def run_optimise(
    problem: Problem,
    out: Path,
    *,
    figures: bool = True,
    **kwargs: object,
) -> tuple[OptimiseResult, list[Path], list[str]]:
    """:func:`ooh_sim.io.optimise_files.run_optimise` (same keywords) with the cost-frontier
    figure, written under the same lock as the result files."""
    from ooh_sim.io import optimise_files  # lazily, FOR SPEED: `run` needs no scipy.stats

    extras = [write_frontier] if figures else []
    return optimise_files.run_optimise(problem, out, extras=extras, **kwargs)  # type: ignore[arg-type]


__all__ = [
    "run_optimise",
    "run_sweep",
    "save_comparison_figures",
    "save_figure",
    "save_figures",
    "save_run_figures",
    "write_comparison",
    "write_frontier",
    "write_run",
    "write_sweep_figures",
]
