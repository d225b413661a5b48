"""Reference interpreter: executes IR programs in plain Python. Slow and obviously correct.

It reads only the meaning of the IR (scan plans and pruning marks are ignored, sets are
recomputed from their definition, paths are enumerated as vertex sequences), so it serves as the
oracle for every optimised backend. A neighbourhood's window is found by one binary search on
its time-sorted edges and ends at the trigger, so explaining one alert touches only the window.
"""

from __future__ import annotations

import math

import numpy as np

from blazingaml.graph import TemporalGraph
from blazingaml.ir import nodes as I
from blazingaml.kernel_results import WORK_LIMIT

MODES = ("closing", "participation")


def bin_index(value: float, bins: tuple) -> int:
    """GFP's binning: the first bin edge >= value; the last bin takes everything from its edge up."""
    if value >= bins[-1]:
        return len(bins) - 1
    for i, edge in enumerate(bins):
        if value <= edge:
            return i
    return len(bins) - 1


class _Trigger:
    """Everything the interpreter needs about one trigger edge."""

    def __init__(self, g: TemporalGraph, prog: I.Program, e: int):
        self.g, self.prog, self.e = g, prog, e
        self.t = int(g.ts[e])
        # a lagged window starts `window` before the previous edge of the stream
        self.lo = (int(g.ts[e - 1]) if prog.window_lagged and e > 0 else self.t) - prog.window_seconds

    def neighbours(self, owner: int, direction: str):
        """(edge, other account) of `owner`'s window edges in one direction, in time order."""
        adj = self.g.adjacency(direction)
        lo, hi = int(adj.ptr[owner]), int(adj.ptr[owner + 1])
        side = "left" if self.prog.window_inclusive else "right"
        for p in range(lo + int(np.searchsorted(adj.ts[lo:hi], self.lo, side=side)), hi):
            f = int(adj.edge[p])
            if f > self.e:   # edges are numbered in time order: the rest follow the trigger
                break
            yield f, int(adj.nbr[p])


