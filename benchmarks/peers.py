"""Peer baselines for ooh-sim's performance figures.

Each function runs one small, well-understood model and returns a flat dict of
measured numbers (wall time, throughput, mean waits). They exist so that
ooh-sim's speed can be quoted as a ratio against (a) the bare SimPy engine,
(b) a hand-written SimPy M/M/1 and (d) the same queues built in Ciw, and so
that each peer can be checked against queueing theory: a peer whose mean wait
is off is not modelling the same system and its timing would be meaningless.

Timed sections cover model construction and the run only; post-processing of
records (computing the mean waits) is outside the timer.
"""

from __future__ import annotations

import random
import time
from collections.abc import Generator, Iterable
from typing import Any

import ciw
import simpy

# Share of the horizon (Ciw) or of the customers (SimPy) dropped at each end
# when estimating mean waits: the start is biased by the empty initial state
# and the end by customers still in the system at the horizon.
EDGE_FRAC = 0.02

HIGH, LOW = "Class 0", "Class 1"  # Ciw class names; lower priority value = served first

# Model parameters shared by every peer; ooh-sim equivalents should use the same.
LAM, MU = 0.8, 1.0  # M/M/1, rho = 0.8
LAM1, LAM2 = 0.3, 0.5  # two-class priority models; the LAM1 class has priority
SEED = 12345


# --------------------------------------------------------------------- theory
def mm1_wq(lam: float, mu: float) -> float:
    """M/M/1 mean wait in queue, Wq = rho / (mu - lam)."""
    return (lam / mu) / (mu - lam)


def cobham_nonpreemptive(lams: Iterable[float], mu: float) -> list[float]:
    """Cobham's mean queue waits for non-preemptive priority, exponential service.

    W_k = R / ((1 - s_{k-1}) (1 - s_k)), R = sum lam_i E[S_i^2] / 2, s_k = rho_1+..+rho_k.
    """
    lams = list(lams)
    es2 = 2.0 / mu**2
    r = sum(lam * es2 for lam in lams) / 2.0
    out, s_prev = [], 0.0
    for lam in lams:
        s = s_prev + lam / mu
        out.append(r / ((1.0 - s_prev) * (1.0 - s)))
        s_prev = s
    return out


def preemptive_resume_sojourn(lams: Iterable[float], mu: float) -> list[float]:
    """Mean sojourn for preemptive-resume priority, exponential service.

    T_k = (1/mu) / (1 - s_{k-1}) + (sum_{i<=k} lam_i E[S_i^2] / 2) / ((1 - s_{k-1}) (1 - s_k)).
    For the top class this is plain M/M/1 with its own load: T_1 = 1 / (mu - lam_1).
    """
    lams = list(lams)
    es2 = 2.0 / mu**2
    out, s_prev, r_k = [], 0.0, 0.0
    for lam in lams:
        s = s_prev + lam / mu
        r_k += lam * es2 / 2.0
        out.append((1.0 / mu) / (1.0 - s_prev) + r_k / ((1.0 - s_prev) * (1.0 - s)))
        s_prev = s
    return out


# ------------------------------------------------------------------- (a) engine
def bare_simpy_timeout(n_events: int) -> dict[str, float]:
    """Engine ceiling: one process yielding `n_events` timeouts, nothing else."""

    def ticker(env: simpy.Environment) -> Generator[simpy.Event, Any, None]:
        timeout = env.timeout
        for _ in range(n_events):
            yield timeout(1.0)

    t0 = time.perf_counter()
    env = simpy.Environment()
    env.process(ticker(env))
    env.run()
    wall = time.perf_counter() - t0
    return {"events": float(n_events), "wall_s": wall, "events_per_s": n_events / wall}


