"""``ooh-sim optimise``: the ranking-and-selection procedure, the optimise file, its outputs.

The procedure is checked two ways, both with fixed seeds and never flaky:

* on synthetic normal data with a known answer (many macro-replications in milliseconds): the
  option returned is the true best, or within the indifference zone, in at least 95% of runs
  (the procedure's guarantee) while using a fraction of a brute-force budget;
* on M/M/c queues (``cover: always``) where the ordering is known from Erlang C: more workers
  cost more and wait less, so the cheapest option meeting a mean-wait target is the smallest c
  whose Erlang-C wait is under it.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import need

from ooh_sim.cli import main
from ooh_sim.core.errors import InputError
from ooh_sim.core.loader import load_scenario
from ooh_sim.core.optimise import Settings, h_squared, optimise, select, summary_text
from ooh_sim.core.optimise_spec import Constraint, load_problem
from ooh_sim.io.optimise_files import CHECKPOINT, run_optimise

# --------------------------------------------------------------------------------------------
# the procedure on synthetic data


def _normal_sampler(means_obj, means_con, sd_obj, sd_con, seed):
    """Replication r of every option shares one standard-normal draw (common random numbers)
    plus its own noise, as a simulation on common random numbers would."""
    rng = np.random.default_rng(seed)
    k = len(means_obj)
    store: dict[int, np.ndarray] = {}

    def draws(r: int) -> np.ndarray:
        while r not in store:
            i = len(store)
            z, e = rng.standard_normal(2), rng.standard_normal((k, 2))
            store[i] = np.column_stack(
                [
                    means_obj + sd_obj * (0.7 * z[0] + 0.71 * e[:, 0]),
                    means_con + sd_con * (0.7 * z[1] + 0.71 * e[:, 1]),
                ]
            )
        return store[r]

    def sample(points, a, b):
        return {p: np.array([draws(r)[p] for r in range(a, b)]) for p in points}

    return sample


def test_h_squared_matches_kim_nelson():
    # KN: eta = ((2 alpha/(k-1))^(-2/(n0-1)) - 1)/2, h^2 = 2 eta (n0-1); alpha 0.05, k 10, n0 10
    eta = ((2 * 0.05 / 9) ** (-2 / 9) - 1) / 2
    assert h_squared(10, 0.05 / 9) == pytest.approx(2 * eta * 9)


def test_selection_is_right_in_95_percent_of_runs_with_few_replications():
    # 12 options: cost 100 + 10 i; constraint mean 8 - 0.5 i <= 4.25 holds from i = 8 on
    k = 12
    cost = 100.0 + 10.0 * np.arange(k)
    con = 8.0 - 0.5 * np.arange(k)
    constraint = Constraint("x", "<=", 4.25, tolerance=0.2)
    settings = Settings(first_stage=10, batch=5, indifference=5.0, max_replications=100_000)
    right, spent = 0, []
    for seed in range(60):
        sel = select(k, [constraint], _normal_sampler(cost, con, 5.0, 1.5, seed), settings)
        true_best = 8
        ok = sel.best is not None and con[sel.best] <= 4.25 + 0.2
        ok = ok and cost[sel.best] <= cost[true_best] + 5.0
        right += ok
        spent.append(sel.replications / (k * max(st.n for st in sel.states)))
    assert right / 60 >= 0.95
    # against a brute force running every option as long as the hardest one needed
    assert np.mean(spent) < 0.4


def test_no_feasible_option_is_reported_as_none():
    k = 4
    sel = select(
        k,
        [Constraint("x", "<=", 1.0, tolerance=0.1)],
        _normal_sampler(np.arange(k) * 1.0, np.full(k, 5.0), 1.0, 1.0, 1),
        Settings(indifference=0.5),
    )
    assert sel.best is None and sel.reason == "none_feasible"
    assert all(st.status == "infeasible" for st in sel.states)


def test_budget_stops_and_lists_cheaper_undecided_options():
    # option 0 is cheapest and sits exactly on the bound: it cannot be settled in 400 runs
    cost = np.array([0.0, 10.0, 20.0])
    con = np.array([4.0, 3.0, 2.0])
    sel = select(
        3,
        [Constraint("x", "<=", 4.0, tolerance=0.01)],
        _normal_sampler(cost, con, 1.0, 1.0, 3),
        Settings(indifference=1.0, max_replications=400),
    )
    assert sel.reason == "budget"
    assert sel.best == 1 and sel.undecided_better == [0]


def test_maximise():
    k = 5
    both = _normal_sampler(np.arange(k) * 10.0, np.zeros(k), 1.0, 1.0, 2)

    def objective_only(points, a, b):
        return {p: v[:, :1] for p, v in both(points, a, b).items()}

    sel = select(k, [], objective_only, Settings(indifference=1.0), maximise=True)
    assert sel.best == k - 1


# --------------------------------------------------------------------------------------------
# M/M/c options through the simulator


def erlang_c_wait(lam: float, mu: float, c: int) -> float:
    a = lam / mu
    rho = a / c
    top = a**c / math.factorial(c) / (1 - rho)
    p_wait = top / (sum(a**n / math.factorial(n) for n in range(c)) + top)
    return p_wait / (c * mu - lam)


def _write_queue_problem(tmp_path: Path, *, extra: dict | None = None) -> Path:
    scenario = {
        "name": "queue",
        "horizon": {"start": "2023-01-02", "days": 14, "warmup_days": 1},
        "calendar": {"cover": "always"},
        "seed": 5,
        "staff": {"s": {"count": 1, "skills": ["x"], "roster": "always"}},
        "streams": {
            "a": {
                "skill": "x",
                "arrivals": {"per_week": 1.0 * 168},
                "duration": {"dist": "exponential", "mean": 0.8},
            }
        },
        "costs": {"worker_hour": 10},
    }
    (tmp_path / "queue.yaml").write_text(yaml.safe_dump(scenario))
    spec = {
        "name": "queue_opt",
        "scenario": "queue.yaml",
        "seed": 3,
        "decisions": {"staff.s.count": [1, 2, 3, 4]},
        "constraints": ["streams.a.response_hours.mean <= 0.5"],
        "indifference": 50,
        **(extra or {}),
    }
    path = tmp_path / "opt.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_mmc_cheapest_option_meeting_a_wait_target(tmp_path):
    # Erlang C: c=1 waits 3.2 h, c=2 0.15 h, c=3 0.02 h: the answer is c = 2
    waits = [erlang_c_wait(1.0, 1 / 0.8, c) for c in (1, 2, 3, 4)]
    assert waits[0] > 0.5 > waits[1]
    problem = load_problem(_write_queue_problem(tmp_path))
    # the default objective: the council's weekly cost (the scenario has costs)
    assert problem.objective == "cost.council.per_week" and problem.sense == "minimise"
    result = optimise(problem, jobs=1)
    assert result.best == 1
    st = result.selection.states
    assert st[0].status == "infeasible"
    assert st[2].status == st[3].status == "eliminated"
    # every option ran far fewer replications than a brute force would need
    assert result.selection.replications <= 4 * 40
    text = summary_text(result)
    assert "staff.s.count = 2" in text and "95% confidence" in text


def test_same_answer_whatever_jobs(tmp_path):
    problem = load_problem(_write_queue_problem(tmp_path))
    one = optimise(problem, jobs=1)
    two = optimise(problem, jobs=2)
    assert [s.n for s in one.selection.states] == [s.n for s in two.selection.states]
    assert one.best == two.best
    assert one.estimates == two.estimates


def test_dask_backend_gives_the_same_answer(tmp_path):
    need("distributed")
    problem = load_problem(_write_queue_problem(tmp_path))
    local = optimise(problem, jobs=1)
    dask = optimise(problem, jobs=2, backend="dask")
    assert local.estimates == dask.estimates and local.best == dask.best


def test_outputs_best_yaml_runs_as_is_and_resume_is_identical(tmp_path):
    problem = load_problem(_write_queue_problem(tmp_path))
    out = tmp_path / "results" / "opt"
    result, files, _ = run_optimise(problem, out, jobs=1)
    names = {f.name for f in files}
    assert {"optimise.csv", "optimise.json", "summary.md", "best.yaml"} <= names
    best = load_scenario(out / "best.yaml")
    chosen = problem.scenario(result.best)
    assert best.model_dump(exclude={"name", "description"}) == chosen.model_dump(
        exclude={"name", "description"}
    )
    first_csv = (out / "optimise.csv").read_text()
    header = first_csv.splitlines()[0].split(",")
    assert header[:3] == ["point", "staff.s.count", "replications"]
    assert "streams.a.response_hours.mean.ci95_high" in header
    # cut the checkpoint after its header and a few lines, as a kill would, then resume
    lines = (out / CHECKPOINT).read_text().splitlines(keepends=True)
    (out / CHECKPOINT).write_text("".join(lines[:25]) + lines[25][:10])
    again, _, notes = run_optimise(problem, out, jobs=1, resume=True)
    assert any("incomplete" in n for n in notes)
    assert 0 < again.ran < result.ran
    assert (out / "optimise.csv").read_text() == first_csv
    # everything from the checkpoint: nothing simulated again
    third, _, _ = run_optimise(problem, out, jobs=1, resume=True)
    assert third.ran == 0 and (out / "optimise.csv").read_text() == first_csv


def test_an_unfinished_run_is_not_started_again_unasked(tmp_path):
    """Without --resume, the replications of an interrupted run (a checkpoint of the same
    problem, no optimise.json) would be thrown away: refused unless force. A finished run
    simply runs again."""
    problem = load_problem(_write_queue_problem(tmp_path))
    out = tmp_path / "o"
    first, _, _ = run_optimise(problem, out, jobs=1)
    assert run_optimise(problem, out, jobs=1)[0].ran == first.ran  # finished: runs again
    lines = (out / CHECKPOINT).read_text().splitlines(keepends=True)
    (out / CHECKPOINT).write_text("".join(lines[:11]))  # header and 10 replications
    (out / "optimise.json").unlink()  # as after Ctrl-C: the first batch removed the results
    kept = (out / CHECKPOINT).read_bytes()
    with pytest.raises(InputError, match=r"unfinished optimise of the same file \(10 replications "
                       r"done\); add --resume to continue it, or --force"):  # fmt: skip
        run_optimise(problem, out, jobs=1)
    assert (out / CHECKPOINT).read_bytes() == kept
    again, _, _ = run_optimise(problem, out, jobs=1, force=True)
    assert again.ran == first.ran and (out / "optimise.json").exists()


def test_resume_refuses_another_problem(tmp_path):
    path = _write_queue_problem(tmp_path)
    out = tmp_path / "o"
    run_optimise(load_problem(path), out, jobs=1)
    other = _write_queue_problem(tmp_path, extra={"seed": 4})
    with pytest.raises(InputError, match="different decisions"):
        run_optimise(load_problem(other), out, jobs=1, resume=True)


def test_cli_and_figure(tmp_path):
    path = _write_queue_problem(tmp_path)
    out = tmp_path / "cli"
    assert main(["optimise", str(path), "--out", str(out), "-j", "1", "-q"]) == 0
    assert (out / "cost_frontier.png").stat().st_size > 1000
    assert (out / "best.yaml").exists()

    import matplotlib.pyplot as plt

    from ooh_sim.viz.optimise_figures import cost_frontier

    result = optimise(load_problem(path), jobs=1)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    fig, ax = plt.subplots()
    assert cost_frontier(result, ax=ax) is fig
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    plt.close(fig)


# --------------------------------------------------------------------------------------------
# the optimise file


@pytest.mark.parametrize(
    ("extra", "path", "words", "suggestion"),
    [
        ({"decisions": {"staff.s.cuont": [1, 2]}}, "decisions.staff.s.cuont", "no",
         "staff.s.count"),
        ({"constraints": ["streams.a.response_hours.maen <= 1"]}, "constraints[0]", "no KPI",
         "streams.a.response_hours.mean"),
        ({"constraints": ["wait < 1"]}, "constraints[0]", "not a constraint", None),
        ({"objective": "minimise cost.per_wek"}, "objective", "no KPI", "cost.per_week"),
        ({"decisions": {"staff.s.count": {"min": 1, "max": 300}}}, "decisions", "at most", None),
        ({"decisions": {"staff.s": {"on_off": {"count": 1}}}}, "decisions.staff.s", "on_off",
         None),
        ({"decisions": {"staff.s.count": [1, 1]}}, "decisions.staff.s.count", "twice", None),
        ({"decisions": {"staff.s.count": [0, -1]}}, "decisions", "invalid scenario", None),
        ({"indifernce": 3}, "indifernce", "unknown key", "indifference"),
        ({"decisions": {"staff.s.count": {"min": 1, "mx": 3}}}, "decisions.staff.s.count.mx",
         "unknown key", "max"),
    ],
)  # fmt: skip
def test_bad_optimise_files(tmp_path, extra, path, words, suggestion):
    file = _write_queue_problem(tmp_path, extra=extra)
    with pytest.raises(InputError) as e:
        load_problem(file)
    errors = getattr(e.value, "errors", [e.value])
    assert any(err.path == path and words in err.problem for err in errors), str(e.value)
    if suggestion:
        assert any(err.suggestion == suggestion for err in errors), str(e.value)


def test_cli_bad_file_exit_2(tmp_path, capsys):
    file = _write_queue_problem(tmp_path, extra={"decisions": {"staff.s.cuont": [1, 2]}})
    assert main(["optimise", str(file), "-q"]) == 2
    err = capsys.readouterr().err
    assert "did you mean" in err and "Traceback" not in err


def test_shipped_experiment_loads():
    root = Path(__file__).resolve().parent.parent
    problem = load_problem(root / "experiments" / "cheapest_within_4h.yaml")
    assert len(problem.points) <= 60
    assert problem.constraints[0].text == "station.hours.p90 <= 4"
    # the separate-AMHP option adds a staff group and takes AMHP work off the EDT worker
    i = next(i for i in range(len(problem.points)) if problem.labels(i)["amhp_rota"] == "separate")
    sc = problem.scenario(i)
    assert "amhp_rota" in sc.staff and "amhp" not in sc.staff["edt"].skills


def test_on_off_and_named_options_make_the_right_scenarios(tmp_path):
    extra = {
        "decisions": {
            "staff.s.count": [1, 2],
            "staff.backup": {"on_off": {"count": 1, "skills": ["x"], "roster": "always"}},
            "speed": {"options": {"as_is": {}, "quick": {"streams.a.duration.mean": 0.5}}},
        }
    }
    problem = load_problem(_write_queue_problem(tmp_path, extra=extra))
    assert len(problem.points) == 8

    def pick(count: str, backup: str, speed: str):
        want = {"staff.s.count": count, "staff.backup": backup, "speed": speed}
        return next(problem.scenario(i) for i in range(8) if problem.labels(i) == want)

    assert "backup" not in pick("1", "off", "as_is").staff
    on = pick("2", "on", "quick")
    assert on.staff["backup"].count == 1 and on.staff["s"].count == 2
    assert on.streams["a"].duration.mean == 0.5


# --------------------------------------------------------------------------------------------
# the optimise folder: guarded like run/compare/sweep folders, validated, reported


@pytest.fixture(scope="module")
def optimised(tmp_path_factory):
    """One optimise run through the CLI with --report (shared by the tests below)."""
    tmp = tmp_path_factory.mktemp("folder")
    path = _write_queue_problem(tmp)
    out = tmp / "results" / "opt"
    assert main(["optimise", str(path), "--out", str(out), "-j", "1", "-q", "--report"]) == 0
    return path, out


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*")
            if p.is_file()}  # fmt: skip


def test_optimise_folder_has_a_marker_naming_every_file(optimised):
    from ooh_sim.io.files import MARKER, read_marker

    _, out = optimised
    marker = read_marker(out)
    assert marker is not None and marker["kind"] == "optimise"
    written = {p.name for p in out.iterdir() if p.name != MARKER}
    assert {"optimise.csv", "optimise.json", "summary.md", "best.yaml", "cost_frontier.png",
            "report.html", CHECKPOINT} <= written  # fmt: skip
    assert written <= set(marker["files"])
    assert not list(out.parent.glob(".*lock")) and not list(out.parent.glob(".*tmp-*"))


def test_optimise_refuses_a_folder_of_other_files_or_its_inputs(tmp_path):
    path = _write_queue_problem(tmp_path)
    problem = load_problem(path)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("a planner's notes")
    for out, words in ((mine, "not ooh-sim results"), (tmp_path, "input file")):
        before = _snapshot(out)
        with pytest.raises(InputError, match=words):
            run_optimise(problem, out, jobs=1)
        assert _snapshot(out) == before
    assert main(["optimise", str(path), "--out", str(mine), "-q"]) == 2


def test_one_writer_at_a_time(tmp_path):
    from ooh_sim.io.files import folder_lock

    problem = load_problem(_write_queue_problem(tmp_path))
    out = tmp_path / "locked"
    out.mkdir()
    with folder_lock(out), pytest.raises(InputError, match="in use by process"):
        run_optimise(problem, out, jobs=1)


def test_run_and_optimise_never_replace_each_other(optimised, tmp_path, capsys):
    path, out = optimised
    scenario = path.parent / "queue.yaml"
    before = _snapshot(out)
    assert main(["run", str(scenario), "-n", "2", "--out", str(out), "-q", "--force"]) == 2
    assert "optimise results, not run results" in capsys.readouterr().err
    assert _snapshot(out) == before
    run_out = tmp_path / "run"
    assert main(["run", str(scenario), "-n", "2", "--out", str(run_out), "-q",
                 "--no-figures"]) == 0  # fmt: skip
    before = _snapshot(run_out)
    assert main(["optimise", str(path), "--out", str(run_out), "-q", "--force"]) == 2
    assert "run results, not optimise results" in capsys.readouterr().err
    assert _snapshot(run_out) == before


def test_a_report_is_replaced_only_with_force(optimised, capsys):
    path, out = optimised
    before = _snapshot(out)
    assert main(["optimise", str(path), "--out", str(out), "-q", "--resume"]) == 2
    assert "report.html" in capsys.readouterr().err and _snapshot(out) == before


def test_validate_recognises_optimise_files(tmp_path, capsys):
    good = _write_queue_problem(tmp_path)
    assert main(["validate", str(good)]) == 0
    assert "ok (optimise queue_opt: 4 options" in capsys.readouterr().out
    bad = _write_queue_problem(tmp_path, extra={"constraints": ["streams.a.response_hours.maen "
                                                                "<= 1"]})  # fmt: skip
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "constraints[0]" in err and "did you mean" in err and "Traceback" not in err


class _Page(__import__("html.parser").parser.HTMLParser):
    """Tags, attributes and text of a page."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