def statistic(func: str, values: list, members: list) -> float:
    """An aggregate of a window's edges, by its definition (docs/language.md): 0 when empty; the
    population moments from deviations to the mean, 0 when all values are equal."""
    n = len(values)
    if func == "count":
        return float(n)
    if func == "distinct":
        return float(len(set(members)))
    if n == 0:
        return 0.0
    xs = np.sort(np.asarray(values, np.float64))
    mean = math.fsum(xs) / n
    if func in ("sum", "mean", "min", "max", "median"):
        middle = xs[(n - 1) // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2
        return {"sum": math.fsum(xs), "mean": mean, "min": xs[0], "max": xs[-1], "median": middle}[func]
    if xs[0] == xs[-1]:
        return 0.0
    dev = xs - mean
    m2, m3, m4 = (math.fsum(dev ** k) / n for k in (2, 3, 4))
    return {"var": m2, "std": math.sqrt(m2), "skew": m3 / m2 ** 1.5, "kurtosis": m4 / m2 ** 2}[func]


class _WorkLimit(Exception):
    """One trigger's path search exceeded the work bound (recorded in `overflow`, not raised)."""


class ReferenceInterpreter:
    def __init__(self, graph: TemporalGraph, mode: str = "closing", max_work: int = 10_000_000):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        self.g, self.mode, self.max_work = graph, mode, max_work
        self.collect: list | None = None
        self.overflow = np.zeros((0, 0), np.int8)   # after run(): [m edges, programs] codes (kernel_results)
        self.path_steps = 0                          # steps of every path search so far

    # ------------------------------------------------------------------ expressions
    def value(self, e, env: dict, tr: _Trigger):
        g = self.g
        if isinstance(e, I.Const):
            return e.value
        if isinstance(e, (I.NodeRef, I.EdgeRef)):
            return env[e.name]
        if isinstance(e, I.HopRef):
            return env["hop"]
        if isinstance(e, I.EdgeAttr):
            f = env[e.edge]
            return float(getattr(g, e.attr)[f]) if e.attr not in ("src", "dst") else int(getattr(g, e.attr)[f])
        if isinstance(e, I.NodeAttr):
            return int(g.bank[env[e.node]])
        if isinstance(e, I.SizeOf):
            return env["#size"][e.set_name]
        if isinstance(e, I.LengthOf):
            return env["#length"][e.path_name]
        if isinstance(e, I.MemberOf):
            return self.member(env["#sets"][e.set_name], env[e.node], env, tr)
        if isinstance(e, I.Aggregate):
            return env["#aggregates"][e]
        if isinstance(e, I.Unary):
            v = self.value(e.operand, env, tr)
            return -float(v) if e.op == "neg" else (not v if e.op == "not" else abs(v))   # double precision: -0.0
        if isinstance(e, I.Binary):
            if e.op == "and":
                return self.value(e.left, env, tr) and self.value(e.right, env, tr)
            if e.op == "or":
                return self.value(e.left, env, tr) or self.value(e.right, env, tr)
            a, b = self.value(e.left, env, tr), self.value(e.right, env, tr)
            if e.op == "/":  # IEEE: x/0 is +-inf (by the sign of zero too), 0/0 is nan
                with np.errstate(divide="ignore", invalid="ignore"):
                    return float(np.float64(a) / np.float64(b))
            return {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "<": lambda: a < b,
                    "<=": lambda: a <= b, ">": lambda: a > b, ">=": lambda: a >= b, "==": lambda: a == b,
                    "!=": lambda: a != b}[e.op]()
        raise TypeError(e)

    def truth(self, e, env, tr) -> bool:
        return True if e is None else bool(self.value(e, env, tr))

    # ------------------------------------------------------------------ sets
    def _atom_edges(self, atom: I.NbrAtom, x: int, env, tr) -> list[int]:
        return [f for f, y in tr.neighbours(env[atom.owner], atom.direction) if y == x]

    def member(self, stage: I.SetCount, x: int, env: dict, tr: _Trigger) -> bool:
        """Is x a member of `stage` evaluated in the bindings `env`?"""
        for term in stage.terms:
            ok = True
            bound: list[tuple[str, list[int]]] = []
            for atom in term.positive:
                if isinstance(atom, I.NbrAtom):
                    edges = self._atom_edges(atom, x, env, tr)
                    if not edges:
                        ok = False
                        break
                    if atom.edge:
                        bound.append((atom.edge, edges))
                elif not self.member(env["#sets"][atom.name], x, env, tr):
                    ok = False
                    break
            if not ok:
                continue
            for atom in term.negative:
                inside = (bool(self._atom_edges(atom, x, env, tr)) if isinstance(atom, I.NbrAtom)
                          else self.member(env["#sets"][atom.name], x, env, tr))
                if inside:
                    ok = False
                    break
            if not ok:
                continue
            if self._exists(stage.filter, {**env, stage.var: x}, bound, tr):
                return True
        return False

    def _exists(self, cond, env, bound, tr) -> bool:
        if not bound:
            return self.truth(cond, env, tr)
        name, edges = bound[0]
        return any(self._exists(cond, {**env, name: f}, bound[1:], tr) for f in edges)

    def set_members(self, stage: I.SetCount, env: dict, tr: _Trigger) -> list:
        """Members (nodes) or counted edges of a set stage."""
        if stage.kind == "edges":
            atom = stage.terms[0].positive[0]
            out = []
            for f, x in tr.neighbours(env[atom.owner], atom.direction):
                local = {**env, stage.var: x}
                if atom.edge:
                    local[atom.edge] = f
                if self.truth(stage.filter, local, tr):
                    out.append(f)
            return out
        candidates: dict[int, None] = {}
        for term in stage.terms:
            for atom in term.positive:
                if isinstance(atom, I.NbrAtom):
                    for _, x in tr.neighbours(env[atom.owner], atom.direction):
                        candidates.setdefault(x)
        return [x for x in candidates if self.member(stage, x, env, tr)]

    def _set_edges(self, stage: I.SetCount, members: list, env, tr) -> set:
        """Edges credited in participation mode: every window edge joining a member to its atoms."""
        if stage.kind == "edges":
            return set(members)
        edges = set()
        for x in members:
            for term in stage.terms:
                for atom in term.positive:
                    if isinstance(atom, I.NbrAtom):
                        edges.update(self._atom_edges(atom, x, env, tr))
        return edges

    def _sliding(self, op: I.SlidingCount, env, tr) -> tuple[int, set]:
        owner = env[op.owner]
        seen, edges = set(), set()
        for f, x in tr.neighbours(owner, op.direction):
            if op.skip_self and x == owner:
                continue
            seen.add(x)
            edges.add(f)
        return (len(seen) if op.kind == "nodes" else len(edges)), edges

    # ------------------------------------------------------------------ paths
    def paths(self, op: I.PathCount, env, tr):
        """Yield the edge lists of paths, one per vertex sequence (greedy earliest edges)."""
        start, end = env[op.start], env[op.end]
        work = [0]

        def hop_edges(v, x, after_ts, hop):
            for f, y in tr.neighbours(v, op.direction):
                if y != x:
                    continue
                if op.increasing and not (after_ts < self.g.ts[f] < tr.t):
                    continue
                if self.truth(op.filter, {**env, "edge": f, "hop": hop}, tr):
                    return f  # adjacency is time-sorted: the first qualifying edge is the earliest
            return None

        def extend(path_nodes, path_edges, last_ts):
            v = path_nodes[-1]
            hop = len(path_edges) + 1
            nbrs = dict.fromkeys(x for _, x in tr.neighbours(v, op.direction))
            for x in nbrs:
                if x in path_nodes:
                    continue
                f = hop_edges(v, x, last_ts, hop)
                if f is None:
                    continue
                work[0] += 1
                self.path_steps += 1
                if work[0] > self.max_work:
                    raise _WorkLimit()
                if x == end:
                    if hop >= op.min_hops:
                        yield path_edges + [f]
                    continue
                if hop < op.max_hops:
                    yield from extend(path_nodes + [x], path_edges + [f], self.g.ts[f])

        if start == end:
            return
        yield from extend([start], [], -np.inf)

    # ------------------------------------------------------------------ execution
    def run_ops(self, ops, env, tr, credited: set, out, col0):
        if not ops:
            return
        op, rest = ops[0], ops[1:]
        if isinstance(op, I.Loop):
            seen = set()
            for f, x in tr.neighbours(env[op.owner], op.direction):
                local = {**env, op.var: x, op.edge: f}
                if not self.truth(op.filter, local, tr):
                    continue
                if op.distinct:
                    if x in seen:
                        continue
                    seen.add(x)
                self.run_ops(rest, local, tr, credited | {f}, out, col0)
        elif isinstance(op, I.SetCount):
            members = self.set_members(op, env, tr)
            local = {**env, "#size": {**env["#size"], op.name: len(members)},
                     "#sets": {**env["#sets"], op.name: op},
                     "#credit": {**env["#credit"], op.name: (op, members)}}
            self.run_ops(rest, local, tr, credited, out, col0)
        elif isinstance(op, I.SlidingCount):
            size, edges = self._sliding(op, env, tr)
            local = {**env, "#size": {**env["#size"], op.name: size},
                     "#credit": {**env["#credit"], op.name: ("edges", edges)}}
            self.run_ops(rest, local, tr, credited, out, col0)
        elif isinstance(op, I.WindowAggregates):
            edges, members = [], []
            for f, x in tr.neighbours(env[op.owner], op.direction):
                if self.truth(op.filter, {**env, op.var: x, op.edge: f}, tr):
                    edges.append(f)
                    members.append(x)
            found = {a: statistic(a.func, [self.value(a.value, {**env, op.name: f}, tr) for f in edges]
                                  if a.value is not None else edges, members) for a in op.aggregates}
            local = {**env, "#aggregates": {**env.get("#aggregates", {}), **found},
                     "#credit": {**env["#credit"], op.name: ("edges", set(edges))}}
            self.run_ops(rest, local, tr, credited, out, col0)
        elif isinstance(op, I.PathCount):
            for edges in self.paths(op, env, tr):
                local = {**env, "#length": {**env["#length"], op.name: len(edges)}}
                self.run_ops(rest, local, tr, credited | set(edges), out, col0)
        elif isinstance(op, I.Require):
            if self.truth(op.cond, env, tr):
                self.run_ops(rest, env, tr, credited, out, col0)
        elif isinstance(op, I.Emit) and op.name:
            # one value per trigger, in both modes, written to the trigger's row
            if self.truth(op.when, env, tr):
                out[tr.e, col0 + len(tr.prog.bins) + tr.prog.named.index(op.name)] = self.value(op.value, env, tr)
            self.run_ops(rest, env, tr, credited, out, col0)
        elif isinstance(op, I.Emit):
            self.run_ops(rest, env, tr, credited, out, col0)
            if not self.truth(op.when, env, tr):
                return
            value = self.value(op.value, env, tr)
            b = col0 + bin_index(value, tr.prog.bins)
            if self.mode == "closing" and self.collect is None:
                out[tr.e, b] += 1
                return
            members = set(credited) | {tr.e}
            used = I.free_names(op.value) | I.free_names(op.when)
            for name, (stage, items) in env["#credit"].items():
                if name in used:
                    members |= items if stage == "edges" else self._set_edges(stage, items, env, tr)
            if self.collect is not None:
                self.collect.append({"pattern": tr.prog.name, "case": env["#case"], "value": float(value),
                                     "edges": sorted(int(f) for f in members)})
            if self.mode == "closing":
                out[tr.e, b] += 1
                return
            for f in members:
                out[f, b] += 1
        else:
            raise TypeError(op)

    def instances(self, programs, triggers) -> list[dict]:
        """The pattern instances each given trigger edge closes, with their member edges."""
        found: list[dict] = []
        for e in triggers:
            self.collect = []
            self.run(programs, edges=[int(e)])
            for inst in self.collect:
                inst["trigger"] = int(e)
            found.extend(self.collect)
        self.collect = None
        return found

    def run(self, programs, edges=None) -> np.ndarray:
        """Feature matrix [m, total bins] in edge-number order (triggers: `edges`, default all).

        A trigger whose path search exceeds `max_work` steps stops there, keeping what it
        counted so far, and gets code WORK_LIMIT in `self.overflow` [m, programs]."""
        g = self.g
        total = sum(len(p.columns) for p in programs)
        out = np.zeros((g.m, total), dtype=np.float64 if any(p.named for p in programs) else np.int32)
        self.overflow = np.zeros((g.m, len(programs)), np.int8)
        col0 = 0
        for j, prog in enumerate(programs):
            for e in (range(g.m) if edges is None else edges):
                tr = _Trigger(g, prog, e)
                env = {prog.trigger_src: int(g.src[e]), prog.trigger_dst: int(g.dst[e]), prog.trigger_edge: e,
                       "#size": {}, "#length": {}, "#sets": {}, "#credit": {}}
                if not self.truth(prog.trigger_filter, env, tr):
                    continue
                try:
                    for case in prog.cases:
                        self.run_ops(case.ops, {**env, "#case": case.name}, tr, frozenset({e}), out, col0)
                except _WorkLimit:
                    self.overflow[e, j] = WORK_LIMIT
            col0 += len(prog.columns)
        return out
