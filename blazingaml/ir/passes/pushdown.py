"""Predicate pushdown: each conjunct of a filter runs as soon as the names it reads are bound."""

from __future__ import annotations

from .. import nodes as I


def predicate_pushdown(program: I.Program) -> I.Program:
    """Hoist loop conjuncts that ignore the loop's node/edge above the loop (as a `Require`), and
    split set-stage filters into a member test (checked before any membership search) and an
    edge test (checked last, over the members' window edges)."""
    cases = []
    for case in program.cases:
        ops = []
        for o in case.ops:
            if isinstance(o, I.Loop) and o.filter is not None:
                outer, inner = [], []
                for c in I.conjuncts(o.filter):
                    (inner if I.free_names(c) & {o.var, o.edge} else outer).append(c)
                if outer:
                    ops.append(I.Require(I.conjoin(outer), source=o.source))
                ops.append(I.replace(o, filter=I.conjoin(inner)))
            elif isinstance(o, I.SetCount) and not o.pushed:
                edges = {a.edge for t in o.terms for a in t.positive if isinstance(a, I.NbrAtom) and a.edge}
                member, edge = [], []
                for c in I.conjuncts(o.filter):
                    (edge if I.free_names(c) & edges else member).append(c)
                if o.kind == "edges":  # an edges stage tests each edge anyway; keep one filter
                    ops.append(I.replace(o, pushed=False))
                else:
                    ops.append(I.replace(o, member_filter=I.conjoin(member), edge_filter=I.conjoin(edge), pushed=True))
            else:
                ops.append(o)
        cases.append(I.Case(case.name, tuple(ops)))
    return I.replace(program, cases=tuple(cases), passes=program.passes + ("predicate_pushdown",))
