"""Path pruning: depth-first path searches skip accounts that cannot reach the path's end."""

from __future__ import annotations

from .. import nodes as I


def path_pruning(program: I.Program) -> I.Program:
    """Mark every path stage of two or more hops for pruning by a backward reachability bound
    (the idea behind 2SCENT and Blanusa et al.'s temporal cycle enumeration): once a trigger's
    search has taken a few dozen steps, the kernel computes, backwards from the end account over
    the window's edges, how few hops each account needs to reach it and, for `increasing`
    paths, the latest time it can leave towards it; a branch into an account that cannot reach
    the end in the hops left, or not after the time it arrived, is not explored. Paths found are
    the same; only the steps to find them change (the work bound counts the steps taken)."""
    changed = False
    cases = []
    for case in program.cases:
        ops = []
        for o in case.ops:
            if isinstance(o, I.PathCount) and o.max_hops >= 2 and not o.prune:
                o = I.replace(o, prune=True)
                changed = True
            ops.append(o)
        cases.append(I.Case(case.name, tuple(ops)))
    if not changed:
        return program
    return I.replace(program, cases=tuple(cases), passes=program.passes + ("path_pruning",))
