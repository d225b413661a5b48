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


@numba.njit(nogil=True, cache=True)
def _slot(keys, stamp, cap, build, x):
    """Slot of account x in a closure table (open addressing), or of the empty slot where it goes."""
    mask = cap - 1
    k = (x * 2654435761) & mask
    while stamp[k] == build and keys[k] != x:
        k = (k + 1) & mask
    return k


@numba.njit(nogil=True, cache=True)
def reach_closure(ptr, edge, nbr, ts, target, levels, wlo, inclusive, trigger, before, increasing, build,
                  keys, stamp, dist, late, mark, front, cap, budget):
    """Backward reachability of `target` for path pruning, into a closure table (slots whose
    `stamp` is `build`): every account that reaches `target` in at most `levels` window edges
    (not after the trigger), its fewest hops (`dist`) and, for time-increasing paths (edges
    before `before`, timestamps rising towards the target), the latest time it can leave
    (`late`). Reads the reverse-direction CSR (`ptr`, `edge`, `nbr`, `ts`). Rounds of relaxation
    by hop count; False when the table or `budget` (edges scanned) is too small, and then
    nothing may be pruned. `front` holds two frontiers of cap/2 slots each."""
    half = cap // 2
    k = _slot(keys, stamp, cap, build, target)
    keys[k], stamp[k], dist[k], late[k], mark[k] = target, build, 0, before, 0
    front[0] = k
    count, used, scanned, cur = 1, 1, 0, 0
    for level in range(1, levels + 1):
        nxt, found = 1 - cur, 0
        for i in range(count):
            s = front[cur * half + i]
            v, bound = keys[s], late[s]
            hi = ptr[v + 1]
            for p in range(ts_lower(ts, ptr[v], hi, wlo, inclusive), hi):
                if edge[p] > trigger or (increasing and ts[p] >= bound):
                    break
                u = nbr[p]
                if u == v:
                    continue
                scanned += 1
                if scanned > budget:
                    return False
                k = _slot(keys, stamp, cap, build, u)
                if stamp[k] != build:
                    used += 1
                    if 2 * used > cap:
                        return False
                    keys[k], stamp[k], dist[k], late[k], mark[k] = u, build, level, ts[p], -1
                elif increasing and ts[p] > late[k]:
                    late[k] = ts[p]
                else:
                    continue
                if mark[k] != level:
                    mark[k] = level
                    front[nxt * half + found] = k
                    found += 1
        if found == 0:
            break
        count, cur = found, nxt
    return True


@numba.njit(nogil=True, cache=True)
def may_reach(keys, stamp, dist, late, cap, build, x, remaining, after, increasing):
    """Can account x still reach the closure's target in `remaining` hops (leaving after `after`
    on an increasing path)? False means: prune this branch."""
    k = _slot(keys, stamp, cap, build, x)
    return stamp[k] == build and dist[k] <= remaining and (not increasing or late[k] > after)


@numba.njit(nogil=True, cache=True, error_model="numpy")
def divide(a, b):
    """IEEE division, as the reference and CUDA C divide: x/0 is +-inf, 0/0 is nan (also when
    the generated code runs as plain Python, where `/` would raise)."""
    return np.float64(a) / np.float64(b)


def thread_count() -> int:
    return numba.get_num_threads()


__all__ = ["ts_lower", "ns_first", "has_window_edge", "bin_index", "divide", "reach_closure", "may_reach",
           "thread_count", "np"]
