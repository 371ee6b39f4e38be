"""``python -m ooh_sim`` is the same CLI as ``ooh-sim``."""

from .cli import entry

entry()
