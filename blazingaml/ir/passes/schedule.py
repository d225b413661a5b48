"""Load balancing: order triggers so that static parallel chunks get equal estimated work."""

from __future__ import annotations

import numpy as np

from .. import nodes as I
from .cost import trigger_work


def trigger_order(graph, kernel: I.Kernel, threads: int | None = None) -> np.ndarray:
    """Trigger edges sorted by estimated work (hubs first), dealt round-robin to the threads'
    contiguous chunks, so each thread gets a similar mix of heavy and light triggers. Kernels
    without nested loops or paths keep time order."""
    import numba

    t = threads or numba.get_num_threads()
    m = graph.m
    nested = any(isinstance(o, (I.Loop, I.PathCount)) for p in kernel.programs for c in p.cases for o in c.ops)
    if m == 0 or t <= 1 or not nested:
        # Flat per-trigger work (sweeps, single set counts): time order keeps memory access local.
        return np.arange(m, dtype=np.int64)
    work = np.zeros(m)
    for p in kernel.programs:
        work += trigger_work(graph, p)
    heavy_first = np.argsort(-work, kind="stable").astype(np.int64)
    return np.concatenate([heavy_first[r::t] for r in range(t)])
