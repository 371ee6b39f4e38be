"""`ooh-sim fit`: a log made by the simulator from a known scenario is fitted back to it.

Tolerances are stated in standard errors: volumes within 3 Poisson SEs (the log is long enough
that 3 SE is under 7% for the two main streams, so a 10% bias fails), hour and weekday shares
within 4 binomial SEs (the largest of 24 or 7 z-scores), duration means within 3 SEs.
Budget: ~5 s.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

from ooh_sim.cli import main
from ooh_sim.core.arrivals import rate_function
from ooh_sim.core.calendar import build_calendar
from ooh_sim.core.clock import standard_week_cover
from ooh_sim.core.errors import InputError
from ooh_sim.core.fit import event_rows, factored_profile, fit_duration, fit_events
from ooh_sim.core.loader import load_scenario
from ooh_sim.core.model import Model
from ooh_sim.core.rng import RandomStreams
from ooh_sim.core.runner import run
from ooh_sim.core.schema import Horizon, Scenario
from ooh_sim.io.fit_files import read_events, write_events, write_fit

ROOT = Path(__file__).resolve().parent.parent
EVENING = [0.5, 0.4, 0.3, 0.3, 0.3, 0.3, 0.4, 0.6, 0.8, 1, 1, 1,
           1, 1, 1.1, 1.2, 1.4, 2.5, 2.5, 2.2, 1.8, 1.4, 1, 0.7]  # fmt: skip
LATE = [1.0] * 12 + [1.5] * 12


@pytest.fixture(scope="module")
def truth() -> Scenario:
    """Three years of out-of-hours cover (bank holidays included), three streams."""
    return Scenario.model_validate({
        "name": "gen",
        "horizon": {"start": "2023-01-02", "days": 1092},
        "staff": {"t": {"count": 4, "skills": ["a", "b", "c"], "roster": "cover"}},
        "streams": {
            "calls": {"skill": "a", "duration": {"dist": "triangular", "min": 0.25, "mode": 0.25,
                                                 "max": 0.5},
                      "arrivals": {"per_week": 40, "profile": {
                          "by_hour": EVENING, "by_weekday": [1, 1, 1, 1, 1.2, 1.4, 1.3]}}},
            "visits": {"skill": "b", "duration": {"dist": "gamma", "mean": 3, "cv": 0.4},
                       "arrivals": {"per_week": 12, "profile": {
                           "by_hour": LATE, "by_weekday": [1, 1, 1, 1, 1, 1, 2]}}},
            "rare": {"skill": "c", "arrivals": {"per_week": 0.5},
                     "duration": {"dist": "lognormal", "mean": 2, "sd": 1}},
        },
    })  # fmt: skip


@pytest.fixture(scope="module")
def log(truth, tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("fit") / "events.csv"
    write_events(event_rows(Model(truth, RandomStreams(11, 0)).run()), p)
    return p


@pytest.fixture(scope="module")
def fitted(log):
    return fit_events(read_events(log))


def shares(by_hour, by_weekday, cover) -> tuple[np.ndarray, np.ndarray]:
    """Share of a standard week's arrivals in each hour of the day and each weekday."""
    w = (np.outer(by_weekday, by_hour).ravel() * cover).reshape(7, 24)
    return w.sum(axis=0) / w.sum(), w.sum(axis=1) / w.sum()


def test_volumes_within_three_standard_errors(truth, fitted):
    got = {s.name: s for s in fitted.streams}
    assert set(got) == set(truth.streams)
    for name, st in truth.streams.items():
        s = got[name]
        assert s.se == pytest.approx(s.per_week / math.sqrt(s.contacts))
        assert abs(s.per_week - st.arrivals.per_week) < 3 * s.se, name
    assert got["calls"].se / 40 < 0.02 and got["visits"].se / 12 < 0.025  # tight enough to bite
    assert fitted.standard_weeks == pytest.approx(1092 / 7, rel=0.03)  # + bank holidays


