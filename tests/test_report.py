"""report.html (ooh_sim.report.html) and the resolved, commented scenario.yaml
(ooh_sim.io.provenance).

Budget: ~15 s (one small run with figures; Chromium, when installed, adds a few seconds).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from ooh_sim.cli import main
from ooh_sim.core import kpis
from ooh_sim.core.compare import compare
from ooh_sim.core.errors import InputError
from ooh_sim.core.loader import load_scenario
from ooh_sim.core.model import Model
from ooh_sim.core.rng import RandomStreams
from ooh_sim.core.runner import run
from ooh_sim.io.formats import config_sha256
from ooh_sim.io.provenance import parse_comments, scenario_notes
from ooh_sim.report.folders import write_comparison, write_run
from ooh_sim.report.html import mser, warmup_check, write_report

SCENARIO = """\
# Test scenario: header line one.
# Header line two.

name: tiny_pp
description: "Tiny <script>alert(1)</script> & co"
sources:
  volumes: "Local log 2022 <b>not bold</b>"
horizon: {start: 2023-01-02, days: 56, warmup_days: 7}   # ASSUMPTION: short, for tests
replications: 3
seed: 5
staff:
  edt:
    count: 1                # DOMAIN: one worker
    skills: [children, adults]
    roster: cover
streams:
  pp:
    kind: police_protection
    skill: children
    arrivals: {per_week: 3}   # ASSUMPTION: made-up volume
    duration: {dist: lognormal, mean: 1, sd: 0.5}
    transport: {dist: fixed, value: 0.5}
    officers: 2
  calls:
    kind: referral
    skill: adults
    priority: 2
    arrivals:
      per_week: 30          # DERIVED: 4 x 7.5
      profile:
        # evening peak
        by_hour: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                  1, 1, 1, 1, 1, 3, 3, 3, 1, 1, 1, 1]   # 12-23 with a peak
    duration: {dist: exponential, mean: 0.5}
placements: {capacity: 1, stay_days: {dist: fixed, value: 1}}   # ASSUMPTION: one bed
"""


class Page(HTMLParser):
    """Every tag with its attributes, and the visible text."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(text)

    BLOCKS = ("p", "li", "td", "th", "tr", "br", "div", "h1", "h2", "h3", "caption", "summary")

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in self.BLOCKS:
            self.text.append(" ")

    def handle_data(self, data):
        self.text.append(data)

    @property
    def plain(self) -> str:
        return " ".join("".join(self.text).split())


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("report")
    src = d / "tiny.yaml"
    src.write_text(SCENARIO, encoding="utf-8")
    res = run(load_scenario(src), replications=3, jobs=1)
    write_run(res, d / "out", source=src)
    write_report(d / "out")
    return d / "out"


@pytest.fixture(scope="module")
def page(results) -> Page:
    return Page((results / "report.html").read_text(encoding="utf-8"))


# ------------------------------------------------------------------ self-contained


def test_every_image_is_an_embedded_png(results, page):
    imgs = [a for t, a in page.tags if t == "img"]
    # the run's figures plus the warm-up chart
    assert len(imgs) == len(list(results.glob("*.png"))) + 1 >= 3
    for a in imgs:
        src = a["src"] or ""
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
        assert a.get("alt")


def test_nothing_is_fetched(page, results):
    assert not [t for t, _ in page.tags if t in ("script", "link", "iframe", "object", "embed")]
    hrefs = 0
    for tag, attrs in page.tags:
        for k in ("src", "href", "srcset", "action", "data", "poster"):
            if k not in attrs:
                continue
            v = (attrs[k] or "").strip().lower()
            assert not v.startswith(("http:", "https:", "//", "ftp:", "file:")), (tag, k, v)
            if k == "href":
                hrefs += 1
                assert v.startswith("#"), v  # only links within the page
            if k == "src":
                assert v.startswith("data:"), v
    assert hrefs >= 5  # the contents list
    assert not [a for _, a in page.tags if a.get("style")]  # all CSS in the one <style> block
    raw = (results / "report.html").read_text(encoding="utf-8")
    assert "url(" not in raw and "@import" not in raw and "@font-face" not in raw


def test_text_from_files_is_escaped(page, results):
    raw = (results / "report.html").read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in raw
    assert "<b>not bold</b>" not in raw
    assert "Tiny <script>alert(1)</script> & co" in page.plain  # shown as text


# ------------------------------------------------------------------ content


