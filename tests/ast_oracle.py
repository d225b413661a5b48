"""A second oracle: evaluates checked AST patterns by brute-force enumeration of their bindings.

It follows docs/language.md sentence by sentence and shares no code with the lowering, the IR,
the reference interpreter or the graph store: it reads plain per-transaction lists in input
order, puts them in the edge order itself, and enumerates every binding of every statement
(every account is a candidate set member, every sequence of accounts a candidate path). So a
mistake in `ir/lower.py` or in the reference interpreter shows up as a disagreement. Small
graphs only: it is written for clarity, not speed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from blazingaml.dsl import ast as A
from blazingaml.dsl.checks import AGGREGATES
from blazingaml.io.vocab import CURRENCIES, PAYMENT_FORMATS


@dataclass(frozen=True)
class Tx:
    """One transaction: `order` is its place in the edge order (timestamp, then input order)."""

    order: int
    row: int
    src: int
    dst: int
    ts: int
    amount_paid: float
    amount_received: float
    currency_paid: str
    currency_received: str
    format: str


def transactions(src, dst, ts, tx_id, amount_paid, amount_received, pay_currency, recv_currency,
                 payment_format) -> list[Tx]:
    """Transactions in edge order, from per-row arrays in input order."""
    rows = sorted(range(len(src)), key=lambda r: (int(ts[r]), int(tx_id[r])))
    return [Tx(k, r, int(src[r]), int(dst[r]), int(ts[r]), float(amount_paid[r]), float(amount_received[r]),
               CURRENCIES[int(pay_currency[r])], CURRENCIES[int(recv_currency[r])],
               PAYMENT_FORMATS[int(payment_format[r])]) for k, r in enumerate(rows)]


def bin_of(value: float, bins: tuple) -> int:
    """The first bin whose edge is at least the value; the last bin takes everything from its
    edge up (and a value that is not a number, such as 0/0)."""
    if not value < bins[-1]:
        return len(bins) - 1
    return next(i for i, edge in enumerate(bins) if value <= edge)


@dataclass
class SetValue:
    """A set stage's value at its definition: members (nodes) or counted edges, and the
    neighbourhoods its expression names (for participation credit)."""

    stage: A.Stage
    members: list          # accounts (nodes stage) or transactions (edges stage)
    credited: frozenset    # the window edges a participation instance credits


class _Trigger:
    """Everything one trigger sees: its window (the transactions that precede or are the trigger
    and lie in [t - w, t] or (t - w, t])."""

    def __init__(self, oracle: "AstOracle", p: A.Pattern, trigger: Tx):
        self.o, self.p, self.tx = oracle, p, trigger
        # lagged: the window starts `window` before the previous transaction of the stream
        start = oracle.txs[trigger.order - 1].ts if p.window_lagged and trigger.order > 0 else trigger.ts
        lo = start - p.window_seconds
        self.window = [f for f in oracle.txs[:trigger.order + 1] if (f.ts >= lo if p.window_inclusive else f.ts > lo)]

    def edges_of(self, owner: int, direction: str) -> list[tuple[Tx, int]]:
        """(transaction, the other account) for the window edges of `owner` in one direction."""
        if direction == "out":
            return [(f, f.dst) for f in self.window if f.src == owner]
        return [(f, f.src) for f in self.window if f.dst == owner]

    def joining(self, owner: int, direction: str, x: int) -> list[Tx]:
        return [f for f, y in self.edges_of(owner, direction) if y == x]


class AstOracle:
    def __init__(self, txs: list[Tx], banks, mode: str = "closing"):
        self.txs, self.banks, self.mode = txs, [int(b) for b in banks], mode
        self.accounts = range(len(self.banks))

    # ------------------------------------------------------------------ expressions
    def value(self, e: A.Expr, env: dict, tr: _Trigger):
        if isinstance(e, A.Number):
            return float(e.value)
        if isinstance(e, A.Duration):
            return float(e.seconds)
        if isinstance(e, A.String):
            return e.value
        if isinstance(e, A.Name):
            kind, v = env[e.name]
            return v
        if isinstance(e, A.Attribute):
            kind, v = env[e.target]
            if kind == "node":
                return ("bank", self.banks[v])
            attr = getattr(v, e.attr)
            return float(attr) if e.attr in ("ts", "amount_paid", "amount_received") else attr
        if isinstance(e, A.Call) and e.func in AGGREGATES:
            return self.aggregate(e, env)
        if isinstance(e, A.Call):
            if e.func == "abs":
                return abs(self.value(e.arg, env, tr))
            kind, v = env[e.arg.name]
            return float(len(v.members)) if kind == "set" else float(v)
        if isinstance(e, A.Member):
            kind, members = env[e.set_name]
            return env[e.element.name][1] in members.members
        if isinstance(e, A.Unary):
            v = self.value(e.operand, env, tr)
            return (not v) if e.op == "not" else -v
        if isinstance(e, A.Binary):
            if e.op == "and":
                return bool(self.value(e.left, env, tr)) and bool(self.value(e.right, env, tr))
            if e.op == "or":
                return bool(self.value(e.left, env, tr)) or bool(self.value(e.right, env, tr))
            a, b = self.value(e.left, env, tr), self.value(e.right, env, tr)
            if e.op == "/":
                with np.errstate(divide="ignore", invalid="ignore"):
                    return float(np.float64(a) / np.float64(b))
            if e.op in ("+", "-", "*"):
                return {"+": a + b, "-": a - b, "*": a * b}[e.op]
            if e.op in ("==", "!="):
                same = a == b
                return same if e.op == "==" else not same
            return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[e.op]
        raise TypeError(e)

    def aggregate(self, e: A.Call, env: dict) -> float:
        """An aggregate of an edges stage's counted edges, from its definition in docs/language.md."""
        stage = e.arg.name if isinstance(e.arg, A.Name) else _attribute_target(e.arg)
        v = env[stage][1]
        edges = v.members
        if e.func == "count":
            return float(len(edges))
        if e.func == "distinct":
            out = v.stage.terms[0].positive[0].direction == "out"
            return float(len({f.dst if out else f.src for f in edges}))
        xs = [self.value(e.arg, {stage: ("edge", f)}, None) for f in edges]
        if not xs:
            return 0.0
        xs = np.array(xs)
        if e.func in ("sum", "mean", "min", "max", "median"):
            return float({"sum": np.sum, "mean": np.mean, "min": np.min, "max": np.max,
                          "median": np.median}[e.func](xs))
        if xs.min() == xs.max():
            return 0.0
        dev = xs - xs.mean()
        var = float(np.mean(dev ** 2))
        return {"var": var, "std": math.sqrt(var), "skew": float(np.mean(dev ** 3)) / var ** 1.5,
                "kurtosis": float(np.mean(dev ** 4)) / var ** 2}[e.func]

    def holds(self, cond: A.Expr | None, env: dict, tr: _Trigger) -> bool:
        return cond is None or bool(self.value(cond, env, tr))

    # ------------------------------------------------------------------ sets
    def in_atom(self, atom, x: int, env: dict, tr: _Trigger) -> bool:
        if isinstance(atom, A.NamedAtom):
            return x in env[atom.name][1].members
        return bool(tr.joining(env[atom.owner][1], atom.direction, x))

    def some_edges_satisfy(self, stage: A.Stage, term: A.SetTerm, x: int, env: dict, tr: _Trigger) -> bool:
        """Is there a choice of the term's named edges under which the `where` holds?"""
        named = [a for a in term.positive if isinstance(a, A.NeighbourAtom) and a.edge]
        choices = [[(a.edge, f) for f in tr.joining(env[a.owner][1], a.direction, x)] for a in named]

        def search(i: int, local: dict) -> bool:
            if i == len(choices):
                return self.holds(stage.where, local, tr)
            return any(search(i + 1, {**local, name: ("edge", f)}) for name, f in choices[i])

        return search(0, {**env, stage.var: ("node", x)})

    def set_value(self, stage: A.Stage, env: dict, tr: _Trigger) -> SetValue:
        atoms = [a for t in stage.terms for a in t.positive if isinstance(a, A.NeighbourAtom)]
        if stage.kind == "edges":
            atom = atoms[0]
            owner = env[atom.owner][1]
            counted = []
            for f, x in tr.edges_of(owner, atom.direction):
                local = {**env, stage.var: ("node", x)}
                if atom.edge:
                    local[atom.edge] = ("edge", f)
                if self.holds(stage.where, local, tr):
                    counted.append(f)
            return SetValue(stage, counted, frozenset(counted))
        members = []
        for x in self.accounts:
            for term in stage.terms:
                if (all(self.in_atom(a, x, env, tr) for a in term.positive)
                        and not any(self.in_atom(a, x, env, tr) for a in term.negative)
                        and self.some_edges_satisfy(stage, term, x, env, tr)):
                    members.append(x)
                    break
        credited = frozenset(f for x in members for a in atoms
                             for f in tr.joining(env[a.owner][1], a.direction, x))
        return SetValue(stage, members, credited)

    # ------------------------------------------------------------------ paths
    def paths(self, s: A.PathStage, env: dict, tr: _Trigger):
        """Edge lists of the simple paths start ~> end, one per sequence of accounts that has a
        qualifying choice of edges; that choice is the earliest one, hop by hop."""
        start, end = env[s.start][1], env[s.end][1]

        def hop_edges(u: int, x: int, hop: int, after: float) -> list[Tx]:
            found = []
            for f in tr.joining(u, s.direction, x):
                if s.increasing and not (after < f.ts < tr.tx.ts):
                    continue
                if self.holds(s.where, {**env, "edge": ("edge", f), "hop": ("hop", float(hop))}, tr):
                    found.append(f)
            return found

        def choose(accounts: list[int], i: int, after: float):
            """The earliest edge choice for hops i.. of an account sequence, or None."""
            if i == len(accounts) - 1:
                return []
            for f in hop_edges(accounts[i], accounts[i + 1], i + 1, after):
                rest = choose(accounts, i + 1, f.ts)
                if rest is not None:
                    return [f] + rest
            return None

        def sequences(accounts: list[int]):
            hops = len(accounts) - 1
            if accounts[-1] == end:
                if hops >= s.min_hops:
                    yield accounts
                return
            if hops == s.max_hops:
                return
            for x in self.accounts:
                if x not in accounts:
                    yield from sequences(accounts + [x])

        if start == end:
            return
        for accounts in sequences([start]):
            edges = choose(accounts, 0, -math.inf)
            if edges is not None:
                yield edges

    # ------------------------------------------------------------------ statements
    def run(self, stmts: tuple, env: dict, members: frozenset, tr: _Trigger, out, col0: int):
        s, rest = stmts[0], stmts[1:]
        if isinstance(s, A.For):
            seen = set()
            for f, x in tr.edges_of(env[s.owner][1], s.direction):
                local = {**env, s.var: ("node", x)}
                if s.edge:
                    local[s.edge] = ("edge", f)
                if not self.holds(s.where, local, tr):
                    continue
                if s.distinct:
                    if x in seen:
                        continue
                    seen.add(x)
                self.run(rest, local, members | {f}, tr, out, col0)
        elif isinstance(s, A.Stage):
            self.run(rest, {**env, s.name: ("set", self.set_value(s, env, tr))}, members, tr, out, col0)
        elif isinstance(s, A.PathStage):
            for edges in self.paths(s, env, tr):
                self.run(rest, {**env, s.name: ("path", len(edges))}, members | frozenset(edges), tr, out, col0)
        elif isinstance(s, A.Require):
            if self.holds(s.cond, env, tr):
                self.run(rest, env, members, tr, out, col0)
        elif isinstance(s, A.Emit) and s.name:
            if self.holds(s.when, env, tr):   # a named emit writes its value in the trigger's row
                out[tr.tx.row, col0 + len(tr.p.bins) + tr.p.named_emits().index(s.name)] = self.value(s.value, env, tr)
            if rest:
                self.run(rest, env, members, tr, out, col0)
        elif isinstance(s, A.Emit):
            if rest:   # the case's other emits
                self.run(rest, env, members, tr, out, col0)
            if not self.holds(s.when, env, tr):
                return
            b = col0 + bin_of(self.value(s.value, env, tr), tr.p.bins)
            if self.mode == "closing":
                out[tr.tx.row, b] += 1
                return
            named = _names(s.value) | _names(s.when)
            credited = set(members) | {tr.tx}
            for name in named:
                kind, v = env.get(name, (None, None))
                if kind == "set":
                    credited |= v.credited
            for f in credited:
                out[f.row, b] += 1
        else:
            raise TypeError(s)

    def features(self, patterns) -> np.ndarray:
        """[rows in input order, columns] histogram counts and named values of every pattern."""
        out = np.zeros((len(self.txs), sum(len(p.columns()) for p in patterns)),
                       np.float64 if any(p.named_emits() for p in patterns) else np.int64)
        col0 = 0
        for p in patterns:
            t = p.trigger
            for tx in self.txs:
                tr = _Trigger(self, p, tx)
                env = {t.src: ("node", tx.src), t.dst: ("node", tx.dst), t.edge: ("edge", tx)}
                if not self.holds(t.where, env, tr):
                    continue
                for case in p.cases:
                    self.run(case.stmts, env, frozenset(), tr, out, col0)
            col0 += len(p.columns())
        return out


