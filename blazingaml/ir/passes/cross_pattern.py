"""Cross-pattern fusion: patterns share one traversal of the trigger edges."""

from __future__ import annotations

from .. import nodes as I
from .cost import GraphStats, program_cost


def cross_pattern_fusion(programs: tuple, stats: GraphStats | None = None, max_per_kernel: int = 8) -> tuple:
    """Group programs into kernels that loop over the triggers once and fill several features.

    Every trigger's endpoints and time are loaded once per kernel and its window bounds are
    computed once per pattern; patterns with paths (irregular, deep work) are kept apart from
    shallow ones so that the load balancer can order each kernel's triggers by its own cost.
    Programs that only read window aggregates (precomputed by sweeps) form kernels of their own:
    they cost the same on every graph, so their kernels stay the same, compiled once, however
    the graph re-plans the others. Within a kernel, programs run cheapest first.
    """
    swept = [p for p in programs if _only_aggregates(p)]
    shallow = [p for p in programs if not _has_paths(p) and not _only_aggregates(p)]
    deep = [p for p in programs if _has_paths(p)]
    kernels = []
    for group in (swept, shallow, deep):
        group = sorted(group, key=lambda p: program_cost(p, stats))
        for i in range(0, len(group), max_per_kernel):
            chunk = tuple(group[i:i + max_per_kernel])
            kernels.append(I.Kernel(chunk, passes=("cross_pattern_fusion",)))
    return tuple(kernels)


def _has_paths(p: I.Program) -> bool:
    return any(isinstance(o, I.PathCount) for c in p.cases for o in c.ops)


def _only_aggregates(p: I.Program) -> bool:
    return any(isinstance(o, I.WindowAggregates) for c in p.cases for o in c.ops) and all(
        isinstance(o, (I.WindowAggregates, I.Require, I.Emit)) for c in p.cases for o in c.ops)


def one_kernel_each(programs: tuple) -> tuple:
    """No fusion: a kernel per program."""
    return tuple(I.Kernel((p,)) for p in programs)
