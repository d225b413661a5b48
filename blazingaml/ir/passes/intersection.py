"""Intersection strategy: the smallest window drives, the other sides are binary searches."""

from __future__ import annotations

from .. import nodes as I


def intersection_driver(program: I.Program, atom_cost=None) -> I.Program:
    """For set stages intersecting several neighbourhoods, choose the driver at run time by
    window size (degree-ordered intersection) and order the remaining membership tests by the
    cost model's estimate, cheapest first (`atom_cost(atom) -> float`)."""
    cost = atom_cost or (lambda atom: 0.0 if isinstance(atom, I.NbrAtom) else 1.0)
    cases = []
    for case in program.cases:
        ops = []
        for o in case.ops:
            if isinstance(o, I.SetCount) and o.kind == "nodes":
                terms = tuple(I.Term(tuple(sorted(t.positive, key=cost)), t.negative) for t in o.terms)
                multi = any(sum(isinstance(a, I.NbrAtom) for a in t.positive) > 1 for t in terms)
                o = I.replace(o, terms=terms, driver="smallest" if multi else "first")
            ops.append(o)
        cases.append(I.Case(case.name, tuple(ops)))
    return I.replace(program, cases=tuple(cases), passes=program.passes + ("intersection_driver",))
