"""The IR walk shared by the code generators: one fused kernel body, written in a target syntax.

`SourceWriter` turns an optimised `Kernel` into the body of "for each trigger edge e": scans,
binary searches, set counts, depth-first paths, emits and participation credit. It decides *what*
the code does; a subclass decides only *how it is spelt* (`backends.numba_codegen` writes Python
for Numba, `backends.cupy.codegen` writes CUDA C). Both targets therefore run the same
algorithm, which is what the equality tests against the reference interpreter rely on.

Lines are kept as (depth, text, opens_block). Python needs nothing more; for C the renderer closes
a brace whenever the depth drops, the way Python reads indentation. Generated text is built only
from validated IR: names become fixed identifiers, numbers are printed from floats and ints, and
no user text is pasted in except inside comments (with line breaks removed).
"""

from __future__ import annotations

from blazingaml.ir import nodes as I
from blazingaml.kernel_results import WORK_LIMIT

from .window_sweeps import aggregate_slots

_ATTR_ARRAY = {
    "ts": "ts", "amount_paid": "amount_paid", "amount_received": "amount_received", "pay_currency": "pay_currency",
    "recv_currency": "recv_currency", "payment_format": "payment_format", "src": "src", "dst": "dst",
}
MAX_PATH_HOPS = 64

# The graph as kernel parameters (layout: blazingaml/graph.py), in the order every generated
# kernel takes them; `o_`/`i_` are the out/in CSR, `nse`/`nsn`/`nst` their neighbour-sorted view,
# `prev` their same-neighbour links.
GRAPH_ARGS = (
    "src", "dst", "ts", "amount_paid", "amount_received", "pay_currency", "recv_currency", "payment_format", "bank",
    "o_ptr", "o_edge", "o_nbr", "o_ts", "o_nse", "o_nsn", "o_nst", "o_prev",
    "i_ptr", "i_edge", "i_nbr", "i_ts", "i_nse", "i_nsn", "i_nst", "i_prev",
)


def graph_arrays(graph) -> tuple:
    """The graph's arrays in GRAPH_ARGS order."""
    o, i = graph.out, graph.inc
    return (graph.src, graph.dst, graph.ts, graph.amount_paid, graph.amount_received, graph.pay_currency,
            graph.recv_currency, graph.payment_format, graph.bank,
            o.ptr, o.edge, o.nbr, o.ts, o.ns_edge, o.ns_nbr, o.ns_ts, o.prev_same,
            i.ptr, i.edge, i.nbr, i.ts, i.ns_edge, i.ns_nbr, i.ns_ts, i.prev_same)
STACK_SLOTS = MAX_PATH_HOPS + 2   # per-thread path stacks: level 0 (the start) .. max hops, plus one spare
PRUNE_AFTER_STEPS = 16            # a path search builds its pruning closure once it has taken this many steps
#                                   (simple cycles took 28% less time than with 64 on the 1M-edge power-law graph,
#                                   the same within noise on an AMLworld-like one: bench/RESULTS.md)
CLOSURE_ARRAYS = ("ck", "cs", "cd", "cl", "cm", "cf")   # closure table: key, stamp, dist, late, mark, frontiers


class UnsupportedConstruct(ValueError):
    """An IR construct that a backend cannot generate code for (never skipped silently)."""


class _Env:
    """Names visible at one point of the generated code."""

    def __init__(self, names=None, sizes=None, lengths=None, sets=None, members=None, loop_edges=(), path=None,
                 aggregates=None, known=None):
        self.names = dict(names or {})       # IR node/edge name -> variable
        self.known = dict(known or {})       # (edge variable, attribute) -> a cheaper expression of its value
        self.aggregates = dict(aggregates or {})   # Aggregate -> variable holding its value
        self.sizes = dict(sizes or {})       # set name -> variable holding its size
        self.lengths = dict(lengths or {})   # path name -> variable holding its length
        self.sets = dict(sets or {})         # set name -> SetCount op (for membership and credit)
        self.members = dict(members or {})   # MemberOf key -> flag variable
        self.loop_edges = tuple(loop_edges)  # variables of edges bound by loops
        self.path = path                     # (edge stack var, hop var) inside a path stage

    def but(self, **kw) -> "_Env":
        env = _Env(self.names, self.sizes, self.lengths, self.sets, self.members, self.loop_edges, self.path,
                   self.aggregates, self.known)
        for k, v in kw.items():
            setattr(env, k, v)
        return env


def _comment_text(text: str) -> str:
    return " ".join(str(text).split())