def test_headline_kpis_with_their_intervals(results, page):
    s = json.loads((results / "summary.json").read_text())
    for k in ("station.hours.mean", "streams.calls.response_hours.mean", "staff.edt.utilisation"):
        e = s["kpis"][k]
        label = kpis.label(k)
        assert kpis.format(k, e["mean"]) in page.plain
        assert kpis.interval(k, e["ci95_low"], e["ci95_high"]) in page.plain
        if not k.startswith("streams."):  # streams have their own table, one column per KPI
            assert label in page.plain
            assert k in page.plain  # the contract name is shown beside the words
    assert "average wait until a worker starts" in page.plain  # the streams table's column


def test_scenario_in_plain_words(page):
    t = page.plain
    assert "Monday to Thursday 17:00 to 09:00" in t
    assert "56 days from Monday 2 January 2023; the first 7 days are a warm-up" in t
    assert "edt: 1 worker for children, adults work" in t
    assert "1 emergency placement" in t
    assert "child held in a police station" in t and "(2 officers stay)" in t


def test_assumptions_and_sources(page, results):
    raw = (results / "report.html").read_text(encoding="utf-8")
    t = page.plain
    assert "made-up volume" in t and "short, for tests" in t and "one bed" in t
    assert raw.count("<mark>ASSUMPTION</mark>") >= 4  # 3 notes + the explanation
    assert "3 settings are marked ASSUMPTION" in t
    assert "DOMAIN: one worker" in t and "DERIVED: 4 x 7.5" in t  # sourced ones, folded
    assert "Local log 2022 <b>not bold</b>" in t  # the sources: block
    assert "Test scenario: header line one." in t


def test_warm_up_and_stress_des(page):
    t = page.plain
    assert "MSER rule" in t and "the scenario discards 7" in t
    for item in ("1.2", "2.5.1", "3.4", "4.1", "4.2", "4.3", "5.1", "5.2", "5.4"):
        assert f" {item} " in f" {t} "
    assert "Seed 5." in t and "3 independent replications" in t


def test_report_cli_and_bad_folder(results, tmp_path, capsys):
    assert main(["report", str(results)]) == 0
    assert "report.html" in capsys.readouterr().out
    assert main(["report", str(tmp_path)]) == 2
    assert "not an ooh-sim results folder" in capsys.readouterr().err
    with pytest.raises(InputError):
        write_report(tmp_path / "missing")


def test_without_jobs_file_the_warm_up_check_says_so(tmp_path):
    src = tmp_path / "tiny.yaml"
    src.write_text(SCENARIO, encoding="utf-8")
    res = run(load_scenario(src), replications=2, jobs=1, keep_jobs=False)
    write_run(res, tmp_path / "o", figures=False, source=src)
    p = Page(write_report(tmp_path / "o").read_text(encoding="utf-8"))
    assert "no jobs.csv.gz" in p.plain
    assert not [t for t, _ in p.tags if t == "img"]
    assert "(Figures)" not in p.plain  # no figure to contrast the cards with, nor a section


def test_with_figures_but_no_jobs_file_the_cards_note_names_no_pooled_figure(tmp_path):
    # --no-jobs-file drops the pooled station-wait figure while the other figures stay: the note
    # under the cards must not send the reader to it
    src = tmp_path / "tiny.yaml"
    src.write_text(SCENARIO, encoding="utf-8")
    res = run(load_scenario(src), replications=2, jobs=1, keep_jobs=False)
    write_run(res, tmp_path / "o", source=src)
    assert list((tmp_path / "o").glob("*.png"))
    assert not (tmp_path / "o" / "station_hours_distribution.png").exists()
    p = Page(write_report(tmp_path / "o").read_text(encoding="utf-8"))
    assert "(Figures) instead pools" not in p.plain


def test_the_cards_note_names_the_pooled_figure_the_folder_has(results, page):
    assert (results / "station_hours_distribution.png").exists()
    assert "The figure of police-station waits (Figures) instead pools" in page.plain


def test_comparison_report(tmp_path):
    sc = load_scenario_text(tmp_path, SCENARIO)
    more = sc.model_copy(update={"name": "two_workers", "staff": {
        "edt": sc.staff["edt"].model_copy(update={"count": 2})}})  # fmt: skip
    c = compare([sc, more], replications=3, jobs=1)
    write_comparison(c, tmp_path / "cmp", figures=False)
    p = Page(write_report(tmp_path / "cmp").read_text(encoding="utf-8"))
    t = p.plain
    assert "Options compared" in t and "tiny_pp (reference)" in t and "two_workers" in t
    d = c.differences["two_workers"]["streams.calls.response_hours.mean"]
    assert d.significant  # a second worker shortens waits on common random numbers
    assert "clear difference" in t


