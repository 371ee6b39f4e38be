"""``ooh-sim ARGS`` in this process, reporting how much of it was simulation.

    python benchmarks/scripts/cli_probe.py compare a.yaml b.yaml -n 20 --jobs 1 --out /tmp/x

Wraps ``runner.run_replication`` (simulation + the replication's own KPIs) to sum its seconds,
then runs the CLI; prints ``SIM_SECONDS <s> REPLICATIONS <n>`` on stderr and ends as the
``ooh-sim`` command does. With ``--jobs 1``
every replication runs in this process, so the sum is the simulation's share of the wall time.
"""

import sys
import time

from ooh_sim.core import runner

total = [0.0, 0]
inner = runner.run_replication


def timed(*args, **kwargs):
    t0 = time.perf_counter()
    try:
        return inner(*args, **kwargs)
    finally:
        total[0] += time.perf_counter() - t0
        total[1] += 1


runner.run_replication = timed  # also what sweeps reach, through runner.replication_kpis

from ooh_sim.cli import end_process, main  # noqa: E402

code = main(sys.argv[1:])
sys.stderr.write(f"\nSIM_SECONDS {total[0]:.6f} REPLICATIONS {total[1]}\n")
end_process(code)
