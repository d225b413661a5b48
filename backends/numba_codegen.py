"""Numba backend: generate readable Python source for a fused kernel and compile it with njit.

The generated module has one function, `kernel`, `njit(parallel=True, nogil=True, cache=True)`,
with a `prange` over trigger edges (in the order chosen by the load-balancing pass). Every block
of generated code carries a comment naming the pattern stage it comes from. Source files are
written to a cache directory keyed by the IR digest, so Numba's on-disk cache makes a second run
compile nothing. Generated text is built only from validated IR: names become fixed identifiers,
numbers are printed with repr, and no user text is pasted in.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from blazingaml.ir import nodes as I

GRAPH_ARGS = (
    "src", "dst", "ts", "amount_paid", "amount_received", "pay_currency", "recv_currency", "payment_format", "bank",
    "o_ptr", "o_edge", "o_nbr", "o_ts", "o_nse", "o_nsn", "o_nst",
    "i_ptr", "i_edge", "i_nbr", "i_ts", "i_nse", "i_nsn", "i_nst",
)
KERNEL_ARGS = ("order",) + GRAPH_ARGS + (
    "bins_all", "out", "overflow", "stamp", "max_work", "sc_node", "sc_edge", "sc_pos", "sc_ts", "sliding",
)
_ATTR_ARRAY = {
    "ts": "ts", "amount_paid": "amount_paid", "amount_received": "amount_received", "pay_currency": "pay_currency",
    "recv_currency": "recv_currency", "payment_format": "payment_format", "src": "src", "dst": "dst",
}
MAX_PATH_HOPS = 64


def graph_arrays(graph) -> tuple:
    """The graph's arrays in GRAPH_ARGS order."""
    o, i = graph.out, graph.inc
    return (graph.src, graph.dst, graph.ts, graph.amount_paid, graph.amount_received, graph.pay_currency,
            graph.recv_currency, graph.payment_format, graph.bank,
            o.ptr, o.edge, o.nbr, o.ts, o.ns_edge, o.ns_nbr, o.ns_ts,
            i.ptr, i.edge, i.nbr, i.ts, i.ns_edge, i.ns_nbr, i.ns_ts)


class _Env:
    """Names visible at one point of the generated code."""

    def __init__(self, names=None, sizes=None, lengths=None, sets=None, members=None, loop_edges=(), path=None,
                 credit_sets=None):
        self.names = dict(names or {})       # IR node/edge name -> python variable
        self.sizes = dict(sizes or {})       # set name -> python variable holding its size
        self.lengths = dict(lengths or {})   # path name -> python variable holding its length
        self.sets = dict(sets or {})         # set name -> SetCount op (for membership and credit)
        self.members = dict(members or {})   # MemberOf key -> flag variable
        self.loop_edges = tuple(loop_edges)  # python variables of edges bound by loops
        self.path = path                     # (edge stack var, hop var) inside a path stage
        self.credit_sets = dict(credit_sets or {})

    def but(self, **kw) -> "_Env":
        env = _Env(self.names, self.sizes, self.lengths, self.sets, self.members, self.loop_edges, self.path,
                   self.credit_sets)
        for k, v in kw.items():
            setattr(env, k, v)
        return env


