"""The bad-input corpus: every way a hand-edited scenario can be wrong, and what the user is told.

Each :class:`Case` writes its file(s) into a folder and says which fragments the one-line error
must contain (the key path and the problem, and the "did you mean" where there is one).
``tests/test_bad_inputs.py`` runs every case through ``ooh-sim run`` and ``ooh-sim validate``:
exit 2, the file named, no traceback, nothing written.

Cases start from ``valid.yaml`` (beside this file) with one edit. To look at them as files:
``python tests/bad_inputs/cases.py DIR`` writes every case into DIR.

No scenario field is a probability (shares are outputs), so there is no "probability > 1" case.
A roster that never covers a stream's arrivals is legal (the day team takes the work), so it is
a warning, tested in ``test_bad_inputs.py``, not a case here.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

VALID = (Path(__file__).parent / "valid.yaml").read_text(encoding="utf-8")


@dataclass(frozen=True)
class Case:
    id: str
    make: Callable[[Path], Path]
    """Write the case into a folder; return the path to hand to the CLI."""
    expect: tuple[str, ...]
    """Fragments the error message must contain (key path, problem), case-insensitive."""
    suggestion: str | None = None
    """The 'did you mean' the message must offer, if any."""
    file: str | None = None
    """Which file the message must name (a name inside the folder); default: the given path."""
    subprocess: bool = False
    """Also run through a real ``python -m ooh_sim`` process (a few, for speed)."""
    canary: str | None = None
    """A file that must NOT exist afterwards (proves a YAML object tag did not run)."""


def edit(old: str, new: str, base: str = VALID) -> str:
    """``base`` with one exact edit (fails loudly if the fixture changed under the case)."""
    if base.count(old) != 1:
        raise ValueError(f"corpus edit target not found exactly once: {old!r}")
    return base.replace(old, new)


def text(content: str, name: str = "scenario.yaml") -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / name
        path.write_text(content, encoding="utf-8")
        return path

    return make


def raw(content: bytes, name: str = "scenario.yaml") -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(content)
        return path

    return make


def files(main: str, **others: str | bytes) -> Callable[[Path], Path]:
    """Several files (``extends:`` parents, data files); ``main`` is the one given to the CLI."""

    def make(folder: Path) -> Path:
        for name, content in others.items():
            path = folder / name.replace("__", ".")
            if isinstance(content, bytes):
                path.write_bytes(content)
            elif content == "<dir>":
                path.mkdir()
            else:
                path.write_text(content, encoding="utf-8")
        return folder / main

    return make


def change(old: str, new: str, *expect: str, suggestion: str | None = None, **kw) -> dict:
    return {"make": text(edit(old, new)), "expect": expect, "suggestion": suggestion, **kw}


def _missing(folder: Path) -> Path:
    (folder / "valid.yaml").write_text(VALID, encoding="utf-8")
    return folder / "vaild.yaml"  # a typo of a file that exists


def _directory(folder: Path) -> Path:
    (folder / "scenarios").mkdir()
    return folder / "scenarios"


_BOMB = "x: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
    f"x{i}: &a{i} [{', '.join([f'*a{i - 1}' if i else '*a'] * 9)}]\n" for i in range(8)
)  # 9**9 ≈ 387 million leaves if anything expanded it
_PROFILE_100 = "hour,weight\n" + "".join(f"{h},1\n" for h in range(100))
_STREAMS_EMPTY = (
    VALID[: VALID.index("streams:")] + "streams: {}\n" + VALID[VALID.index("placements:") :]
)
RATE = "streams.adults.arrivals.per_week"
_TRANSPORT = "    transport: {dist: fixed, value: 1}\n"

_SPECS: dict[str, dict] = {
    # ---------------------------------------------------------------- typos at every level
    "typo_top_level": change("replications: 2", "replicatons: 2",
                             "replicatons", "unknown key", suggestion="replications"),
    "typo_horizon": change("warmup_days: 2", "warmup_dys: 2",
                           "horizon.warmup_dys", "unknown key", suggestion="warmup_days"),
    "typo_calendar": change("bank_holidays: england", "bank_holiday: england",
                            "calendar.bank_holiday", suggestion="bank_holidays"),
    "typo_staff_group": change("edt: {count: 1, skills", "edt: {count: 1, skils",
                               "staff.edt.skils", suggestion="skills"),
    "typo_shift": change('start: "18:00"', 'strat: "18:00"',
                         "staff.nights.roster[0].strat", suggestion="start"),
    "typo_callout": change("child_waiting_hours: 2", "child_wait_hours: 2",
                           "staff.manager.callout.child_wait_hours",
                           suggestion="child_waiting_hours"),
    "typo_stream": change("    deadline_hours: 4\n", "    deadline_hour: 4\n",
                          "streams.police_protection.deadline_hour", suggestion="deadline_hours"),
    "typo_arrivals": change("{per_week: 10}", "{per_wek: 10}",
                            "streams.adults.arrivals.per_wek", suggestion="per_week"),
    "typo_profile": change("profile: {by_hour:", "profile: {by_hours:",
                           "streams.police_protection.arrivals.profile.by_hours",
                           suggestion="by_hour"),
    "typo_distribution_parameter": change("mean: 1.0, sd: 0.5", "mean: 1.0, sdev: 0.5",
                                          "streams.police_protection.duration.sdev",
                                          suggestion="sd"),
    "typo_placements": change("capacity: 2", "capacitty: 2",
                              "placements.capacitty", suggestion="capacity"),
    "typo_out_of_area": change("after_hours: 4", "afterhours: 4",
                               "placements.out_of_area.afterhours", suggestion="after_hours"),
    "typo_day_team": change("day_team: {response:", "day_team: {respone:",
                            "day_team.respone", suggestion="response"),
    "typo_policy": change("{dispatch: priority,", "{dispach: priority,",
                          "policy.dispach", suggestion="dispatch"),
    "typo_costs": change("{worker_hour: 45", "{worker_hours: 45",
                         "costs.worker_hours", suggestion="worker_hour"),
    "typo_report": change("{thresholds_hours:", "{threshold_hours:",
                          "report.threshold_hours", suggestion="thresholds_hours"),
    "typo_in_a_choice": change("dispatch: priority", "dispatch: priorty",
                               "policy.dispatch", suggestion="priority"),
    "typo_weekday": change("days: [fri, sat]", "days: [fri, satur]",
                           "staff.nights.roster[0].days[1]", suggestion="sat"),
    "typo_roster_word": change("roster: cover}", "roster: cuver}",
                               "staff.edt.roster", suggestion="cover"),
    # ---------------------------------------------------------------- wrong types
    "type_count_is_text": change("edt: {count: 1,", "edt: {count: two,",
                                 "staff.edt.count", "integer"),
    "type_skills_not_a_list": change("skills: [children], roster", "skills: children, roster",
                                     "staff.nights.skills", "list"),
    "type_arrivals_not_a_mapping": change("arrivals: {per_week: 10}", "arrivals: 10",
                                          "streams.adults.arrivals", "mapping"),
    "type_staff_is_a_list": {
        "make": text(VALID.replace("staff:\n  edt:", "staff:\n  - edt:", 1).replace(
            "\n  nights:", "\n  - nights:").replace("\n  manager:", "\n  - manager:")),
        "expect": ("staff", "mapping"),
    },
    "type_bad_date": change("start: 2023-01-02", "start: next monday", "horizon.start", "date"),
    "type_bool_is_text": change("preemption: true", "preemption: sometimes",
                                "policy.preemption", "boolean"),
    "type_capacity_fraction": change("capacity: 2", "capacity: 2.5",
                                     "placements.capacity", "integer"),
    # ---------------------------------------------------------------- rates and sizes
    "rate_negative": change("{per_week: 10}", "{per_week: -1}", RATE, "greater than or equal to 0"),
    "rate_nan": change("{per_week: 10}", "{per_week: .nan}", RATE, "finite"),
    "rate_infinite": change("{per_week: 10}", "{per_week: .inf}", RATE, "finite"),
    "rate_huge": change("{per_week: 10}", "{per_week: 1.0e12}", RATE, "at most 100,000",
                        subprocess=True),
    "rate_profile_all_zero": change(
        "by_hour: [1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,2,2,2,2,1,1,1]",
        "by_hour: [" + "0," * 23 + "0]",
        "streams.police_protection.arrivals.profile", "no weight falls inside cover hours"),
    "rate_profile_office_hours_only": {  # weekdays 10:00-14:00 only: the day team's hours
        "make": text(edit(
            "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,2,2,2,2,1,1,1], by_weekday: [1,1,1,1,1,1,1]",
            "0,0,0,0,0,0,0,0,0,0,1,1,1,1,0,0,0,0,0,0,0,0,0,0], by_weekday: [1,1,1,1,1,0,0]")),
        "expect": ("streams.police_protection.arrivals.profile", "inside cover hours"),
    },
    "rate_other_demand_huge": change("other_demand_per_week: 1.0", "other_demand_per_week: 1.0e15",
                                     "placements.other_demand_per_week", "at most 100,000"),
    "rate_too_much_in_total": {
        "make": text(edit("days: 14,", "days: 364,", edit("{per_week: 10}", "{per_week: 90000}"))),
        "expect": ("horizon.days", "too large to simulate", "2,000,000"),
    },
    "duration_mean_zero": change("stay_days: {dist: exponential, mean: 2}",
                                 "stay_days: {dist: exponential, mean: 0}",
                                 "placements.stay_days", "greater than 0"),
    "duration_extreme_spread": change("mean: 1.0, sd: 0.5", "mean: 1.0e-300, sd: 1.0e+300",
                                      "streams.police_protection.duration",
                                      "sd / mean must be between"),
    "priority_out_of_range": change("priority: 2", "priority: 100",
                                    "streams.adults.priority", "99"),
    "staff_count_huge": change("{count: 1, skills: [children], roster",
                               "{count: 5000, skills: [children], roster",
                               "staff.nights.count", "1000"),
    "threshold_negative": change("[2, 4, 8]", "[2, -4, 8]",
                                 "report.thresholds_hours[1]", "greater than 0"),
    # ---------------------------------------------------------------- structure and cross-field
    "streams_empty": {"make": text(_STREAMS_EMPTY), "expect": ("streams", "at least 1")},
    "skill_nobody_has": change("skill: adults", "skill: adutls",
                               "streams.adults.skill", "no staff group has skill",
                               suggestion="adults"),
    "shift_empty": change('end: "02:00"', 'end: "18:00"',
                          "staff.nights.roster[0]", "cannot be empty"),
    "shift_bad_time": change('start: "18:00"', 'start: "25:00"',
                             "staff.nights.roster[0].start", "HH:MM"),
    "warmup_not_shorter": change("warmup_days: 2", "warmup_days: 14",
                                 "horizon", "warmup_days", "shorter than days"),
    "horizon_zero": change("days: 14,", "days: 0,", "horizon.days", "greater than 0"),
    "horizon_huge": change("days: 14,", "days: 1.0e9,", "horizon.days", "at most 36,525"),
    "horizon_year_9999": change("start: 2023-01-02", "start: 9999-12-25",
                                "horizon.start", "between 1900 and 2200"),
    "friday_before_office_opens": change("bank_holidays: england}",
                                         'bank_holidays: england, friday_start: "08:00"}',
                                         "calendar", "friday_start"),
    "callout_without_trigger": change("callout: {delay_hours: 1, child_waiting_hours: 2}",
                                      "callout: {delay_hours: 1}",
                                      "staff.manager.callout", "trigger"),
    "on_call_without_callout": change(
        "on_call: true, callout: {delay_hours: 1, child_waiting_hours: 2}", "on_call: true",
        "staff.manager", "callout"),
    "transport_on_a_referral": change("    deadline_hours: 1\n",
                                      "    deadline_hours: 1\n" + _TRANSPORT,
                                      "streams.adults", "transport", "police_protection"),
    "distribution_unknown": change("dist: gamma", "dist: gama",
                                   "streams.police_protection.transport.dist",
                                   "unknown distribution", suggestion="gamma", subprocess=True),
    "distribution_parameter_missing": change("{dist: gamma, mean: 1.0, cv: 0.4}",
                                             "{dist: gamma, mean: 1.0}",
                                             "streams.police_protection.transport.cv", "missing"),
    "distribution_name_missing": change("{dist: gamma, mean: 1.0, cv: 0.4}", "{mean: 1.0, cv: 0.4}",
                                        "streams.police_protection.transport.dist", "missing"),
    "data_file_missing": change("{dist: empirical, values: [1, 2, 3]}",
                                "{dist: empirical, file: durations.csv}",
                                "day_team.response", "not found"),
    "profile_file_wrong_length": {
        "make": files("scenario.yaml", scenario__yaml=edit("{per_week: 10}",
                      "{per_week: 10, profile: {file: profile.csv}}"), profile__csv=_PROFILE_100),
        "expect": ("streams.adults.arrivals.profile", "168"),
    },
    # ---------------------------------------------------------------- names and paths
    "name_escapes_results": change("name: fuzzbase", "name: ../../x", "name", "must start with",
                                   subprocess=True),
    "name_absolute_path": change("name: fuzzbase", "name: /etc/cron.d/x", "name"),
    "name_with_slash": change("name: fuzzbase", "name: a/../../b", "name"),
    # ---------------------------------------------------------------- extends:
    "extends_cycle": {
        "make": files("a.yaml", a__yaml="extends: b.yaml\nname: a\n",
                      b__yaml="extends: a.yaml\nname: b\n"),
        "expect": ("extends", "cycle"), "file": "b.yaml",
    },
    "extends_itself": {
        "make": files("a.yaml", a__yaml="extends: a.yaml\nname: a\n"),
        "expect": ("extends", "cycle"),
    },
    "extends_missing_parent": {
        "make": files("child.yaml", child__yaml="extends: vaild.yaml\nname: child\n",
                      valid__yaml=VALID),
        "expect": ("extends", "not found"), "suggestion": "valid.yaml",
    },
    "extends_a_directory": {
        "make": files("child.yaml", child__yaml="extends: parent\nname: child\n", parent="<dir>"),
        "expect": ("extends", "directory"),
    },
    "extends_parent_is_bad": {
        "make": files("child.yaml", child__yaml="extends: parent.yaml\nname: child\n",
                      parent__yaml=edit("replications: 2", "replicatons: 2")),
        "expect": ("replicatons", "unknown key"), "suggestion": "replications",
    },
    # ---------------------------------------------------------------- the file itself
    "yaml_malformed": {"make": text(VALID + "  bad: [unclosed\n"),
                       "expect": ("malformed YAML", "line")},
    "yaml_tab_indent": {"make": text(VALID.replace("staff:\n  edt", "staff:\n\tedt")),
                        "expect": ("malformed YAML", "line 8")},
    "yaml_duplicate_key": {"make": text(VALID + "seed: 8\n"),
                           "expect": ("'seed' appears twice", "line 5")},
    "yaml_python_object_tag": {
        "make": text("!!python/object/apply:os.system ['touch PWNED']\n"),
        "expect": ("!!python/object/apply:os.system", "not allowed"),
        "canary": "PWNED", "subprocess": True,
    },
    "yaml_python_tag_inside": {
        "make": text(edit("seed: 7", "seed: !!python/object/apply:os.system ['touch PWNED']")),
        "expect": ("!!python/object/apply:os.system", "line 5", "not allowed"), "canary": "PWNED",
    },
    "yaml_python_name_tag": change("name: fuzzbase", "name: !!python/name:os.system",
                                   "!!python/name:os.system", "not allowed"),
    "yaml_undefined_alias": change("seed: 7", "seed: *nope", "undefined alias"),
    "yaml_alias_bomb": {"make": text(_BOMB + edit("bank_holidays: england", "bank_holidays: *a7")),
                        "expect": ("too many YAML values", "OOH_SIM_MAX_YAML_NODES")},
    "yaml_nested_too_deep": {"make": text("a: " + "[" * 50_000 + "]" * 50_000 + "\n"),
                             "expect": ("nested too deeply",)},
    "yaml_top_level_list": {"make": text("- name: x\n- staff: {}\n"),
                            "expect": ("top level", "mapping", "list")},
    "yaml_top_level_number_key": {"make": text("1: x\n"), "expect": ("keys must be names",)},
    "file_empty": {"make": text(""), "expect": ("empty",)},
    "file_50_mb": {"make": raw(b"# padding\n" * 5_242_880), "expect": ("too large", "5 MB"),
                   "subprocess": True},
    "file_not_utf8": {"make": raw(edit("a small valid", "a small v\u00e1lid").encode("latin-1")),
                      "expect": ("not UTF-8", "0xe1", "line 2")},
    "file_nul_byte": {"make": raw(b"name: x\x00\n"), "expect": ("malformed YAML", "#x0000")},
    "file_missing": {"make": lambda folder: _missing(folder), "expect": ("file not found",),
                     "suggestion": "valid.yaml", "subprocess": True},
    "file_is_a_directory": {"make": lambda folder: _directory(folder), "expect": ("directory",)},
}  # fmt: skip

CASES: list[Case] = [Case(id=k, **v) for k, v in _SPECS.items()]

# ---------------------------------------------------------------- experiment (sweep) files

_EXP = "name: e\nscenario: valid.yaml\nreplications: 2\nparameters:\n  staff.edt.count: [1, 2]\n"


def experiment(content: str) -> Callable[[Path], Path]:
    """An experiment file beside ``valid.yaml`` (the scenario it sweeps)."""
    return files("experiment.yaml", experiment__yaml=content, valid__yaml=VALID)


_EXPERIMENT_SPECS: dict[str, dict] = {
    "experiment_parameter_typo": {
        "make": experiment(edit("staff.edt.count", "staff.edt.cuont", _EXP)),
        "expect": ("parameters.staff.edt.cuont",), "suggestion": "staff.edt.count"},
    "experiment_scenario_missing": {
        "make": experiment(edit("scenario: valid.yaml", "scenario: nope.yaml", _EXP)),
        "expect": ("scenario", "not found")},
    "experiment_lhs_with_a_list": {
        "make": experiment(edit("parameters:", "design: lhs\nsamples: 4\nparameters:", _EXP)),
        "expect": ("parameters.staff.edt.count", "lhs")},
    "experiment_empty_grid": {
        "make": experiment(edit("[1, 2]", "[]", _EXP)),
        "expect": ("parameters.staff.edt.count",)},
    "experiment_design_typo": {
        "make": experiment(edit("parameters:", "design: grdi\nparameters:", _EXP)),
        "expect": ("design",), "suggestion": "grid"},
    "experiment_name_escapes": {
        "make": experiment(edit("name: e", "name: ../../e", _EXP)), "expect": ("name",)},
    "experiment_point_invalid": {
        "make": experiment(edit("staff.edt.count: [1, 2]",
                                "streams.adults.arrivals.per_week: [1, 1.0e12]", _EXP)),
        "expect": ("parameters.streams.adults.arrivals.per_week", "100,000")},
    "experiment_output_typo": {
        "make": experiment(edit("parameters:", "outputs: [station.hours.mena]\nparameters:", _EXP)),
        "expect": ("outputs[0]",), "suggestion": "station.hours.mean"},
    "experiment_python_tag": {
        "make": experiment("!!python/object/apply:os.system ['touch PWNED']\n"),
        "expect": ("not allowed",), "canary": "PWNED"},
}  # fmt: skip

EXPERIMENT_CASES: list[Case] = [Case(id=k, **v) for k, v in _EXPERIMENT_SPECS.items()]
"""``ooh-sim sweep EXPERIMENT`` cases, run by ``test_bad_inputs.py::test_bad_experiment`` the
same way as the scenario cases (through ``sweep`` instead of ``run``). Add new ones here."""


def write_all(folder: Path) -> None:
    """Write every case into its own subfolder of ``folder`` (to read or try by hand)."""
    for case in CASES + EXPERIMENT_CASES:
        sub = folder / case.id
        sub.mkdir(parents=True, exist_ok=True)
        print(case.make(sub))


if __name__ == "__main__":
    write_all(Path(sys.argv[1] if len(sys.argv) > 1 else "bad_inputs_out"))


__all__ = ["CASES", "EXPERIMENT_CASES", "Case"]