# --------------------------------------------------------------- (b) SimPy M/M/1
def simpy_mm1(lam: float, mu: float, n_customers: int, seed: int) -> dict[str, float]:
    """Minimal idiomatic SimPy M/M/1: arrival generator + one process per customer.

    This is the fair "hand-written SimPy" reference: what a modeller would write
    without any framework on top.
    """
    rng = random.Random(seed)
    waits: list[float] = []

    def customer(env: simpy.Environment, server: simpy.Resource, service: float):
        arrived = env.now
        with server.request() as req:
            yield req
            waits.append(env.now - arrived)
            yield env.timeout(service)

    def source(env: simpy.Environment, server: simpy.Resource):
        for _ in range(n_customers):
            yield env.timeout(rng.expovariate(lam))
            env.process(customer(env, server, rng.expovariate(mu)))

    t0 = time.perf_counter()
    env = simpy.Environment()
    server = simpy.Resource(env, capacity=1)
    env.process(source(env, server))
    env.run()
    wall = time.perf_counter() - t0

    edge = int(len(waits) * EDGE_FRAC)
    kept = waits[edge : len(waits) - edge]
    return {
        "customers": float(n_customers),
        "sim_time": float(env.now),
        "wall_s": wall,
        "customers_per_s": n_customers / wall,
        "mean_wait": sum(kept) / len(kept),
    }


# ------------------------------------------------------------------ (d) Ciw
def _ciw_run(network: ciw.Network, horizon: float, seed: int) -> tuple[list[Any], float]:
    """Run a Ciw network to `horizon`; return completed service records and wall time."""
    ciw.seed(seed)
    t0 = time.perf_counter()
    sim = ciw.Simulation(network)
    sim.simulate_until_max_time(horizon)
    wall = time.perf_counter() - t0
    return sim.get_all_records(only=["service"]), wall


def _ciw_figures(records: list[Any], wall: float, horizon: float) -> dict[str, float]:
    """Throughput plus mean wait / sojourn per class, arrivals away from both edges."""
    lo, hi = EDGE_FRAC * horizon, (1.0 - EDGE_FRAC) * horizon
    out: dict[str, float] = {
        "customers": float(len(records)),
        "sim_time": horizon,
        "wall_s": wall,
        "customers_per_s": len(records) / wall,
    }
    by_class: dict[str, list[Any]] = {}
    for r in records:
        if lo <= r.arrival_date < hi:
            by_class.setdefault(r.customer_class, []).append(r)
    for clss, recs in sorted(by_class.items()):
        tag = clss.replace(" ", "").lower()  # "Class 0" -> "class0", "Customer" -> "customer"
        # With preemption, `waiting_time` of the final record only spans the last
        # resumption, so sojourn (exit - first arrival) is the comparable figure.
        out[f"mean_wait_{tag}"] = sum(r.waiting_time for r in recs) / len(recs)
        out[f"mean_sojourn_{tag}"] = sum(r.exit_date - r.arrival_date for r in recs) / len(recs)
    return out


def ciw_mm1(lam: float, mu: float, horizon: float, seed: int) -> dict[str, float]:
    """Ciw M/M/1 (single class, FIFO); same parameters as `simpy_mm1`."""
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(lam)],
        service_distributions=[ciw.dists.Exponential(mu)],
        number_of_servers=[1],
    )
    records, wall = _ciw_run(network, horizon, seed)
    return _ciw_figures(records, wall, horizon)


def _two_class_network(lam1: float, lam2: float, mu: float, preempt: str | None) -> ciw.Network:
    """Two classes on one server; class 0 has priority, optionally preemptive."""
    priorities = {HIGH: 0, LOW: 1}
    return ciw.create_network(
        arrival_distributions={
            HIGH: [ciw.dists.Exponential(lam1)],
            LOW: [ciw.dists.Exponential(lam2)],
        },
        service_distributions={
            HIGH: [ciw.dists.Exponential(mu)],
            LOW: [ciw.dists.Exponential(mu)],
        },
        number_of_servers=[1],
        priority_classes=priorities if preempt is None else (priorities, [preempt]),
    )


def ciw_priority2(
    lam1: float, lam2: float, mu: float, horizon: float, seed: int
) -> dict[str, float]:
    """Ciw two-class non-preemptive priority M/M/1 (class 0 served first)."""
    records, wall = _ciw_run(_two_class_network(lam1, lam2, mu, None), horizon, seed)
    return _ciw_figures(records, wall, horizon)


def ciw_preemptive2(
    lam1: float, lam2: float, mu: float, horizon: float, seed: int
) -> dict[str, float]:
    """Ciw two-class preemptive-resume priority M/M/1 (class 0 interrupts class 1)."""
    records, wall = _ciw_run(_two_class_network(lam1, lam2, mu, "resume"), horizon, seed)
    return _ciw_figures(records, wall, horizon)
