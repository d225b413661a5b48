"""Random valid patterns over the whole language of docs/language.md, built as AST and printed.

`random_pattern(choose, name)` builds a checked-valid `Pattern` from a stream of choices. The
choices come from a `Chooser`: `HypothesisChooser` draws them from hypothesis (so a failing
pattern shrinks: every first option is the simpler one, integers shrink to their lower bound,
booleans to False), `RandomChooser` from a seeded `random.Random` (for the fuzz benchmark).

Covered: trigger predicates and edge names, `for` / `for distinct` with `as` and `where`, `nodes`
stages over `&`, `|`, `-` and named sets (edges named in intersections: partial orders),
`edges` stages, `path` with hop ranges, `increasing` and `edge`/`hop` conditions, windows
(every unit, inclusive, exclusive or lagged), bins (ranges and lists), `case` blocks, `require`,
`emit` with and without `when`, named emits; aggregates of `edges` stages on the trigger's
accounts (exact ones, count distinct min max median, anywhere; the others only in named emits'
values, which the executors compare with a tolerance, never where a rounding could flip a
condition or a bin); expressions: numbers, durations, amounts, timestamps, banks,
currencies and payment formats by name, node and edge (in)equality, `size`, `length`, `abs`,
`+ - * /`, unary minus, comparisons, `and`/`or`/`not`, membership.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from blazingaml.dsl import ast as A
from blazingaml.io.vocab import CURRENCIES

NODE, EDGE, SET, EDGE_SET, PATH = "node", "edge", "set", "edge set", "path"
AGGREGATED = "aggregated edge set"   # an `edges` stage on a trigger account, whose aggregates may be read
EXACT_AGGREGATES = ("count", "distinct", "min", "max", "median")   # selections: equal in every executor
ROUNDED_AGGREGATES = ("sum", "mean", "var", "std", "skew", "kurtosis")
NAMES = tuple("abcdfghjklmnpqrstuvwxyz") + tuple(f"{c}{i}" for i in range(1, 10) for c in "nvw")
WINDOWS = ((6 * 3600, "6h"), (86400, "1d"), (2 * 3600, "2h"), (30 * 3600, "30h"), (2 * 86400, "2d"),
           (5400, "90m"), (40000, "40000s"), (3 * 86400, "3d"))
# Amounts in the test graphs lie in 10..1000, timestamps on hour slots: constants that cut through them.
NUMBERS = (1.0, 2.0, 0.0, 3.0, 100.0, 500.0, 0.5, 0.9, 1.2, 250.75, 900.0, 5.0)
DURATIONS = (("1h", 3600), ("30m", 1800), ("2h", 7200), ("1d", 86400), ("90s", 90), ("0.5h", 1800))


class Chooser:
    """Where the generator's decisions come from."""

    def integer(self, lo: int, hi: int) -> int:
        raise NotImplementedError

    def choice(self, options):
        """One of `options`; the first is the simplest."""
        raise NotImplementedError

    def boolean(self) -> bool:
        raise NotImplementedError


class HypothesisChooser(Chooser):
    def __init__(self, draw):
        from hypothesis import strategies as st

        self.draw, self.st = draw, st

    def integer(self, lo, hi):
        return self.draw(self.st.integers(lo, hi))

    def choice(self, options):
        return self.draw(self.st.sampled_from(tuple(options)))

    def boolean(self):
        return self.draw(self.st.booleans())


class RandomChooser(Chooser):
    def __init__(self, rng: random.Random):
        self.rng = rng

    def integer(self, lo, hi):
        return self.rng.randint(lo, hi)

    def choice(self, options):
        return self.rng.choice(tuple(options))

    def boolean(self):
        return self.rng.random() < 0.5