class NumbaCodegen:
    def __init__(self, kernel: I.Kernel, mode: str = "closing"):
        self.kernel, self.mode = kernel, mode
        self.lines: list[str] = []
        self.counter = 0
        self.prog: I.Program | None = None
        self.bins_offset = 0
        self.col_offset = 0
        self.sliding_index = {}
        for pi, p in enumerate(kernel.programs):
            for c in p.cases:
                for op in c.ops:
                    if isinstance(op, I.SlidingCount):
                        self.sliding_index[(pi, op.name)] = len(self.sliding_index)

    # ------------------------------------------------------------------ utilities
    def w(self, depth: int, line: str):
        self.lines.append("    " * depth + line)

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    @staticmethod
    def adj(direction: str) -> str:
        return "o_" if direction == "out" else "i_"

    def incl(self) -> str:
        return "True" if self.prog.window_inclusive else "False"

    def in_window_after_start(self) -> str:
        """The lower window test on an edge's timestamp variable (for filter-mode scans)."""
        return ">=" if self.prog.window_inclusive else ">"

    # ------------------------------------------------------------------ expressions
    def expr(self, e, env: _Env) -> str:
        if isinstance(e, I.Const):
            v = float(e.value)
            return repr(int(v)) if v.is_integer() and abs(v) < 2**53 else repr(v)
        if isinstance(e, (I.NodeRef, I.EdgeRef)):
            return env.names[e.name]
        if isinstance(e, I.HopRef):
            return env.names["hop"]
        if isinstance(e, I.EdgeAttr):
            return f"{_ATTR_ARRAY[e.attr]}[{env.names[e.edge]}]"
        if isinstance(e, I.NodeAttr):
            return f"bank[{env.names[e.node]}]"
        if isinstance(e, I.SizeOf):
            return env.sizes[e.set_name]
        if isinstance(e, I.LengthOf):
            return env.lengths[e.path_name]
        if isinstance(e, I.MemberOf):
            return env.members[(e.node, e.set_name)]
        if isinstance(e, I.Unary):
            inner = self.expr(e.operand, env)
            return {"neg": f"(-{inner})", "not": f"(not {inner})", "abs": f"abs({inner})"}[e.op]
        if isinstance(e, I.Binary):
            op = e.op
            return f"({self.expr(e.left, env)} {op} {self.expr(e.right, env)})"
        raise TypeError(e)

    def prepare(self, e, env: _Env, depth: int) -> _Env:
        """Emit membership tests that `e` needs; return an env where they are flags."""
        found = [x for x in I.walk(e) if isinstance(x, I.MemberOf)]
        if not found:
            return env
        members = dict(env.members)
        for m in found:
            if (m.node, m.set_name) not in members:
                members[(m.node, m.set_name)] = self.set_member(env.sets[m.set_name], env.names[m.node], env, depth)
        return env.but(members=members)

    def cond(self, e, env: _Env, depth: int) -> str:
        if e is None:
            return "True"
        env = self.prepare(e, env, depth)
        return self.expr(e, env)

    # ------------------------------------------------------------------ adjacency scans
    def scan_open(self, depth: int, scan: I.Scan, direction: str, owner: str, comment: str) -> tuple[str, str, str, str]:
        """Open a loop over the window edges of `owner`; returns (edge var, nbr var, lo var, hi var)."""
        a = self.adj(direction)
        lo, hi, p, f, x = (self.fresh(n) for n in ("lo", "hi", "p", "f", "x"))
        self.w(depth, f"# {comment}")
        self.w(depth, f"{lo} = {a}ptr[{owner}]")
        self.w(depth, f"{hi} = {a}ptr[{owner} + 1]")
        start = f"ts_lower({a}ts, {lo}, {hi}, wlo, {self.incl()})" if scan.lower == "search" else lo
        self.w(depth, f"for {p} in range({start}, {hi}):")
        self.w(depth + 1, f"{f} = {a}edge[{p}]")
        if scan.upper == "break":
            self.w(depth + 1, f"if {f} > e:")
            self.w(depth + 2, "break")
        else:
            self.w(depth + 1, f"if {f} > e:")
            self.w(depth + 2, "continue")
        if scan.lower != "search":
            self.w(depth + 1, f"if not ({a}ts[{p}] {self.in_window_after_start()} wlo):")
            self.w(depth + 2, "continue")
        self.w(depth + 1, f"{x} = {a}nbr[{p}]")
        return f, x, lo, hi

    def has_edge(self, atom: I.NbrAtom, x: str, env: _Env) -> str:
        a = self.adj(atom.direction)
        owner = env.names[atom.owner]
        return (f"has_window_edge({a}nsn, {a}nst, {a}nse, {a}ptr[{owner}], {a}ptr[{owner} + 1], {x}, wlo, "
                f"{self.incl()}, e)")

    def run_loops(self, atoms: list, x: str, env: _Env, depth: int, body) -> int:
        """Nested loops over the window edges joining x to each atom's owner (binding atom.edge)."""
        for atom in atoms:
            a = self.adj(atom.direction)
            owner = env.names[atom.owner]
            lo, hi, q, g = (self.fresh(n) for n in ("rlo", "rhi", "q", "g"))
            self.w(depth, f"{lo} = {a}ptr[{owner}]")
            self.w(depth, f"{hi} = {a}ptr[{owner} + 1]")
            self.w(depth, f"for {q} in range(ns_first({a}nsn, {a}nst, {lo}, {hi}, {x}, wlo, {self.incl()}), {hi}):")
            self.w(depth + 1, f"if {a}nsn[{q}] != {x}:")
            self.w(depth + 2, "break")
            self.w(depth + 1, f"{g} = {a}nse[{q}]")
            self.w(depth + 1, f"if {g} > e:")
            self.w(depth + 2, "break")
            depth += 1
            if atom.edge:
                env = env.but(names={**env.names, atom.edge: g})
            else:
                env = env.but(names={**env.names, f"#run{self.counter}": g})
        body(env, depth)
        return depth

    # ------------------------------------------------------------------ sets
    def exists(self, cond, bound: list, x: str, env: _Env, depth: int) -> str:
        """Flag: some choice of the bound atoms' edges to x satisfies `cond`."""
        flag = self.fresh("ok")
        if not bound:
            self.w(depth, f"{flag} = {self.cond(cond, env, depth)}")
            return flag
        self.w(depth, f"{flag} = False")

        def body(inner_env, d):
            self.w(d, f"if {self.cond(cond, inner_env, d)}:")
            self.w(d + 1, f"{flag} = True")
            self.w(d + 1, "break")

        end_depth = self.run_loops(bound, x, env, depth, body)
        # propagate the break outwards through the nested loops
        for d in range(end_depth - 1, depth, -1):
            self.w(d, f"if {flag}:")
            self.w(d + 1, "break")
        return flag

    def term_member(self, stage: I.SetCount, term: I.Term, x: str, env: _Env, depth: int) -> str:
        flag = self.fresh("inside")
        self.w(depth, f"{flag} = True")
        xenv = env.but(names={**env.names, stage.var: x})
        for atom in term.positive:
            self.w(depth, f"if {flag}:")
            if isinstance(atom, I.NbrAtom):
                self.w(depth + 1, f"{flag} = {self.has_edge(atom, x, env)}")
            else:
                sub = self.set_member(env.sets[atom.name], x, env, depth + 1)
                self.w(depth + 1, f"{flag} = {sub}")
        for atom in term.negative:
            self.w(depth, f"if {flag}:")
            if isinstance(atom, I.NbrAtom):
                self.w(depth + 1, f"{flag} = not {self.has_edge(atom, x, env)}")
            else:
                sub = self.set_member(env.sets[atom.name], x, env, depth + 1)
                self.w(depth + 1, f"{flag} = not {sub}")
        if stage.filter is not None:
            self.w(depth, f"if {flag}:")
            bound = [a for a in term.positive if isinstance(a, I.NbrAtom) and a.edge]
            ok = self.exists(stage.filter, bound, x, xenv, depth + 1)
            self.w(depth + 1, f"{flag} = {ok}")
        return flag

    def set_member(self, stage: I.SetCount, x: str, env: _Env, depth: int) -> str:
        """Emit the membership test of x in a set stage, recomputed on demand; returns its flag."""
        flag = self.fresh("member")
        self.w(depth, f"# is {x} in set stage `{stage.name}`? (recomputed on demand, never stored)")
        self.w(depth, f"{flag} = False")
        for term in stage.terms:
            self.w(depth, f"if not {flag}:")
            t = self.term_member(stage, term, x, env, depth + 1)
            self.w(depth + 1, f"{flag} = {t}")
        return flag

    def set_enumerate(self, stage: I.SetCount, env: _Env, depth: int, on_member):
        """Enumerate members (nodes) or counted edges; call on_member(env, depth, x, edge_or_None)."""
        if stage.kind == "edges":
            atom = stage.terms[0].positive[0]
            f, x, _, _ = self.scan_open(depth, stage.scan, atom.direction, env.names[atom.owner],
                                        f"edges {stage.var} in {atom.owner}.{atom.direction}")
            names = {**env.names, stage.var: x}
            if atom.edge:
                names[atom.edge] = f
            xenv = env.but(names=names)
            self.w(depth + 1, f"if {self.cond(stage.filter, xenv, depth + 1)}:")
            on_member(xenv, depth + 2, x, f)
            return
        for ti, term in enumerate(stage.terms):
            nbr_atoms = [a for a in term.positive if isinstance(a, I.NbrAtom)]
            if stage.driver == "smallest" and len(nbr_atoms) > 1:
                sizes = []
                for atom in nbr_atoms:
                    a, owner = self.adj(atom.direction), env.names[atom.owner]
                    size = self.fresh("span")
                    self.w(depth, f"{size} = {a}ptr[{owner} + 1] - ts_lower({a}ts, {a}ptr[{owner}], "
                                  f"{a}ptr[{owner} + 1], wlo, {self.incl()})")
                    sizes.append(size)
                self.w(depth, "# intersection: the smallest window drives, the others are binary-searched")
                for i, atom in enumerate(nbr_atoms):
                    others = [s for j, s in enumerate(sizes) if j != i]
                    test = " and ".join(f"{sizes[i]} <= {s}" for s in others)
                    self.w(depth, ("if " if i == 0 else "elif ") + test + ":" if i < len(nbr_atoms) - 1 else "else:")
                    self.drive(stage, ti, term, atom, env, depth + 1, on_member)
            else:
                self.drive(stage, ti, term, nbr_atoms[0], env, depth, on_member)

    def drive(self, stage: I.SetCount, ti: int, term: I.Term, driver: I.NbrAtom, env: _Env, depth: int, on_member):
        a = self.adj(driver.direction)
        f, x, lo, hi = self.scan_open(depth, stage.scan, driver.direction, env.names[driver.owner],
                                      f"stage {stage.name}: candidates {stage.var} from {driver.owner}.{driver.direction}")
        d = depth + 1
        self.w(d, f"# each candidate once: only at its first window edge from {driver.owner}")
        self.w(d, f"if {a}nse[ns_first({a}nsn, {a}nst, {lo}, {hi}, {x}, wlo, {self.incl()})] != {f}:")
        self.w(d + 1, "continue")
        xenv = env.but(names={**env.names, stage.var: x})
        if stage.pushed and stage.member_filter is not None:
            self.w(d, f"if not {self.cond(stage.member_filter, xenv, d)}:")
            self.w(d + 1, "continue")
        for atom in term.positive:
            if atom is driver:
                continue
            if isinstance(atom, I.NbrAtom):
                self.w(d, f"if not {self.has_edge(atom, x, env)}:")
            else:
                flag = self.set_member(env.sets[atom.name], x, env, d)
                self.w(d, f"if not {flag}:")
            self.w(d + 1, "continue")
        for atom in term.negative:
            if isinstance(atom, I.NbrAtom):
                self.w(d, f"if {self.has_edge(atom, x, env)}:")
            else:
                flag = self.set_member(env.sets[atom.name], x, env, d)
                self.w(d, f"if {flag}:")
            self.w(d + 1, "continue")
        for tj in range(ti):  # union: count x once, under the first term that holds it
            flag = self.term_member(stage, stage.terms[tj], x, env, d)
            self.w(d, f"if {flag}:")
            self.w(d + 1, "continue")
        residual = stage.edge_filter if stage.pushed else stage.filter
        if residual is not None:
            bound = [at for at in term.positive if isinstance(at, I.NbrAtom) and at.edge]
            ok = self.exists(residual, bound, x, xenv, d)
            self.w(d, f"if not {ok}:")
            self.w(d + 1, "continue")
        on_member(xenv, d, x, None)

    # ------------------------------------------------------------------ participation credit
    def credit(self, depth: int, edge: str, b: str):
        self.w(depth, f"if stamp[{edge}] != inst:")
        self.w(depth + 1, f"stamp[{edge}] = inst")
        self.w(depth + 1, f"out[{edge}, {b}] += 1")

    def credit_set(self, stage: I.SetCount, env: _Env, depth: int, b: str):
        def on_member(xenv, d, x, f):
            if f is not None:
                self.credit(d, f, b)
                return
            atoms = [a for t in stage.terms for a in t.positive if isinstance(a, I.NbrAtom)]
            for atom in atoms:
                self.w(d, f"if {self.has_edge(atom, x, env)}:")
                aa, owner = self.adj(atom.direction), env.names[atom.owner]
                q, g = self.fresh("cq"), self.fresh("cg")
                self.w(d + 1, f"for {q} in range(ns_first({aa}nsn, {aa}nst, {aa}ptr[{owner}], {aa}ptr[{owner} + 1], "
                              f"{x}, wlo, {self.incl()}), {aa}ptr[{owner} + 1]):")
                self.w(d + 2, f"if {aa}nsn[{q}] != {x}:")
                self.w(d + 3, "break")
                self.w(d + 2, f"{g} = {aa}nse[{q}]")
                self.w(d + 2, f"if {g} > e:")
                self.w(d + 3, "break")
                self.credit(d + 2, g, b)

        self.w(depth, f"# participation: credit the edges of every member of `{stage.name}`")
        self.set_enumerate(stage, env, depth, on_member)

    # ------------------------------------------------------------------ ops
    def ops(self, ops: tuple, env: _Env, depth: int):
        if not ops:
            return
        op, rest = ops[0], ops[1:]
        src = f" ({op.source})" if getattr(op, "source", "") else ""
        if isinstance(op, I.Loop):
            self.w(depth, f"# for {'distinct ' if op.distinct else ''}{op.var} in {op.owner}.{op.direction}{src}")
            f, x, lo, hi = self.scan_open(depth, op.scan, op.direction, env.names[op.owner],
                                          f"window edges of {op.owner}.{op.direction}")
            d = depth + 1
            lenv = env.but(names={**env.names, op.var: x, op.edge: f}, loop_edges=env.loop_edges + (f,))
            if op.filter is not None:
                self.w(d, f"if not {self.cond(op.filter, lenv, d)}:")
                self.w(d + 1, "continue")
            if op.distinct:
                a = self.adj(op.direction)
                if op.edge in I.free_names(op.filter):
                    # first edge to x that passes the filter: scan the (time-ordered) run up to f
                    q, g, seen = self.fresh("q"), self.fresh("g"), self.fresh("earlier")
                    self.w(d, f"{seen} = False")
                    self.w(d, f"for {q} in range(ns_first({a}nsn, {a}nst, {lo}, {hi}, {x}, wlo, {self.incl()}), {hi}):")
                    self.w(d + 1, f"{g} = {a}nse[{q}]")
                    self.w(d + 1, f"if {a}nsn[{q}] != {x} or {g} >= {f}:")
                    self.w(d + 2, "break")
                    genv = lenv.but(names={**lenv.names, op.edge: g})
                    self.w(d + 1, f"if {self.cond(op.filter, genv, d + 1)}:")
                    self.w(d + 2, f"{seen} = True")
                    self.w(d + 2, "break")
                    self.w(d, f"if {seen}:")
                    self.w(d + 1, "continue")
                else:
                    self.w(d, f"if {a}nse[ns_first({a}nsn, {a}nst, {lo}, {hi}, {x}, wlo, {self.incl()})] != {f}:")
                    self.w(d + 1, "continue")
            self.ops(rest, lenv, d)
        elif isinstance(op, I.SetCount):
            c = self.fresh("size_")
            self.w(depth, f"# stage {op.name} = {op.kind} {op.var} in ...{src}: counted, not materialised")
            self.w(depth, f"{c} = 0")

            def on_member(xenv, d, x, f):
                self.w(d, f"{c} += 1")

            self.set_enumerate(op, env, depth, on_member)
            self.ops(rest, env.but(sizes={**env.sizes, op.name: c}, sets={**env.sets, op.name: op}), depth)
        elif isinstance(op, I.SlidingCount):
            self.w(depth, f"# stage {op.name}: windowed aggregate, precomputed by a two-pointer sweep{src}")
            c = self.fresh("size_")
            self.w(depth, f"{c} = sliding[e, {self.sliding_index[(self.prog_index, op.name)]}]")
            self.ops(rest, env.but(sizes={**env.sizes, op.name: c}), depth)
        elif isinstance(op, I.PathCount):
            self.path(op, rest, env, depth)
        elif isinstance(op, I.Require):
            self.w(depth, f"# require{src}")
            self.w(depth, f"if {self.cond(op.cond, env, depth)}:")
            self.ops(rest, env, depth + 1)
        elif isinstance(op, I.Emit):
            self.w(depth, f"# emit {I.expr_text(op.value)} when {I.expr_text(op.when)}{src}")
            self.w(depth, f"if {self.cond(op.when, env, depth)}:")
            d = depth + 1
            b = self.fresh("b")
            val = self.cond(op.value, env, d)
            nb = len(self.prog.bins)
            self.w(d, f"{b} = {self.col_offset} + bin_index({val}, bins_all[{self.bins_offset}:{self.bins_offset + nb}])")
            if self.mode == "closing":
                self.w(d, f"out[e, {b}] += 1")
            else:
                self.w(d, "inst += 1")
                self.credit(d, "e", b)
                for f in env.loop_edges:
                    self.credit(d, f, b)
                if env.path is not None:
                    stack, hop = env.path
                    j = self.fresh("j")
                    self.w(d, f"for {j} in range(1, {hop} + 1):")
                    self.credit(d + 1, f"{stack}[{j}]", b)
                used = I.free_names(op.value) | I.free_names(op.when)
                for name, stage in env.sets.items():
                    if name in used:
                        self.credit_set(stage, env, d, b)
        else:
            raise TypeError(op)

    def time_order_checks(self, depth: int, edge: str, prev_ts: str, stop: str):
        """An increasing path's hop must be before the trigger's time (else `stop`) and after the previous hop."""
        self.w(depth, f"if ts[{edge}] >= t:")
        self.w(depth + 1, stop)
        self.w(depth, f"if ts[{edge}] <= {prev_ts}:")
        self.w(depth + 1, "continue")

    def path(self, op: I.PathCount, rest: tuple, env: _Env, depth: int):
        a = self.adj(op.direction)
        if op.max_hops > MAX_PATH_HOPS:
            raise ValueError("path too long")
        d = depth
        v = {k: self.fresh(k) for k in ("sn", "se", "sp", "st", "lvl", "work", "abort", "cur", "phi", "pp",
                                        "pushed", "pf", "px", "hop", "dup", "jj", "fq", "first", "g", "lo_x", "plo")}
        s_node, t_node = env.names[op.start], env.names[op.end]
        self.w(d, f"# path {op.name} = {op.start} ~> {op.end} via {op.direction}, hops {op.min_hops}..{op.max_hops}"
                  f"{' increasing' if op.increasing else ''} (depth-first, each account sequence once)"
                  f"{' (' + op.source + ')' if op.source else ''}")
        self.w(d, f"{v['sn']} = sc_node[tid]")
        self.w(d, f"{v['se']} = sc_edge[tid]")
        self.w(d, f"{v['sp']} = sc_pos[tid]")
        self.w(d, f"{v['st']} = sc_ts[tid]")
        self.w(d, f"if {s_node} != {t_node}:")
        d += 1
        self.w(d, f"{v['lvl']} = 0")
        self.w(d, f"{v['work']} = 0")
        self.w(d, f"{v['abort']} = False")
        self.w(d, f"{v['sn']}[0] = {s_node}")
        self.w(d, f"{v['st']}[0] = wlo - 1")
        start0 = (f"ts_lower({a}ts, {a}ptr[{s_node}], {a}ptr[{s_node} + 1], wlo, {self.incl()})"
                  if op.scan.lower == "search" else f"{a}ptr[{s_node}]")
        self.w(d, f"{v['sp']}[0] = {start0}")
        self.w(d, f"while {v['lvl']} >= 0:")
        d1 = d + 1
        self.w(d1, f"{v['cur']} = {v['sn']}[{v['lvl']}]")
        self.w(d1, f"{v['phi']} = {a}ptr[{v['cur']} + 1]")
        self.w(d1, f"{v['pp']} = {v['sp']}[{v['lvl']}]")
        self.w(d1, f"{v['pushed']} = False")
        self.w(d1, f"while {v['pp']} < {v['phi']}:")
        d2 = d1 + 1
        self.w(d2, f"{v['pf']} = {a}edge[{v['pp']}]")
        self.w(d2, f"{v['px']} = {a}nbr[{v['pp']}]")
        self.w(d2, f"{v['pp']} += 1")
        stop = "break" if op.scan.upper == "break" else "continue"
        self.w(d2, f"if {v['pf']} > e:")
        self.w(d2 + 1, stop)
        if op.scan.lower != "search":
            self.w(d2, f"if not (ts[{v['pf']}] {self.in_window_after_start()} wlo):")
            self.w(d2 + 1, "continue")
        if op.increasing:
            self.time_order_checks(d2, v["pf"], f"{v['st']}[{v['lvl']}]", stop)
        self.w(d2, f"{v['hop']} = {v['lvl']} + 1")
        penv = env.but(names={**env.names, "edge": v["pf"], "hop": v["hop"]})
        if op.filter is not None:
            self.w(d2, f"if not {self.cond(op.filter, penv, d2)}:")
            self.w(d2 + 1, "continue")
        self.w(d2, f"{v['dup']} = False")
        self.w(d2, f"for {v['jj']} in range({v['lvl']} + 1):")
        self.w(d2 + 1, f"if {v['sn']}[{v['jj']}] == {v['px']}:")
        self.w(d2 + 2, f"{v['dup']} = True")
        self.w(d2 + 2, "break")
        self.w(d2, f"if {v['dup']}:")
        self.w(d2 + 1, "continue")
        self.w(d2, "# parallel edges: follow only the first qualifying edge to this account")
        self.w(d2, f"{v['plo']} = {a}ptr[{v['cur']}]")
        self.w(d2, f"{v['fq']} = ns_first({a}nsn, {a}nst, {v['plo']}, {v['phi']}, {v['px']}, wlo, {self.incl()})")
        self.w(d2, f"{v['first']} = -1")
        self.w(d2, f"while {v['fq']} < {v['phi']} and {a}nsn[{v['fq']}] == {v['px']}:")
        d3 = d2 + 1
        self.w(d3, f"{v['g']} = {a}nse[{v['fq']}]")
        self.w(d3, f"{v['fq']} += 1")
        self.w(d3, f"if {v['g']} > e:")
        self.w(d3 + 1, "break")
        if op.increasing:
            self.time_order_checks(d3, v["g"], f"{v['st']}[{v['lvl']}]", "break")
        genv = env.but(names={**env.names, "edge": v["g"], "hop": v["hop"]})
        self.w(d3, f"if {self.cond(op.filter, genv, d3)}:")
        self.w(d3 + 1, f"{v['first']} = {v['g']}")
        self.w(d3 + 1, "break")
        self.w(d2, f"if {v['first']} != {v['pf']}:")
        self.w(d2 + 1, "continue")
        self.w(d2, f"{v['work']} += 1")
        self.w(d2, f"if {v['work']} > max_work:")
        self.w(d2 + 1, "overflow[e] = 1")
        self.w(d2 + 1, f"{v['abort']} = True")
        self.w(d2 + 1, "break")
        self.w(d2, f"if {v['px']} == {t_node}:")
        self.w(d2 + 1, f"if {v['hop']} >= {op.min_hops}:")
        self.w(d2 + 2, f"{v['se']}[{v['hop']}] = {v['pf']}")
        length = v["hop"]
        renv = env.but(lengths={**env.lengths, op.name: length}, path=(v["se"], v["hop"]))
        self.ops(rest, renv, d2 + 2)
        self.w(d2 + 1, "continue")
        self.w(d2, f"if {v['hop']} < {op.max_hops}:")
        d4 = d2 + 1
        self.w(d4, f"{v['sp']}[{v['lvl']}] = {v['pp']}")
        self.w(d4, f"{v['lvl']} += 1")
        self.w(d4, f"{v['sn']}[{v['lvl']}] = {v['px']}")
        self.w(d4, f"{v['se']}[{v['lvl']}] = {v['pf']}")
        self.w(d4, f"{v['st']}[{v['lvl']}] = ts[{v['pf']}]")
        self.w(d4, f"{v['lo_x']} = {a}ptr[{v['px']}]")
        if op.increasing and op.scan.lower == "search":
            nxt = f"ts_lower({a}ts, {v['lo_x']}, {a}ptr[{v['px']} + 1], ts[{v['pf']}], False)"
        elif op.scan.lower == "search":
            nxt = f"ts_lower({a}ts, {v['lo_x']}, {a}ptr[{v['px']} + 1], wlo, {self.incl()})"
        else:
            nxt = v["lo_x"]
        self.w(d4, f"{v['sp']}[{v['lvl']}] = {nxt}")
        self.w(d4, f"{v['pushed']} = True")
        self.w(d4, "break")
        self.w(d1, f"if {v['abort']}:")
        self.w(d1 + 1, "break")
        self.w(d1, f"if not {v['pushed']}:")
        self.w(d1 + 1, f"{v['lvl']} -= 1")

    # ------------------------------------------------------------------ kernel
    def program(self, prog: I.Program, depth: int):
        self.prog = prog
        self.w(depth, f"# ---- pattern {prog.name}: window {prog.window_seconds} s "
                      f"({'inclusive' if prog.window_inclusive else 'exclusive'}), {len(prog.bins)} bins")
        self.w(depth, f"wlo = t - {prog.window_seconds}")
        names = {prog.trigger_src: "ta", prog.trigger_dst: "tb", prog.trigger_edge: "e"}
        env = _Env(names=names)
        self.w(depth, f"if {self.cond(prog.trigger_filter, env, depth)}:")
        for case in prog.cases:
            self.w(depth + 1, f"# case {case.name}")
            self.ops(case.ops, env, depth + 1)
        self.w(depth + 1, "pass")

    def source(self) -> str:
        k = self.kernel
        parallel = self.mode == "closing"
        head = [
            f"# Generated by BlazingAML from IR {k.digest()} ({self.mode} mode); do not edit.",
            "# Patterns: " + ", ".join(p.name for p in k.programs),
            "import numba",
            "import numpy as np",
            "from numba import njit, prange",
            "from blazingaml.backends.numba_runtime import ts_lower, ns_first, has_window_edge, bin_index",
            "",
            "",
            f"@njit(parallel={parallel}, nogil=True, cache=True, error_model='numpy')",
            f"def kernel({', '.join(KERNEL_ARGS)}):",
        ]
        self.lines = head
        self.w(1, "inst = 0")
        loop = "prange" if parallel else "range"
        self.w(1, f"for k in {loop}(order.shape[0]):")
        self.w(2, "e = order[k]")
        self.w(2, "ta = src[e]")
        self.w(2, "tb = dst[e]")
        self.w(2, "t = ts[e]")
        self.w(2, "tid = numba.get_thread_id()" if parallel else "tid = 0")
        self.bins_offset = 0
        self.col_offset = 0
        for i, prog in enumerate(k.programs):
            self.prog_index = i
            self.program(prog, 2)
            self.bins_offset += len(prog.bins)
            self.col_offset += len(prog.bins)
        self.w(1, "return inst")
        return "\n".join(self.lines) + "\n"


def generate_source(kernel: I.Kernel, mode: str = "closing") -> str:
    """Readable Python/Numba source of a fused kernel."""
    return NumbaCodegen(kernel, mode).source()


def cache_dir() -> Path:
    root = os.environ.get("BLAZINGAML_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "blazingaml")
    path = Path(root) / "kernels"
    path.mkdir(parents=True, exist_ok=True)
    return path


def load_kernel(kernel: I.Kernel, mode: str = "closing"):
    """Write (once) and import the generated module; Numba's disk cache keeps the machine code."""
    source = generate_source(kernel, mode)
    import hashlib

    digest = hashlib.sha256(source.encode()).hexdigest()[:20]
    path = cache_dir() / f"k_{digest}.py"
    if not path.exists():
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(source)
        os.replace(tmp, path)
    name = f"blazingaml_kernel_{digest}"
    if name in sys.modules:
        return sys.modules[name].kernel, source
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    # Registered before execution: Numba's disk cache re-imports the module by this name.
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module.kernel, source
