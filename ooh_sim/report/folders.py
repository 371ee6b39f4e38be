"""Complete results folders: io's files plus viz's figures saved as PNG, swapped in at once.

``run``, ``compare``, ``sweep`` and ``optimise`` write through here; io alone writes the same
folders without figures (and without matplotlib).
"""

from __future__ import annotations

import contextlib
import gc
import io
import struct
import zlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from isal import isal_zlib

from ooh_sim.core.runner import RunResult, spools_shared
from ooh_sim.io import files, formats
from ooh_sim.io.files import staged_folder

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ooh_sim.core.compare import Comparison
    from ooh_sim.core.experiment import Experiment
    from ooh_sim.core.optimise import OptimiseResult
    from ooh_sim.core.optimise_spec import Problem
    from ooh_sim.core.runner import Replication
    from ooh_sim.core.timeline import RunTimeline
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
    figure with an engine twice; and the PNG is written by :func:`png_bytes` (half the time of
    Pillow's encoder, which tries five filters on every row) when matplotlib drew the pixels.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.layout_engine import TightLayoutEngine

    from ooh_sim.viz.style import SAVE_DPI, plt  # lazily, for speed (see above)

    # a figure that knows its margins has its engine (viz.style.FixedMargins); then none: with
    # an engine, savefig draws the figure twice (once to lay it out). rect=None: the default
    # rect (the whole figure) makes the tight layout measure every label twice, for the same
    # margins
    (fig.get_layout_engine() or TightLayoutEngine(rect=None)).execute(fig)
    fig.set_layout_engine(None)
    if type(fig.canvas) is FigureCanvasAgg and fig.dpi == SAVE_DPI:  # ours (viz.style)
        fig.canvas.draw()  # what savefig draws; then the pixels as they are
        data = png_bytes(np.asarray(fig.canvas.buffer_rgba()), SAVE_DPI)
        if isinstance(path, io.BytesIO):
            path.write(data)
        else:
            path.write_bytes(data)
    else:  # another canvas (a notebook's) or resolution: matplotlib's own way
        fig.savefig(path, dpi=SAVE_DPI, metadata={"Software": None},
                    pil_kwargs={"compress_level": 1})  # fmt: skip
    plt.close(fig)
    return path


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_bytes(rgba: np.ndarray, dpi: float) -> bytes:
    """A PNG of an (height, width, 4) uint8 image: RGB when every pixel is opaque (a figure's
    white background), else RGBA; rows unfiltered and deflated at level 1 by ISA-L, as
    jobs.csv.gz is (flat colours compress well without filters; ISA-L deflates a figure's
    pixels several times faster than zlib); the resolution recorded, as matplotlib does."""
    opaque = bool((rgba[..., 3] == 255).all())
    pixels = rgba[..., :3] if opaque else rgba
    height, width, channels = pixels.shape
    rows = np.zeros((height, 1 + width * channels), dtype=np.uint8)  # each row: filter 0, pixels
    rows[:, 1:] = pixels.reshape(height, width * channels)
    per_metre = round(dpi / 0.0254)

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2 if opaque else 6, 0, 0, 0)
    return b"".join([
        _PNG_SIGNATURE,
        chunk(b"IHDR", header),
        chunk(b"pHYs", struct.pack(">IIB", per_metre, per_metre, 1)),
        chunk(b"IDAT", isal_zlib.compress(rows.data, 1)),
        chunk(b"IEND", b""),
    ])  # fmt: skip


Plan = Sequence[tuple[str, Callable[[], "Figure | None"]]]


def save_figures(plan: Plan, folder: Path) -> list[Path]:
    """Make each planned figure in turn and save it as ``folder/<name>`` (a maker returning None:
    no such figure for these results). One at a time: only one figure is ever in memory."""
    made = []
    with heap_frozen():
        for name, make in plan:
            fig = make()
            if fig is not None:
                made.append(save_figure(fig, folder / name))
    return made


@contextlib.contextmanager
def heap_frozen() -> Iterator[None]:
    """The objects that exist now left out of garbage collections until the block ends, FOR
    SPEED: drawing makes so many objects that Python runs a full collection about every other
    folder of figures, and a full collection walks every object of the process (numpy, scipy,
    pydantic, the results: ~0.13 s). What the figures leave is collected at the end, still
    frozen (a few ms), so memory is as without. Nothing is done when objects are frozen already
    (the figure process freezes its imports) or collection is off."""
    if gc.get_freeze_count() or not gc.isenabled():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.collect()
        gc.unfreeze()


def run_figure_plan(result: RunResult) -> Plan:
    """A run's figures (:data:`ooh_sim.viz.run_figures.RUN_FIGURES`), to be made one by one."""
    from ooh_sim.viz.run_figures import RUN_FIGURES  # lazily, for speed (see above)

    return [(name, lambda make=make: make(result)) for name, make in RUN_FIGURES]