ALLOWED_TAGS = {"html", "head", "meta", "title", "style", "body", "header", "div", "h1", "h2",
                "p", "main", "nav", "b", "ol", "li", "a", "section", "table", "caption", "thead",
                "tr", "th", "tbody", "td", "span", "br", "small", "code", "i", "figure", "img",
                "figcaption", "footer", "ul"}  # fmt: skip


def _check_self_contained(page: _Page) -> None:
    assert {t for t, _ in page.tags} <= ALLOWED_TAGS
    for tag, attrs in page.tags:
        assert not any(k.startswith("on") for k in attrs), (tag, attrs)
        if tag == "meta" and attrs.get("http-equiv"):
            assert attrs["http-equiv"] == "Content-Security-Policy"
        assert not (tag == "a" and not str(attrs.get("href", "")).startswith("#"))
        assert not (tag == "img" and not str(attrs.get("src")).startswith("data:image/png;"))
    csp = [a["content"] for t, a in page.tags if a.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in csp[0] and "form-action 'none'" in csp[0]


def test_report_of_an_optimise_folder(optimised):
    path, out = optimised
    page = _Page((out / "report.html").read_text(encoding="utf-8"))
    _check_self_contained(page)
    text = " ".join(" ".join(page.text).split())
    problem = load_problem(path)
    assert ("Cheapest option meeting streams.a.response_hours.mean ≤ 0.5 h with 95% confidence: "
            "staff.s.count = 2.") in text  # fmt: skip
    assert "costs council £" in text and "a week more than today (95% CI" in text
    # the money in the report's answer is worded as in summary.md (one wording, money_words)
    summary = (out / "summary.md").read_text(encoding="utf-8")
    said = [w for w in " ".join(summary.split()).split("It ", 1)[1].split("; ") if "£" in w]
    assert said and all(w.rstrip(".") in text for w in said), said
    # the options table: one row per option, the chosen one marked
    rows = [a for t, a in page.tags if t == "tr" and a is not None]
    assert sum(1 for a in rows if a.get("class") == "chosen") == 1
    table = [t for t, a in page.tags if t == "table" and a.get("class") == "options"]
    assert len(table) == 1 and "Every option evaluated" in text
    assert text.count("replications") >= 1 and "indifference zone" in text.lower()
    assert "common random numbers" in text and "ranking-and-selection" in text
    imgs = [a for t, a in page.tags if t == "img"]
    assert len(imgs) == 1  # the frontier figure, embedded
    assert len(problem.points) == 4


def test_optimise_report_escapes_everything(optimised, tmp_path):
    import json
    import shutil

    from ooh_sim.report.html import write_report

    _, out = optimised
    crafted = tmp_path / "crafted"
    shutil.copytree(out, crafted)
    hostile = '<script>alert(1)</script><meta http-equiv=refresh content=0>" onload="x'
    data = json.loads((crafted / "optimise.json").read_text())
    data["optimise"] = data["stopped"] = hostile
    data["constraints"][0]["kpi"] = hostile
    for p in data["points"]:
        p["decisions"] = {hostile: hostile}
        p["status"] = p["feasible"] = hostile
    data["chosen"]["decisions"] = {hostile: hostile}
    (crafted / "optimise.json").write_text(json.dumps(data))
    page = _Page(write_report(crafted).read_text(encoding="utf-8"))
    _check_self_contained(page)
    assert hostile in " ".join(page.text)  # shown as text, not markup
    data["points"][0]["replications"] = "<b>many</b>"  # text where a number belongs
    (crafted / "optimise.json").write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"should be a whole number|damaged"):
        write_report(crafted)


