"""Cost model from graph statistics: expected window sizes, per-stage and per-trigger work."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import nodes as I


@dataclass(frozen=True)
class GraphStats:
    """What the optimiser knows about a graph: degree moments and time span."""

    vertices: int
    edges: int
    span_seconds: float
    mean_out: float
    mean_in: float
    p99_out: float
    p99_in: float
    max_out: int
    max_in: int

    @classmethod
    def of(cls, graph) -> "GraphStats":
        dout, din = graph.out.degree(), graph.inc.degree()
        span = float(graph.ts[-1] - graph.ts[0]) if graph.m else 0.0
        q = lambda d: float(np.percentile(d, 99)) if len(d) else 0.0  # noqa: E731
        return cls(graph.n, graph.m, max(span, 1.0), float(dout.mean()) if graph.n else 0.0,
                   float(din.mean()) if graph.n else 0.0, q(dout), q(din), int(dout.max(initial=0)),
                   int(din.max(initial=0)))

    def describe(self) -> str:
        """One line for plans: what the cost model knows about the graph."""
        return (f"{self.edges:,} transactions between {self.vertices:,} accounts over "
                f"{self.span_seconds / 86400:.1f} days; out-degree mean {self.mean_out:.1f}, p99 {self.p99_out:.0f}, "
                f"max {self.max_out:,}; in-degree mean {self.mean_in:.1f}, p99 {self.p99_in:.0f}, max {self.max_in:,}")

    def window_fraction(self, seconds: float) -> float:
        return min(1.0, seconds / self.span_seconds)

    def window_degree(self, direction: str, seconds: float) -> float:
        """Expected number of a (degree-weighted) vertex's edges inside a window."""
        mean = self.mean_out if direction == "out" else self.mean_in
        p99 = self.p99_out if direction == "out" else self.p99_in
        return max(1.0, (mean + p99) / 2 * self.window_fraction(seconds))


DEFAULT_STATS = GraphStats(515_088, 5_078_345, 10 * 86400, 9.9, 9.9, 60.0, 80.0, 20_000, 30_000)


def program_cost(program: I.Program, stats: GraphStats | None = None) -> float:
    """Estimated work per trigger: products of window sizes along each case's nesting."""
    s = stats or DEFAULT_STATS
    total = 0.0
    for case in program.cases:
        factor, work = 1.0, 0.0
        for o in case.ops:
            if isinstance(o, I.Loop):
                factor *= s.window_degree(o.direction, program.window_seconds)
                work += factor
            elif isinstance(o, I.SetCount):
                atoms = [a for t in o.terms for a in t.positive if isinstance(a, I.NbrAtom)]
                sizes = [s.window_degree(a.direction, program.window_seconds) for a in atoms] or [1.0]
                work += factor * min(sizes) * (1 + np.log2(1 + max(sizes)) * (len(atoms) - 1))
            elif isinstance(o, I.SlidingCount):
                work += factor
            elif isinstance(o, I.PathCount):
                branching = s.window_degree(o.direction, program.window_seconds)
                if o.increasing:
                    branching = max(1.0, branching / 2)
                work += factor * sum(branching ** h for h in range(1, min(o.max_hops, 12) + 1))
        total += work
    return float(total)


def atom_cost(program: I.Program, stats: GraphStats | None = None):
    """Cost of one membership test of a set atom (binary search ~ log of its window)."""
    s = stats or DEFAULT_STATS

    def cost(atom) -> float:
        if isinstance(atom, I.NbrAtom):
            return float(np.log2(1 + s.window_degree(atom.direction, program.window_seconds)))
        return 1e6  # a named set re-tests its whole definition: last

    return cost


def trigger_work(graph, program: I.Program) -> np.ndarray:
    """Per-trigger work estimate from the degrees of the trigger's endpoints, scaled to the
    pattern's window on this graph (a 1-day window sees a tenth of a 10-day graph's edges), so
    the triggers of patterns with different windows weigh fairly in one kernel."""
    return kernel_trigger_work(graph, [program])


def kernel_trigger_work(graph, programs) -> np.ndarray:
    """`trigger_work` summed over the programs of one kernel. The endpoint degrees are gathered
    once for all of them: that random gather over the transactions is the estimate's cost."""
    m = graph.m
    if m == 0:
        return np.zeros(0)
    # din[src] + dout[dst]: what a trigger's first hop can reach, on either side
    reach = graph.inc.degree().astype(np.float64)[graph.src]
    reach += graph.out.degree().astype(np.float64)[graph.dst]
    span = max(float(graph.ts[-1] - graph.ts[0]), 1.0)
    work = np.zeros(m)
    for program in programs:
        one = 1.0 + min(1.0, program.window_seconds / span) * reach
        if any(isinstance(o, (I.Loop, I.PathCount)) for c in program.cases for o in c.ops):
            one *= one
        work += one
    return work