def comparison_figure_plan(data: tuple[Comparison, frozenset[str]]) -> Plan:
    """A comparison's figures but the timelines of the scenarios named (drawn already, see
    :class:`TimelinesAsTheyCome`): :func:`ooh_sim.viz.compare_figures.comparison_figure_plan`."""
    from ooh_sim.viz.compare_figures import comparison_figure_plan as plan  # lazily, for speed

    c, drawn = data
    return plan(c, drawn=drawn)


def _timeline_plan(data: tuple[str, RunTimeline | None, RunTimeline | None]) -> Plan:
    """One option's night (:func:`ooh_sim.viz.compare_figures.timeline_plan`)."""
    from ooh_sim.viz.compare_figures import timeline_plan  # lazily, for speed

    return timeline_plan(data)


class TimelinesAsTheyCome:
    """A comparison's timeline figures started in the figure process while the model still
    runs, FOR SPEED: each needs only the reference's and its own replication 0, and drawing a
    comparison's figures only once the comparison is done kept the planner waiting (seven
    options: ten figures, a quarter of the time outside the simulation). Give it to
    :func:`ooh_sim.core.compare.compare` as ``first=``, then to :func:`write_comparison`."""

    def __init__(self, process: FigureProcess, names: Sequence[str]) -> None:
        self._process = process
        self._names = list(names)
        self._records: dict[int, RunTimeline | None] = {}
        self.drawn: list[str] = []
        self.collectors: list[Callable[[Path], list[Path]]] = []

    def __call__(self, i: int, rep: Replication) -> None:
        self._records[i] = rep.timeline
        if 0 in self._records:  # every option is drawn on the reference's worst night
            for j in [i] if i else sorted(self._records):
                data = (self._names[j], self._records[0], self._records[j])
                self.collectors.append(self._process.submit(_timeline_plan, save_figure, data))
                self.drawn.append(self._names[j])


def save_run_figures(result: RunResult, folder: Path) -> list[Path]:
    """A run's figures, saved into ``folder``."""
    return save_figures(run_figure_plan(result), folder)


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
        extras.append(_figures_for(run_figure_plan, result, figure_process))
    return files.write_run(result, out, source=source, extras=extras, force=force)


def _figures_for(
    plan_of: Callable[[Any], Plan], data: Any, process: FigureProcess | None
) -> Callable[[Path], list[Path]]:
    """The figures of ``plan_of(data)`` as an extra of a folder: started now in ``process``
    (collected when the folder's other files are written), or drawn here when there is none."""
    if process is not None:
        with spools_shared():  # the job records are read from this process's files, not copied
            return process.submit(plan_of, save_figure, data)
    return lambda stage: save_figures(plan_of(data), stage)


def write_comparison(
    c: Comparison,
    out: Path,
    *,
    figures: bool = True,
    sources: Sequence[str | Path | None] | None = None,
    xlsx: bool = False,
    force: bool = False,
    figure_process: FigureProcess | None = None,
    timelines: TimelinesAsTheyCome | None = None,
) -> list[Path]:
    """comparison.json, comparison.csv, a folder per scenario (see
    :func:`ooh_sim.io.comparison_files.write_comparison`) and the comparison's figures (those
    ``timelines`` started already collected with them); with ``xlsx``, results.xlsx too (the
    comparison, then each scenario's summary)."""
    extras: list[Callable[[Path], object]] = []
    if xlsx:
        data = formats.xlsx_bytes(formats.comparison_sheets(c))
        extras.append(lambda stage: (stage / formats.XLSX).write_bytes(data))
    if figures:
        drawn = frozenset()
        if timelines is not None:  # collected first, in the order they were started
            extras += timelines.collectors
            drawn = frozenset(timelines.drawn)
        extras.append(_figures_for(comparison_figure_plan, (c, drawn), figure_process))
    from ooh_sim.io import comparison_files  # lazily, FOR SPEED: `run` never needs it

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
    from ooh_sim.io import sweep_store  # lazily, FOR SPEED: `run` never needs it

    res = sweep_store.run_sweep(exp, out, **kwargs)  # type: ignore[arg-type]
    if xlsx and res.table is not None:
        data = formats.xlsx_bytes(formats.sweep_sheets(res.table))
        res.files.append(files.write_atomic(res.out / formats.XLSX, data))
    if figures:
        res.files += write_sweep_figures(res, exp)
    return res


def write_frontier(result: OptimiseResult, out: Path) -> list[Path]:
    """The optimise cost-against-target figure, written atomically into ``out``."""
    from ooh_sim.io.optimise_files import FRONTIER_PNG  # lazily, FOR SPEED (as above)
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
    from ooh_sim.io import optimise_files  # lazily, FOR SPEED: `run` never needs it

    extras = [write_frontier] if figures else []
    return optimise_files.run_optimise(problem, out, extras=extras, **kwargs)  # type: ignore[arg-type]


__all__ = [
    "TimelinesAsTheyCome",
    "comparison_figure_plan",
    "heap_frozen",
    "png_bytes",
    "run_figure_plan",
    "run_optimise",
    "run_sweep",
    "save_figure",
    "save_figures",
    "save_run_figures",
    "write_comparison",
    "write_frontier",
    "write_run",
    "write_sweep_figures",
]