def test_money_intervals_read_in_the_sentences_direction():
    """"police save £231 a week" is followed by the interval of the saving (£220 to £241), not
    of the signed difference (−241 to −220), which read as a contradiction."""
    from ooh_sim.core.optimise import money_words

    assert money_words("police", -231.0, -241.4, -220.2) == (
        "police save £231 a week (95% CI £220 to £241)")  # fmt: skip
    assert money_words("police", -10.0, -30.0, 12.0) == (
        "police save £10 a week (95% CI −£12 to £30)")  # fmt: skip
    assert money_words("council", 7901.0, 7895.0, 7907.0) == (
        "costs council £7,901 a week more than today (95% CI £7,895 to £7,907)")  # fmt: skip
    assert money_words("council", -500.0, -600.0, -400.0) == (
        "costs council £500 a week less than today (95% CI £400 to £600)")  # fmt: skip
    assert money_words("health", 0.0, 0.0, 0.0) == "health: no change"
    assert money_words(None, 12.0, float("nan"), float("nan")) == (
        "costs £12 a week more than today")  # fmt: skip


def test_money_words_round_to_whole_pounds_without_a_minus_zero():
    """An interval end in [−£0.50, 0) printed as "£-0"; £0.50 as "£0 more" (the "no change" rule
    is below £0.50, so £0.50 is £1)."""
    from ooh_sim.core.optimise import money_words

    assert money_words("police", 0.2, -0.3, 0.7) == "police: no change (95% CI £0 to £1)"
    assert money_words("police", -100.0, -200.4, -0.4) == (
        "police save £100 a week (95% CI £0 to £200)")  # fmt: skip
    assert money_words("council", 0.5, 0.5, 0.5) == (
        "costs council £1 a week more than today (95% CI £1 to £1)")  # fmt: skip
    assert money_words("council", 2.5, -0.6, 5.6) == (
        "costs council £3 a week more than today (95% CI −£1 to £6)")  # fmt: skip
