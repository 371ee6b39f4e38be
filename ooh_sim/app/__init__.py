"""The what-if app: a Streamlit page for planning meetings (optional extra ``[app]``).

People round the table move levers ("second worker on Friday and Saturday nights", "two more
beds", "separate AMHP rota", "demand +10%"), press run, and see what the option does against
today, on common random numbers. ``ooh-sim app [SCENARIO]`` starts it (bound to 127.0.0.1).

* :mod:`ooh_sim.app.logic` — everything testable without Streamlit: levers generated from the
  scenario (each a dotted override), the option YAML that ``extends`` the base, the YAML
  difference, the cache key, upload checks, the comparison and its downloads.
* :mod:`ooh_sim.app.page` — the Streamlit script (layout only).
* :mod:`ooh_sim.app.launch` — the command line that starts the Streamlit server.

This is layer 4: it may import core, io, viz and report; only the CLI imports it.
"""
