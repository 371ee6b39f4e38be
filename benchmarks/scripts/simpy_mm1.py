"""A minimal SimPy M/M/1 script: arrivals, one server, nothing written (issue 15's reference).

    python benchmarks/scripts/simpy_mm1.py CUSTOMERS [SEED]

The whole process is timed from outside, as a planner's `ooh-sim run` is.
"""

import random
import sys

import simpy

LAM, MU = 0.8, 1.0
n = int(sys.argv[1])
rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 12345)


def customer(env, server, service):
    with server.request() as req:
        yield req
        yield env.timeout(service)


def source(env, server):
    for _ in range(n):
        yield env.timeout(rng.expovariate(LAM))
        env.process(customer(env, server, rng.expovariate(MU)))


env = simpy.Environment()
server = simpy.Resource(env, capacity=1)
env.process(source(env, server))
env.run()
