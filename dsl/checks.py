"""Static checks: every name bound before use, stage order, types, units, explosion bounds."""

from __future__ import annotations

from blazingaml.io.vocab import CURRENCIES, PAYMENT_FORMATS

from . import ast as A
from .errors import PatternError

NODE, EDGE, SET, EDGE_SET, PATH, NUM, BOOL, STR, CURRENCY, FORMAT, BANK = (
    "node", "edge", "set", "edges stage", "path", "number", "condition", "string", "currency", "payment format",
    "bank")

NODE_ATTRS = {"bank": BANK}
EDGE_ATTRS = {
    "ts": NUM, "amount_paid": NUM, "amount_received": NUM, "currency_paid": CURRENCY,
    "currency_received": CURRENCY, "format": FORMAT, "src": NODE, "dst": NODE,
}
# Aggregates of an `edges` stage's window edges (docs/language.md, "Aggregates").
COUNTING_AGGREGATES = ("count", "distinct")
AGGREGATES = COUNTING_AGGREGATES + ("sum", "mean", "min", "max", "median", "var", "std", "skew", "kurtosis")
MAX_NESTED_LOOPS = 3
MAX_EXPRESSION_DEPTH = 200   # operators in a chain such as `a + a + ... + a` (checks and codegen recurse)
MAX_UNORDERED_HOPS = 12
MAX_HOPS = 64
RESERVED = {"edge", "hop"}

