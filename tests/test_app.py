"""The what-if app: its logic without Streamlit, then the page through Streamlit's AppTest.

Runs are tiny (a 9-week horizon, 3 replications, one process) so the file takes seconds. Under
CI=true a missing Streamlit is a failure, not a skip.
"""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import unavailable

from ooh_sim.app import logic as L
from ooh_sim.core.errors import InputError
from ooh_sim.core.loader import load_scenario
from ooh_sim.core.runner import run

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
PAGE = ROOT / "ooh_sim" / "app" / "page.py"
TINY = "extends: baseline.yaml\nname: tiny\nhorizon: {days: 63, warmup_days: 7}\n"


def need(module: str) -> Any:
    """Import an optional test dependency: skip without it locally, fail under CI."""
    try:
        return importlib.import_module(module)
    except ImportError:
        unavailable(f"{module} is not installed", "pip install -e '.[dev]'")


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """A baseline with a short horizon, beside a copy of the baseline it extends."""
    shutil.copy(BASELINE, tmp_path / "baseline.yaml")
    (tmp_path / "tiny.yaml").write_text(TINY, encoding="utf-8")
    return tmp_path / "tiny.yaml"


def get(data: Any, dotted: str) -> Any:
    for key in dotted.split("."):
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def changed_value(lever: L.Lever) -> Any:
    """A value away from the lever's base, inside its range."""
    if lever.kind == "bool":
        return not lever.base
    if lever.kind == "choice":
        return next(o for o in lever.options if o != lever.base)
    if lever.kind == "percent":
        return 20
    if lever.kind == "int":
        return lever.base + 1 if lever.base + 1 <= lever.maximum else lever.base - 1
    return lever.base * 2 if lever.base else lever.step


