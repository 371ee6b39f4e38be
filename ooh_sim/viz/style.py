"""What every figure shares: the Agg backend, the palette, the week axis, and how axes are got.

Figures are functions of result objects that RETURN a matplotlib ``Figure`` and write nothing;
:mod:`ooh_sim.report.folders` saves them. Each takes an optional ``ax=`` (a multi-panel figure
splits it into its panels, :func:`panels_of`; or ``fig=``) so that a notebook, a page or an app
can place it among others. Every viz module imports this one
first, so the Agg backend is set before pyplot is.
"""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.layout_engine import LayoutEngine
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

plt.rcParams["text.parse_math"] = False  # "$" in a swept value or a name is text, not TeX
# titles sit just above their axes, FOR SPEED: left to matplotlib (None), every axes of a figure
# measures all its tick labels to lift its title over labels placed above the axes — which no
# figure of ours has
plt.rcParams["axes.titley"] = 1.0
# glyphs drawn as the font shapes them, FOR SPEED: matplotlib's default hints every glyph at
# eight times the resolution (a third of the time text takes); at our sizes it reads the same
plt.rcParams["text.hinting"] = "no_hinting"

# Okabe–Ito palette: distinguishable with the common colour-vision deficiencies
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


SAVE_DPI = 110
"""The resolution figures are saved at, and made at: text does not scale in proportion with the
resolution, so a layout measured at another one is off; and FOR SPEED, text measured while laying
a figure out is measured again at save time unless both use the same resolution."""


class FixedMargins(LayoutEngine):
    """Margins in inches, set by the figure that knows its own labels: FOR SPEED, a tight layout
    measures every label of the figure (a third of the time a figure takes to save), so the
    figures whose labels are fixed words (days, hours, short numbers) say their margins instead.
    The saver (ooh_sim.report.folders.save_figure) lays out tightly only figures without an
    engine. Sizes in inches: the margins stay right when a notebook resizes the figure."""

    _adjust_compatible = True
    _colorbar_gridspec = True  # colour bars take their room inside the grid, as with tight

    def __init__(
        self, *, left: float, right: float, top: float, bottom: float, hspace: float = 0.0,
        wspace: float = 0.0,
    ) -> None:  # fmt: skip
        super().__init__()
        self._params = {"left": left, "right": right, "top": top, "bottom": bottom,
                        "hspace": hspace, "wspace": wspace}  # fmt: skip

    def execute(self, fig: Figure) -> None:
        w, h = fig.get_size_inches()
        p = self._params
        specs = [a.get_subplotspec() for a in fig.axes if a.get_subplotspec() is not None]
        rows = max((s.get_gridspec().nrows for s in specs), default=1)
        height = h - p["top"] - p["bottom"]  # of the grid; each axes' after the gaps
        each = max(height - (rows - 1) * p["hspace"], 1e-3) / rows
        gaps = {"hspace": p["hspace"] / each}
        if p["wspace"]:  # between the columns of the figure's grid
            cols = max(s.get_topmost_subplotspec().get_gridspec().ncols for s in specs)
            each = max(w - p["left"] - p["right"] - (cols - 1) * p["wspace"], 1e-3) / cols
            gaps["wspace"] = p["wspace"] / each
        fig.subplots_adjust(left=p["left"] / w, right=1 - p["right"] / w, top=1 - p["top"] / h,
                            bottom=p["bottom"] / h, **gaps)  # fmt: skip


def axes(
    ax: Axes | None, figsize: tuple[float, float], dpi: float | None = None
) -> tuple[Figure, Axes]:
    """The given axes and its figure, or a new figure of ``figsize`` with one axes (made at
    :data:`SAVE_DPI` unless ``dpi`` says otherwise)."""
    if ax is not None:
        return ax.figure, ax  # type: ignore[return-value]
    fig, new = plt.subplots(figsize=figsize, dpi=dpi or SAVE_DPI)
    return fig, new


def figure(fig: Figure | None, figsize: tuple[float, float]) -> Figure:
    """The given figure (panels are added to it), or a new one of ``figsize`` (at SAVE_DPI)."""
    return plt.figure(figsize=figsize, dpi=SAVE_DPI) if fig is None else fig


def percent_ticks(axis: Any) -> None:
    """Ticks of a share (stored 0–1, its axis labelled "%") as percentages: 0.4 → "40%"."""
    axis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))


