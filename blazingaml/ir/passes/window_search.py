"""Window to binary search + early break: scans start at the first in-window edge and stop at the trigger."""

from __future__ import annotations

from .. import nodes as I

SEARCH = I.Scan(lower="search", upper="break")


def window_search(program: I.Program) -> I.Program:
    """Rewrite every adjacency scan to search for its window start and break after the trigger.

    Valid because each vertex's edges are sorted by (ts, tx_id): in-window edges form one run
    that starts at a binary-searchable position and ends at the trigger.
    """

    def op(o):
        if isinstance(o, (I.Loop, I.SetCount, I.PathCount)):
            return I.replace(o, scan=SEARCH)
        return o

    cases = tuple(I.Case(c.name, tuple(op(o) for o in c.ops)) for c in program.cases)
    return I.replace(program, cases=cases, passes=program.passes + ("window_search",))