# Bounds on the text itself, checked on the parse tree before anything recurses over it: deep or
# long expressions would exhaust Python's stack in the compiler, huge literals overflow int64
# arithmetic in generated kernels, and thousands of cases compile for minutes. Library patterns
# stay far below every one of them (deepest expression nesting: 18). MAX_EXPRESSION_DEPTH above bounds
# the depth of expressions; parser.MAX_NESTING bounds parentheses and prefix operators before parsing.
MAX_NAME_LENGTH = 64
MAX_STRING_LENGTH = 200
MAX_CASES = 32
MAX_STATEMENTS = 32
MAX_NUMBER = 1e15          # the largest amount a Trans.csv may hold (io.fastcsv.MAX_AMOUNT)
MAX_WHOLE_NUMBER = 1_000_000
MAX_DURATION_SECONDS = 3650 * 86400
_FOLDED = {"sum", "product", "comparison", "and_expr", "or_expr"}   # n operands fold into n nested nodes
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class _Checker:
    def __init__(self, pattern: A.Pattern, text: str | None):
        self.p, self.text = pattern, text
        self.edge_stages: dict[str, A.Stage] = {}

    def fail(self, message: str, pos: A.Pos, hint: str | None = None):
        raise PatternError(message, self.p.source, pos.line, pos.column, self.text, hint)

    # ------------------------------------------------------------------ expressions
    def type_of(self, e: A.Expr, scope: dict) -> str:
        if isinstance(e, (A.Number, A.Duration)):
            return NUM
        if isinstance(e, A.String):
            return STR
        if isinstance(e, A.Name):
            if e.name not in scope:
                self.fail(f"undefined name `{e.name}`", e.pos, hint=self._bind_hint(e.name, scope))
            kind = scope[e.name]
            return NUM if kind == "hop" else kind
        if isinstance(e, A.Attribute):
            if e.target not in scope:
                self.fail(f"undefined name `{e.target}`", e.pos, hint=self._bind_hint(e.target, scope))
            kind = scope[e.target]
            table = {NODE: NODE_ATTRS, EDGE: EDGE_ATTRS}.get(kind)
            if table is None:
                self.fail(f"`{e.target}` is a {kind}; only nodes and edges have attributes", e.pos)
            if e.attr not in table:
                self.fail(f"{kind} `{e.target}` has no attribute `{e.attr}`", e.pos,
                          hint=f"{kind} attributes: " + ", ".join(sorted(table)))
            return table[e.attr]
        if isinstance(e, A.Call) and e.func in AGGREGATES:
            return self.aggregate(e, scope)
        if isinstance(e, A.Call):
            t = self.type_of(e.arg, scope)
            want = {"size": SET, "length": PATH, "abs": NUM}.get(e.func)
            if want is None:
                self.fail(f"unknown function `{e.func}`", e.pos,
                          hint="functions: size(SET), length(PATH), abs(x), and aggregates " + ", ".join(AGGREGATES))
            if t != want and not (e.func == "size" and t == EDGE_SET):
                self.fail(f"{e.func}() takes a {want}, got a {t}", e.pos)
            if e.func in ("size", "length") and not isinstance(e.arg, A.Name):
                self.fail(f"{e.func}() takes the name of a stage", e.pos)
            return NUM
        if isinstance(e, A.Unary):
            t = self.type_of(e.operand, scope)
            want = BOOL if e.op == "not" else NUM
            if t != want:
                self.fail(f"`{e.op}` needs a {want}, got a {t}", e.pos)
            return want
        if isinstance(e, A.Member):
            if not isinstance(e.element, A.Name) or self.type_of(e.element, scope) != NODE:
                self.fail("only a node's name can be tested with `in`", e.pos, hint="for example: x in mids")
            self.node_set(scope, e.set_name, e.pos)
            return BOOL
        if isinstance(e, A.Binary):
            lt, rt = self.type_of(e.left, scope), self.type_of(e.right, scope)
            if e.op in ("and", "or"):
                if lt != BOOL or rt != BOOL:
                    self.fail(f"`{e.op}` joins conditions, got a {lt if lt != BOOL else rt}", e.pos)
                return BOOL
            if e.op in ("+", "-", "*", "/"):
                if lt != NUM or rt != NUM:
                    self.fail(f"`{e.op}` needs numbers, got a {lt} and a {rt}", e.pos)
                if e.op == "/" and isinstance(e.right, A.Number) and e.right.value == 0:
                    self.fail("division by zero", e.right.pos)
                return NUM
            # comparisons
            if e.op in ("<", "<=", ">", ">="):
                if lt != NUM or rt != NUM:
                    self.fail(f"`{e.op}` compares numbers, got a {lt} and a {rt}", e.pos,
                              hint="nodes and edges can only be compared with == and !=")
                return BOOL
            for side, other, other_e in ((lt, rt, e.right), (rt, lt, e.left)):
                if side in (CURRENCY, FORMAT) and other == STR:
                    vocab = CURRENCIES if side == CURRENCY else PAYMENT_FORMATS
                    if other_e.value not in vocab:
                        self.fail(f"unknown {side} \"{other_e.value}\"", other_e.pos, hint="known: " + ", ".join(vocab))
                    return BOOL
            if lt != rt or lt in (STR, SET, EDGE_SET, PATH):
                self.fail(f"cannot compare a {lt} with a {rt}", e.pos)
            return BOOL
        raise AssertionError(f"unknown expression {e!r}")

    def aggregate(self, e: A.Call, scope: dict) -> str:
        """Type of an aggregate call: count(S) and distinct(S) take an `edges` stage; the others an
        expression of that stage's edge (`mean(S.amount_paid)`), which may use numbers and nothing else."""
        example = f"{e.func}(S)" if e.func in COUNTING_AGGREGATES else f"{e.func}(S.amount_paid)"
        if e.func in COUNTING_AGGREGATES:
            if not isinstance(e.arg, A.Name):
                self.fail(f"{e.func}() takes the name of an `edges` stage", e.pos, hint=f"for example: {example}")
            stage = e.arg.name
        else:
            parts = list(subexpressions(e.arg))
            attributes = sorted((x for x in parts if isinstance(x, A.Attribute)),
                                key=lambda x: (x.pos.line, x.pos.column))
            stray = next((x for x in parts if isinstance(x, (A.Name, A.Call, A.Member, A.String))), None)
            stray = stray or next((x for x in attributes if x.target != attributes[0].target), None)
            if stray is not None or not attributes:
                where = stray.pos if stray is not None else e.pos
                self.fail(f"{e.func}() aggregates a value of one `edges` stage's edges", where,
                          hint=f"for example: {example}; inside it, only the stage's edge attributes and numbers")
            stage = attributes[0].target
        if scope.get(stage) != EDGE_SET:
            kind = scope.get(stage)
            self.fail(f"`{stage}` is {'a ' + kind if kind else 'not defined'}, not an `edges` stage", e.pos,
                      hint=f"aggregate the edges of a stage defined above, for example: "
                           f"`stage S = edges x in {self.p.trigger.dst}.in`, then {example}")
        self.windowed(self.edge_stages[stage], e.pos)
        if e.func not in COUNTING_AGGREGATES and self.type_of(e.arg, {stage: EDGE}) != NUM:
            self.fail(f"{e.func}() needs a number, like `{stage}.amount_paid`", e.arg.pos)
        return NUM

    def windowed(self, s: A.Stage, pos: A.Pos):
        """An aggregated stage must be a sweep over one of the trigger's accounts: its neighbourhood
        is the sender's or receiver's, and its `where` reads only its own edge, member and owner."""
        atom = s.terms[0].positive[0]
        t = self.p.trigger
        if atom.owner not in (t.src, t.dst):
            self.fail(f"aggregates need a stage over the trigger's accounts; `{s.name}` is over {atom.owner}.{atom.direction}",
                      pos, hint=f"use {t.src}.out, {t.src}.in, {t.dst}.out or {t.dst}.in: aggregates are kept by one "
                                "sweep per account over its edges in time order")
        allowed = {s.var, atom.owner} | ({atom.edge} if atom.edge else set())
        for x in subexpressions(s.where):
            name = x.target if isinstance(x, A.Attribute) else x.name if isinstance(x, A.Name) else None
            if name is not None and name not in allowed:
                self.fail(f"stage `{s.name}` is aggregated, so its `where` may read only its own edge, member and "
                          f"owner, not `{name}`", x.pos, hint="aggregates are computed once per account for all "
                                                               "triggers, so the condition cannot depend on one trigger")

    def condition(self, e: A.Expr | None, scope: dict, what: str):
        if e is not None and self.type_of(e, scope) != BOOL:
            self.fail(f"the {what} must be a condition (a comparison), not a number", e.pos,
                      hint="for example: size(mids) >= 2")

    def _bind_hint(self, name: str, scope: dict) -> str:
        known = ", ".join(sorted(k for k in scope if k not in RESERVED)) or "none"
        return f"bind `{name}` in an earlier stage (names bound here: {known})"

    def bind(self, scope: dict, name: str, kind: str, pos: A.Pos):
        if name in scope:
            self.fail(f"`{name}` is already bound", pos, hint="each node, edge and stage needs its own name")
        if name in RESERVED:
            self.fail(f"`{name}` is reserved inside path conditions", pos)
        scope[name] = kind

    # ------------------------------------------------------------------ statements
    def expressions(self):
        """Every expression of the pattern (trigger, statements), outermost first."""
        p = self.p
        yield p.trigger.where
        for case in p.cases:
            for s in case.stmts:
                for attr in ("where", "cond", "value", "when"):
                    yield getattr(s, attr, None)

    def depth_bound(self, e: A.Expr | None):
        """Refuse expressions nested deeper than MAX_EXPRESSION_DEPTH (measured without recursion)."""
        stack = [(e, 1)]
        while stack:
            x, depth = stack.pop()
            if x is None:
                continue
            if depth > MAX_EXPRESSION_DEPTH:
                self.fail(f"expression more than {MAX_EXPRESSION_DEPTH} operators deep", x.pos,
                          hint="split it over several `require` statements")
            for child in (getattr(x, "left", None), getattr(x, "right", None), getattr(x, "operand", None),
                          getattr(x, "arg", None), getattr(x, "element", None)):
                if isinstance(child, A.Expr):
                    stack.append((child, depth + 1))

    def run(self):
        p = self.p
        for e in self.expressions():
            self.depth_bound(e)
        if p.window_seconds <= 0:
            self.fail("the window must be longer than zero", p.pos)
        t = p.trigger
        scope: dict = {}
        self.bind(scope, t.src, NODE, t.pos)
        self.bind(scope, t.dst, NODE, t.pos)
        self.bind(scope, t.edge, EDGE, t.pos)
        self.condition(t.where, scope, "trigger condition")
        names, emitted = set(), {}
        for case in p.cases:
            if case.name in names:
                self.fail(f"case `{case.name}` appears twice", case.pos)
            names.add(case.name)
            self.case(case, dict(scope), emitted)

    def case(self, case: A.Case, scope: dict, emitted: dict):
        stmts = case.stmts
        body = len(stmts)
        while body and isinstance(stmts[body - 1], A.Emit):
            body -= 1
        for s in stmts[:body]:
            if isinstance(s, A.Emit):
                self.fail("`emit` must be the last statement", s.pos,
                          hint="a pattern (or case) ends with its emits, after its stages")
        if body == len(stmts):
            pos = stmts[-1].pos if stmts else case.pos
            self.fail("every pattern (and every case) ends with `emit`", pos,
                      hint="for example: emit size(mids) when size(mids) >= 2")
        counted = [s for s in stmts[body:] if not s.name]
        if len(counted) > 1:
            self.fail("a case has at most one counted `emit`", counted[1].pos,
                      hint="name the others to make them columns of their own: emit NAME = VALUE")
        repeats = next((s for s in stmts[:body] if isinstance(s, (A.For, A.PathStage))), None)
        for s in stmts[body:]:
            if s.name and repeats is not None:
                self.fail(f"named emit `{s.name}` would run once per `{'for' if isinstance(repeats, A.For) else 'path'}` "
                          "instance, but it writes one value per trigger", s.pos,
                          hint="put named emits in a case without `for` and `path` stages (aggregates of an "
                               "`edges` stage do not need a loop)")
            if s.name and s.name in emitted:
                self.fail(f"`{s.name}` is emitted twice", s.pos, hint="each named emit is a column and needs its own name")
            if s.name:
                emitted[s.name] = s.pos
        loops = 0
        paths = []
        for s in stmts:
            if isinstance(s, A.For):
                loops += 1
                if loops > MAX_NESTED_LOOPS:
                    self.fail(f"more than {MAX_NESTED_LOOPS} nested `for` stages would explode on hub accounts", s.pos,
                              hint="use a set stage (`stage S = nodes x in ...`) and size(S) instead of another loop")
                self.node(scope, s.owner, s.pos)
                self.bind(scope, s.var, NODE, s.pos)
                if s.edge:
                    self.bind(scope, s.edge, EDGE, s.pos)
                self.condition(s.where, scope, "`where` condition")
            elif isinstance(s, A.Stage):
                self.stage(s, scope)
            elif isinstance(s, A.PathStage):
                self.path(s, scope)
                paths.append(s.name)
            elif isinstance(s, A.Require):
                self.condition(s.cond, scope, "`require` condition")
            elif isinstance(s, A.Emit):
                if self.type_of(s.value, scope) != NUM:
                    what = "the column's value" if s.name else "the instance size that picks the bin"
                    self.fail(f"`emit` needs a number ({what})", s.value.pos)
                self.condition(s.when, scope, "`when` condition")
                if len(paths) > 1:
                    self.fail("at most one path stage per pattern case", s.pos)

    def node(self, scope: dict, name: str, pos: A.Pos):
        if name not in scope:
            self.fail(f"undefined node `{name}`", pos, hint=self._bind_hint(name, scope))
        if scope[name] != NODE:
            self.fail(f"`{name}` is a {scope[name]}, not a node", pos)

    def stage(self, s: A.Stage, scope: dict):
        inner = dict(scope)
        self.bind(inner, s.var, NODE, s.pos)
        if s.kind == "edges":
            term = s.terms[0]
            if len(s.terms) > 1 or len(term.positive) > 1 or term.negative or \
                    not isinstance(term.positive[0], A.NeighbourAtom):
                self.fail("an `edges` stage counts the window edges of one neighbourhood, like `b.in`", s.pos,
                          hint="use `nodes` for intersections, unions and differences")
        binds_edges = False
        for term in s.terms:
            if not any(isinstance(a, A.NeighbourAtom) for a in term.positive):
                self.fail("each part of a set expression needs a neighbourhood like `a.out` to enumerate", s.pos,
                          hint="write `x in a.out & S`, not `x in S` alone")
            for atom in term.positive + term.negative:
                if isinstance(atom, A.NeighbourAtom):
                    self.node(scope, atom.owner, atom.pos)
                    if atom.edge:
                        if atom in term.negative:
                            self.fail("a subtracted neighbourhood cannot bind an edge", atom.pos)
                        self.bind(inner, atom.edge, EDGE, atom.pos)
                        binds_edges = True
                else:
                    self.node_set(scope, atom.name, atom.pos)
        if binds_edges and len(s.terms) > 1:
            self.fail("edges can be named (`as e`) only in an intersection, not in a union", s.pos)
        self.condition(s.where, inner, "`where` condition")
        self.bind(scope, s.name, SET if s.kind == "nodes" else EDGE_SET, s.pos)
        if s.kind == "edges":
            self.edge_stages[s.name] = s

    def node_set(self, scope: dict, name: str, pos: A.Pos):
        """`name` must be a `nodes` stage defined above (its members are accounts)."""
        if scope.get(name) == EDGE_SET:
            self.fail(f"`{name}` is an `edges` stage: it has a size, not members", pos,
                      hint="membership and set expressions need a `nodes` stage")
        if scope.get(name) != SET:
            self.fail(f"`{name}` is not a set stage defined before this point", pos,
                      hint="define it above this point with `stage NAME = nodes x in ...`")

    def path(self, s: A.PathStage, scope: dict):
        self.node(scope, s.start, s.pos)
        self.node(scope, s.end, s.pos)
        if s.min_hops < 1 or s.max_hops < s.min_hops:
            self.fail(f"bad hop range {s.min_hops}..{s.max_hops}", s.pos, hint="for example: hops 1..9")
        if s.max_hops > MAX_HOPS:
            self.fail(f"paths longer than {MAX_HOPS} hops are not supported", s.pos)
        if not s.increasing and s.max_hops > MAX_UNORDERED_HOPS:
            self.fail(f"paths of up to {s.max_hops} hops in any time order would explode", s.pos,
                      hint=f"add `increasing` (time-respecting paths) or keep hops <= {MAX_UNORDERED_HOPS}")
        inner = dict(scope)
        inner["edge"] = EDGE
        inner["hop"] = "hop"
        self.condition(s.where, inner, "path condition")
        self.bind(scope, s.name, PATH, s.pos)


