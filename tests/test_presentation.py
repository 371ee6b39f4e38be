"""Presentation (issue 14, item 9): tables that fit A4 portrait whatever the number of options,
costs that say what they include, pooled and mean-of-runs percentiles named as such, sweep axes
in the schema's words, hour-of-week heat maps, one message per bad distribution, and "did you
mean" only for a similar file name.

Budget: ~20 s (a tiny scenario compared as 2 and 6 options; Chromium lays the page out at A4).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import unavailable

from ooh_sim.core import kpis
from ooh_sim.core.compare import compare
from ooh_sim.core.errors import InputError
from ooh_sim.core.experiment import Parameter
from ooh_sim.core.loader import load_scenario, read_with_extends, setting_words
from ooh_sim.core.runner import run
from ooh_sim.report.folders import write_comparison
from ooh_sim.report.html import MEAN_OF_RUNS, write_report
from ooh_sim.viz import compare_figures, run_figures, style, sweep_figures

SCENARIO = """\
name: tiny
horizon: {start: 2023-01-02, days: 42, warmup_days: 7}
replications: 2
seed: 3
staff:
  edt: {count: 1, skills: [children, adults], roster: cover}
streams:
  pp:
    kind: police_protection
    skill: children
    arrivals: {per_week: 3}
    duration: {dist: lognormal, mean: 1, sd: 0.5}
    transport: {dist: fixed, value: 0.5}
  calls:
    kind: referral
    skill: adults
    priority: 2
    deadline_hours: 2
    arrivals: {per_week: 20}
    duration: {dist: exponential, mean: 0.5}
placements: {capacity: 1, stay_days: {dist: fixed, value: 1}}
costs: {worker_hour: 45, officer_hour: 40, callout: 150, placement_night: 250,
        bed_retainer_week: 300}
"""

MAX_COLUMNS = 6
"""A handful: what fits A4 portrait (about 180 mm of text width) with words that wrap."""


class Tables(HTMLParser):
    """The number of columns of each table (the widest row, colspans counted)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.widths: list[int] = []
        self._row = 0
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.widths.append(0)
        elif tag == "tr":
            self._row = 0
        elif tag in ("td", "th"):
            self._row += int(dict(attrs).get("colspan") or 1)
            self.widths[-1] = max(self.widths[-1], self._row)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    d = tmp_path_factory.mktemp("pres")
    (d / "tiny.yaml").write_text(SCENARIO, encoding="utf-8")
    return load_scenario(d / "tiny.yaml")


def _options(sc, n):
    """The scenario and n - 1 variants (1..n-1 workers more), named as a planner would."""
    out = [sc]
    for i in range(1, n):
        staff = {"edt": sc.staff["edt"].model_copy(update={"count": 1 + i})}
        out.append(sc.model_copy(update={"name": f"option_{i}_more_workers", "staff": staff}))
    return out


@pytest.fixture(scope="module")
def reports(scenario, tmp_path_factory) -> dict[int, Path]:
    d = tmp_path_factory.mktemp("cmp")
    out = {}
    for n in (2, 6):
        c = compare(_options(scenario, n), replications=2, jobs=1)
        write_comparison(c, d / str(n), figures=False)
        out[n] = write_report(d / str(n))
    return out


# ------------------------------------------------------------------ (a) A4 portrait


def test_no_table_grows_with_the_number_of_options(reports):
    widths = {n: Tables(p.read_text(encoding="utf-8")).widths for n, p in reports.items()}
    assert max(widths[6]) == max(widths[2]) <= MAX_COLUMNS, widths
    raw = reports[6].read_text(encoding="utf-8")
    for i in range(1, 6):  # every option is a row of the comparison
        assert raw.count(f"<tr><td>option_{i}_more_workers") >= 5


def test_print_css_sets_a4_portrait_and_lets_long_tables_break(reports):
    raw = reports[2].read_text(encoding="utf-8")
    assert re.search(r"@page\s*\{\s*size:\s*A4 portrait", raw)
    printed = raw[raw.index("@media print") :]
    assert "tbody.kpi" in printed and "break-inside: auto" in printed  # a block stays whole


def _chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        unavailable("chromium is not installed", ".ci/run installs it")
    return found


