"""Random streams: one ``numpy.random.Generator`` per (replication, purpose).

Each purpose ("arrivals/amhp", "duration/amhp", "placements/stay" …) gets its own generator whose
seed is derived from the run seed, the replication number and a stable hash of the purpose's name.
Adding a stream or a worker therefore shifts no other draw, which is what makes scenario
comparisons run on common random numbers.

Purposes of the children's pathways (issue 18), drawn only when their feature is configured:
``group_size/<stream>``, ``age/<stream>``, ``custody_request/<stream>``,
``custody_secure/<stream>`` and ``stay/<type>/<stream>`` (a placement type's stays; the single
pool keeps ``stay/<stream>``). A custody stream draws ``transport/``, ``search/``, ``day_team/``,
``out_of_area/`` and ``stay/<stream>`` as a police-protection stream does.
"""

from __future__ import annotations

import hashlib

import numpy as np


def purpose_key(purpose: str) -> int:
    """A stable 64-bit integer for a purpose name (Python's ``hash`` is salted per process)."""
    return int.from_bytes(hashlib.blake2b(purpose.encode(), digest_size=8).digest(), "little")


class RandomStreams:
    """The generators of one replication, spawned from a single ``SeedSequence``."""

    def __init__(self, seed: int, replication: int, point: int | None = None) -> None:
        prefix = (replication,) if point is None else (point, replication)
        self._root = np.random.SeedSequence(entropy=seed, spawn_key=prefix)
        self._cache: dict[str, np.random.Generator] = {}

    def __call__(self, purpose: str) -> np.random.Generator:
        gen = self._cache.get(purpose)
        if gen is None:
            ss = np.random.SeedSequence(
                entropy=self._root.entropy,
                spawn_key=(*self._root.spawn_key, purpose_key(purpose)),
            )
            gen = self._cache[purpose] = np.random.Generator(np.random.PCG64(ss))
        return gen