def subexpressions(e: A.Expr | None):
    """`e` and every expression inside it (nothing for None)."""
    stack = [e]
    while stack:
        x = stack.pop()
        if x is None:
            continue
        yield x
        for child in ("left", "right", "operand", "arg", "element"):
            if isinstance(getattr(x, child, None), A.Expr):
                stack.append(getattr(x, child))


def _token_problem(token) -> tuple[str, str | None] | None:
    """What is wrong with one token of a pattern file (message, hint), or None."""
    kind, value = token.type, str(token)
    if kind == "NAME" and len(value) > MAX_NAME_LENGTH:
        return f"a name of {len(value)} characters (at most {MAX_NAME_LENGTH})", "names become feature column names"
    if kind == "STRING" and len(value) - 2 > MAX_STRING_LENGTH:
        return f"a string of {len(value) - 2} characters (at most {MAX_STRING_LENGTH})", None
    if kind == "NUMBER" and float(value) > MAX_NUMBER:
        return (f"the number {value[:20]}{'...' if len(value) > 20 else ''} is too large (at most {MAX_NUMBER:.0e})",
                "numbers must stay below 1e15, the largest amount a Trans.csv may hold")
    if kind == "INT" and (len(value) > 18 or int(value) > MAX_WHOLE_NUMBER):   # int() refuses 4,300+ digits
        return (f"the whole number {value[:20]}{'...' if len(value) > 20 else ''} is too large "
                f"(at most {MAX_WHOLE_NUMBER:,})", None)
    if kind == "DURATION" and float(value[:-1]) * _DURATION_UNITS[value[-1]] > MAX_DURATION_SECONDS:
        return (f"the duration {value[:20]}{'...' if len(value) > 20 else ''} is too long "
                f"(at most {MAX_DURATION_SECONDS // 86400} days)", "windows must stay below ten years")
    return None


