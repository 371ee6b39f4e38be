"""numpy's sum of floats, in pure Python and bit for bit the same.

``ndarray.sum()`` does not add left to right: it adds in blocks of up to 128 numbers, each with 8
running sums, and halves longer runs recursively (pairwise summation). The arrival scale factor
and the scenario checks run without numpy, FOR SPEED (``ooh-sim validate`` never imports it:
~80 ms), yet their sums feed the model's rates and the ``≥ 1`` thresholds and printed figures of
the warnings, so they add in numpy's order: the same numbers to the last bit on either path.
Python's ``sum`` will not do (left to right, and compensated from Python 3.12 on).
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from functools import lru_cache, reduce

_BLOCK = 128  # numpy's PW_BLOCKSIZE
_UNROLL = 8  # running sums in a block


def _pairwise(xs: Sequence[float], lo: int, n: int) -> float:
    if n < _UNROLL:
        return reduce(operator.add, xs[lo : lo + n], 0.0)
    if n <= _BLOCK:
        whole = lo + n - n % _UNROLL
        r = [reduce(operator.add, xs[lo + j : whole : _UNROLL]) for j in range(_UNROLL)]
        res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        return reduce(operator.add, xs[whole : lo + n], res)
    half = n // 2
    half -= half % _UNROLL
    return _pairwise(xs, lo, half) + _pairwise(xs, lo + half, n - half)


@lru_cache(maxsize=4096)  # FOR SPEED: the checks sum many hours of the same rate
def _repeated(x: float, n: int) -> float:
    """:func:`_pairwise` of ``n`` copies of ``x``: the eight running sums are all the same."""
    if n < _UNROLL:
        return reduce(operator.add, [x] * n, 0.0)
    if n <= _BLOCK:
        r = reduce(operator.add, [x] * (n // _UNROLL))
        res = ((r + r) + (r + r)) + ((r + r) + (r + r))
        return reduce(operator.add, [x] * (n % _UNROLL), res)
    half = n // 2
    half -= half % _UNROLL
    return _repeated(x, half) + _repeated(x, n - half)


def pairwise_sum(xs: Sequence[float]) -> float:
    """``float(np.asarray(xs, dtype=float).sum())``, without numpy.

    A run of one number (a rate constant through an hour) takes one running sum, FOR SPEED.
    """
    n = len(xs)
    if n and xs.count(xs[0]) == n:  # type: ignore[attr-defined]  # lists and tuples
        return 0.0 + _repeated(xs[0], n)
    return 0.0 + _pairwise(xs, 0, n)  # numpy starts the reduction from its identity, 0.0


__all__ = ["pairwise_sum"]
