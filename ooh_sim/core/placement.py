"""Placement types: beds held by carers, each type with its own stays, takers and costs (issue 18).

The single pool of identical beds (``placements.capacity``) answers "how many beds"; boards also
ask which beds. Here each *type* (emergency foster, residential, secure …) has carers with a few
beds each; a child (or a sibling group) takes the first type, in the stated order, that accepts
its stream, age and security need and has one carer with enough free beds — or, with
``split_siblings``, enough free beds over several carers. The single pool of today's scenarios
becomes the type ``pool`` (tried first), so a scenario that uses the pathways model without
``types`` runs through this code and agrees bit for bit with the simple pool (a test checks it).

This module only keeps the books (free beds per carer, occupied intervals, per-request checks);
the child's episode (:mod:`ooh_sim.core.episode`) decides when to ask and what happens next.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ooh_sim.core.schema import POOL_TYPE as POOL
from ooh_sim.core.schema import Placements, PlacementType

Allocation = tuple[int, int, int, int]
"""(type index, carer index or -1 if the type is unlimited, beds, index into ``intervals``)."""


@dataclass
class TypedPool:
    """The beds of every placement type, carer by carer, and what happened to them."""

    names: list[str]
    types: list[PlacementType]
    split_siblings: bool
    takes_stream: list[list[bool]]  # [type][stream]
    free: list[list[int] | None] = field(default_factory=list)  # [type][carer]; None: unlimited
    # occupied beds: [type, beds, from, to] (to = inf while occupied)
    intervals: list[list[float]] = field(default_factory=list)
    # at each child's first placement request, for each type that could take it:
    # (job, type, whether one carer had room)
    checks: list[tuple[int, int, bool]] = field(default_factory=list)

    @classmethod
    def build(cls, placements: Placements, streams: dict) -> TypedPool:
        """From ``placements.types``; without types, one type from the single pool."""
        named = placements.all_types
        takes = [[cls.takes(t, name, s.kind) for name, s in streams.items()]
                 for t in named.values()]  # fmt: skip
        pool = cls(list(named), list(named.values()), placements.split_siblings, takes)
        pool.free = [
            None if t.carers is None else [t.beds_per_carer] * t.carers for t in pool.types
        ]
        return pool

    @staticmethod
    def takes(kind: PlacementType, stream: str, stream_kind: str) -> bool:
        """Whether type ``kind`` takes children of ``stream``: those it names; if it names none,
        every police-protection stream — and custody streams only for a secure type. Charged
        children are not offered an ordinary emergency bed unless the scenario says so: in
        practice most stay in the cell until court (docs/domain.md, PACE s38(6))."""
        if kind.streams:
            return stream in kind.streams
        return stream_kind == "police_protection" or (stream_kind == "custody" and kind.secure)

    def suitable(self, stream: int, age: float, secure: bool) -> list[int]:
        """Types, in order, that take a child of ``stream`` aged ``age`` (NaN: unknown)."""
        out = []
        for t, kind in enumerate(self.types):
            if not self.takes_stream[t][stream] or kind.secure != secure:
                continue
            ages = kind.ages
            if ages is not None and not math.isnan(age) and not ages[0] <= age <= ages[1]:
                continue
            out.append(t)
        return out

    def carer_with_room(self, t: int, beds: int) -> int:
        """The first carer of type ``t`` with ``beds`` free beds; -1 for an unlimited type; -2
        if none has room."""
        free = self.free[t]
        if free is None:
            return -1
        for carer, n in enumerate(free):
            if n >= beds:
                return carer
        return -2

    def find(self, types: list[int], beds: int) -> list[tuple[int, int, int]] | None:
        """Where ``beds`` children go: one carer of the first type with room, else (split
        allowed) free beds of several carers in type order; None if they do not fit."""
        for t in types:
            carer = self.carer_with_room(t, beds)
            if carer != -2:
                return [(t, carer, beds)]
        if not self.split_siblings or beds < 2:
            return None
        out, left = [], beds
        for t in types:
            for carer, n in enumerate(self.free[t] or ()):
                if n > 0 and left > 0:
                    take = min(n, left)
                    out.append((t, carer, take))
                    left -= take
        return out if left == 0 else None

    def take(self, where: list[tuple[int, int, int]], now: float) -> list[Allocation]:
        allocations = []
        for t, carer, beds in where:
            free = self.free[t]
            if free is not None:
                free[carer] -= beds
            self.intervals.append([float(t), float(beds), now, math.inf])
            allocations.append((t, carer, beds, len(self.intervals) - 1))
        return allocations

    def release(self, allocation: Allocation, now: float) -> None:
        t, carer, beds, interval = allocation
        free = self.free[t]
        if free is not None:
            free[carer] += beds
        self.intervals[interval][3] = now


__all__ = ["POOL", "Allocation", "TypedPool"]