def test_profiles_within_four_standard_errors(truth, fitted):
    cover = standard_week_cover(truth.calendar)
    got = {s.name: s for s in fitted.streams}
    for name in ("calls", "visits"):
        p, s = truth.streams[name].arrivals.profile, got[name]
        assert not s.pooled_shape
        th, tw = shares(p.by_hour, p.by_weekday, cover)
        fh, fw = shares(s.by_hour, s.by_weekday, cover)
        assert np.max(np.abs(fh - th) / np.sqrt(th * (1 - th) / s.contacts)) < 4, name
        assert np.max(np.abs(fw - tw) / np.sqrt(tw * (1 - tw) / s.contacts)) < 4, name
    # and the two shapes are told apart (visits peak on Sundays, calls in the early evening)
    assert np.argmax(got["visits"].by_weekday) == 6 and np.argmax(got["calls"].by_hour) in (17, 18)


def test_duration_means_within_three_standard_errors(truth, fitted):
    for s in fitted.streams:
        f = truth.streams[s.name].duration.frozen()
        d = s.duration
        assert d.n == s.contacts  # four workers: every contact was finished by the EDT
        assert d.jittered  # whole minutes in the log
        assert abs(d.mean - f.mean()) < 3 * f.std() / math.sqrt(d.n), s.name
        spec_mean = {"triangular": lambda x: (x["min"] + x["mode"] + x["max"]) / 3,
                     "gamma": lambda x: x["mean"], "lognormal": lambda x: x["mean"],
                     "exponential": lambda x: x["mean"]}[d.spec["dist"]](d.spec)  # fmt: skip
        assert abs(spec_mean - f.mean()) < 3 * f.std() / math.sqrt(d.n), s.name
    by = {s.name: s.duration for s in fitted.streams}
    assert by["calls"].spec["dist"] == "triangular" and by["visits"].spec["dist"] == "gamma"
    # the right family passes KS even with thousands of values — thanks to the jitter
    assert by["calls"].ks_p > 0.01 and by["visits"].ks_p > 0.01
    assert by["visits"].spec["cv"] == pytest.approx(0.4, rel=0.06)


def test_written_scenario_runs_and_reproduces_the_log_count(fitted, log, tmp_path):
    """Integrated over the log's own dates, the fitted rate gives back each observed count:
    per_week is per standard week of cover, bank holidays adding cover as in the model."""
    out = tmp_path / "fitted.yaml"
    write_fit(fitted, out, name="fitted")
    sc = load_scenario(out)
    text = out.read_text(encoding="utf-8")
    assert "THIS IS A TEMPLATE" in text and "KS D=" in text and "AIC (lower is better)" in text
    assert sc.sources["events"].startswith("events.csv")
    cal = build_calendar(Horizon(start=fitted.start, days=(fitted.end - fitted.start).days),
                         sc.calendar)  # fmt: skip
    for s in fitted.streams:
        expected = rate_function(sc.streams[s.name].arrivals, sc.calendar, cal).expected(
            0, cal.hours
        )
        assert expected == pytest.approx(s.contacts, rel=1e-3)
    r = run(sc, replications=1, jobs=1, keep_jobs=False)
    assert r.summary["streams.calls.per_week"].mean == pytest.approx(
        sc.streams["calls"].arrivals.per_week, rel=0.1
    )


def test_hour_of_week_profile_files(fitted, log, tmp_path):
    f = fit_events(read_events(log), profile="hour_of_week")
    files = write_fit(f, tmp_path / "h.yaml")
    # 'rare' has too few contacts for a shape of its own: it keeps the pooled factored one
    assert {p.name for p in files} == {"h.yaml", "h_calls_profile.csv", "h_visits_profile.csv"}
    sc = load_scenario(tmp_path / "h.yaml")
    w = sc.streams["calls"].arrivals.profile.hour_of_week_weights()
    assert len(w) == 168 and np.argmax(np.asarray(w).reshape(7, 24).sum(axis=0)) in (17, 18, 19)
    for s in f.streams:
        assert abs(s.per_week - {"calls": 40, "visits": 12, "rare": 0.5}[s.name]) < 3 * s.se


