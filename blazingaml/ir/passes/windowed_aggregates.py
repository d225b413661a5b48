"""Windowed aggregates: a fan/degree stage on a trigger endpoint becomes a two-pointer sweep."""

from __future__ import annotations

from .. import nodes as I


def _is_self_exclusion(expr, var: str, owner: str) -> bool:
    return (isinstance(expr, I.Binary) and expr.op == "!=" and
            {type(expr.left), type(expr.right)} == {I.NodeRef} and
            {expr.left.name, expr.right.name} == {var, owner})


def windowed_aggregates(program: I.Program) -> I.Program:
    """Rewrite `stage S = nodes|edges x in b.in [where x != b]` (owner = the trigger's receiver
    scanning its in-edges, or its sender scanning out-edges) into a `SlidingCount`: per vertex one
    sweep over its time-sorted edges with a running (distinct) count, linear in the degree instead
    of quadratic. Applies only when the stage is the case's first op and nothing else reads its
    members (no `x in S`, no set expression naming S), and not to lagged windows (the sweep's
    window ends at the trigger's own time)."""
    if program.window_lagged:
        return program
    cases = []
    changed = False
    for case in program.cases:
        ops = list(case.ops)
        if ops and isinstance(ops[0], I.SetCount):
            s = ops[0]
            term = s.terms[0] if len(s.terms) == 1 else None
            atom = term.positive[0] if term and len(term.positive) == 1 and not term.negative else None
            role_ok = isinstance(atom, I.NbrAtom) and atom.edge is None and (
                (atom.owner == program.trigger_dst and atom.direction == "in") or
                (atom.owner == program.trigger_src and atom.direction == "out"))
            filt = s.filter
            filter_ok = filt is None or _is_self_exclusion(filt, s.var, atom.owner if atom else "")
            read_members = any(isinstance(x, I.MemberOf) and x.set_name == s.name
                               for o in ops[1:] for x in _walk(o)) or any(
                isinstance(a, I.SetAtom) and a.name == s.name
                for o in ops[1:] if isinstance(o, I.SetCount) for t in o.terms for a in t.positive + t.negative)
            if role_ok and filter_ok and not read_members:
                ops[0] = I.SlidingCount(s.name, s.kind, atom.owner, atom.direction, filt is not None, source=s.source)
                changed = True
        cases.append(I.Case(case.name, tuple(ops)))
    if not changed:
        return program
    return I.replace(program, cases=tuple(cases), passes=program.passes + ("windowed_aggregates",))



def _walk(o):
    """Every subexpression of an op's conditions and values."""
    for attr in ("filter", "member_filter", "edge_filter", "cond", "value", "when"):
        yield from I.walk(getattr(o, attr, None))
