"""The IR: a small, typed, printable stage program per pattern.

A `Program` runs once per trigger edge. Its `cases` are alternative bodies (each with its own
emit); a body is a list of ops that nest: a `Loop` encloses everything after it. Set stages are
never stored: `SetCount` counts members and `MemberOf` re-tests membership on demand.

Scans over adjacency carry a `Scan` saying how the window is applied: the lowering produces the
plain semantic form (filter every edge); the `window_search` pass turns it into a binary search
for the first in-window edge and an early break at the trigger.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields, is_dataclass, replace

# ----------------------------------------------------------------------------- expressions


@dataclass(frozen=True)
class Const:
    value: float


@dataclass(frozen=True)
class NodeRef:
    name: str


@dataclass(frozen=True)
class EdgeRef:
    name: str


@dataclass(frozen=True)
class HopRef:
    """The 1-based hop number inside a path condition."""


@dataclass(frozen=True)
class EdgeAttr:
    edge: str
    attr: str   # ts amount_paid amount_received pay_currency recv_currency payment_format src dst


@dataclass(frozen=True)
class NodeAttr:
    node: str
    attr: str   # bank


@dataclass(frozen=True)
class SizeOf:
    set_name: str


@dataclass(frozen=True)
class LengthOf:
    path_name: str


@dataclass(frozen=True)
class MemberOf:
    node: str
    set_name: str


@dataclass(frozen=True)
class Aggregate:
    """An aggregate of a `WindowAggregates` stage's edges: `count`, `distinct` (members), or a
    statistic of `value`, an expression of the stage's edge written `EdgeAttr(stage, attr)`."""

    func: str        # count distinct sum mean min max median var std skew kurtosis
    stage: str
    value: object | None = None


@dataclass(frozen=True)
class Unary:
    op: str          # neg not abs
    operand: object


@dataclass(frozen=True)
class Binary:
    op: str          # + - * / < <= > >= == != and or
    left: object
    right: object


# ----------------------------------------------------------------------------- scans and ops


@dataclass(frozen=True)
class Scan:
    """How a neighbourhood scan applies the window [lo, trigger]."""

    lower: str = "filter"   # "filter": test each edge; "search": binary search for the first in-window edge
    upper: str = "filter"   # "filter": test each edge; "break": stop at the first edge after the trigger


@dataclass(frozen=True)
class NbrAtom:
    owner: str
    direction: str
    edge: str | None = None


@dataclass(frozen=True)
class SetAtom:
    name: str


@dataclass(frozen=True)
class Term:
    positive: tuple
    negative: tuple = ()


@dataclass(frozen=True)
class Loop:
    var: str
    edge: str
    owner: str
    direction: str
    distinct: bool
    filter: object | None
    scan: Scan = Scan()
    source: str = ""


@dataclass(frozen=True)
class SetCount:
    name: str
    kind: str                  # "nodes" or "edges"
    var: str
    terms: tuple
    filter: object | None      # the whole `where` (semantic form)
    scan: Scan = Scan()
    member_filter: object | None = None   # after pushdown: conjuncts needing only the member and outer names
    edge_filter: object | None = None     # after pushdown: conjuncts needing the atoms' edges
    pushed: bool = False
    driver: str = "first"      # "first": first atom drives; "smallest": smallest window drives (run time)
    source: str = ""


@dataclass(frozen=True)
class PathCount:
    name: str
    start: str
    end: str
    direction: str
    min_hops: int
    max_hops: int
    increasing: bool
    filter: object | None
    scan: Scan = Scan()
    prune: bool = False   # after path_pruning: cut branches that cannot reach `end` (backward closure)
    source: str = ""


@dataclass(frozen=True)
class SlidingCount:
    """A windowed aggregate: size of a trigger endpoint's window neighbourhood, by two pointers."""

    name: str
    kind: str        # "nodes" (distinct neighbours) or "edges"
    owner: str       # the trigger endpoint whose neighbourhood is counted
    direction: str
    skip_self: bool  # ignore self-loops of the owner
    source: str = ""


@dataclass(frozen=True)
class WindowAggregates:
    """An `edges` stage over a trigger account's window neighbourhood whose aggregates the case
    reads. Every trigger's values come from one sliding sweep per account over its time-ordered
    edges (backends/window_sweeps.py); `filter` reads only `var`, `edge` and `owner`."""

    name: str
    owner: str       # the trigger's sender or receiver
    direction: str
    var: str
    edge: str        # the name of the stage's edge in `filter`
    filter: object | None
    aggregates: tuple   # the Aggregate expressions the case reads, each once
    source: str = ""

    def edges_stage(self) -> "SetCount":
        """The same stage as a plain `edges` set (what participation mode credits)."""
        return SetCount(self.name, "edges", self.var, (Term((NbrAtom(self.owner, self.direction, self.edge),)),),
                        self.filter, source=self.source)


