"""Load balancing: order triggers so that static parallel chunks get equal estimated work."""

from __future__ import annotations

import numpy as np

from .. import nodes as I
from .cost import kernel_trigger_work


BLOCK = 1024             # triggers per scheduling block, at most
BLOCKS_PER_THREAD = 16   # at least, so that dealing them out can even the threads' work


def trigger_order(graph, kernel: I.Kernel, threads: int | None = None) -> np.ndarray:
    """Trigger edges in blocks of consecutive edges, the blocks sorted by estimated work (heaviest
    first) and dealt round-robin to the threads' contiguous chunks, each thread's blocks back in
    time order: the threads get similar mixes of heavy and light work, and consecutive triggers
    stay neighbours in time (their endpoints' windows and the per-edge arrays stay in cache; one
    thread ran the cycle kernels 25% slower on triggers sorted one by one). Kernels without
    nested loops or paths keep time order."""
    import numba

    t = threads or numba.get_num_threads()
    m = graph.m
    nested = any(isinstance(o, (I.Loop, I.PathCount)) for p in kernel.programs for c in p.cases for o in c.ops)
    if m == 0 or t <= 1 or not nested:
        # Flat per-trigger work (sweeps, single set counts): time order keeps memory access local.
        return np.arange(m, dtype=np.int64)
    work = kernel_trigger_work(graph, kernel.programs)
    block = min(BLOCK, -(-m // (t * BLOCKS_PER_THREAD)))
    starts = np.arange(0, m, block, dtype=np.int64)
    block_work = np.add.reduceat(work, starts)
    thread_of = np.empty(len(starts), np.int64)
    thread_of[np.argsort(-block_work, kind="stable")] = np.arange(len(starts)) % t
    # the blocks, thread by thread and in time order within a thread, expanded to their triggers
    starts = starts[np.argsort(thread_of, kind="stable")]
    lengths = np.minimum(starts + block, m) - starts
    return np.repeat(starts - (np.cumsum(lengths) - lengths), lengths) + np.arange(m, dtype=np.int64)


def hub_split(graph, kernel: I.Kernel, lanes: int, threshold: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """For the GPU: (triggers run by one thread each, hub triggers run by `lanes` threads each).

    A trigger is a hub when its estimated work (cost model) exceeds `threshold`, by default 32
    times the mean and at least 1024 steps: one such trigger would keep a whole warp waiting.
    Only kernels whose cases start with a loop or a path can share work across lanes. Both lists
    are sorted by decreasing work, so the threads of a warp get similar amounts."""
    m = graph.m
    splittable = any(c.ops and isinstance(c.ops[0], (I.Loop, I.PathCount)) for p in kernel.programs for c in p.cases)
    if m == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    work = kernel_trigger_work(graph, kernel.programs)
    by_work = np.argsort(-work, kind="stable").astype(np.int64)
    if not splittable or lanes <= 1:
        return by_work, np.zeros(0, np.int64)
    if threshold is None:
        threshold = max(1024.0, 32.0 * float(work.mean()))
    hubs = int(np.count_nonzero(work > threshold))
    return by_work[hubs:], by_work[:hubs]
