"""Small Numba helpers that generated kernels call (binary searches over the graph layout).

All searches work on one vertex's slice [lo, hi) of a CSR view (see `blazingaml.graph`).
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(nogil=True, cache=True)
def ts_lower(ts, lo, hi, bound, inclusive):
    """First position p in [lo, hi) with ts[p] >= bound (inclusive) or ts[p] > bound."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if ts[mid] < bound or (not inclusive and ts[mid] == bound):
            lo = mid + 1
        else:
            hi = mid
    return lo


@numba.njit(nogil=True, cache=True)
def ns_first(nbr, ts, lo, hi, x, bound, inclusive):
    """First position in the neighbour-sorted slice with (nbr, ts) >= (x, bound) (or ts > bound)."""
    while lo < hi:
        mid = (lo + hi) >> 1
        n = nbr[mid]
        if n < x or (n == x and (ts[mid] < bound or (not inclusive and ts[mid] == bound))):
            lo = mid + 1
        else:
            hi = mid
    return lo


@numba.njit(nogil=True, cache=True)
def has_window_edge(ns_nbr, ns_ts, ns_edge, lo, hi, x, bound, inclusive, trigger):
    """Is there an edge to x with ts in the window that does not come after the trigger?"""
    q = ns_first(ns_nbr, ns_ts, lo, hi, x, bound, inclusive)
    return q < hi and ns_nbr[q] == x and ns_edge[q] <= trigger


@numba.njit(nogil=True, cache=True)
def bin_index(value, bins):
    """GFP binning: the first edge >= value; the last bin takes everything from its edge up."""
    last = bins.shape[0] - 1
    if value >= bins[last]:
        return last
    for i in range(last + 1):
        if value <= bins[i]:
            return i
    return last


@numba.njit(nogil=True, cache=True, error_model="numpy")
def divide(a, b):
    """IEEE division, as the reference and CUDA C divide: x/0 is +-inf, 0/0 is nan (also when
    the generated code runs as plain Python, where `/` would raise)."""
    return np.float64(a) / np.float64(b)


def thread_count() -> int:
    return numba.get_num_threads()


__all__ = ["ts_lower", "ns_first", "has_window_edge", "bin_index", "divide", "thread_count", "np"]