def _names(e) -> set[str]:
    """Stage names an expression mentions (in size(), length() or membership)."""
    if e is None:
        return set()
    if isinstance(e, A.Call) and e.func in AGGREGATES and not isinstance(e.arg, A.Name):
        return {_attribute_target(e.arg)}
    if isinstance(e, A.Call):
        return ({e.arg.name} if isinstance(e.arg, A.Name) else set()) | _names(e.arg)
    if isinstance(e, A.Member):
        return {e.set_name}
    if isinstance(e, A.Unary):
        return _names(e.operand)
    if isinstance(e, A.Binary):
        return _names(e.left) | _names(e.right)
    return set()


def _attribute_target(e) -> str:
    """The stage whose edge an aggregate's value reads (`S` in `mean(S.amount_paid * 2)`)."""
    if isinstance(e, A.Attribute):
        return e.target
    for child in (getattr(e, "left", None), getattr(e, "right", None), getattr(e, "operand", None),
                  getattr(e, "arg", None)):
        if isinstance(child, A.Expr):
            found = _attribute_target(child)
            if found:
                return found
    return ""


def oracle_features(patterns, src, dst, ts, tx_id, banks, mode="closing", amount_paid=None, amount_received=None,
                    pay_currency=None, recv_currency=None, payment_format=None) -> np.ndarray:
    """Feature matrix of `patterns` (checked AST) over per-row arrays in input order."""
    m = len(src)
    zeros = np.zeros(m)
    txs = transactions(src, dst, ts, tx_id, zeros if amount_paid is None else amount_paid,
                       zeros if amount_received is None else amount_received,
                       np.zeros(m, int) if pay_currency is None else pay_currency,
                       np.zeros(m, int) if recv_currency is None else recv_currency,
                       np.zeros(m, int) if payment_format is None else payment_format)
    return AstOracle(txs, banks, mode).features(patterns)