def test_the_report_fits_a4_width_in_chromium(reports, tmp_path):
    """At A4's text width (210 mm less 2 × 12 mm margins ≈ 700 px) nothing is wider than the
    page: a copy of the page (its CSP lifted) measures every table and writes the result."""
    browser = _chromium()
    raw = reports[6].read_text(encoding="utf-8")
    raw = re.sub(r"<meta http-equiv=\"Content-Security-Policy\"[^>]*>", "", raw, flags=re.S)
    probe = (
        "<script>addEventListener('load', () => { const w = document.documentElement.clientWidth;"
        " const wide = [...document.querySelectorAll('table')].filter(t => t.scrollWidth > w + 1"
        " || t.getBoundingClientRect().right > w + 1).map(t => (t.caption || {}).textContent);"
        " document.body.setAttribute('data-wide', JSON.stringify(wide));"
        " document.body.setAttribute('data-width', w); });</script>"
    )
    page = tmp_path / "probe.html"
    page.write_text(raw.replace("</body>", probe + "</body>"), encoding="utf-8")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             f"--user-data-dir={tmp_path / 'profile'}", "--window-size=700,1000",
             "--virtual-time-budget=5000"]  # fmt: skip
    dom = subprocess.run([browser, *flags, "--dump-dom", page.as_uri()], capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert dom.returncode == 0, dom.stderr[-2000:]
    width = re.search(r'data-width="(\d+)"', dom.stdout)
    assert width and 600 <= int(width.group(1)) <= 700, dom.stdout[-500:]
    assert 'data-wide="[]"' in dom.stdout, re.search(r'data-wide="[^"]*"', dom.stdout)


# ------------------------------------------------------------------ (b) costs


def test_every_cost_label_says_what_it_includes():
    for k in kpis.CATALOGUE:
        if k.name.startswith(("cost.", "council.<C>.cost.")):
            assert re.search(r"[(:]", k.label), f"{k.name}: {k.label!r} names no parts"
    assert "no retainers, allowances or venue" in kpis.label("cost.per_week")
    assert "no retainers" in kpis.label("cost.per_station_hour_saved")


def test_cost_figures_and_tables_use_the_catalogue_words(reports, scenario, capsys):
    from rich.console import Console

    from ooh_sim.cli import kpi_table

    text = reports[2].read_text(encoding="utf-8")
    for k in ("cost.council.per_week", "cost.total.per_week"):
        assert kpis.label(k).replace("'", "&#x27;") in text
    res = run(scenario, replications=2, jobs=1, keep_jobs=False)
    console = Console(width=200, record=True)
    console.print(kpi_table(res.summary, "t"))
    shown = " ".join(console.export_text().split())
    assert kpis.label("cost.council.per_week") in shown
    c = compare(_options(scenario, 2), replications=2, jobs=1)
    fig = compare_figures.kpi_bars(c)
    titles = " ".join(" ".join(ax.get_title().split()) for ax in fig.axes)
    assert kpis.label("cost.total.per_week") in titles
    style.plt.close(fig)


# ------------------------------------------------------------------ (c) pooled vs mean of runs


def test_pooled_and_mean_of_runs_percentiles_are_named(reports, scenario):
    assert "mean over runs" in kpis.label("station.hours.p90")
    assert "mean over runs" in kpis.label("station.hours.max")
    assert MEAN_OF_RUNS.split(":")[0] in reports[2].read_text(encoding="utf-8")
    res = run(scenario, replications=2, jobs=1)
    fig = run_figures.station_hours(res)
    assert fig is not None
    assert any("pooled" in t.get_text() for t in fig.axes[0].texts)
    style.plt.close(fig)


# ------------------------------------------------------------------ (d) sweep axes


def test_sweep_parameters_are_labelled_in_the_schemas_words():
    data = read_with_extends("scenarios/baseline.yaml")
    words, names = setting_words(data, "staff.edt.count")
    assert names == "edt" and "Workers" in words
    assert setting_words(data, "day_team.response.mean")[0].endswith("average value")

    class Exp:  # the two attributes the label needs
        base = data

    label = sweep_figures._parameter_label(Exp(), Parameter("placements.capacity", [1, 2]))
    assert "Emergency placements" in label and "(placements.capacity)" in label


# ------------------------------------------------------------------ (e) heat maps


def test_hour_of_week_figures_are_day_by_hour_heat_maps(scenario):
    res = run(scenario, replications=2, jobs=1, keep_jobs=False)
    fig = run_figures.hour_of_week(res)
    maps = [im for ax in fig.axes for im in ax.get_images()]
    assert len(maps) == 2 and all(im.get_array().shape == (7, 24) for im in maps)
    bars = [ax for ax in fig.axes if ax.get_ylabel() == "mean number"]
    assert len(bars) == 2  # a labelled colour bar each (children in stations: station_by_hour)
    style.plt.close(fig)
    c = compare(_options(scenario, 3), replications=2, jobs=1)
    fig = compare_figures.station_by_hour(c)
    maps = [im for ax in fig.axes for im in ax.get_images()]
    assert len(maps) == 3 and {im.get_clim() for im in maps} == {maps[0].get_clim()}
    style.plt.close(fig)


# ------------------------------------------------------------------ (f, g) errors


def test_a_bad_distribution_is_one_message(tmp_path):
    (tmp_path / "base.yaml").write_text(SCENARIO, encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(SCENARIO + "day_team: {response: {dist: lognormal, mean: -1}}\n")
    with pytest.raises(InputError) as info:
        load_scenario(bad)
    errors = getattr(info.value, "errors", [info.value])
    assert len(errors) == 1, [str(e) for e in errors]
    text = str(errors[0])
    assert "day_team.response" in text and "mean must be greater than 0" in text
    assert "sd is missing" in text and "Input should" not in text
    # a variant that changes the law does not inherit the old law's parameters
    (tmp_path / "v.yaml").write_text(
        "extends: base.yaml\nplacements: {stay_days: {dist: lognormal, mean: 2, sd: 1}}\n"
    )
    assert load_scenario(tmp_path / "v.yaml").placements.stay_days.mean == pytest.approx(2)


def test_did_you_mean_only_for_a_similar_file_name(tmp_path):
    (tmp_path / "fitted.yaml").write_text(SCENARIO, encoding="utf-8")
    (tmp_path / "baseline.yaml").write_text(SCENARIO, encoding="utf-8")
    for name, guess in [("fited.yaml", "fitted.yaml"), ("baseline.yml", "baseline.yaml"),
                        ("fit.yaml", None), ("listed.yaml", None), ("mixed.yaml", None),
                        ("scenario.yaml", None)]:  # fmt: skip
        with pytest.raises(InputError) as info:
            load_scenario(tmp_path / name)
        assert info.value.suggestion == guess, (name, info.value.suggestion)
