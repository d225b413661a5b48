"""Stage fusion: filters fold into the loops that bind their names; unused stages disappear."""

from __future__ import annotations

from .. import nodes as I


def _used_names(ops) -> set:
    used = set()
    for o in ops:
        for attr in ("filter", "member_filter", "edge_filter", "cond", "value", "when"):
            used |= I.free_names(getattr(o, attr, None))
        if isinstance(o, I.SetCount):
            used |= {a.name for t in o.terms for a in t.positive + t.negative if isinstance(a, I.SetAtom)}
            used |= {a.owner for t in o.terms for a in t.positive + t.negative if isinstance(a, I.NbrAtom)}
        if isinstance(o, I.Loop):
            used.add(o.owner)
        if isinstance(o, I.PathCount):
            used |= {o.start, o.end}
    return used


def _foldable(loop: I.Loop, cond) -> tuple[list, list]:
    """(conjuncts of `cond` that may join the loop's filter, those that must stay a require).

    A distinct loop takes each neighbour at its first edge that passes the filter, so a
    conjunct reading the loop's edge would change which edge that is (a require after the loop
    tests the first edge; the same test in the filter skips to a later one)."""
    if not loop.distinct:
        return I.conjuncts(cond), []
    fold, keep = [], []
    for c in I.conjuncts(cond):
        (keep if loop.edge in I.free_names(c) else fold).append(c)
    return fold, keep


def stage_fusion(program: I.Program) -> I.Program:
    """Fold a `Require` that directly follows a loop into the loop's filter (one loop nest, no
    separate pass over the bound values) as far as that keeps its meaning, and drop set stages
    whose size and members nothing reads. Sets are never materialised: the backends count
    members and re-test membership on demand."""
    cases = []
    for case in program.cases:
        ops = list(case.ops)
        changed = True
        while changed:
            changed = False
            for i, o in enumerate(ops):
                if isinstance(o, I.SetCount) and o.name not in _used_names(ops[i + 1:]):
                    del ops[i]
                    changed = True
                    break
                if isinstance(o, I.Loop) and i + 1 < len(ops) and isinstance(ops[i + 1], I.Require):
                    fold, keep = _foldable(o, ops[i + 1].cond)
                    if fold:
                        ops[i] = I.replace(o, filter=I.conjoin(I.conjuncts(o.filter) + fold))
                        if keep:
                            ops[i + 1] = I.replace(ops[i + 1], cond=I.conjoin(keep))
                        else:
                            del ops[i + 1]
                        changed = True
                        break
        cases.append(I.Case(case.name, tuple(ops)))
    return I.replace(program, cases=tuple(cases), passes=program.passes + ("stage_fusion",))