def test_factored_profile_is_exact_on_exact_data():
    a, b = np.array([1, 1, 1, 1, 2, 3, 1.0]), np.linspace(0.5, 2, 24)
    e = np.full(168, 10.0)
    e[: 24 * 2] = 3.0  # uneven exposure must not bias the shape
    n = np.outer(a, b).ravel() * e
    fa, fb = factored_profile(n, e)
    assert np.allclose(fa / fa.mean(), a / a.mean()) and np.allclose(fb / fb.mean(), b / b.mean())


def test_small_samples_fall_back_and_say_so():
    d = fit_duration(np.array([1.0, 2.0, 4.0]))
    assert d.spec == {"dist": "exponential", "mean": pytest.approx(7 / 3, rel=1e-3)}
    assert not d.aic and "3 durations" in d.note
    assert fit_duration(np.array([0.5] * 20)).spec == {"dist": "fixed", "value": 0.5}
    assert fit_duration(np.array([])) is None


# ------------------------------------------------------------------ the shipped example


def _make_events():
    spec = importlib.util.spec_from_file_location("make_events", ROOT / "examples/make_events.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_example_log_is_what_the_script_makes(tmp_path):
    mod = _make_events()
    rows = mod.make_rows(ROOT / "scenarios/baseline.yaml")
    write_events(rows, tmp_path / "again.csv")
    shipped = ROOT / "examples/events_example.csv"
    assert (tmp_path / "again.csv").read_bytes() == shipped.read_bytes()


def test_example_log_fits_back_to_the_baseline(tmp_path):
    base = load_scenario(ROOT / "scenarios/baseline.yaml")
    f = fit_events(read_events(ROOT / "examples/events_example.csv"))
    for s in f.streams:
        # a quarter's log: 4 SEs, as this checks seven streams at once
        assert abs(s.per_week - base.streams[s.name].arrivals.per_week) < 4 * s.se, s.name
    out = tmp_path / "ex.yaml"
    write_fit(f, out)
    assert load_scenario(out).name == "ex"


# ------------------------------------------------------------------ the command and bad input


def test_cli_fit(tmp_path, capsys):
    out = tmp_path / "s.yaml"
    code = main(["fit", str(ROOT / "examples/events_example.csv"), "--out", str(out),
                 "--name", "quarter", "--start", "2024-01-01"])  # fmt: skip
    assert code == 0
    text = capsys.readouterr().out
    assert "KS D" in text and "children_referral" in text and "61 ± 2.2" in text
    sc = load_scenario(out)
    assert sc.name == "quarter" and sc.horizon.start == dt.date(2024, 1, 1)
    # a scenario someone may have edited is replaced only when asked
    args = ["fit", str(ROOT / "examples/events_example.csv"), "--out", str(out)]
    assert main(args) == 2
    assert "add --force" in capsys.readouterr().err
    assert load_scenario(out).name == "quarter"
    assert main([*args, "--force"]) == 0
    assert load_scenario(out).name == "s"


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("recieved,stream,worker_minutes\n2023-01-02T18:00,a,5\n", "rename column 'recieved' to"),
        ("received,stream,worker_minutes\n2023-13-02T18:00,a,5\n", "line 2"),
        ("received,stream,worker_minutes\n2023-01-02T18:00,a b,5\n", "stream 'a b'"),
        ("received,stream,worker_minutes\n2023-01-02T18:00,a,-5\n", "worker_minutes '-5'"),
        ("received,stream,worker_minutes\n", "no contacts"),
    ],
)
def test_bad_logs_are_input_errors(tmp_path, capsys, content, needle):
    f = tmp_path / "bad.csv"
    f.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as e:
        read_events(f)
    assert needle in str(e.value) and str(f) in str(e.value)
    assert main(["fit", str(f), "--out", str(tmp_path / "o.yaml")]) == 2
    assert needle in capsys.readouterr().err
