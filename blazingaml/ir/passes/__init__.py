"""Optimiser passes, one module each (IR -> IR), and the pipeline that applies them."""

from __future__ import annotations

from .. import nodes as I
from .cost import GraphStats, atom_cost
from .cross_pattern import cross_pattern_fusion, one_kernel_each
from .intersection import intersection_driver
from .path_pruning import path_pruning
from .pushdown import predicate_pushdown
from .stage_fusion import stage_fusion
from .window_search import window_search
from .windowed_aggregates import windowed_aggregates

PROGRAM_PASSES = ("window_search", "predicate_pushdown", "stage_fusion", "intersection_driver", "path_pruning",
                  "windowed_aggregates")
PASSES = PROGRAM_PASSES + ("cross_pattern_fusion",)


def optimize_program(program: I.Program, mode: str = "closing", stats: GraphStats | None = None,
                     disabled=frozenset()) -> I.Program:
    """All per-pattern passes in order, except those named in `disabled` (every pass is optional:
    the differential tests switch each one off in turn)."""
    unknown = set(disabled) - set(PASSES)
    if unknown:
        raise ValueError(f"unknown passes {sorted(unknown)}; passes: {', '.join(PASSES)}")
    steps = (
        ("window_search", window_search),
        ("predicate_pushdown", predicate_pushdown),
        ("stage_fusion", stage_fusion),
        ("intersection_driver", lambda p: intersection_driver(p, atom_cost(p, stats))),
        ("path_pruning", path_pruning),
        # participation credits each member edge, which the sweep does not list
        ("windowed_aggregates", windowed_aggregates if mode == "closing" else None),
    )
    p = program
    for name, apply in steps:
        if apply is not None and name not in disabled:
            p = apply(p)
    return p


def optimize(programs: tuple, mode: str = "closing", stats: GraphStats | None = None, disabled=frozenset()) -> tuple:
    """Optimise each program, then fuse them into kernels."""
    optimised = tuple(optimize_program(p, mode, stats, disabled) for p in programs)
    if "cross_pattern_fusion" in disabled:
        return one_kernel_each(optimised)
    return cross_pattern_fusion(optimised, stats)
