"""``python -m ooh_sim`` is the same CLI as ``ooh-sim``."""

import sys

from .cli import main

sys.exit(main())