@dataclass(frozen=True)
class Require:
    cond: object
    source: str = ""


@dataclass(frozen=True)
class Emit:
    value: object
    when: object | None
    source: str = ""
    name: str | None = None   # named emit: writes `value` to the column `<pattern>.<name>`


@dataclass(frozen=True)
class Case:
    name: str
    ops: tuple


@dataclass(frozen=True)
class Program:
    name: str
    window_seconds: int
    window_inclusive: bool
    bins: tuple
    columns: tuple
    trigger_src: str
    trigger_dst: str
    trigger_edge: str
    trigger_filter: object | None
    cases: tuple
    passes: tuple = ()
    window_lagged: bool = False   # window lower bound: `window` before the previous edge's time (inclusive)
    named: tuple = ()             # names of the named emits, in column order (after the bins)

    def digest(self) -> str:
        return hashlib.sha256(dump(self).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Kernel:
    """Programs that share one traversal of the triggers (cross-pattern fusion): each trigger's
    endpoints and time are loaded once; every program then runs its own stages."""

    programs: tuple
    passes: tuple = ()

    def digest(self) -> str:
        return hashlib.sha256(dump(self).encode()).hexdigest()[:16]


# ----------------------------------------------------------------------------- printing


def dump(node, indent: int = 0) -> str:
    """A stable, diffable text form of any IR node."""
    pad = "  " * indent
    if isinstance(node, tuple):
        if not node:
            return "()"
        return "(\n" + ",\n".join(pad + "  " + dump(x, indent + 1) for x in node) + "\n" + pad + ")"
    if is_dataclass(node):
        parts = []
        for f in fields(node):
            value = getattr(node, f.name)
            if f.name == "source" and not value:
                continue
            parts.append(f"{f.name}={dump(value, indent + 1)}")
        one_line = f"{type(node).__name__}({', '.join(parts)})"
        if len(one_line) < 100 and "\n" not in one_line:
            return one_line
        inner = (",\n" + pad + "  ").join(parts)
        return f"{type(node).__name__}(\n{pad}  {inner}\n{pad})"
    return repr(node)


def expr_text(e) -> str:
    """Readable infix text of an expression (for comments in generated code and plans)."""
    if e is None:
        return "true"
    if isinstance(e, Const):
        v = e.value
        return str(int(v)) if float(v).is_integer() else repr(v)
    if isinstance(e, (NodeRef, EdgeRef)):
        return e.name
    if isinstance(e, HopRef):
        return "hop"
    if isinstance(e, EdgeAttr):
        return f"{e.edge}.{e.attr}"
    if isinstance(e, NodeAttr):
        return f"{e.node}.{e.attr}"
    if isinstance(e, SizeOf):
        return f"size({e.set_name})"
    if isinstance(e, LengthOf):
        return f"length({e.path_name})"
    if isinstance(e, MemberOf):
        return f"{e.node} in {e.set_name}"
    if isinstance(e, Aggregate):
        return f"{e.func}({e.stage if e.value is None else expr_text(e.value)})"
    if isinstance(e, Unary):
        return f"{e.op}({expr_text(e.operand)})" if e.op != "neg" else f"-({expr_text(e.operand)})"
    if isinstance(e, Binary):
        return f"({expr_text(e.left)} {e.op} {expr_text(e.right)})"
    return repr(e)


def walk(e):
    """Every subexpression of `e` (itself first); nothing for None."""
    stack = [e]
    while stack:
        x = stack.pop()
        if x is None:
            continue
        yield x
        if isinstance(x, Unary):
            stack.append(x.operand)
        elif isinstance(x, Binary):
            stack.extend([x.right, x.left])


def free_names(e) -> set:
    """Node/edge/set/path names an expression reads (HopRef reads 'hop')."""
    if e is None or isinstance(e, Const):
        return set()
    if isinstance(e, (NodeRef, EdgeRef)):
        return {e.name}
    if isinstance(e, HopRef):
        return {"hop"}
    if isinstance(e, EdgeAttr):
        return {e.edge}
    if isinstance(e, NodeAttr):
        return {e.node}
    if isinstance(e, SizeOf):
        return {e.set_name}
    if isinstance(e, LengthOf):
        return {e.path_name}
    if isinstance(e, MemberOf):
        return {e.node, e.set_name}
    if isinstance(e, Aggregate):
        return {e.stage}
    if isinstance(e, Unary):
        return free_names(e.operand)
    if isinstance(e, Binary):
        return free_names(e.left) | free_names(e.right)
    raise TypeError(e)


def conjuncts(e) -> list:
    if e is None:
        return []
    if isinstance(e, Binary) and e.op == "and":
        return conjuncts(e.left) + conjuncts(e.right)
    return [e]


def conjoin(parts: list):
    result = None
    for p in parts:
        result = p if result is None else Binary("and", result, p)
    return result


__all__ = [n for n in dir() if not n.startswith("_")] + ["replace"]