def panels_of(
    ax: Axes | None,
    fig: Figure | None,
    figsize: tuple[float, float],
    nrows: int,
    ncols: int,
    *,
    sharex: bool = False,
) -> tuple[Figure, np.ndarray]:
    """A ``nrows`` × ``ncols`` grid of axes for a figure of several panels: in the space of
    ``ax`` (which is replaced: a notebook's ``fig, ax = plt.subplots()`` works for every
    figure), on ``fig``, or on a new figure of ``figsize``."""
    if ax is None:
        fig = figure(fig, figsize)
        return fig, fig.subplots(nrows, ncols, squeeze=False, sharex=sharex)
    spec = ax.get_subplotspec()
    if spec is None:
        raise ValueError("ax= must be a subplot (from plt.subplots or fig.add_subplot)")
    host: Figure = ax.figure  # type: ignore[assignment]
    ax.remove()
    grid = spec.subgridspec(nrows, ncols)
    out = np.empty((nrows, ncols), dtype=object)
    for i in range(nrows):
        for j in range(ncols):
            share = out[0, j] if sharex and i else None
            out[i, j] = host.add_subplot(grid[i, j], sharex=share)
    return host, out


def week_axis(ax: Axes) -> None:
    ax.set_xticks(np.arange(0, 169, 24))
    ax.set_xticklabels([*DAYS, ""], ha="left")
    ax.set_xlim(0, 168)
    ax.set_xlabel("hour of the week (ticks at 00:00)")
    ax.grid(axis="x", alpha=0.3)


def week_heatmap(
    ax: Axes,
    values: np.ndarray,
    *,
    vmax: float | None = None,
    cmap: str = "viridis",
    colour_label: str | None = None,
    off: np.ndarray | None = None,
    hours: bool = True,
) -> AxesImage:
    """168 hour-of-week values (Monday 00:00 first) as 7 day rows × 24 hour columns: when in
    the week something peaks reads at a glance, where a 168-point line needs counting. ``off``
    (168 booleans) hatches the hours outside cover; ``colour_label`` adds a colour bar;
    ``hours=False`` leaves the hour axis bare (a panel above another that shows them)."""
    grid = np.asarray(values, dtype=float).reshape(7, 24)
    top = vmax if vmax is not None else max(float(np.nanmax(grid, initial=0.0)), 1e-9)
    # colours mapped on the 7 × 24 cells, then enlarged (FOR SPEED: the default maps every
    # pixel; the same picture with nearest-neighbour cells)
    im = ax.imshow(grid, aspect="auto", cmap=cmap, vmin=0.0, vmax=top, interpolation="nearest",
                   interpolation_stage="rgba")  # fmt: skip
    if off is not None:
        for day, row in enumerate(np.asarray(off, dtype=bool).reshape(7, 24)):
            edges = np.flatnonzero(np.diff(np.r_[0, row.astype(int), 0]))  # run starts, ends
            for start, end in zip(edges[::2], edges[1::2], strict=True):
                box = Rectangle((start - 0.5, day - 0.5), end - start, 1, fill=False,
                                hatch="///", edgecolor="white", lw=0, alpha=0.7)  # fmt: skip
                ax.add_patch(box)
    ax.set_yticks(range(7))
    ax.set_yticklabels(DAYS)
    if hours:
        ax.set_xticks(np.arange(0, 24, 3) - 0.5)
        ax.set_xticklabels([f"{h:02d}:00" for h in range(0, 24, 3)], ha="left")
    else:  # FOR SPEED too: each tick made is a millisecond, drawn or not
        ax.set_xticks([])
    if colour_label:
        # FOR SPEED too: few ticks (each tick label is measured at layout), and the locator
        # given at once, so that no ticks of the default one are made first
        bar = ax.figure.colorbar(im, ax=ax, fraction=0.05, pad=0.02, ticks=MaxNLocator(4))
        bar.set_label(colour_label)
    return im


def grow_to_fit(fig: Figure, pad: float = 0.1) -> None:
    """Make the canvas the size of everything drawn (a legend below the axes included), as
    ``savefig(bbox_inches="tight")`` would, but in the figure itself: any saver then gets it.

    A figure of one axes keeps the axes' size and gets the margins found as its own
    (:class:`FixedMargins`), FOR SPEED: a tight layout at save time would measure every label
    once more."""
    bbox = fig.get_tightbbox(fig.canvas.get_renderer())  # inches
    if len(fig.axes) != 1:
        fig.set_size_inches(bbox.width + 2 * pad, bbox.height + 2 * pad)
        return
    w, h = fig.get_size_inches()
    box = fig.axes[0].get_position()  # figure fractions
    x0, x1, y0, y1 = box.x0 * w, box.x1 * w, box.y0 * h, box.y1 * h
    margins = {"left": x0 - bbox.x0 + pad, "right": bbox.x1 - x1 + pad,
               "bottom": y0 - bbox.y0 + pad, "top": bbox.y1 - y1 + pad}  # fmt: skip
    fig.set_size_inches(x1 - x0 + margins["left"] + margins["right"],
                        y1 - y0 + margins["bottom"] + margins["top"])  # fmt: skip
    fig.set_layout_engine(FixedMargins(**margins))