def load_scenario_text(folder: Path, text: str):
    f = folder / "s.yaml"
    f.write_text(text, encoding="utf-8")
    return load_scenario(f)


# ------------------------------------------------------------------ warm-up arithmetic


def test_mser_finds_an_initial_transient():
    rng = np.random.default_rng(3)
    flat = rng.normal(5, 0.3, 50)
    assert mser(flat) <= 5
    bumped = flat + 6 * np.exp(-np.arange(50) / 3)
    assert 4 <= mser(bumped) <= 15


def test_jobs_waiting_by_day_matches_the_models_queue_integral(tmp_path):
    """Daily mean jobs waiting (from jobs.csv.gz, with handovers at the end of cover) integrates
    to the model's own queue area. Referrals only: a child re-queues for the placement search,
    which the warm-up series (waiting for a first worker) does not count."""
    text = SCENARIO.split("streams:")[0] + "streams:\n  calls:" + SCENARIO.split("  calls:")[1]
    sc = load_scenario_text(tmp_path, text)
    write_run(run(sc, replications=3, jobs=1), tmp_path / "o", figures=False)
    w = warmup_check(tmp_path / "o", sc)
    assert w is not None and len(w.waiting) == 56
    areas = [Model(sc, RandomStreams(sc.seed, i)).run().records.queue_area for i in range(3)]
    assert w.waiting.sum() * 24 == pytest.approx(np.mean(areas), rel=1e-5)


# ------------------------------------------------------------------ scenario.yaml


def test_resolved_scenario_round_trips_with_its_comments(results, tmp_path):
    src = tmp_path / "tiny.yaml"
    src.write_text(SCENARIO, encoding="utf-8")
    original = load_scenario(src)
    resolved = load_scenario(results / "scenario.yaml")
    assert config_sha256(resolved) == config_sha256(original)
    here = parse_comments((results / "scenario.yaml").read_text(encoding="utf-8"))
    assert here.by_path == scenario_notes(src).by_path
    # a note after a flow mapping belongs to the key the mapping is the value of
    assert here.by_path[("streams", "pp", "arrivals")] == ["ASSUMPTION: made-up volume"]
    assert here.by_path[("streams", "calls", "arrivals", "profile", "by_hour")] == [
        "evening peak",
        "12-23 with a peak",
    ]
    # the baseline's 80-odd notes survive the trip too
    base = Path("scenarios/baseline.yaml")
    write_run(run(load_scenario(base), replications=1, jobs=1), tmp_path / "b", figures=False,
              source=base)  # fmt: skip
    again = parse_comments((tmp_path / "b/scenario.yaml").read_text(encoding="utf-8"))
    assert again.by_path == scenario_notes(base).by_path and len(again.by_path) > 50


def test_comments_of_a_variant_override_its_parent(tmp_path):
    (tmp_path / "base.yaml").write_text(SCENARIO, encoding="utf-8")
    (tmp_path / "v.yaml").write_text(
        "extends: base.yaml\nplacements:\n  capacity: 3   # DERIVED: three beds now\n"
        "streams:\n  pp:\n    arrivals: {per_week: 4}\n",
        encoding="utf-8",
    )
    n = scenario_notes(tmp_path / "v.yaml")
    assert n.by_path[("placements", "capacity")] == ["DERIVED: three beds now"]
    # per_week is set again without a note: the parent's note no longer applies
    assert ("streams", "pp", "arrivals", "per_week") not in n.by_path
    assert n.by_path[("staff", "edt", "count")] == ["DOMAIN: one worker"]


# ------------------------------------------------------------------ Chromium (optional)