def leaves(data: Any, path: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for k, v in data.items():
            out.update(leaves(v, f"{path}.{k}" if path else str(k)))
        return out
    return {path: data}


# ------------------------------------------------------------------------------------------
# Levers


def test_levers_cover_what_the_issue_lists() -> None:
    base = L.Base.load(BASELINE)
    keys = {lv.key for lv in L.levers_for(base.scenario)}
    for wanted in (
        "staff.edt.count",
        "staff.edt.roster",
        "extra.second_worker",
        "extra.on_call",
        "extra.amhp_rota",
        "extra.venue",
        "placements.capacity",
        "placements.stay_days",
        "demand.all",
        "demand.police_protection",
        "demand.amhp",
        "costs.worker_hour",
        "costs.placement_night",
    ):
        assert wanted in keys
    assert [lv.section for lv in L.levers_for(base.scenario)] == sorted(
        (lv.section for lv in L.levers_for(base.scenario)), key=L.SECTIONS.index
    )


def test_every_lever_changes_only_its_settings() -> None:
    base = L.Base.load(BASELINE)
    levers = L.levers_for(base.scenario)
    untouched = L.make_option(base, {}, name="same", replications=3, seed=1)
    for lever in levers:
        values = {lever.key: changed_value(lever)}
        overrides = L.overrides_for(levers, values)
        assert overrides, lever.key
        option = L.make_option(base, overrides, name="option", replications=3, seed=1)
        before, after = leaves(untouched.data), leaves(option.data)
        moved = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
        moved.discard("name")
        assert moved, lever.key
        for k in moved:  # every change is under one of the lever's declared settings
            assert any(k == p or k.startswith(f"{p}.") for p in lever.paths), (lever.key, k)
        for p in lever.paths:  # and each declared setting did change
            assert get(option.data, p) != get(base.data, p), (lever.key, p)


def test_levers_do_what_they_say() -> None:
    base = L.Base.load(BASELINE)
    levers = L.levers_for(base.scenario)

    def option(**values: Any) -> Any:
        return L.make_option(
            base, L.overrides_for(levers, values), name="o", replications=3, seed=1
        ).scenario

    assert option(**{"staff.edt.count": 2}).staff["edt"].count == 2
    sc = option(**{"extra.second_worker": "fri_sat_0100"})
    shift = sc.staff["second_worker"].roster[0]
    assert (shift.days, shift.start, shift.end) == (["fri", "sat"], "17:00", "01:00")
    assert "amhp" not in sc.staff["second_worker"].skills
    sc = option(**{"extra.amhp_rota": True})
    assert sc.staff["edt"].skills == ["children", "adults"]
    assert sc.staff["amhp_rota"].skills == ["amhp"]
    sc = option(**{"extra.on_call": 2.0})
    assert sc.staff["on_call_manager"].on_call
    assert sc.staff["on_call_manager"].callout.child_waiting_hours == 2.0
    sc = option(**{"extra.venue": 1.0})
    assert sc.streams["police_protection"].officer_release_hours == 1.0
    assert sc.streams["custody_transfer"].officer_release_hours == 1.0
    assert sc.staff["venue_staff"].skills == ["venue"]
    assert option(**{"placements.capacity": 4}).placements.capacity == 4
    sc = option(**{"placements.stay_days": 50})
    assert sc.placements.stay_days.mean == pytest.approx(
        1.5 * base.scenario.placements.stay_days.mean
    )
    sc = option(**{"demand.all": 10, "demand.amhp": 20})
    assert sc.streams["amhp"].arrivals.per_week == pytest.approx(6.31 * 1.1 * 1.2)
    assert sc.streams["police_protection"].arrivals.per_week == pytest.approx(0.6 * 1.1)
    assert option(**{"costs.worker_hour": 60.0}).costs.worker_hour == 60.0


def test_levers_of_an_option_with_on_call_and_venue(tmp_path: Path) -> None:
    """An option that already has on-call staff and a venue gets levers for their settings."""
    base = L.Base.load(ROOT / "scenarios" / "combined.yaml")
    keys = {lv.key for lv in L.levers_for(base.scenario)}
    assert "staff.manager.callout.child_waiting_hours" in keys
    assert "extra.officer_release_hours" in keys
    assert "extra.on_call" not in keys and "extra.amhp_rota" not in keys


# ------------------------------------------------------------------------------------------
# The option file, its YAML difference and the cache key


def test_option_file_extends_the_base_and_loads_to_the_same_scenario(tiny: Path) -> None:
    base = L.Base.load(tiny)
    levers = L.levers_for(base.scenario)
    values = {"extra.second_worker": "fri_sat_0100", "placements.capacity": 3, "demand.all": 10}
    option = L.make_option(
        base, L.overrides_for(levers, values), name="tiny_what_if", replications=3, seed=7
    )
    text = L.option_yaml(base, option)
    assert "\nextends: tiny.yaml\n" in text
    assert "end: '01:00'" in text
    path = tiny.parent / "tiny_what_if.yaml"
    path.write_text(text, encoding="utf-8")
    loaded = load_scenario(path)
    assert loaded.model_dump() == option.scenario.model_dump()
    assert (loaded.replications, loaded.seed) == (3, 7)
    diff = L.yaml_diff(base, option)
    assert "-  capacity: 2" in diff and "+  capacity: 3" in diff


def test_option_needs_a_name_of_its_own(tiny: Path) -> None:
    base = L.Base.load(tiny)
    with pytest.raises(InputError, match="name of its own"):
        L.make_option(base, {}, name="tiny", replications=3, seed=1)
    with pytest.raises(InputError, match="name"):
        L.make_option(base, {}, name="bad name!", replications=3, seed=1)


def test_cache_key_is_config_seed_and_replications() -> None:
    base = L.Base.load(BASELINE)
    levers = L.levers_for(base.scenario)
    a = L.make_option(base, {}, name="o", replications=5, seed=1).scenario
    b = L.make_option(
        base, L.overrides_for(levers, {"placements.capacity": 3}), name="o", replications=5, seed=1
    ).scenario
    key = L.cache_key(base.scenario, a, 1, 5)
    assert key == L.cache_key(base.scenario, a, 1, 5)
    assert (
        len(
            {
                key,
                L.cache_key(base.scenario, b, 1, 5),
                L.cache_key(base.scenario, a, 2, 5),
                L.cache_key(base.scenario, a, 1, 6),
                L.cache_key(base.scenario, a, 1, 5, 0.1),
            }
        )
        == 5
    )

    cache = L.OutcomeCache(max_entries=2)
    cache.put("a", "A")  # type: ignore[arg-type]
    cache.put("b", "B")  # type: ignore[arg-type]
    assert cache.get("a") == "A"  # now the most recent
    cache.put("c", "C")  # type: ignore[arg-type]
    assert cache.get("b") is None and cache.get("a") == "A" and len(cache) == 2


# ------------------------------------------------------------------------------------------
# A run: the outcome, its downloads, and the round trip through the CLI's loader


def test_run_outcome_downloads_and_round_trip(tiny: Path) -> None:
    base = L.Base.load(tiny)
    levers = L.levers_for(base.scenario)
    option = L.make_option(
        base,
        L.overrides_for(levers, {"placements.capacity": 4}),
        name="tiny_what_if",
        replications=3,
        seed=11,
    )
    seen: list[tuple[int, int]] = []
    o, _ = L.run_comparison(
        base.scenario,
        option.scenario,
        replications=3,
        seed=11,
        jobs=1,
        progress=lambda d, t: seen.append((d, t)),
    )
    assert seen[-1] == (6, 6)
    assert (o.base, o.option, o.replications, o.seed) == ("tiny", "tiny_what_if", 3, 11)
    names = L.card_kpis(o, base.scenario)
    assert names[0] == "station.hours.mean" and names[-1].startswith("cost.")
    card = L.card(o, "station.hours.mean")
    assert card["option"].endswith(" h") and card["verdict"]
    costs = L.cost_kpis(o)  # by budget holder: the first, simpler sum is left to the CSV
    assert "cost.council.per_week" in costs and "cost.total.per_week" in costs
    assert "cost.per_week" not in costs and "cost.per_station_hour_saved" not in costs
    assert "cost.total.per_station_hour_saved" in o.derived
    assert [k for k in costs if k.endswith("per_station_hour_saved")] == [
        "cost.council.per_station_hour_saved", "cost.police.per_station_hour_saved",
        "cost.health.per_station_hour_saved", "cost.total.per_station_hour_saved"]  # fmt: skip
    assert o.station_by_hour["tiny"].shape == (168,)
    assert len(o.station_hours["tiny"]) > 0

    csv_rows = L.summary_csv(o).splitlines()
    assert csv_rows[0] == ",".join(L.SUMMARY_COLUMNS)
    assert any(r.startswith("tiny_what_if,station.hours.mean,") for r in csv_rows)

    # the downloaded option, run alone by the CLI's loader, gives the app's numbers exactly
    path = tiny.parent / "tiny_what_if.yaml"
    path.write_text(L.option_yaml(base, option), encoding="utf-8")
    alone = run(load_scenario(path), jobs=1)
    assert alone.summary.keys() == o.summaries["tiny_what_if"].keys()
    for k, e in alone.summary.items():
        assert str(e) == str(o.summaries["tiny_what_if"][k]), k


def test_verdicts_in_plain_words() -> None:
    from ooh_sim.core.compare import Difference
    from ooh_sim.core.stats import Estimate

    def d(mean: float, lo: float, hi: float, sd: float = 1.0) -> Difference:
        e = Estimate(mean, lo, hi, sd, 10)
        return Difference(e, e)

    assert L.verdict("station.hours.mean", d(-1, -1.5, -0.5)).startswith("better: clearly shorter")
    assert L.verdict("station.hours.mean", d(1, 0.5, 1.5)).startswith("worse: clearly longer")
    assert L.verdict("station.hours.mean", d(0.1, -0.5, 0.7)) == "no clear difference from today"
    assert L.verdict("cost.per_week", d(900, 890, 910)) == "clearly costs more"
    assert L.verdict("staff.edt.utilisation", d(-0.05, -0.06, -0.04)).startswith("clearly lower")
    assert L.verdict("station.hours.mean", d(0.0, 0.0, 0.0, 0.0)).startswith("no change")
    assert L.verdict("station.hours.mean", None) == "not compared"


# ------------------------------------------------------------------------------------------
# Uploads


def _baseline_bytes() -> bytes:
    return BASELINE.read_bytes()


def test_upload_of_a_scenario_with_its_parent_and_profile(tmp_path: Path) -> None:
    child = (
        b"extends: baseline.yaml\nname: mine\nstreams:\n  amhp:\n    arrivals:\n"
        b"      profile: {file: amhp_profile.csv}\n"
    )
    profile = "\n".join(["hour,weight"] + [f"{h},1" for h in range(168)]).encode()
    path, shown = L.stage_upload(
        [("mine.yaml", child), ("baseline.yaml", _baseline_bytes()), ("amhp_profile.csv", profile)],
        tmp_path,
    )
    assert shown == "mine.yaml"
    base = L.Base.load(path, shown_as=shown)
    assert base.scenario.name == "mine"


@pytest.mark.parametrize(
    ("files", "words"),
    [
        ([("a.yaml", b"extends: ../scenarios/baseline.yaml\nname: a\n")], "not uploaded"),
        ([("a.yaml", b"extends: /etc/passwd\nname: a\n")], "not uploaded"),
        ([("a.yaml", b"extends: baseline.yaml\nname: a\n")], "not uploaded"),
        (
            [
                (
                    "a.yaml",
                    _baseline_bytes().replace(
                        b"  stay_days: {dist: triangular, min: 1, mode: 1, max: 3}",
                        b"  stay_days: {dist: empirical, file: /etc/hostname}",
                    ),
                )
            ],
            "not uploaded",
        ),
        ([("../a.yaml", b"name: a\n")], "not an allowed file name"),
        ([("a b.yaml", b"name: a\n")], "not an allowed file name"),
        ([("a.exe", b"name: a\n")], "not an allowed file name"),
        ([("a.yaml", b"x" * (L.MAX_UPLOAD_BYTES + 1))], "too large"),
        ([("a.yaml", b"name: a\n"), ("b.yaml", b"name: b\n")], "upload one scenario"),
        ([("a.csv", b"1,2\n")], "no scenario file"),
        ([], "no file"),
    ],
)
def test_bad_uploads_are_refused_with_one_line(tmp_path: Path, files: list, words: str) -> None:
    with pytest.raises(InputError) as e:
        L.stage_upload(files, tmp_path)
    text = L.message(e.value, tmp_path)
    assert words in text and "\n" not in text and str(tmp_path) not in text


def test_a_broken_uploaded_scenario_is_one_message(tmp_path: Path) -> None:
    path, _ = L.stage_upload([("a.yaml", b"name: a\nstaf: {}\n")], tmp_path)
    with pytest.raises(InputError) as e:
        L.Base.load(path)
    text = L.message(e.value, tmp_path)
    assert "\n" not in text and "a.yaml" in text and str(tmp_path) not in text


# ------------------------------------------------------------------------------------------
# The page, through Streamlit's AppTest


@pytest.fixture
def app(tiny: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    testing = need("streamlit.testing.v1")
    monkeypatch.setenv("OOH_SIM_APP_SCENARIO", str(tiny))
    monkeypatch.setenv("OOH_SIM_APP_JOBS", "1")
    at = testing.AppTest.from_file(str(PAGE), default_timeout=120)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    at.number_input(key="replications").set_value(3)
    return at


def test_page_shows_a_lever_for_each_setting_and_the_yaml(app: Any, tiny: Path) -> None:
    levers = L.levers_for(L.Base.load(tiny).scenario)
    keys = {
        w.key
        for kind in ("number_input", "selectbox", "slider", "checkbox")
        for w in getattr(app, kind)
    }
    assert {f"lever:{lv.key}" for lv in levers} <= keys
    app.number_input(key="lever:placements.capacity").set_value(4)
    app.selectbox(key="lever:extra.second_worker").set_value("fri_sat_0100")
    app.checkbox(key="lever:extra.amhp_rota").check()
    app.slider(key="lever:demand.all").set_value(10)
    app.run()
    code = app.code[0].value
    assert "extends: tiny.yaml" in code and "placements: {capacity: 4}" in code
    assert "second_worker:" in code and "amhp_rota:" in code and "per_week: 0.66" in code
    assert "+  capacity: 4" in app.code[1].value


def test_run_updates_the_cards_and_a_repeat_comes_from_the_cache(app: Any) -> None:
    app.number_input(key="lever:placements.capacity").set_value(4)
    app.run()
    assert not app.metric
    app.button(key="run").click().run()
    assert not app.exception and not app.error
    first = [(m.value, m.delta) for m in app.metric]
    assert len(first) >= 6
    assert first[0][0].endswith(" h")
    texts = " ".join(m.value for m in app.markdown)
    assert "Today" in texts and "95% CI" in texts
    assert any(w in texts.lower() for w in ("clear", "no change", "better", "worse"))
    names = [b.label for b in app.get("download_button")]
    assert any("YAML" in n for n in names) and "summary.csv" in names

    cache = importlib.import_module("ooh_sim.app.page").outcome_cache
    app.button(key="run").click().run()  # the same settings again
    assert [(m.value, m.delta) for m in app.metric] == first
    assert cache is not None  # (the cache is per server process; here: the AppTest's)

    app.number_input(key="lever:placements.capacity").set_value(2)
    app.run()
    assert app.warning  # results shown are for the earlier settings
    app.button(key="run").click().run()
    assert not app.warning
    assert [(m.value, m.delta) for m in app.metric] != first


def test_cards_show_no_arrow_without_a_change_and_colour_only_a_clear_one(app: Any) -> None:
    """Today against itself: no card shows an arrow (a red ↑ on "0 h" read as worse)."""
    app.button(key="run").click().run()
    assert not app.exception and len(app.metric) >= 6
    assert all(not m.delta for m in app.metric), [m.delta for m in app.metric]
    app.number_input(key="lever:placements.capacity").set_value(4)
    app.button(key="run").click().run()
    assert any(m.delta for m in app.metric)  # four beds move the station figures
    starts = ("**Better", "**Worse", "**Clearly", "**No clear", "**No change", "**Too few")
    verdicts = [m.value for m in app.markdown if m.value.startswith(starts)]
    from streamlit.proto.Metric_pb2 import Metric

    grey = Metric.MetricColor.Value("GRAY")
    for m, verdict in zip(app.metric, verdicts, strict=True):
        assert (m.color != grey) == ("clearly" in verdict.lower()), (m.label, verdict, m.color)


def test_bad_upload_gives_one_message(app: Any) -> None:
    app.file_uploader(key="upload").set_value(
        [("a.yaml", b"extends: /etc/passwd\nname: a\n", "application/x-yaml")]
    )
    app.run()
    assert not app.exception
    assert len(app.error) == 1
    text = app.error[0].value
    assert "not uploaded" in text and "\n" not in text
    assert "Traceback" not in text


def test_good_upload_replaces_the_base(app: Any) -> None:
    app.file_uploader(key="upload").set_value(
        [
            (
                "mine.yaml",
                b"extends: baseline.yaml\nname: mine\nhorizon: {days: 63, warmup_days: 7}\n",
                "application/x-yaml",
            ),
            ("baseline.yaml", _baseline_bytes(), "application/x-yaml"),
        ]
    )
    app.run()
    assert not app.exception and not app.error
    assert "extends: mine.yaml" in app.code[0].value


def test_a_bad_starting_scenario_is_one_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    testing = need("streamlit.testing.v1")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nstaff: {edt: {count: 1, skils: [x]}}\n", encoding="utf-8")
    monkeypatch.setenv("OOH_SIM_APP_SCENARIO", str(bad))
    at = testing.AppTest.from_file(str(PAGE), default_timeout=60)
    at.run()
    assert not at.exception
    assert len(at.error) == 1 and "skils" in at.error[0].value and "\n" not in at.error[0].value


def test_report_download_from_the_page(app: Any) -> None:
    app.button(key="run").click().run()
    app.button(key="prepare_report").click().run()
    assert not app.exception and not app.error
    assert "report.html" in [b.label for b in app.get("download_button")]


# ------------------------------------------------------------------------------------------
# The command


def test_app_command_without_streamlit_or_with_a_bad_scenario(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ooh_sim import cli
    from ooh_sim.app import launch

    monkeypatch.setattr(launch, "streamlit_available", lambda: False)
    assert cli.main(["app"]) == 2
    assert "pip install 'ooh-sim[app]'" in capsys.readouterr().err
    monkeypatch.setattr(launch, "streamlit_available", lambda: True)
    monkeypatch.setattr(launch.os, "execve", lambda *a: pytest.fail("server started"))
    assert cli.main(["app", str(tmp_path / "missing.yaml")]) == 2
    assert "file not found" in capsys.readouterr().err
    assert cli.main(["app", str(BASELINE), "--port", "70000"]) == 2


def test_app_command_line_binds_loopback_headless() -> None:
    from ooh_sim.app import launch

    argv = launch.command()
    assert argv[argv.index("--server.address") + 1] == "127.0.0.1"
    assert argv[argv.index("--server.headless") + 1] == "true"
    assert argv[argv.index("--client.showErrorDetails") + 1] == "none"


def test_precision_mode_writes_the_replications_it_ran(app: Any) -> None:
    app.number_input(key="replications").set_value(6)
    app.selectbox(key="precision").set_value(0.2)
    app.run()
    app.button(key="run").click().run()
    assert not app.exception and not app.error
    ran = next(c.value for c in app.caption if "simulated runs" in c.value)
    n = int(ran.split()[0])
    assert 2 <= n <= 6
    assert f"\nreplications: {n}\n" in app.session_state["option_file"]  # what downloads