@dataclass
class Scope:
    """Names visible at one point of a pattern, by kind, plus the expression-only names of a path
    condition (`edge`, `hop`)."""

    kinds: dict = field(default_factory=dict)
    in_path_condition: bool = False

    def of(self, kind: str) -> list[str]:
        return [n for n, k in self.kinds.items() if k == kind]

    def child(self, **extra) -> "Scope":
        return Scope({**self.kinds, **extra}, self.in_path_condition)


class _Generator:
    def __init__(self, choose: Chooser):
        self.c = choose
        self.used: set[str] = set()
        self.endpoints: tuple = ()
        self.emit_names = 0

    def fresh(self, scope: Scope) -> str:
        for name in NAMES:
            if name not in self.used and name not in scope.kinds:
                self.used.add(name)
                return name
        raise AssertionError("name pool exhausted")

    def maybe(self) -> bool:
        return self.c.boolean()

    def pair(self, options: list) -> tuple:
        """Two of `options`, different ones when there are several (`x == x` teaches little)."""
        options = options[::-1]  # newest names first: conditions mostly constrain what was just bound
        first = self.c.choice(options)
        others = [o for o in options if o != first]
        return first, self.c.choice(others) if others else first

    # ------------------------------------------------------------------ expressions
    def aggregate(self, scope: Scope, rounded: bool) -> A.Expr:
        """An aggregate of an aggregated stage: exact ones, or any when `rounded` values may appear."""
        stage = self.c.choice(scope.of(AGGREGATED))
        func = self.c.choice(EXACT_AGGREGATES + (ROUNDED_AGGREGATES if rounded else ()))
        if func in ("count", "distinct"):
            return A.Call(func=func, arg=A.Name(name=stage))
        value = A.Attribute(target=stage, attr=self.c.choice(("amount_paid", "ts", "amount_received")))
        if self.maybe():
            other = A.Attribute(target=stage, attr=self.c.choice(("amount_received", "amount_paid")))
            value = A.Binary(op=self.c.choice(("-", "+", "*")), left=value,
                             right=self.c.choice((other, A.Number(value=self.c.choice(NUMBERS)))))
        return A.Call(func=func, arg=value)

    def number(self, scope: Scope, depth: int, rounded: bool = False) -> A.Expr:
        kinds = ["const"]
        edges = scope.of(EDGE) + (["edge"] if scope.in_path_condition else [])
        if edges:
            kinds += ["amount", "ts"]
        if scope.of(SET) + scope.of(EDGE_SET):
            kinds.append("size")
        if scope.of(PATH):
            kinds.append("length")
        if scope.in_path_condition:
            kinds.append("hop")
        if scope.of(AGGREGATED):
            kinds.append("aggregate")
        kinds.append("duration")
        if depth > 0:
            kinds += ["arith", "neg", "abs"]
        kind = self.c.choice(kinds)
        if kind == "aggregate":
            return self.aggregate(scope, rounded)
        if kind == "const":
            return A.Number(value=self.c.choice(NUMBERS))
        if kind == "duration":
            text, seconds = self.c.choice(DURATIONS)
            return A.Duration(seconds=seconds, text=text)
        if kind == "amount":
            return A.Attribute(target=self.c.choice(edges), attr=self.c.choice(("amount_paid", "amount_received")))
        if kind == "ts":  # mostly a time difference: raw timestamps dwarf every constant
            later, earlier = self.pair(edges)
            if len(edges) == 1 or self.c.integer(0, 3) == 3:
                return A.Attribute(target=later, attr="ts")
            return A.Binary(op="-", left=A.Attribute(target=later, attr="ts"),
                            right=A.Attribute(target=earlier, attr="ts"))
        if kind == "size":
            return A.Call(func="size", arg=A.Name(name=self.c.choice(scope.of(SET) + scope.of(EDGE_SET))))
        if kind == "length":
            return A.Call(func="length", arg=A.Name(name=self.c.choice(scope.of(PATH))))
        if kind == "hop":
            return A.Name(name="hop")
        if kind == "neg":
            return A.Unary(op="-", operand=self.number(scope, depth - 1, rounded))
        if kind == "abs":
            return A.Call(func="abs", arg=self.number(scope, depth - 1, rounded))
        op = self.c.choice(("+", "-", "*", "/"))
        right = self.number(scope, depth - 1, rounded)
        if op == "/" and isinstance(right, A.Number) and right.value == 0:
            right = A.Number(value=1.0)   # the checker refuses a literal zero divisor
        return A.Binary(op=op, left=self.number(scope, depth - 1, rounded), right=right)

    def node(self, scope: Scope) -> A.Expr:
        edges = scope.of(EDGE) + (["edge"] if scope.in_path_condition else [])
        if edges and self.c.integer(0, 3) == 3:
            return A.Attribute(target=self.c.choice(edges), attr=self.c.choice(("src", "dst")))
        return A.Name(name=self.c.choice(scope.of(NODE)))

    def condition(self, scope: Scope, depth: int = 2) -> A.Expr:
        kinds = ["compare", "nodes"]
        edges = scope.of(EDGE) + (["edge"] if scope.in_path_condition else [])
        if edges:
            kinds += ["format", "currency", "edges", "ts_order"]
        kinds.append("bank")
        if scope.of(SET):
            kinds.append("member")
        if depth > 0:
            kinds += ["and", "or", "not", "bool_eq"]
        kind = self.c.choice(kinds)
        if kind == "compare":
            op = self.c.choice(("<", ">=", "<=", ">", "==", "!="))
            return A.Binary(op=op, left=self.number(scope, 1), right=self.number(scope, 1))
        if kind == "nodes":
            left = self.node(scope)
            others = [n for n in scope.of(NODE) if not (isinstance(left, A.Name) and n == left.name)]
            right = A.Name(name=self.c.choice(others[::-1])) if others else self.node(scope)
            return A.Binary(op=self.c.choice(("!=", "==")), left=left, right=right)
        if kind == "format":
            attr = A.Attribute(target=self.c.choice(edges), attr="format")
            return A.Binary(op=self.c.choice(("==", "!=")), left=attr,
                            right=A.String(value=self.c.choice(("ACH", "Cheque", "Wire", "Cash"))))
        if kind == "currency":
            left = A.Attribute(target=self.c.choice(edges), attr=self.c.choice(("currency_paid", "currency_received")))
            if self.maybe():
                right = A.Attribute(target=self.c.choice(edges),
                                    attr=self.c.choice(("currency_received", "currency_paid")))
            else:
                right = A.String(value=self.c.choice(CURRENCIES[:3]))
            return A.Binary(op=self.c.choice(("==", "!=")), left=left, right=right)
        if kind == "edges":
            left, right = self.pair(edges)
            return A.Binary(op=self.c.choice(("!=", "==")), left=A.Name(name=left), right=A.Name(name=right))
        if kind == "ts_order":
            left, right = self.pair(edges)
            return A.Binary(op=self.c.choice(("<=", "<", ">")), left=A.Attribute(target=left, attr="ts"),
                            right=A.Attribute(target=right, attr="ts"))
        if kind == "bank":
            left, right = self.pair(scope.of(NODE))
            return A.Binary(op=self.c.choice(("==", "!=")), left=A.Attribute(target=left, attr="bank"),
                            right=A.Attribute(target=right, attr="bank"))
        if kind == "member":
            return A.Member(element=A.Name(name=self.c.choice(scope.of(NODE))), set_name=self.c.choice(scope.of(SET)))
        if kind == "not":
            return A.Unary(op="not", operand=self.condition(scope, depth - 1))
        if kind == "bool_eq":
            return A.Binary(op=self.c.choice(("==", "!=")), left=self.condition(scope, 0),
                            right=self.condition(scope, 0))
        return A.Binary(op=kind, left=self.condition(scope, depth - 1), right=self.condition(scope, depth - 1))

    def emitted(self, scope: Scope) -> A.Expr:
        """An emitted value: usually an instance size, so that instances spread over the bins."""
        sizes = [A.Call(func="size", arg=A.Name(name=n)) for n in scope.of(SET) + scope.of(EDGE_SET) + scope.of(AGGREGATED)]
        sizes += [A.Call(func="length", arg=A.Name(name=n)) for n in scope.of(PATH)]
        if sizes and self.c.integer(0, 2) != 0:
            return self.c.choice(sizes)
        return self.number(scope, 2)

    def optional_condition(self, scope: Scope) -> A.Expr | None:
        return self.condition(scope) if self.maybe() else None

    # ------------------------------------------------------------------ statements
    def for_stmt(self, scope: Scope) -> A.For:
        owner = self.c.choice(scope.of(NODE))
        direction = self.c.choice(("out", "in"))
        distinct = self.maybe()
        var = self.fresh(scope)
        scope.kinds[var] = NODE
        edge = None
        if self.maybe():
            edge = self.fresh(scope)
            scope.kinds[edge] = EDGE
        return A.For(var=var, owner=owner, direction=direction, edge=edge, distinct=distinct,
                     where=self.optional_condition(scope))

    def neighbour_atom(self, scope: Scope, inner: Scope, may_bind: bool) -> A.NeighbourAtom:
        edge = None
        if may_bind and self.maybe():
            edge = self.fresh(inner)
            inner.kinds[edge] = EDGE
        return A.NeighbourAtom(owner=self.c.choice(scope.of(NODE)), direction=self.c.choice(("out", "in")),
                               edge=edge)

    def stage(self, scope: Scope) -> A.Stage:
        name = self.fresh(scope)
        inner = scope.child()
        var = self.fresh(inner)
        inner.kinds[var] = NODE
        sets = scope.of(SET)
        if self.c.integer(0, 4) == 4:  # an `edges` stage: one neighbourhood
            terms = (A.SetTerm((self.neighbour_atom(scope, inner, True),), ()),)
            kind = "edges"
        else:
            kind = "nodes"
            union = self.c.integer(1, 3) if self.c.integer(0, 2) == 2 else 1
            terms = []
            for _ in range(union):
                positive = [self.neighbour_atom(scope, inner, union == 1)]
                for _ in range(self.c.integer(0, 2)):
                    if sets and self.maybe():
                        positive.append(A.NamedAtom(name=self.c.choice(sets)))
                    else:
                        positive.append(self.neighbour_atom(scope, inner, union == 1))
                negative = []
                for _ in range(self.c.integer(0, 2) if self.maybe() else 0):
                    if sets and self.maybe():
                        negative.append(A.NamedAtom(name=self.c.choice(sets)))
                    else:
                        negative.append(self.neighbour_atom(scope, inner, False))
                terms.append(A.SetTerm(tuple(positive), tuple(negative)))
            terms = tuple(terms)
        where = self.optional_condition(inner)
        scope.kinds[name] = SET if kind == "nodes" else EDGE_SET
        return A.Stage(name=name, kind=kind, var=var, terms=terms, where=where)

    def aggregated_stage(self, scope: Scope) -> A.Stage:
        """An `edges` stage on the trigger's sender or receiver; its `where` reads only its own edge,
        member and owner, so that its aggregates can be read."""
        name = self.fresh(scope)
        owner = self.c.choice(self.endpoints)
        inner = Scope({owner: NODE})
        var = self.fresh(inner)
        inner.kinds[var] = NODE
        atom = self.neighbour_atom(Scope({owner: NODE}), inner, True)
        where = self.optional_condition(inner)
        scope.kinds[name] = AGGREGATED
        return A.Stage(name=name, kind="edges", var=var, terms=(A.SetTerm((atom,), ()),), where=where)

    def path(self, scope: Scope) -> A.PathStage:
        name = self.fresh(scope)
        nodes = scope.of(NODE)
        start, end = self.c.choice(nodes), self.c.choice(nodes[::-1])
        increasing = self.maybe()
        lo = self.c.integer(1, 3)
        hi = lo + self.c.integer(0, 9 if increasing else 3)
        cond_scope = Scope(dict(scope.kinds), in_path_condition=True)
        where = self.optional_condition(cond_scope)
        scope.kinds[name] = PATH
        return A.PathStage(name=name, start=start, end=end, direction=self.c.choice(("out", "in")), min_hops=lo,
                           max_hops=hi, increasing=increasing, where=where)

    def case(self, scope: Scope, name: str) -> A.Case:
        stmts = []
        loops = paths = 0
        for _ in range(self.c.integer(0, 4)):
            kinds = ["stage", "for", "require", "path", "aggregated"]
            kind = self.c.choice(kinds)
            if kind == "aggregated":
                stmts.append(self.aggregated_stage(scope))
            elif kind == "for" and loops < 2:
                loops += 1
                stmts.append(self.for_stmt(scope))
            elif kind == "path" and paths < 1:
                paths += 1
                stmts.append(self.path(scope))
            elif kind == "require":
                stmts.append(A.Require(cond=self.condition(scope)))
            else:
                stmts.append(self.stage(scope))
        named = self.c.integer(0, 2) if not (loops or paths) else 0
        if not named or self.c.integer(0, 2) != 0:
            stmts.append(A.Emit(value=self.emitted(scope), when=self.optional_condition(scope)))
        for _ in range(named):
            self.emit_names += 1
            if scope.of(AGGREGATED) and self.c.integer(0, 3) != 0:   # mostly an aggregate: what named emits are for
                value = self.aggregate(scope, rounded=True)
            else:
                value = self.number(scope, 2, rounded=True)
            stmts.append(A.Emit(value=value, when=self.optional_condition(scope), name=f"v{self.emit_names}"))
        return A.Case(name=name, stmts=tuple(stmts))

    def pattern(self, name: str) -> A.Pattern:
        seconds, _ = self.c.choice(WINDOWS)
        inclusive = not self.maybe()
        lagged = inclusive and self.c.integer(0, 3) == 3
        lo = self.c.integer(0, 3)
        if self.maybe():
            bins = tuple(sorted({lo + self.c.integer(0, 12) for _ in range(self.c.integer(2, 4))} | {lo}))
            if len(bins) == 1:
                bins = (lo, lo + 1)
        else:
            bins = tuple(range(lo, lo + self.c.integer(0, 6) + 1))
        scope = Scope()
        src, dst = self.fresh(scope), self.fresh(scope)
        scope.kinds.update({src: NODE, dst: NODE})
        self.endpoints = (src, dst)
        edge = "e"
        if self.maybe():
            edge = self.fresh(scope)
        self.used.add(edge)
        scope.kinds[edge] = EDGE
        where = self.condition(scope) if self.c.integer(0, 2) == 2 else None
        trigger = A.Trigger(src=src, dst=dst, edge=edge, where=where)
        count = 1 if not self.maybe() else self.c.integer(2, 3)
        names = ("main",) if count == 1 else tuple(f"case{i + 1}" for i in range(count))
        cases = []
        for case_name in names:
            saved = set(self.used)
            cases.append(self.case(scope.child(), case_name))
            self.used = saved  # names may repeat across cases
        counted = any(isinstance(s, A.Emit) and not s.name for c in cases for s in c.stmts)
        return A.Pattern(name=name, window_seconds=seconds, window_inclusive=inclusive, bins=bins if counted else (),
                         trigger=trigger, cases=tuple(cases), window_lagged=lagged)


def random_pattern(choose: Chooser, name: str = "p") -> A.Pattern:
    """A random pattern that passes every static check (its text: `dsl.printer.pattern_text`)."""
    return _Generator(choose).pattern(name)
