"""The same M/M/1 in Ciw, run to a horizon (hours), nothing written (issue 15's reference).

python benchmarks/scripts/ciw_mm1.py HORIZON [SEED]
"""

import sys

import ciw

LAM, MU = 0.8, 1.0
network = ciw.create_network(
    arrival_distributions=[ciw.dists.Exponential(LAM)],
    service_distributions=[ciw.dists.Exponential(MU)],
    number_of_servers=[1],
)
ciw.seed(int(sys.argv[2]) if len(sys.argv) > 2 else 12345)
sim = ciw.Simulation(network)
sim.simulate_until_max_time(float(sys.argv[1]))
