"""The what-if page (Streamlit script): levers on the left, today against the option on the right.

Started by ``ooh-sim app`` (see :mod:`ooh_sim.app.launch`); the scenario comes from the
environment variable ``OOH_SIM_APP_SCENARIO``. Layout only: the logic is in
:mod:`ooh_sim.app.logic`, which the tests exercise without a browser.
"""

from __future__ import annotations

import io
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st
from matplotlib.figure import Figure  # no pyplot: the page runs in threads, one per session

from ooh_sim.app import logic as L
from ooh_sim.core.runner import default_jobs
from ooh_sim.core.schema import Scenario

SCENARIO_ENV = "OOH_SIM_APP_SCENARIO"
JOBS_ENV = "OOH_SIM_APP_JOBS"
PALETTE = ("#000000", "#0072B2", "#D55E00")  # today black, option blue (Okabe–Ito)
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def default_scenario() -> Path:
    env = os.environ.get(SCENARIO_ENV)
    if env:
        return Path(env)
    here = Path("scenarios/baseline.yaml")
    return here if here.is_file() else Path(__file__).resolve().parents[2] / here


# ------------------------------------------------------------------------------------------
# Cached work: the base scenario and the comparison


@st.cache_resource(show_spinner=False)
def outcome_cache() -> L.OutcomeCache:
    """One cache for every session: keyed by both configurations' hashes, seed, replications and
    precision (:func:`ooh_sim.app.logic.cache_key`)."""
    return L.OutcomeCache(max_entries=32)


@st.cache_data(max_entries=64, show_spinner=False)
def figure_png(key: str, kind: str, _outcome: L.Outcome) -> bytes | None:
    """A results figure as PNG, drawn once per outcome (``key``) and kind: a repeat is instant."""
    fig = {"ecdf": ecdf_figure, "heatmap": heatmap_figure}[kind](_outcome)
    if fig is None:
        return None
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
    return buf.getvalue()


def base_from_session() -> L.Base:
    """The scenario the meeting started from, or the one uploaded since."""
    if "base" not in st.session_state:
        st.session_state.base = L.Base.load(default_scenario())
        st.session_state.base_source = "start"
    return st.session_state.base


def reset_levers() -> None:
    for k in [k for k in st.session_state if str(k).startswith("lever:")]:
        del st.session_state[k]
    for k in ("outcome", "outcome_key", "option_file", "report", "option_name"):
        st.session_state.pop(k, None)


# ------------------------------------------------------------------------------------------
# Sidebar: scenario, run settings, levers


def upload_box() -> None:
    with st.sidebar.expander("Start from another scenario"):
        files = st.file_uploader(
            "Scenario file (.yaml) and any files it extends or reads",
            type=["yaml", "yml", "csv", "txt"],
            accept_multiple_files=True,
            key="upload",
            help=f"at most {L.MAX_UPLOAD_BYTES // 1000:,} kB in all; extends: and file: may "
            "name only files uploaded with it",
        )
        if not files:
            return
        tag = tuple((f.name, f.size) for f in files)
        if st.session_state.get("upload_tag") == tag:
            return
        st.session_state.upload_tag = tag
        folder = tempfile.TemporaryDirectory(prefix="ooh-sim-upload-")
        try:
            path, shown = L.stage_upload([(f.name, f.getvalue()) for f in files], Path(folder.name))
            base = L.Base.load(path, shown_as=shown)
        except Exception as e:  # one message on the page, never a traceback
            st.session_state.upload_error = L.message(e, Path(folder.name))
            folder.cleanup()
            return
        st.session_state.pop("upload_error", None)
        st.session_state.upload_folder = folder  # removed when the session ends
        st.session_state.base = base
        st.session_state.base_source = "upload"
        reset_levers()


def widget(lever: L.Lever) -> Any:
    key = f"lever:{lever.key}"
    if key not in st.session_state:
        st.session_state[key] = lever.base
    common = {"key": key, "help": lever.help or None}
    if lever.kind == "bool":
        return st.checkbox(lever.label, **common)
    if lever.kind == "choice":
        return st.selectbox(lever.label, lever.options, format_func=lever.describe, **common)
    if lever.kind == "percent":
        return st.slider(
            lever.label,
            int(lever.minimum),
            int(lever.maximum),
            step=int(lever.step),
            format="%+d%%",
            **common,
        )
    if lever.kind == "int":
        return st.number_input(
            lever.label, int(lever.minimum), int(lever.maximum), step=int(lever.step), **common
        )
    return st.number_input(
        lever.label, float(lever.minimum), float(lever.maximum), step=float(lever.step), **common
    )


