"""Optimiser passes, one module each (IR -> IR), and the pipeline that applies them."""

from __future__ import annotations

from .. import nodes as I
from .cost import GraphStats, atom_cost
from .cross_pattern import cross_pattern_fusion
from .intersection import intersection_driver
from .pushdown import predicate_pushdown
from .stage_fusion import stage_fusion
from .window_search import window_search
from .windowed_aggregates import windowed_aggregates

PROGRAM_PASSES = ("window_search", "predicate_pushdown", "stage_fusion", "intersection_driver", "windowed_aggregates")


def optimize_program(program: I.Program, mode: str = "closing", stats: GraphStats | None = None) -> I.Program:
    """All per-pattern passes in order."""
    p = window_search(program)
    p = predicate_pushdown(p)
    p = stage_fusion(p)
    p = intersection_driver(p, atom_cost(p, stats))
    if mode == "closing":  # participation credits each member edge, which the sweep does not list
        p = windowed_aggregates(p)
    return p


def optimize(programs: tuple, mode: str = "closing", stats: GraphStats | None = None) -> tuple:
    """Optimise each program, then fuse them into kernels."""
    return cross_pattern_fusion(tuple(optimize_program(p, mode, stats) for p in programs), stats)