@pytest.mark.skipif(
    shutil.which("chromium") is None and not os.environ.get("CI"),
    reason="chromium not installed (under CI=true this fails instead: .ci/run installs it)",
)
def test_chromium_renders_it_without_errors(results, tmp_path):
    assert shutil.which("chromium"), "CI=true but chromium is not installed"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run",
             f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr",
             "--v=0"]  # fmt: skip
    url = (results / "report.html").resolve().as_uri()
    dom = subprocess.run(["chromium", *flags, "--dump-dom", url], capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "At a glance" in dom.stdout and "station.hours.mean" in dom.stdout
    bad = [line for line in dom.stderr.splitlines()
           if "CONSOLE" in line or "net::ERR" in line or "Refused to" in line]  # fmt: skip
    assert not bad, bad
    shot = tmp_path / "page.png"
    r = subprocess.run(["chromium", *flags, "--hide-scrollbars", "--window-size=1100,2400",
                        f"--screenshot={shot}", url], capture_output=True, text=True,
                       timeout=120)  # fmt: skip
    assert r.returncode == 0 and shot.is_file()
    from matplotlib.image import imread

    img = imread(shot)
    assert img.shape[0] == 2400 and img[..., :3].std() > 0.05  # not a blank page


def test_cli_compare_with_precision_and_report(tmp_path):
    (tmp_path / "a.yaml").write_text(SCENARIO, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(
        "extends: a.yaml\nname: b\nstaff:\n  edt:\n    count: 2   # the option: two workers\n",
        encoding="utf-8",
    )
    out = tmp_path / "cmp"
    code = main(["compare", str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml"), "-j", "1",
                 "--precision", "0.3", "--max-replications", "12", "--report", "--no-figures",
                 "--out", str(out), "-q"])  # fmt: skip
    assert code == 0
    n = json.loads((out / "comparison.json").read_text())["replications"]
    own = []
    for name in ("tiny_pp", "b"):
        s = json.loads((out / name / "summary.json").read_text())
        assert s["replications"] == n and s["precision"]["n"] == n
        own.append(s["precision"]["own_n"])
        assert load_scenario(out / name / "scenario.yaml").name == name
    assert n == max(own)
    t = Page((out / "report.html").read_text(encoding="utf-8")).plain
    assert "What this option changes" in t and "the option: two workers" in t
    assert f"worst precision at {n} runs" in t


def test_warm_up_reads_only_the_first_runs(results):
    from ooh_sim.report.html import _read_jobs

    every = _read_jobs(results / "jobs.csv.gz")
    two = _read_jobs(results / "jobs.csv.gz", runs=2)
    assert set(np.unique(every["replication"])) == {0, 1, 2}
    assert set(np.unique(two["replication"])) == {0, 1}
    assert len(two["arrival_h"]) == int((every["replication"] < 2).sum())


def test_settings_changed_with_set_are_said(tmp_path):
    """A run with --set: scenario.yaml and the report say which settings were changed, and the
    file's comment on a changed key ("one worker") is marked as the file's, not the run's."""
    src = tmp_path / "tiny.yaml"
    src.write_text(SCENARIO, encoding="utf-8")
    out = tmp_path / "o"
    assert main(["run", str(src), "--set", "staff.edt.count=2", "-n", "2", "-j", "1", "-q",
                 "--no-figures", "--out", str(out), "--report"]) == 0  # fmt: skip
    yaml_text = (out / "scenario.yaml").read_text(encoding="utf-8")
    assert "# Changed for this run with --set: staff.edt.count=2." in yaml_text
    assert ("count: 2  # set with --set for this run (the file's own note: DOMAIN: one worker)"
            in yaml_text)  # fmt: skip
    assert load_scenario(out / "scenario.yaml").staff["edt"].count == 2
    plain = Page((out / "report.html").read_text(encoding="utf-8")).plain
    assert "Changed for this run with --set: staff.edt.count = 2." in plain
    unchanged = tmp_path / "u"
    assert main(["run", str(src), "-n", "2", "-j", "1", "-q", "--no-figures", "--out",
                 str(unchanged), "--report"]) == 0  # fmt: skip
    assert "--set" not in (unchanged / "scenario.yaml").read_text(encoding="utf-8")
    assert "Changed for this run" not in (unchanged / "report.html").read_text(encoding="utf-8")


def test_a_set_list_item_is_marked_and_a_set_newline_keeps_scenario_yaml_readable(tmp_path):
    """--set of a list item (by_hour.17) marked nothing (its note sits on the list's key), and a
    --set text with a newline broke the header comment, so scenario.yaml no longer loaded."""
    src = tmp_path / "tiny.yaml"
    src.write_text(SCENARIO, encoding="utf-8")
    out = tmp_path / "o"
    assert main(["run", str(src), "--set", "streams.calls.arrivals.profile.by_hour.17=4", "--set",
                 "description=two\n\nlines", "-n", "2", "-j", "1", "-q", "--no-figures",
                 "--no-jobs-file", "--out", str(out)]) == 0  # fmt: skip
    text = (out / "scenario.yaml").read_text(encoding="utf-8")
    line = next(x for x in text.splitlines()
                if x.lstrip().startswith("by_hour:") and "3.0" in x)  # the calls stream's
    assert "set with --set for this run (the file's own note" in line, line
    sc = load_scenario(out / "scenario.yaml")
    assert sc.description == "two\n\nlines"
    assert sc.streams["calls"].arrivals.profile.by_hour[17] == 4
