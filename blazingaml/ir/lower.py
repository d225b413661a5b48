"""Lower checked AST patterns to IR programs (names resolved, literals turned into codes)."""

from __future__ import annotations

from blazingaml.dsl import ast as A
from blazingaml.dsl.checks import AGGREGATES, subexpressions
from blazingaml.io.vocab import CURRENCY_CODE, FORMAT_CODE

from . import nodes as I

_EDGE_ATTR = {
    "ts": "ts", "amount_paid": "amount_paid", "amount_received": "amount_received",
    "currency_paid": "pay_currency", "currency_received": "recv_currency", "format": "payment_format",
    "src": "src", "dst": "dst",
}


class _Lowerer:
    def __init__(self, pattern: A.Pattern):
        self.p = pattern
        self.kinds: dict[str, str] = {pattern.trigger.src: "node", pattern.trigger.dst: "node",
                                      pattern.trigger.edge: "edge"}

    def expr(self, e, local: dict | None = None):
        local = local or {}
        kinds = {**self.kinds, **local}
        if isinstance(e, (A.Number, A.Duration)):
            return I.Const(float(e.value if isinstance(e, A.Number) else e.seconds))
        if isinstance(e, A.String):
            raise AssertionError("strings are lowered with their comparison")
        if isinstance(e, A.Name):
            kind = kinds[e.name]
            if kind == "hop":
                return I.HopRef()
            if kind == "set":
                raise AssertionError("sets appear only in size() and `in`")
            return I.NodeRef(e.name) if kind == "node" else I.EdgeRef(e.name)
        if isinstance(e, A.Attribute):
            if kinds[e.target] == "node":
                return I.NodeAttr(e.target, e.attr)
            return I.EdgeAttr(e.target, _EDGE_ATTR[e.attr])
        if isinstance(e, A.Call) and e.func in AGGREGATES:
            if e.func in ("count", "distinct"):
                return I.Aggregate(e.func, e.arg.name)
            stage = next(x.target for x in subexpressions(e.arg) if isinstance(x, A.Attribute))
            return I.Aggregate(e.func, stage, self.expr(e.arg, {stage: "edge"}))
        if isinstance(e, A.Call):
            if e.func == "size" and kinds.get(e.arg.name) == "aggregated":
                return I.Aggregate("count", e.arg.name)
            if e.func == "size":
                return I.SizeOf(e.arg.name)
            if e.func == "length":
                return I.LengthOf(e.arg.name)
            return I.Unary("abs", self.expr(e.arg, local))
        if isinstance(e, A.Unary):
            return I.Unary("neg" if e.op == "-" else "not", self.expr(e.operand, local))
        if isinstance(e, A.Member):
            return I.MemberOf(e.element.name, e.set_name)
        if isinstance(e, A.Binary):
            for lit, other in ((e.right, e.left), (e.left, e.right)):
                if isinstance(lit, A.String):
                    code = CURRENCY_CODE.get(lit.value, FORMAT_CODE.get(lit.value))
                    if isinstance(other, A.Attribute) and other.attr == "format":
                        code = FORMAT_CODE[lit.value]
                    elif isinstance(other, A.Attribute):
                        code = CURRENCY_CODE[lit.value]
                    return I.Binary(e.op, self.expr(other, local), I.Const(float(code)))
            return I.Binary(e.op, self.expr(e.left, local), self.expr(e.right, local))
        raise AssertionError(e)

    def case(self, case: A.Case) -> I.Case:
        saved = dict(self.kinds)
        aggregated = {_aggregated_stage(x) for s in case.stmts for attr in ("where", "cond", "value", "when")
                      for x in subexpressions(getattr(s, attr, None))} - {None}
        ops = []
        for s in case.stmts:
            src = f"line {s.pos.line}" if s.pos.line else ""
            if isinstance(s, A.For):
                self.kinds[s.var] = "node"
                edge = s.edge or f"_{s.var}_edge"
                self.kinds[edge] = "edge"
                ops.append(I.Loop(s.var, edge, s.owner, s.direction, s.distinct, self.expr(s.where) if s.where else None,
                                  source=src))
            elif isinstance(s, A.Stage) and s.name in aggregated:
                atom = s.terms[0].positive[0]
                edge = atom.edge or f"_{s.var}_edge"
                where = self.expr(s.where, {s.var: "node", edge: "edge"}) if s.where else None
                ops.append(I.WindowAggregates(s.name, atom.owner, atom.direction, s.var, edge, where, (), source=src))
                self.kinds[s.name] = "aggregated"
            elif isinstance(s, A.Stage):
                local = {s.var: "node"}
                terms = []
                for t in s.terms:
                    pos, neg = [], []
                    for atom, bucket in [(a, pos) for a in t.positive] + [(a, neg) for a in t.negative]:
                        if isinstance(atom, A.NeighbourAtom):
                            if atom.edge:
                                local[atom.edge] = "edge"
                            bucket.append(I.NbrAtom(atom.owner, atom.direction, atom.edge))
                        else:
                            bucket.append(I.SetAtom(atom.name))
                    terms.append(I.Term(tuple(pos), tuple(neg)))
                where = self.expr(s.where, local) if s.where else None
                ops.append(I.SetCount(s.name, s.kind, s.var, tuple(terms), where, source=src))
                self.kinds[s.name] = "set"
            elif isinstance(s, A.PathStage):
                where = self.expr(s.where, {"edge": "edge", "hop": "hop"}) if s.where else None
                ops.append(I.PathCount(s.name, s.start, s.end, s.direction, s.min_hops, s.max_hops, s.increasing,
                                       where, source=src))
                self.kinds[s.name] = "path"
            elif isinstance(s, A.Require):
                ops.append(I.Require(self.expr(s.cond), source=src))
            elif isinstance(s, A.Emit):
                ops.append(I.Emit(self.expr(s.value), self.expr(s.when) if s.when else None, source=src, name=s.name))
        self.kinds = saved
        return I.Case(case.name, _with_aggregates(ops))

    def program(self) -> I.Program:
        p, t = self.p, self.p.trigger
        return I.Program(
            name=p.name, window_seconds=p.window_seconds, window_inclusive=p.window_inclusive, bins=tuple(p.bins),
            columns=tuple(p.columns()), trigger_src=t.src, trigger_dst=t.dst, trigger_edge=t.edge,
            trigger_filter=self.expr(t.where) if t.where else None,
            cases=tuple(self.case(c) for c in p.cases), window_lagged=p.window_lagged, named=tuple(p.named_emits()),
        )


def _aggregated_stage(e) -> str | None:
    """The stage an aggregate call reads (None for anything else)."""
    if not (isinstance(e, A.Call) and e.func in AGGREGATES):
        return None
    if isinstance(e.arg, A.Name):
        return e.arg.name
    return next(x.target for x in subexpressions(e.arg) if isinstance(x, A.Attribute))


def _with_aggregates(ops: list) -> tuple:
    """Each WindowAggregates op lists the aggregates of its stage that later ops read."""
    out = list(ops)
    for i, op in enumerate(out):
        if isinstance(op, I.WindowAggregates):
            found = {}
            for later in out[i + 1:]:
                for attr in ("filter", "cond", "value", "when"):
                    for x in I.walk(getattr(later, attr, None)):
                        if isinstance(x, I.Aggregate) and x.stage == op.name:
                            found.setdefault(x)
            out[i] = I.replace(op, aggregates=tuple(found))
    return tuple(out)


def lower(pattern: A.Pattern) -> I.Program:
    """AST pattern -> IR program in its plain semantic form (no optimisation)."""
    return _Lowerer(pattern).program()