def check_bounds(tree, source: str, text: str) -> None:
    """Raise PatternError where a parse tree exceeds the bounds above (depth, sizes, literals).

    Walks the tree with an explicit stack, so that no input can make this check itself recurse."""
    from lark import Tree

    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, Tree):
            problem = _token_problem(node)
            if problem:
                raise PatternError(problem[0], source, node.line, node.column, text, problem[1])
            continue
        where = node.meta
        if depth > MAX_EXPRESSION_DEPTH:
            raise PatternError(f"expression more than {MAX_EXPRESSION_DEPTH} operators deep",
                               source, getattr(where, "line", 0), getattr(where, "column", 0), text,
                               hint="split it over several `require` statements")
        if node.data == "cases" and len(node.children) > MAX_CASES:
            raise PatternError(f"{len(node.children)} cases in one pattern (at most {MAX_CASES})",
                               source, where.line, where.column, text, hint="split the pattern into several")
        statements = len(node.children) - (node.data == "case")
        if node.data in ("case", "single_case") and statements > MAX_STATEMENTS:
            raise PatternError(f"{statements} statements in one pattern case (at most {MAX_STATEMENTS})",
                               source, where.line, where.column, text, hint="split the pattern into several")
        step = len(node.children) if node.data in _FOLDED else 1
        stack.extend((child, depth + step) for child in node.children)


def check_pattern(pattern: A.Pattern, text: str | None = None) -> None:
    """Raise PatternError at the first static mistake in `pattern`."""
    _Checker(pattern, text).run()
