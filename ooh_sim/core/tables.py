"""Results as tables a planner opens in a spreadsheet or a notebook: one row per KPI.

The same rows make ``summary.csv``, the long CSVs of compare and sweep, the Excel sheets,
``RunResult.to_frame()`` / ``Comparison.to_frame()`` and the short text and HTML views of a
result in a notebook — each KPI with its words and unit from the catalogue (:mod:`.kpis`).
pandas is optional: :func:`frame` imports it only when asked, and says how to install it.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ooh_sim.core import kpis
from ooh_sim.core.errors import InputError
from ooh_sim.core.records import Column
from ooh_sim.core.stats import Estimate

if TYPE_CHECKING:
    import pandas as pd

SUMMARY_COLUMNS: tuple[Column, ...] = (
    Column("kpi", "text", "", "KPI name (docs/kpis.md)"),
    Column("label", "text", "", "what it measures, in words"),
    Column("unit", "text", "", "unit of mean, ci95_low, ci95_high and sd"),
    Column("mean", "float", "KPI's", "mean over replications"),
    Column("ci95_low", "float", "KPI's", "95% t-interval of the mean, low end"),
    Column("ci95_high", "float", "KPI's", "95% t-interval of the mean, high end"),
    Column("sd", "float", "KPI's", "standard deviation over replications"),
    Column("n", "int", "", "replications where the KPI was defined"),
)
"""``summary.csv`` and ``RunResult.to_frame()``: one row per KPI, in summary.json's order."""

_STATS = ("mean", "ci95_low", "ci95_high", "sd", "n")

PANDAS_MISSING = (
    "tables as DataFrames need the optional dependency pandas; install it with "
    "pip install pandas (the CSV files in the results folder need nothing)"
)


def words(kpi: str) -> dict[str, str]:
    """A KPI's name, words and unit: the first three columns of every KPI table."""
    return {"kpi": kpi, "label": kpis.label(kpi), "unit": kpis.unit(kpi)}


def estimate_cells(e: Estimate) -> dict[str, Any]:
    return {k: getattr(e, k) for k in _STATS}


def summary_rows(summary: Mapping[str, Estimate]) -> list[dict[str, Any]]:
    """One row per KPI: :data:`SUMMARY_COLUMNS`."""
    return [{**words(k), **estimate_cells(e)} for k, e in summary.items()]


def sweep_columns(parameters: Sequence[str]) -> list[str]:
    """The long sweep table: ``point``, one column per parameter, then a KPI row's columns."""
    return ["point", *parameters, "replications", *(c.name for c in SUMMARY_COLUMNS)]


def sweep_rows(
    parameters: Sequence[str],
    outputs: Sequence[str],
    values: Sequence[Mapping[str, Any]],
    estimates: Sequence[Mapping[str, Estimate]],
    replications: Sequence[int],
) -> Iterable[dict[str, Any]]:
    """One row per design point and output KPI (point-major), parameter values as given."""
    for p, (vals, est) in enumerate(zip(values, estimates, strict=True)):
        for k in outputs:
            e = est[k]
            yield {"point": p, **{q: vals[q] for q in parameters},
                   "replications": replications[p], **words(k), **estimate_cells(e)}  # fmt: skip


def frame(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    """A pandas DataFrame of ``rows`` (pandas imported here, lazily: it is optional)."""
    try:
        import pandas as pd  # optional, and slow to import: only when a DataFrame is asked for
    except ImportError:
        raise InputError(PANDAS_MISSING, path="to_frame") from None
    return pd.DataFrame([dict(r) for r in rows], columns=list(columns))


# --------------------------------------------------------------------------------------------
# the short views of a result (repr in a terminal, HTML in a notebook)

HEADLINE_WIDTH = 46
"""Label width in the text view: with the numbers, a line fits 80 columns."""


def headline_lines(summary: Mapping[str, Estimate]) -> list[tuple[str, str, str, str]]:
    """(kpi, label, mean, 95% interval) of the headline KPIs, formatted by the catalogue."""
    keys = kpis.headline(summary) or list(summary)[:8]
    out = []
    for k in keys:
        e = summary[k]
        ci = "" if e.n < 2 else kpis.interval(k, e.ci95_low, e.ci95_high, to=" – ")
        out.append((k, kpis.label(k), kpis.format(k, e.mean), ci))
    return out


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def text_view(title: str, summary: Mapping[str, Estimate], more: str) -> str:
    """A few lines: the title, the headline KPIs with their 95% intervals, where the rest is."""
    lines = [title]
    for _, label, mean, ci in headline_lines(summary):
        ci = f"  ({ci})" if ci else ""
        lines.append(f"  {_short(label, HEADLINE_WIDTH):<{HEADLINE_WIDTH}} {mean:>9}{ci}")
    lines.append(f"  {more}")
    return "\n".join(lines)


def html_view(title: str, head: Sequence[str], rows: Sequence[Sequence[str]], more: str) -> str:
    """A small HTML table for a notebook (every cell escaped)."""
    e = html.escape
    th = "".join(f"<th style='text-align:left'>{e(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(
            f"<td style='text-align:{'left' if i == 0 else 'right'}'>{e(c)}</td>"
            for i, c in enumerate(r)
        ) + "</tr>"
        for r in rows
    )  # fmt: skip
    return (f"<div><b>{e(title)}</b><table><thead><tr>{th}</tr></thead><tbody>{body}</tbody>"
            f"</table><small>{e(more)}</small></div>")  # fmt: skip


__all__ = [
    "PANDAS_MISSING",
    "SUMMARY_COLUMNS",
    "estimate_cells",
    "frame",
    "headline_lines",
    "html_view",
    "summary_rows",
    "sweep_columns",
    "sweep_rows",
    "text_view",
    "words",
]
