"""``python -m ooh_sim`` is the same CLI as ``ooh-sim``."""

from ooh_sim.cli import entry

entry()