def levers_panel(levers: list[L.Lever]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    st.sidebar.header("Levers")
    for i, section in enumerate(L.SECTIONS):
        here = [lv for lv in levers if lv.section == section]
        if not here:
            continue
        with st.sidebar.expander(section, expanded=i < 3):
            for lever in here:
                values[lever.key] = widget(lever)
    return values


def run_settings(base: Scenario) -> tuple[int, int, float | None, str]:
    st.sidebar.header("Run")
    reps = st.sidebar.number_input(
        f"Simulated {L.run_word(base)} per option",
        *L.REPLICATIONS_RANGE,
        value=L.REPLICATIONS_DEFAULT,
        step=5,
        key="replications",
        help="each is one replication of the scenario's horizon; today and the option see the "
        "same ones (common random numbers)",
    )
    modes = ("fixed", *L.PRECISION_CHOICES)
    mode = st.sidebar.selectbox(
        "Precision",
        modes,
        key="precision",
        format_func=lambda m: (
            "run exactly that many years"
            if m == "fixed"
            else f"enough for ±{m:.0%} (at most the number above)"
        ),
    )
    seed = st.sidebar.number_input("Random seed", 0, 2**31 - 1, value=base.seed, key="seed")
    name = st.sidebar.text_input("Option name", value=f"{base.name}_what_if", key="option_name")
    return int(reps), int(seed), None if mode == "fixed" else float(mode), name


# ------------------------------------------------------------------------------------------
# Results


def cards(o: L.Outcome, names: list[str]) -> None:
    per_row = 4
    for first in range(0, len(names), per_row):
        cols = st.columns(per_row)
        for col, k in zip(cols, names[first : first + per_row], strict=False):
            c = L.card(o, k)
            d = o.differences.get(k)
            # red or green only for a clear change; no arrow at all for none (an arrow on "0 h"
            # read as a change for the worse)
            clear = d is not None and d.significant
            colour = {"lower": "inverse", "higher": "normal"}.get(c["better"], "off")
            moved = d is not None and d.paired.mean != 0
            with col.container(border=True):
                st.markdown(f"**{c['label']}**")
                st.metric(
                    c["label"],
                    c["option"],
                    c["change"].replace("−", "-") if moved else None,
                    delta_color=colour if clear else "off",
                    help=f"KPI {k}",
                    label_visibility="collapsed",
                )
                st.markdown(f"Today **{c['today']}** · change 95% CI {c['ci']}")
                st.markdown(f"**{c['verdict'][:1].upper() + c['verdict'][1:]}**")


def ecdf_figure(o: L.Outcome) -> Figure | None:
    samples = {n: s for n, s in o.station_hours.items() if len(s)}
    if not samples:
        return None
    fig = Figure(figsize=(7.5, 3.8), dpi=100)
    ax = fig.subplots()
    top = max(float(np.quantile(s, 0.98)) for s in samples.values())
    top = max(top, max(o.thresholds or (8,)) * 1.25)
    for i, (name, s) in enumerate(samples.items()):
        x = np.sort(s)
        y = np.arange(1, len(x) + 1) / len(x)
        who = "today" if name == o.base else "option"
        ax.step(
            np.r_[0, x],
            np.r_[0, y],
            where="post",
            color=PALETTE[i],
            lw=2.6 if i == 0 else 1.8,
            label=f"{who}: {name} (mean {s.mean():.1f} h)",
        )
    for h in o.thresholds:
        ax.axvline(h, color="0.5", ls="--", lw=0.8)
        ax.text(h, 0.02, f" {h:g} h", color="0.3", fontsize=8)
    ax.set_xlim(0, top)
    ax.set_ylim(0, 1.01)
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.set_xlabel("hours from the police request until the child is collected")
    ax.set_ylabel("children collected within")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def heatmap_figure(o: L.Outcome) -> Figure | None:
    prof = o.station_by_hour
    if o.base not in prof or o.option not in prof:
        return None
    a, b = (np.asarray(prof[n]).reshape(7, 24) for n in (o.base, o.option))
    fig = Figure(figsize=(12, 3.0), dpi=100)
    axes = fig.subplots(1, 3, sharey=True)
    top = max(float(a.max()), float(b.max()), 1e-9)
    d = b - a
    span = max(float(np.abs(d).max()), 1e-9)
    panels = (
        (a, f"today ({o.base})", "Blues", 0, top),
        (b, f"option ({o.option})", "Blues", 0, top),
        (d, "change: option − today", "RdBu_r", -span, span),
    )
    for ax, (m, title, cmap, lo, hi) in zip(axes, panels, strict=True):
        im = ax.imshow(m, aspect="auto", cmap=cmap, vmin=lo, vmax=hi, interpolation="nearest")
        ax.set_title(title, fontsize=10)
        ax.set_xticks(range(0, 24, 3), [f"{h:02d}" for h in range(0, 24, 3)], fontsize=8)
        ax.set_yticks(range(7), DAYS, fontsize=8)
        ax.set_xlabel("hour of day", fontsize=8)
        bar = fig.colorbar(im, ax=ax, fraction=0.05, pad=0.02, format="%.2g")
        bar.ax.tick_params(labelsize=7)
    fig.suptitle(
        "Children waiting in police stations, mean number by hour of the week", fontsize=10
    )
    fig.subplots_adjust(left=0.04, right=0.96, bottom=0.17, top=0.8, wspace=0.28)
    return fig


def results(o: L.Outcome, key: str, base: Scenario, precision_wanted: float | None) -> None:
    ran = (
        f"{o.replications} simulated {L.run_word(base)} each, seed {o.seed}, common random "
        "numbers" + (f" · {o.seconds:.1f} s" if math.isfinite(o.seconds) else "")
    )
    st.subheader(f"{o.option} against today ({o.base})")
    st.caption(
        ran + ". A change is **clear** when its 95% interval, over the same simulated "
        "nights, excludes zero."
    )
    cards(o, L.card_kpis(o, base))

    st.markdown("**Costs**")
    costs = L.cost_kpis(o)
    if costs:
        st.table(L.table_rows(o, costs, merged=True))
        st.caption(
            "Each line says what it includes; standing charges (rostered shifts, on-call "
            "allowances, bed retainers, a venue) are paid whether used or not. Prices come from "
            "the scenario's costs: section (the Costs levers)."
        )
    else:
        st.info("This scenario has no costs: section.")

    left, right = st.columns([3, 2])
    with left:
        st.markdown("**How long children wait in police stations**")
        png = figure_png(key, "ecdf", o)
        if png is None:
            st.info("No child was held in a police station in these runs.")
        else:
            st.image(png)
            st.caption(
                "Share of children collected within x hours (higher and further left is "
                "better); every child in every simulated run."
            )
    with right:
        st.markdown("**How precise**")
        note = L.precision_note(o, base, precision_wanted or 0.1)
        if o.precision:
            own = ", ".join(f"{k}: {n}" for k, n in o.precision.items())
            note = f"Runs each option needed for ±{precision_wanted:.0%}: {own}. " + note
        st.write(note or "–")
        st.markdown("**Reading the cards**")
        st.write(
            "Each card shows the option's figure, its change from today (green when it is "
            "a clear improvement, red when clearly worse, grey when not clear; no arrow when "
            "nothing changed), today's figure, and the 95% interval of the change. *Clear* "
            "means that interval excludes no change."
        )

    png = figure_png(key, "heatmap", o)
    if png is not None:
        st.markdown("**When children wait: hour of the week**")
        st.image(png)
    with st.expander("Every measure"):
        names = list(o.summaries[o.base])
        st.dataframe(L.table_rows(o, names), hide_index=True)


def downloads(o: L.Outcome, base: L.Base) -> None:
    st.subheader("Take it away")
    c1, c2, c3 = st.columns(3)
    option_file = st.session_state.get("option_file", "")
    c1.download_button(
        "Option as YAML (extends the base)",
        option_file,
        file_name=f"{o.option}.yaml",
        mime="application/x-yaml",
        key="download_yaml",
    )
    c2.download_button(
        "summary.csv",
        L.summary_csv(o),
        file_name="summary.csv",
        mime="text/csv",
        key="download_csv",
    )
    key = st.session_state.get("outcome_key")
    report = st.session_state.get("report", {}).get(key)
    if report is None and c3.button("Prepare the HTML report", key="prepare_report"):
        with st.spinner("Writing the report…"):
            try:
                report = make_report(o, base)
                st.session_state.report = {key: report}
            except Exception as e:  # one message, never a traceback
                c3.error(f"The report could not be written: {L.message(e)}")
    if report is not None:
        c3.download_button(
            "report.html",
            report,
            file_name=f"{o.option}-report.html",
            mime="text/html",
            key="download_report",
        )


def make_report(o: L.Outcome, base: L.Base) -> bytes:
    """Re-run the comparison uncached (the report needs every replication) and write it."""
    option = st.session_state.option_scenario
    _, c = L.run_comparison(
        base.scenario, option, replications=o.replications, seed=o.seed, jobs=jobs()
    )
    with tempfile.TemporaryDirectory(prefix="ooh-sim-report-") as tmp:
        return L.report_html(c, Path(tmp), [base.path, None])


def jobs() -> int:
    env = os.environ.get(JOBS_ENV, "")
    return int(env) if env.isdigit() and int(env) > 0 else default_jobs()


# ------------------------------------------------------------------------------------------
# The page


def main() -> None:
    st.set_page_config(page_title="ooh-sim: what if?", page_icon=None, layout="wide")
    st.title("What if…? An out-of-hours option against today")
    base = base_from_session()
    upload_box()
    if st.session_state.get("upload_error"):
        st.error(st.session_state.upload_error)
    base = st.session_state.base
    sc = base.scenario
    st.caption(
        f"Today: **{sc.name}** ({base.shown_as}). Move the levers on the left, then run. "
        "Both are simulated over the same years, night by night, so the differences "
        "are the option's alone."
    )
    with st.expander("About today's scenario"):
        st.write(sc.description or "(no description)")

    reps, seed, precision, name = run_settings(sc)
    levers = L.levers_for(sc)
    values = levers_panel(levers)
    overrides = L.overrides_for(levers, values)
    option = L.make_option(
        base, overrides, name=L.option_name(sc, name), replications=reps, seed=seed
    )
    option_text = L.option_yaml(base, option)

    st.subheader("What the option changes")
    changed = [lv.label for lv in levers if lv.apply(values)]
    st.write(
        ("Changed: " + "; ".join(changed) + ".")
        if changed
        else "Nothing changed yet: the option is today's scenario (with the run settings)."
    )
    if changed:  # shown outright: an expander keeps whatever open/closed state it first had
        st.caption("The option file (YAML)")
        st.code(option_text, language="yaml")
    else:
        with st.expander("The option file (YAML)"):
            st.code(option_text, language="yaml")
    with st.expander("Line-by-line difference from today (resolved scenario)"):
        st.code(L.yaml_diff(base, option) or "(no difference)", language="diff")

    key = L.cache_key(sc, option.scenario, seed, reps, precision)
    if st.button("Run the option against today", type="primary", key="run"):
        outcome = outcome_cache().get(key)
        if outcome is None:
            bar = st.progress(0.0, text="Simulating…")

            def progress(done: int, total: int) -> None:
                bar.progress(
                    min(1.0, done / max(total, 1)), text=f"Simulating… {done} of {total} runs"
                )

            outcome, _ = L.run_comparison(
                sc,
                option.scenario,
                replications=reps,
                seed=seed,
                precision=precision,
                jobs=jobs(),
                progress=progress,
            )
            outcome_cache().put(key, outcome)
            bar.empty()
        st.session_state.outcome = outcome
        st.session_state.outcome_key = key
        if outcome.replications != reps:  # chosen by precision: the file says what ran
            option = L.make_option(base, overrides, name=option.scenario.name,
                                   replications=outcome.replications, seed=seed)  # fmt: skip
            option_text = L.option_yaml(base, option)
        st.session_state.option_file = option_text
        st.session_state.option_scenario = option.scenario

    outcome: L.Outcome | None = st.session_state.get("outcome")
    if outcome is None:
        st.info("Press **Run** to simulate the option against today.")
        return
    if st.session_state.get("outcome_key") != key:
        st.warning(
            "The levers or run settings have changed since this run: press Run to "
            "update the results below."
        )
    results(outcome, st.session_state.outcome_key, sc, precision)
    downloads(outcome, base)


if __name__ == "__main__":  # Streamlit runs the page as __main__; a process pool's fork
    # server imports it again as __mp_main__, and must not draw the page there
    try:
        main()
    except Exception as exc:  # every problem is one message on the page
        if type(exc).__module__.startswith("streamlit"):
            raise  # st.stop / rerun control flow
        st.error(L.message(exc))
