# ruff: noqa: B018, E402  (a notebook: a cell's last expression is shown; imports per cell)
# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # ooh-sim in a notebook: load, run, compare, plot, tabulate
#
# A worked example for planners who work in Jupyter, VS Code or Spyder. Open it as a notebook
# with `jupytext --to notebook examples/planner_notebook.py`, or run it as a plain script:
# `python examples/planner_notebook.py` (no `if __name__ == "__main__":` guard is needed, on
# Windows too). It uses a short horizon and few replications so that it runs in seconds; for
# numbers to take to a board, use the scenario's own horizon and replications (or `--precision`).

# %%
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # in Jupyter, leave this out to see the figures inline
import matplotlib.pyplot as plt

import ooh_sim

HERE = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
SCENARIOS = HERE.parent / "scenarios"
QUICK = {"horizon.days": 56, "horizon.warmup_days": 7}  # 8 weeks: a demonstration only

# %% [markdown]
# ## Load a scenario and change one setting
# `overrides` is the Python form of the command line's `--set staff.edt.count=2`: a key path
# and a value, checked against the scenario schema like the file itself.

# %%
baseline = ooh_sim.load_scenario(SCENARIOS / "baseline.yaml", overrides=QUICK)
print(baseline.name, "-", len(baseline.streams), "contact streams")

# %% [markdown]
# ## Run it
# The result shows its headline KPIs (in a notebook, as a table); `.to_frame()` gives every KPI
# with its words and unit as a pandas DataFrame.

# %%
result = ooh_sim.run(baseline, replications=4, jobs=2)
result

# %%
table = result.to_frame()
table[["label", "unit", "mean", "ci95_low", "ci95_high"]].head(8)

# %% [markdown]
# ## Compare options
# Options run on common random numbers: differences are paired by replication, and ★ marks a
# difference whose paired 95% interval excludes zero.

# %%
option = ooh_sim.load_scenario(SCENARIOS / "more_placements.yaml", overrides=QUICK)
comparison = ooh_sim.compare([baseline, option], replications=4, jobs=2)
comparison

# %%
diffs = comparison.to_frame()
diffs[diffs.scenario == "more_placements"][["label", "unit", "mean", "diff_mean",
                                              "diff_ci95_low", "diff_ci95_high", "significant"]]

# %% [markdown]
# ## Plot
# Every figure function takes an optional `ax=` and returns the matplotlib Figure.

# %%
from ooh_sim.viz.compare_figures import station_ecdf
from ooh_sim.viz.run_figures import hour_of_week

fig, (left, right) = plt.subplots(1, 2, figsize=(16, 4.5))
hour_of_week(result, ax=left)
station_ecdf(comparison, ax=right)
fig.tight_layout()

# %% [markdown]
# ## Save the results folder (the same files as `ooh-sim run`)

# %%
import tempfile

out = Path(tempfile.mkdtemp()) / "baseline"
files = ooh_sim.write_run(result, out, figures=False)
print("summary table:", out / "summary.csv")
