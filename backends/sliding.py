"""Two-pointer sweeps for windowed aggregates (`SlidingCount`, from the windowed_aggregates pass).

For every vertex, one pass over its time-sorted edges keeps the window [L, k] ending at the
trigger k and a running count of its edges or distinct neighbours (self-loops skipped): O(deg)
per vertex instead of O(deg x window).
"""

from __future__ import annotations

import numba
import numpy as np

from blazingaml.ir import nodes as I


@numba.njit(parallel=True, nogil=True, cache=True)
def _next_same(prev_same):
    """The reverse of the graph's `prev_same` links: for each position of the time-sorted view,
    the next position of an edge between the same two accounts (m when there is none)."""
    m = prev_same.shape[0]
    next_same = np.full(m, m, np.int64)
    for b in numba.prange(m):
        if prev_same[b] >= 0:
            next_same[prev_same[b]] = b
    return next_same


@numba.njit(parallel=True, nogil=True, cache=True)
def _sweep(ptr, edge, nbr, ts, prev_same, next_same, window, inclusive, distinct, skip_self, out):
    n = ptr.shape[0] - 1
    for v in numba.prange(n):
        lo, hi = ptr[v], ptr[v + 1]
        left = lo
        count = 0
        for k in range(lo, hi):
            self_k = skip_self and nbr[k] == v
            if not self_k and (not distinct or prev_same[k] < left):
                count += 1
            bound = ts[k] - window
            while left <= k and (ts[left] < bound or (not inclusive and ts[left] == bound)):
                if not (skip_self and nbr[left] == v):
                    count -= 1
                    if distinct and next_same[left] <= k:
                        count += 1  # the next edge to the same neighbour is now its first in the window
                left += 1
            out[edge[k]] = count


def sliding_counts(graph, kernel: I.Kernel) -> np.ndarray:
    """[m, number of SlidingCount ops in the kernel] int32 values for every trigger edge."""
    ops = [(p, o) for p in kernel.programs for c in p.cases for o in c.ops if isinstance(o, I.SlidingCount)]
    result = np.zeros((graph.m, max(len(ops), 1)), np.int32, order="F")  # a column per sweep, contiguous
    next_links = {}  # per direction, shared by its sweeps (fan and degree read the same view)
    for j, (prog, op) in enumerate(ops):
        adj = graph.adjacency(op.direction)
        if op.direction not in next_links:
            next_links[op.direction] = _next_same(adj.prev_same)
        _sweep(adj.ptr, adj.edge, adj.nbr, adj.ts, adj.prev_same, next_links[op.direction], prog.window_seconds,
               prog.window_inclusive, op.kind == "nodes", op.skip_self, result[:, j])
    return result