class SourceWriter:
    """Shared IR walk. Subclasses set the syntax hooks below and write the kernel header."""

    # ---- syntax hooks (Python spelling; the CUDA writer overrides them) -------------------
    TRUE, FALSE = "True", "False"
    COMMENT = "#"
    #: split the first loop or path level of hub triggers across the lanes of a warp
    splits_hubs = False

    def not_(self, x: str) -> str:
        return f"(not {x})"

    def binary(self, op: str, left: str, right: str) -> str:
        return f"({left} {op} {right})"

    def abs_(self, x: str) -> str:
        return f"abs({x})"

    def const(self, v: float) -> str:
        # Always a float, as in the reference: integer spelling would overflow where floats do not.
        return repr(float(v))

    def let(self, d: int, name: str, value: str, ty: str = "i64"):
        """Declare and set a new variable (`ty`: i64, f64 or bool)."""
        self.line(d, f"{name} = {value}")

    def assign(self, d: int, target: str, value: str):
        self.line(d, f"{target} = {value}")

    def stmt(self, d: int, text: str):
        self.line(d, text)

    def for_range(self, d: int, var: str, start: str, stop: str):
        self.line(d, f"for {var} in range({start}, {stop}):", opens=True)

    def while_(self, d: int, cond: str):
        self.line(d, f"while {cond}:", opens=True)

    def if_(self, d: int, cond: str):
        self.line(d, f"if {cond}:", opens=True)

    def elif_(self, d: int, cond: str):
        self.line(d, f"elif {cond}:", opens=True)

    def else_(self, d: int):
        self.line(d, "else:", opens=True)

    def pass_(self, d: int):
        self.line(d, "pass")

    # Target-specific: how a windowed aggregate is read, a value binned, a count added, and where
    # path stacks and the participation bookkeeping live.
    def sliding_ref(self, e: str, j: int) -> str:
        raise NotImplementedError

    def aggregate_ref(self, e: str, j: int) -> str:
        """The value of window aggregate slot j at trigger e (precomputed by the sweeps)."""
        raise NotImplementedError

    def named_store(self, d: int, e: str, j: int, value: str):
        """Write a named emit's value to the kernel's real-valued output (trigger e, slot j)."""
        raise NotImplementedError

    def previous_time(self) -> str:
        """The time of the edge before the trigger e in the stream (its own time for the first)."""
        raise NotImplementedError

    def bin_call(self, value: str, offset: int, count: int) -> str:
        raise NotImplementedError

    def bump(self, d: int, edge: str, b: str):
        """Add 1 to the feature (edge, kernel column b) (closing mode)."""
        raise NotImplementedError

    def path_stacks(self, d: int, v: dict):
        """Bind the four per-thread path stacks (node, edge, scan position, timestamp)."""
        raise NotImplementedError

    #: accounts a pruning closure table holds (a power of two; half of it may be filled)
    CLOSURE_CAPACITY = 1

    def closure_tables(self, d: int, v: dict):
        """Bind the per-thread closure table arrays (names in CLOSURE_ARRAYS) for path pruning."""
        raise NotImplementedError

    def next_build(self, d: int, var: str):
        """Set `var` to a number this thread has not used for a closure build yet (a table slot
        belongs to a build when its stamp is that number; nothing needs clearing)."""
        raise NotImplementedError

    def new_instance(self, d: int):
        """Start crediting a new pattern instance (participation mode)."""
        raise NotImplementedError

    def credit(self, d: int, edge: str, b: str):
        """Participation: add 1 to (edge, b) unless this instance already credited `edge`."""
        raise NotImplementedError

    def count_steps(self, d: int, work: str):
        """Add a finished path search's steps to the run's total."""
        raise NotImplementedError

    def overflow_code(self) -> str:
        """The overflow code cell of (trigger e, the current program): see blazingaml.kernel_results."""
        raise NotImplementedError

    def lane_skip(self, d: int, position: str):
        """In a split first level, skip the iterations that belong to other lanes."""

    def lane_zero_only(self, d: int) -> int:
        """Code after this runs on lane 0 only; returns the depth to continue at."""
        return d

    # ---- state ------------------------------------------------------------------------------
    def __init__(self, kernel: I.Kernel, mode: str = "closing"):
        self.kernel, self.mode = kernel, mode
        self.lines: list[tuple[int, str, bool]] = []
        self.counter = 0
        self.prog: I.Program | None = None
        self.prog_index = 0
        self.bins_offset = 0
        self.col_offset = 0
        self.sliding_index = {}
        self.aggregate_slots = aggregate_slots(kernel)
        self.case_index = 0
        self.named_offset = 0
        self.pruned_paths = sum(isinstance(o, I.PathCount) and o.prune
                                for p in kernel.programs for c in p.cases for o in c.ops)
        # one column per SlidingCount, in the order backends/sliding.py sweeps them; keyed by case too,
        # since two cases of a pattern may each define a stage of the same name
        for pi, p in enumerate(kernel.programs):
            for ci, c in enumerate(p.cases):
                for op in c.ops:
                    if isinstance(op, I.SlidingCount):
                        self.sliding_index[(pi, ci, op.name)] = len(self.sliding_index)

    def line(self, depth: int, text: str, opens: bool = False):
        self.lines.append((depth, text, opens))

    def comment(self, depth: int, text: str):
        self.line(depth, f"{self.COMMENT} {_comment_text(text)}")

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    @staticmethod
    def adj(direction: str) -> str:
        return "o_" if direction == "out" else "i_"

    def incl(self) -> str:
        return self.TRUE if self.prog.window_inclusive else self.FALSE

    def after_window_start(self) -> str:
        """The lower window test on a timestamp (for filter-mode scans)."""
        return ">=" if self.prog.window_inclusive else ">"

    # ---- expressions ------------------------------------------------------------------------
    def expr(self, e, env: _Env) -> str:
        if isinstance(e, I.Const):
            return self.const(float(e.value))
        if isinstance(e, (I.NodeRef, I.EdgeRef)):
            return env.names[e.name]
        if isinstance(e, I.HopRef):
            return env.names["hop"]
        if isinstance(e, I.EdgeAttr):
            if e.attr not in _ATTR_ARRAY:
                raise UnsupportedConstruct(f"edge attribute '{e.attr}'")
            edge = env.names[e.edge]
            return env.known.get((edge, e.attr), f"{_ATTR_ARRAY[e.attr]}[{edge}]")
        if isinstance(e, I.NodeAttr):
            if e.attr != "bank":
                raise UnsupportedConstruct(f"account attribute '{e.attr}'")
            return f"bank[{env.names[e.node]}]"
        if isinstance(e, I.SizeOf):
            return env.sizes[e.set_name]
        if isinstance(e, I.LengthOf):
            return env.lengths[e.path_name]
        if isinstance(e, I.MemberOf):
            return env.members[(e.node, e.set_name)]
        if isinstance(e, I.Aggregate):
            return env.aggregates[e]
        if isinstance(e, I.Unary):
            inner = self.expr(e.operand, env)
            if e.op == "neg":   # in double precision: the negation of a zero count is -0.0 (x / -0.0 is -inf)
                return f"(-1.0 * {inner})"
            if e.op == "not":
                return self.not_(inner)
            if e.op == "abs":
                return self.abs_(inner)
            raise UnsupportedConstruct(f"unary operator '{e.op}'")
        if isinstance(e, I.Binary):
            if e.op not in ("+", "-", "*", "/", "<", "<=", ">", ">=", "==", "!=", "and", "or"):
                raise UnsupportedConstruct(f"operator '{e.op}'")
            return self.binary(e.op, self.expr(e.left, env), self.expr(e.right, env))
        raise UnsupportedConstruct(f"expression {type(e).__name__}")

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
            return self.TRUE
        env = self.prepare(e, env, depth)
        return self.expr(e, env)

    # ---- adjacency scans --------------------------------------------------------------------
    def ts_lower(self, a: str, lo: str, hi: str, bound: str, inclusive: str) -> str:
        return f"ts_lower({a}ts, {lo}, {hi}, {bound}, {inclusive})"

    def ns_first(self, a: str, lo: str, hi: str, x: str) -> str:
        return f"ns_first({a}nsn, {a}nst, {lo}, {hi}, {x}, wlo, {self.incl()})"

    def scan_open(self, depth: int, scan: I.Scan, direction: str, owner: str, comment: str,
                  split: bool = False) -> tuple[str, str, str]:
        """Open a loop over the window edges of `owner`; returns (edge var, nbr var, position var)."""
        a = self.adj(direction)
        lo, hi, p, f, x = (self.fresh(n) for n in ("lo", "hi", "p", "f", "x"))
        self.comment(depth, comment)
        self.let(depth, lo, f"{a}ptr[{owner}]")
        self.let(depth, hi, f"{a}ptr[{owner} + 1]")
        start = self.ts_lower(a, lo, hi, "wlo", self.incl()) if scan.lower == "search" else lo
        self.for_range(depth, p, start, hi)
        d = depth + 1
        self.let(d, f, f"{a}edge[{p}]")
        self.if_(d, f"{f} > e")
        self.stmt(d + 1, "break" if scan.upper == "break" else "continue")
        if scan.lower != "search":
            self.if_(d, self.not_(f"{a}ts[{p}] {self.after_window_start()} wlo"))
            self.stmt(d + 1, "continue")
        if split:
            self.lane_skip(d, p)
        self.let(d, x, f"{a}nbr[{p}]")
        return f, x, p

    def has_edge(self, atom: I.NbrAtom, x: str, env: _Env) -> str:
        a = self.adj(atom.direction)
        owner = env.names[atom.owner]
        return (f"has_window_edge({a}nsn, {a}nst, {a}nse, {a}ptr[{owner}], {a}ptr[{owner} + 1], {x}, wlo, "
                f"{self.incl()}, e)")

    def edges_to(self, depth: int, atom: I.NbrAtom, owner: str, x: str, prefix=("q", "g")) -> tuple[str, int]:
        """Open a loop over the window edges between `owner` and `x` that do not follow the
        trigger; returns (edge var, depth inside the loop)."""
        a = self.adj(atom.direction)
        lo, hi = self.fresh("rlo"), self.fresh("rhi")
        q, g = self.fresh(prefix[0]), self.fresh(prefix[1])
        self.let(depth, lo, f"{a}ptr[{owner}]")
        self.let(depth, hi, f"{a}ptr[{owner} + 1]")
        self.for_range(depth, q, self.ns_first(a, lo, hi, x), hi)
        d = depth + 1
        self.if_(d, f"{a}nsn[{q}] != {x}")
        self.stmt(d + 1, "break")
        self.let(d, g, f"{a}nse[{q}]")
        self.if_(d, f"{g} > e")
        self.stmt(d + 1, "break")
        return g, d

    @staticmethod
    def edge_known(direction: str, edge: str, owner: str, nbr: str, ts: str) -> dict:
        """What a scan already holds of the edge it reads (its two ends and its time), for `_Env.known`:
        reading those from the scan's own arrays saves a random access to the per-edge arrays."""
        own, other = ("src", "dst") if direction == "out" else ("dst", "src")
        return {(edge, own): owner, (edge, other): nbr, (edge, "ts"): ts}

    def earlier_edge_to(self, depth: int, direction: str, pos: str, owner: str, x: str, cond=None,
                        env: _Env | None = None, edge_name: str = "", after: str | None = None) -> str:
        """Flag: some window edge owner -> x before the one at time-view position `pos` (and, given
        `after`, later than that time) satisfies `cond` with it bound to `edge_name` (any such edge
        when `cond` is None). Walks the same-neighbour links back from `pos`; links lead to older
        edges, so the first one outside the window (or not after `after`) ends the walk."""
        a = self.adj(direction)
        flag, q, g = self.fresh("earlier"), self.fresh("q"), self.fresh("g")
        self.let(depth, q, f"{a}prev[{pos}]")
        stop = self.not_(f"{a}ts[{q}] {self.after_window_start()} wlo")
        if after is not None:
            stop = self.binary("or", stop, f"{a}ts[{q}] <= {after}")
        if cond is None:   # the nearest earlier edge decides
            self.let(depth, flag, self.binary("and", f"{q} >= 0", self.not_(stop)), "bool")
            return flag
        self.let(depth, flag, self.FALSE, "bool")
        self.while_(depth, f"{q} >= 0")
        d = depth + 1
        self.if_(d, stop)
        self.stmt(d + 1, "break")
        known = self.edge_known(direction, g, owner, x, f"{a}ts[{q}]")
        if any(isinstance(n, I.EdgeRef) and n.name == edge_name or isinstance(n, I.EdgeAttr)
               and n.edge == edge_name and (g, n.attr) not in known for n in I.walk(cond)):
            self.let(d, g, f"{a}edge[{q}]")   # (declared only when read: unused C variables warn)
        genv = env.but(names={**env.names, edge_name: g}, known={**env.known, **known})
        self.if_(d, self.cond(cond, genv, d))
        self.assign(d + 1, flag, self.TRUE)
        self.stmt(d + 1, "break")
        self.assign(d, q, f"{a}prev[{q}]")
        return flag

    def run_loops(self, atoms: list, x: str, env: _Env, depth: int, body) -> int:
        """Nested loops over the window edges joining x to each atom's owner (binding atom.edge)."""
        for atom in atoms:
            g, depth = self.edges_to(depth, atom, env.names[atom.owner], x)
            key = atom.edge if atom.edge else f"#run{self.counter}"
            env = env.but(names={**env.names, key: g})
        body(env, depth)
        return depth

    # ---- sets -------------------------------------------------------------------------------
    def exists(self, cond, bound: list, x: str, env: _Env, depth: int) -> str:
        """Flag: some choice of the bound atoms' edges to x satisfies `cond`."""
        flag = self.fresh("ok")
        if not bound:
            self.let(depth, flag, self.cond(cond, env, depth), "bool")
            return flag
        self.let(depth, flag, self.FALSE, "bool")

        def body(inner_env, d):
            self.if_(d, self.cond(cond, inner_env, d))
            self.assign(d + 1, flag, self.TRUE)
            self.stmt(d + 1, "break")

        end_depth = self.run_loops(bound, x, env, depth, body)
        for d in range(end_depth - 1, depth, -1):  # propagate the break outwards
            self.if_(d, flag)
            self.stmt(d + 1, "break")
        return flag

    def term_member(self, stage: I.SetCount, term: I.Term, x: str, env: _Env, depth: int) -> str:
        flag = self.fresh("inside")
        self.let(depth, flag, self.TRUE, "bool")
        xenv = env.but(names={**env.names, stage.var: x})
        for atom, want in [(a, True) for a in term.positive] + [(a, False) for a in term.negative]:
            self.if_(depth, flag)
            if isinstance(atom, I.NbrAtom):
                test = self.has_edge(atom, x, env)
            else:
                test = self.set_member(env.sets[atom.name], x, env, depth + 1)
            self.assign(depth + 1, flag, test if want else self.not_(test))
        if stage.filter is not None:
            self.if_(depth, flag)
            bound = [a for a in term.positive if isinstance(a, I.NbrAtom) and a.edge]
            ok = self.exists(stage.filter, bound, x, xenv, depth + 1)
            self.assign(depth + 1, flag, ok)
        return flag

    def set_member(self, stage: I.SetCount, x: str, env: _Env, depth: int) -> str:
        """Emit the membership test of x in a set stage, recomputed on demand; returns its flag."""
        flag = self.fresh("member")
        self.comment(depth, f"is {x} in set stage `{stage.name}`? (recomputed on demand, never stored)")
        self.let(depth, flag, self.FALSE, "bool")
        for term in stage.terms:
            self.if_(depth, self.not_(flag))
            t = self.term_member(stage, term, x, env, depth + 1)
            self.assign(depth + 1, flag, t)
        return flag

    def set_enumerate(self, stage: I.SetCount, env: _Env, depth: int, on_member):
        """Enumerate members (nodes) or counted edges; call on_member(env, depth, x, edge_or_None)."""
        if stage.kind == "edges":
            atom = stage.terms[0].positive[0]
            f, x, _ = self.scan_open(depth, stage.scan, atom.direction, env.names[atom.owner],
                                     f"edges {stage.var} in {atom.owner}.{atom.direction}")
            names = {**env.names, stage.var: x}
            if atom.edge:
                names[atom.edge] = f
            xenv = env.but(names=names)
            self.if_(depth + 1, self.cond(stage.filter, xenv, depth + 1))
            on_member(xenv, depth + 2, x, f)
            return
        for ti, term in enumerate(stage.terms):
            nbr_atoms = [a for a in term.positive if isinstance(a, I.NbrAtom)]
            if stage.driver == "smallest" and len(nbr_atoms) > 1:
                sizes = []
                for atom in nbr_atoms:
                    a, owner = self.adj(atom.direction), env.names[atom.owner]
                    size = self.fresh("span")
                    lower = self.ts_lower(a, f"{a}ptr[{owner}]", f"{a}ptr[{owner} + 1]", "wlo", self.incl())
                    self.let(depth, size, f"{a}ptr[{owner} + 1] - {lower}")
                    sizes.append(size)
                self.comment(depth, "intersection: the smallest window drives, the others are binary-searched")
                for i, atom in enumerate(nbr_atoms):
                    others = [s for j, s in enumerate(sizes) if j != i]
                    test = self.conjunction([f"{sizes[i]} <= {s}" for s in others])
                    if i == 0:
                        self.if_(depth, test)
                    elif i < len(nbr_atoms) - 1:
                        self.elif_(depth, test)
                    else:
                        self.else_(depth)
                    self.drive(stage, ti, term, atom, env, depth + 1, on_member)
            else:
                self.drive(stage, ti, term, nbr_atoms[0], env, depth, on_member)

    def conjunction(self, parts: list[str]) -> str:
        out = parts[0]
        for p in parts[1:]:
            out = self.binary("and", out, p)
        return out

    def drive(self, stage: I.SetCount, ti: int, term: I.Term, driver: I.NbrAtom, env: _Env, depth: int, on_member):
        owner = env.names[driver.owner]
        f, x, p = self.scan_open(depth, stage.scan, driver.direction, owner,
                                 f"stage {stage.name}: candidates {stage.var} from {driver.owner}.{driver.direction}")
        d = depth + 1
        self.comment(d, f"each candidate once: only at its first window edge from {driver.owner}")
        self.if_(d, self.earlier_edge_to(d, driver.direction, p, owner, x))
        self.stmt(d + 1, "continue")
        xenv = env.but(names={**env.names, stage.var: x})
        if stage.pushed and stage.member_filter is not None:
            self.if_(d, self.not_(self.cond(stage.member_filter, xenv, d)))
            self.stmt(d + 1, "continue")
        for atom, want in [(t, True) for t in term.positive if t is not driver] + [(t, False) for t in term.negative]:
            if isinstance(atom, I.NbrAtom):
                test = self.has_edge(atom, x, env)
            else:
                test = self.set_member(env.sets[atom.name], x, env, d)
            self.if_(d, self.not_(test) if want else test)
            self.stmt(d + 1, "continue")
        for tj in range(ti):  # union: count x once, under the first term that holds it
            flag = self.term_member(stage, stage.terms[tj], x, env, d)
            self.if_(d, flag)
            self.stmt(d + 1, "continue")
        residual = stage.edge_filter if stage.pushed else stage.filter
        if residual is not None:
            bound = [at for at in term.positive if isinstance(at, I.NbrAtom) and at.edge]
            ok = self.exists(residual, bound, x, xenv, d)
            self.if_(d, self.not_(ok))
            self.stmt(d + 1, "continue")
        on_member(xenv, d, x, None)

    # ---- participation credit -----------------------------------------------------------------
    def credit_set(self, stage: I.SetCount, env: _Env, depth: int, b: str):
        def on_member(xenv, d, x, f):
            if f is not None:
                self.credit(d, f, b)
                return
            atoms = [a for t in stage.terms for a in t.positive if isinstance(a, I.NbrAtom)]
            for atom in atoms:
                self.if_(d, self.has_edge(atom, x, env))
                g, inner = self.edges_to(d + 1, atom, env.names[atom.owner], x, prefix=("cq", "cg"))
                self.credit(inner, g, b)

        self.comment(depth, f"participation: credit the edges of every member of `{stage.name}`")
        self.set_enumerate(stage, env, depth, on_member)

    # ---- ops ----------------------------------------------------------------------------------
    def ops(self, ops: tuple, env: _Env, depth: int, split: bool = False):
        """Emit `ops` (each nests the rest). `split`: this is a case's first op on a hub trigger's
        lanes; loops and paths share out their first level, everything else runs on lane 0."""
        if not ops:
            return
        op, rest = ops[0], ops[1:]
        if split and not isinstance(op, (I.Loop, I.PathCount)):
            depth, split = self.lane_zero_only(depth), False
        src = f" ({op.source})" if getattr(op, "source", "") else ""
        if isinstance(op, I.Loop):
            self.loop(op, rest, env, depth, src, split)
        elif isinstance(op, I.SetCount):
            c = self.fresh("size_")
            self.comment(depth, f"stage {op.name} = {op.kind} {op.var} in ...{src}: counted, not materialised")
            self.let(depth, c, "0")
            self.set_enumerate(op, env, depth, lambda xenv, d, x, f: self.stmt(d, f"{c} += 1"))
            self.ops(rest, env.but(sizes={**env.sizes, op.name: c}, sets={**env.sets, op.name: op}), depth)
        elif isinstance(op, I.SlidingCount):
            self.comment(depth, f"stage {op.name}: windowed aggregate, precomputed by a two-pointer sweep{src}")
            c = self.fresh("size_")
            self.let(depth, c, self.sliding_ref("e", self.sliding_index[(self.prog_index, self.case_index, op.name)]))
            self.ops(rest, env.but(sizes={**env.sizes, op.name: c}), depth)
        elif isinstance(op, I.WindowAggregates):
            self.comment(depth, f"stage {op.name}: window aggregates of {op.owner}.{op.direction}, precomputed by "
                                f"sliding sweeps{src}")
            found = dict(env.aggregates)
            for agg in op.aggregates:
                found[agg] = self.fresh("agg_")
                self.let(depth, found[agg], self.aggregate_ref("e", self.aggregate_slots[(self.prog_index,
                                                                                          self.case_index, agg)]), "f64")
            self.ops(rest, env.but(aggregates=found, sets={**env.sets, op.name: op.edges_stage()}), depth)
        elif isinstance(op, I.PathCount):
            self.path(op, rest, env, depth, split)
        elif isinstance(op, I.Require):
            self.comment(depth, f"require{src}")
            self.if_(depth, self.cond(op.cond, env, depth))
            self.ops(rest, env, depth + 1)
        elif isinstance(op, I.Emit):
            if op.name:
                self.comment(depth, f"emit {op.name} = {I.expr_text(op.value)} when {I.expr_text(op.when)}{src}")
                self.if_(depth, self.cond(op.when, env, depth))
                slot = self.named_offset + self.prog.named.index(op.name)
                self.named_store(depth + 1, "e", slot, self.cond(op.value, env, depth + 1))
            else:
                self.emit(op, env, depth, src)
            self.ops(rest, env, depth)   # the case's further emits
        else:
            raise UnsupportedConstruct(f"IR op {type(op).__name__}")

    def loop(self, op: I.Loop, rest: tuple, env: _Env, depth: int, src: str, split: bool):
        self.comment(depth, f"for {'distinct ' if op.distinct else ''}{op.var} in {op.owner}.{op.direction}{src}")
        owner = env.names[op.owner]
        f, x, p = self.scan_open(depth, op.scan, op.direction, owner, f"window edges of {op.owner}.{op.direction}",
                                 split=split)
        d = depth + 1
        seen = self.edge_known(op.direction, f, owner, x, f"{self.adj(op.direction)}ts[{p}]")
        lenv = env.but(names={**env.names, op.var: x, op.edge: f}, loop_edges=env.loop_edges + (f,),
                       known={**env.known, **seen})
        if op.filter is not None:
            self.if_(d, self.not_(self.cond(op.filter, lenv, d)))
            self.stmt(d + 1, "continue")
        if op.distinct:
            # x once: at its first window edge that passes the filter (any filter on x alone passed)
            edge_filter = op.filter if op.edge in I.free_names(op.filter) else None
            self.if_(d, self.earlier_edge_to(d, op.direction, p, owner, x, edge_filter, lenv, op.edge))
            self.stmt(d + 1, "continue")
        self.ops(rest, lenv, d)

    def emit(self, op: I.Emit, env: _Env, depth: int, src: str):
        self.comment(depth, f"emit {I.expr_text(op.value)} when {I.expr_text(op.when)}{src}")
        self.if_(depth, self.cond(op.when, env, depth))
        d = depth + 1
        b = self.fresh("b")
        val = self.cond(op.value, env, d)
        self.let(d, b, f"{self.col_offset} + {self.bin_call(val, self.bins_offset, len(self.prog.bins))}")
        if self.mode == "closing":
            self.bump(d, "e", b)
            return
        self.new_instance(d)
        self.credit(d, "e", b)
        for f in env.loop_edges:
            self.credit(d, f, b)
        if env.path is not None:
            stack, hop = env.path
            j = self.fresh("j")
            self.for_range(d, j, "1", f"{hop} + 1")
            self.credit(d + 1, f"{stack}[{j}]", b)
        used = I.free_names(op.value) | I.free_names(op.when)
        for name, stage in env.sets.items():
            if name in used:
                self.credit_set(stage, env, d, b)

    def path(self, op: I.PathCount, rest: tuple, env: _Env, depth: int, split: bool = False):
        a = self.adj(op.direction)
        if op.max_hops > MAX_PATH_HOPS:
            raise UnsupportedConstruct(f"a path of more than {MAX_PATH_HOPS} hops")
        d = depth
        v = {k: self.fresh(k) for k in ("sn", "se", "sp", "st", "lvl", "work", "abort", "cur", "phi", "pp",
                                        "pushed", "pf", "px", "pt", "hop", "dup", "jj", "lo_x")}
        s_node, t_node = env.names[op.start], env.names[op.end]
        self.comment(d, f"path {op.name} = {op.start} ~> {op.end} via {op.direction}, hops {op.min_hops}..{op.max_hops}"
                        f"{' increasing' if op.increasing else ''} (depth-first, each account sequence once)"
                        f"{' (' + op.source + ')' if op.source else ''}")
        self.path_stacks(d, v)
        if op.prune:
            self.closure_tables(d, v)
        self.if_(d, f"{s_node} != {t_node}")
        d += 1
        if op.prune:
            v["pstate"] = self.fresh("closure")  # 0: not built yet, 1: built, 2: too large (no pruning)
            self.let(d, v["pstate"], "0")
            v["build"] = self.fresh("build")     # this search's closure (set when it is built)
            self.let(d, v["build"], "0")
        self.let(d, v["lvl"], "0")
        self.let(d, v["work"], "0")
        self.let(d, v["abort"], self.FALSE, "bool")
        self.assign(d, f"{v['sn']}[0]", s_node)
        self.assign(d, f"{v['st']}[0]", "wlo - 1")
        start0 = (self.ts_lower(a, f"{a}ptr[{s_node}]", f"{a}ptr[{s_node} + 1]", "wlo", self.incl())
                  if op.scan.lower == "search" else f"{a}ptr[{s_node}]")
        self.assign(d, f"{v['sp']}[0]", start0)
        self.while_(d, f"{v['lvl']} >= 0")
        d1 = d + 1
        self.let(d1, v["cur"], f"{v['sn']}[{v['lvl']}]")
        self.let(d1, v["phi"], f"{a}ptr[{v['cur']} + 1]")
        self.let(d1, v["pp"], f"{v['sp']}[{v['lvl']}]")
        self.let(d1, v["pushed"], self.FALSE, "bool")
        self.while_(d1, f"{v['pp']} < {v['phi']}")
        d2 = d1 + 1
        self.let(d2, v["pf"], f"{a}edge[{v['pp']}]")
        self.let(d2, v["px"], f"{a}nbr[{v['pp']}]")
        self.let(d2, v["pt"], f"{a}ts[{v['pp']}]")
        self.stmt(d2, f"{v['pp']} += 1")
        stop = "break" if op.scan.upper == "break" else "continue"
        self.if_(d2, f"{v['pf']} > e")
        self.stmt(d2 + 1, stop)
        if op.scan.lower != "search":
            self.if_(d2, self.not_(f"{v['pt']} {self.after_window_start()} wlo"))
            self.stmt(d2 + 1, "continue")
        if op.increasing:   # each hop before the trigger's time and after the previous hop
            self.if_(d2, f"{v['pt']} >= t")
            self.stmt(d2 + 1, stop)
            self.if_(d2, f"{v['pt']} <= {v['st']}[{v['lvl']}]")
            self.stmt(d2 + 1, "continue")
        if split:
            self.comment(d2, "hub trigger: the lanes share out the first hop")
            self.if_(d2, f"{v['lvl']} == 0")
            self.lane_skip(d2 + 1, f"{v['pp']} - 1")
        self.let(d2, v["hop"], f"{v['lvl']} + 1")
        penv = env.but(names={**env.names, "edge": v["pf"], "hop": v["hop"]},
                       known={**env.known, **self.edge_known(op.direction, v["pf"], v["cur"], v["px"], v["pt"])})
        if op.filter is not None:
            self.if_(d2, self.not_(self.cond(op.filter, penv, d2)))
            self.stmt(d2 + 1, "continue")
        self.let(d2, v["dup"], self.FALSE, "bool")
        self.for_range(d2, v["jj"], "0", f"{v['lvl']} + 1")
        self.if_(d2 + 1, f"{v['sn']}[{v['jj']}] == {v['px']}")
        self.assign(d2 + 2, v["dup"], self.TRUE)
        self.stmt(d2 + 2, "break")
        self.if_(d2, v["dup"])
        self.stmt(d2 + 1, "continue")
        self.comment(d2, "parallel edges: follow only the first qualifying edge to this account")
        earlier = self.earlier_edge_to(d2, op.direction, f"{v['pp']} - 1", v["cur"], v["px"], op.filter, penv, "edge",
                                       after=f"{v['st']}[{v['lvl']}]" if op.increasing else None)
        self.if_(d2, earlier)
        self.stmt(d2 + 1, "continue")
        if op.prune:
            self.prune_check(op, v, d2, t_node)
        self.stmt(d2, f"{v['work']} += 1")
        self.if_(d2, f"{v['work']} > max_work")
        self.assign(d2 + 1, self.overflow_code(), str(WORK_LIMIT))
        self.assign(d2 + 1, v["abort"], self.TRUE)
        self.stmt(d2 + 1, "break")
        self.if_(d2, f"{v['px']} == {t_node}")
        self.if_(d2 + 1, f"{v['hop']} >= {op.min_hops}")
        self.assign(d2 + 2, f"{v['se']}[{v['hop']}]", v["pf"])
        renv = env.but(lengths={**env.lengths, op.name: v["hop"]}, path=(v["se"], v["hop"]))
        self.ops(rest, renv, d2 + 2)
        self.stmt(d2 + 1, "continue")
        self.if_(d2, f"{v['hop']} < {op.max_hops}")
        d4 = d2 + 1
        self.assign(d4, f"{v['sp']}[{v['lvl']}]", v["pp"])
        self.stmt(d4, f"{v['lvl']} += 1")
        self.assign(d4, f"{v['sn']}[{v['lvl']}]", v["px"])
        self.assign(d4, f"{v['se']}[{v['lvl']}]", v["pf"])
        self.assign(d4, f"{v['st']}[{v['lvl']}]", v["pt"])
        self.let(d4, v["lo_x"], f"{a}ptr[{v['px']}]")
        if op.increasing and op.scan.lower == "search":
            nxt = self.ts_lower(a, v["lo_x"], f"{a}ptr[{v['px']} + 1]", v["pt"], self.FALSE)
        elif op.scan.lower == "search":
            nxt = self.ts_lower(a, v["lo_x"], f"{a}ptr[{v['px']} + 1]", "wlo", self.incl())
        else:
            nxt = v["lo_x"]
        self.assign(d4, f"{v['sp']}[{v['lvl']}]", nxt)
        self.assign(d4, v["pushed"], self.TRUE)
        self.stmt(d4, "break")
        self.if_(d1, v["abort"])
        self.stmt(d1 + 1, "break")
        self.if_(d1, self.not_(v["pushed"]))
        self.stmt(d1 + 1, f"{v['lvl']} -= 1")
        self.count_steps(d, v["work"])

    def prune_check(self, op: I.PathCount, v: dict, d: int, t_node: str):
        """Skip an account that cannot reach the path's end in the hops left (see path_pruning);
        the closure is built once the search has taken PRUNE_AFTER_STEPS steps."""
        r = self.adj("in" if op.direction == "out" else "out")
        inc = self.TRUE if op.increasing else self.FALSE
        tables = ", ".join(v[k] for k in CLOSURE_ARRAYS)
        cap = self.CLOSURE_CAPACITY
        self.comment(d, "path pruning: only accounts that can still reach the end")
        self.if_(d, f"{v['px']} != {t_node}")
        self.if_(d + 1, self.binary("and", f"{v['pstate']} == 0", f"{v['work']} >= {PRUNE_AFTER_STEPS}"))
        self.next_build(d + 2, v["build"])
        self.if_(d + 2, f"reach_closure({r}ptr, {r}edge, {r}nbr, {r}ts, {t_node}, {op.max_hops - 1}, wlo, "
                        f"{self.incl()}, e, t, {inc}, {v['build']}, {tables}, {cap}, {16 * cap})")
        self.assign(d + 3, v["pstate"], "1")
        self.else_(d + 2)
        self.assign(d + 3, v["pstate"], "2")
        reach = (f"may_reach({v['ck']}, {v['cs']}, {v['cd']}, {v['cl']}, {cap}, {v['build']}, {v['px']}, "
                 f"{op.max_hops} - {v['hop']}, {v['pt']}, {inc})")
        self.if_(d + 1, self.binary("and", f"{v['pstate']} == 1", self.not_(reach)))
        self.stmt(d + 2, "continue")

    # ---- one program per pattern, all sharing the trigger --------------------------------------
    def program(self, prog: I.Program, depth: int):
        self.prog = prog
        self.comment(depth, f"---- pattern {prog.name}: window {prog.window_seconds} s "
                            f"({'inclusive' if prog.window_inclusive else 'exclusive'}), {len(prog.bins)} bins")
        start = self.previous_time() if prog.window_lagged else "t"
        self.assign(depth, "wlo", f"{start} - {int(prog.window_seconds)}")
        names = {prog.trigger_src: "ta", prog.trigger_dst: "tb", prog.trigger_edge: "e"}
        env = _Env(names=names, known={("e", "src"): "ta", ("e", "dst"): "tb", ("e", "ts"): "t"})
        self.if_(depth, self.cond(prog.trigger_filter, env, depth))
        for ci, case in enumerate(prog.cases):
            self.case_index = ci
            self.comment(depth + 1, f"case {case.name}")
            self.ops(case.ops, env, depth + 1, split=self.splits_hubs)
        self.pass_(depth + 1)

    def programs(self, depth: int):
        self.bins_offset = 0
        self.col_offset = 0
        self.named_offset = 0
        for i, prog in enumerate(self.kernel.programs):
            self.prog_index = i
            self.program(prog, depth)
            self.bins_offset += len(prog.bins)
            self.col_offset += len(prog.bins)
            self.named_offset += len(prog.named)

    # ---- rendering ------------------------------------------------------------------------------
    def render_python(self) -> str:
        return "\n".join("    " * d + text for d, text, _ in self.lines) + "\n"

    def render_braces(self) -> str:
        """C-family rendering: block openers end in '{'; a brace closes whenever depth drops."""
        out, open_depths = [], []
        for d, text, opens in self.lines:
            while open_depths and open_depths[-1] >= d:
                out.append("    " * open_depths.pop() + "}")
            out.append("    " * d + text)
            if opens:
                open_depths.append(d)
        while open_depths:
            out.append("    " * open_depths.pop() + "}")
        return "\n".join(out) + "\n"
