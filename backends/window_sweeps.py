"""Sliding sweeps for window aggregates (`WindowAggregates` ops): every trigger's values at once.

For one stage (an account's `in` or `out` edges, optionally filtered) the sweep walks each
account's edges in time order, keeping the window that ends at each trigger the account takes
part in: edges enter at the back when they reach the trigger, leave at the front when they fall
out of the window. Per edge entering or leaving, O(1) amortised work keeps

* count, and distinct members (an edge is its member's first in the window when the member's
  previous qualifying edge has already left),
* the moments, as power sums of `x - K` shifted by an anchor K inside the window's values, not
  raw power sums (a timestamp's square has no digits left for its variance). The sums are
  recomputed from the window, anchored at its mean, when the window has turned over since the
  anchor was set, when the mean has drifted more than DRIFT ranges from the anchor, or when
  removals have shrunk s2 or s4 below SHRINK of their peak (what is left would be rounding),
* min and max by monotone deques of positions,
* the median by a Fenwick tree over the ranks of the account's values (a windowed order
  statistic: insert, remove and k-th smallest in O(log degree)).

Definitions (the reference interpreter computes the same naively): aggregates of an empty window
are 0; var is the population variance, std its square root, skew m3 / m2^1.5 and kurtosis
m4 / m2^2 (not excess), all 0 when every value in the window is the same; the median of an even
count is the mean of the middle two.
"""

from __future__ import annotations

import numba
import numpy as np

from blazingaml.ir import nodes as I

STATISTICS = ("sum", "mean", "min", "max", "median", "var", "std", "skew", "kurtosis")
COUNT, DISTINCT, PER_VALUE = 0, 1, len(STATISTICS)
DRIFT = 4.0     # re-anchor when |mean - K| exceeds this many window ranges
SHRINK = 1e-6   # re-anchor when s2 or s4 fall below this share of their peak since the anchor


@numba.njit(nogil=True, cache=True)
def _fenwick_add(tree, i, delta):
    i += 1
    while i < tree.shape[0]:
        tree[i] += delta
        i += i & -i


@numba.njit(nogil=True, cache=True)
def _fenwick_kth(tree, k):
    """0-based rank of the k-th smallest (1-based k) value held in the tree."""
    size = tree.shape[0] - 1
    step = 1
    while step * 2 <= size:
        step *= 2
    pos = 0
    while step > 0:
        if pos + step <= size and tree[pos + step] < k:
            pos += step
            k -= tree[pos]
        step //= 2
    return pos


@numba.njit(nogil=True, cache=True)
def _anchor(x, sums, peaks, col, mask, d_edge, dlo, front, back):
    """Recompute column col's shifted power sums over the window's positions [front, back),
    anchored at their mean; returns the anchor."""
    n, total = 0, 0.0
    for i in range(front, back):
        f = d_edge[dlo + i]
        if mask[f]:
            n += 1
            total += x[f, col]
    k = total / n if n else 0.0
    sums[col, :] = 0.0
    for i in range(front, back):
        f = d_edge[dlo + i]
        if mask[f]:
            d = x[f, col] - k
            sums[col, 0] += d
            sums[col, 1] += d * d
            sums[col, 2] += d * d * d
            sums[col, 3] += d * d * d * d
    peaks[col, 0] = sums[col, 1]
    peaks[col, 1] = sums[col, 3]
    return k


@numba.njit(parallel=True, nogil=True, cache=True)
def _sweep(d_ptr, d_edge, d_nbr, d_ts, q_ptr, q_edge, lo, inclusive, mask, x, median, out):
    """out[e] = count, distinct, then STATISTICS per column of x, for every query edge e.

    Account v's data are its edges d_edge[d_ptr[v]:d_ptr[v+1]] (time order); its queries the edges
    q_edge[q_ptr[v]:q_ptr[v+1]] at which its window is read, in time order; lo[e] the window's
    lower bound for query e (kept inclusively when `inclusive`)."""
    nv = d_ptr.shape[0] - 1
    c = x.shape[1]
    for v in numba.prange(nv):
        dlo, deg = d_ptr[v], d_ptr[v + 1] - d_ptr[v]
        if q_ptr[v] == q_ptr[v + 1] or deg == 0:
            continue
        # previous / next qualifying edge to the same member, as local positions
        prev = np.full(deg, -1, np.int64)
        nxt = np.full(deg, deg, np.int64)
        keys = np.empty(deg, np.int64)
        for i in range(deg):
            keys[i] = d_nbr[dlo + i] * deg + i
        last, last_nbr = -1, -1
        for i in np.argsort(keys):
            if not mask[d_edge[dlo + i]]:
                continue
            if last >= 0 and d_nbr[dlo + i] == last_nbr:
                prev[i] = last
                nxt[last] = i
            last, last_nbr = i, d_nbr[dlo + i]
        # per value column: anchor, shifted sums, peaks, removals since anchoring, deques, ranks
        anchor = np.zeros(c)
        sums = np.zeros((c, 4))
        peaks = np.zeros((c, 2))
        removed = np.zeros(c, np.int64)
        lows = np.empty((c, deg), np.int64)
        highs = np.empty((c, deg), np.int64)
        ends = np.zeros((c, 4), np.int64)   # head and tail of the min deque, then of the max deque
        rank = np.empty((c, deg if median else 0), np.int64)
        ordered = np.empty((c, deg if median else 0))
        tree = np.zeros((c, deg + 1 if median else 0), np.int64)
        if median:
            for col in range(c):
                vals = np.empty(deg)
                for i in range(deg):
                    vals[i] = x[d_edge[dlo + i], col]
                order = np.argsort(vals)
                for r in range(deg):
                    rank[col, order[r]] = r
                    ordered[col, r] = vals[order[r]]
        n = distinct = back = front = 0
        for qp in range(q_ptr[v], q_ptr[v + 1]):
            e = q_edge[qp]
            while back < deg and d_edge[dlo + back] <= e:
                f = d_edge[dlo + back]
                if mask[f]:
                    n += 1
                    if prev[back] < front:
                        distinct += 1
                    for col in range(c):
                        value = x[f, col]
                        if n == 1:   # an empty window restarts the sums exactly at this value
                            anchor[col] = value
                            sums[col, :] = 0.0
                            peaks[col, :] = 0.0
                            removed[col] = 0
                        d = value - anchor[col]
                        sums[col, 0] += d
                        sums[col, 1] += d * d
                        sums[col, 2] += d * d * d
                        sums[col, 3] += d * d * d * d
                        peaks[col, 0] = max(peaks[col, 0], sums[col, 1])
                        peaks[col, 1] = max(peaks[col, 1], sums[col, 3])
                        while ends[col, 1] > ends[col, 0] and x[d_edge[dlo + lows[col, ends[col, 1] - 1]], col] >= value:
                            ends[col, 1] -= 1
                        lows[col, ends[col, 1]] = back
                        ends[col, 1] += 1
                        while ends[col, 3] > ends[col, 2] and x[d_edge[dlo + highs[col, ends[col, 3] - 1]], col] <= value:
                            ends[col, 3] -= 1
                        highs[col, ends[col, 3]] = back
                        ends[col, 3] += 1
                        if median:
                            _fenwick_add(tree[col], rank[col, back], 1)
                back += 1
            bound = lo[e]
            while front < back and (d_ts[dlo + front] < bound or (not inclusive and d_ts[dlo + front] == bound)):
                f = d_edge[dlo + front]
                if mask[f]:
                    n -= 1
                    if nxt[front] >= back:
                        distinct -= 1
                    for col in range(c):
                        d = x[f, col] - anchor[col]
                        sums[col, 0] -= d
                        sums[col, 1] -= d * d
                        sums[col, 2] -= d * d * d
                        sums[col, 3] -= d * d * d * d
                        removed[col] += 1
                        if ends[col, 1] > ends[col, 0] and lows[col, ends[col, 0]] == front:
                            ends[col, 0] += 1
                        if ends[col, 3] > ends[col, 2] and highs[col, ends[col, 2]] == front:
                            ends[col, 2] += 1
                        if median:
                            _fenwick_add(tree[col], rank[col, front], -1)
                front += 1
            row = out[e]
            row[COUNT] = n
            row[DISTINCT] = distinct
            if n == 0:
                continue
            for col in range(c):
                base = 2 + PER_VALUE * col
                low = x[d_edge[dlo + lows[col, ends[col, 0]]], col]
                high = x[d_edge[dlo + highs[col, ends[col, 2]]], col]
                # (equal values need no re-anchoring: their variance is 0 by definition)
                if (removed[col] >= n or sums[col, 1] < SHRINK * peaks[col, 0] or sums[col, 3] < SHRINK * peaks[col, 1]
                        or (high > low and abs(sums[col, 0] / n) > DRIFT * (high - low))):
                    anchor[col] = _anchor(x, sums, peaks, col, mask, d_edge, dlo, front, back)
                    removed[col] = 0
                a = sums[col, 0] / n
                row[base + 0] = n * anchor[col] + sums[col, 0]
                row[base + 1] = anchor[col] + a
                row[base + 2] = low
                row[base + 3] = high
                if median:
                    lower = ordered[col, _fenwick_kth(tree[col], (n + 1) // 2)]
                    upper = ordered[col, _fenwick_kth(tree[col], n // 2 + 1)]
                    row[base + 4] = lower if n % 2 else 0.5 * (lower + upper)
                if high > low:
                    s2, s3, s4 = sums[col, 1] / n, sums[col, 2] / n, sums[col, 3] / n
                    m2 = s2 - a * a
                    if m2 > 0:
                        m3 = s3 - 3.0 * a * s2 + 2.0 * a * a * a
                        m4 = s4 - 4.0 * a * s3 + 6.0 * a * a * s2 - 3.0 * a * a * a * a
                        row[base + 5] = m2
                        row[base + 6] = np.sqrt(m2)
                        row[base + 7] = m3 / m2 ** 1.5
                        row[base + 8] = m4 / (m2 * m2)


def window_lower_bounds(graph, prog: I.Program) -> np.ndarray:
    """Each trigger edge's window lower bound: t - window, or, in a lagged window, the previous
    edge's time - window (the first edge has no previous one: its own time)."""
    ts = np.asarray(graph.ts, np.int64)
    anchor = np.concatenate([ts[:1], ts[:-1]]) if prog.window_lagged else ts
    return anchor - int(prog.window_seconds)


def edge_values(graph, expr, names: dict) -> np.ndarray:
    """An IR expression evaluated for every edge at once; `names` maps the node and edge names
    it reads to arrays over the edges (an edge name to the edge numbers)."""
    if expr is None:
        return np.ones(graph.m, bool)
    if isinstance(expr, I.Const):
        return np.full(graph.m, float(expr.value))
    if isinstance(expr, (I.NodeRef, I.EdgeRef)):
        return names[expr.name]
    if isinstance(expr, I.EdgeAttr):
        return np.asarray(getattr(graph, expr.attr))[names[expr.edge]].astype(np.float64)
    if isinstance(expr, I.NodeAttr):
        return np.asarray(graph.bank)[names[expr.node]]
    if isinstance(expr, I.Unary):
        inner = edge_values(graph, expr.operand, names)
        return {"neg": np.negative, "not": np.logical_not, "abs": np.abs}[expr.op](inner)
    if isinstance(expr, I.Binary):
        a, b = edge_values(graph, expr.left, names), edge_values(graph, expr.right, names)
        ops = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide, "<": np.less,
               "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal, "==": np.equal, "!=": np.not_equal,
               "and": np.logical_and, "or": np.logical_or}
        with np.errstate(divide="ignore", invalid="ignore"):
            return ops[expr.op](np.asarray(a, np.float64) if expr.op in "+-*/" else a,
                                np.asarray(b, np.float64) if expr.op in "+-*/" else b)
    raise TypeError(expr)


def aggregate_slots(kernel: I.Kernel) -> dict:
    """(program index, case index, Aggregate) -> column of the kernel's aggregate matrix."""
    slots = {}
    for pi, prog in enumerate(kernel.programs):
        for ci, case in enumerate(prog.cases):
            for op in case.ops:
                if isinstance(op, I.WindowAggregates):
                    for agg in op.aggregates:
                        slots.setdefault((pi, ci, agg), len(slots))
    return slots


def _stage_statistics(graph, prog: I.Program, op: I.WindowAggregates, values: list) -> np.ndarray:
    """[m, 2 + len(STATISTICS) * len(values)]: count, distinct and the statistics of each value
    expression, for the window of `op` at every edge (rows of edges whose trigger role the
    stage's owner does not play stay 0)."""
    data = graph.adjacency(op.direction)
    role = "out" if op.owner == prog.trigger_src else "in"
    queries = graph.adjacency(role)
    edges = np.arange(graph.m)
    owner, member = (graph.src, graph.dst) if op.direction == "out" else (graph.dst, graph.src)
    names = {op.owner: np.asarray(owner), op.var: np.asarray(member), op.edge: edges}
    mask = np.ascontiguousarray(edge_values(graph, op.filter, names), dtype=np.bool_)
    x = np.zeros((graph.m, len(values)))
    for j, value in enumerate(values):
        x[:, j] = edge_values(graph, value, {op.name: edges})
    out = np.zeros((graph.m, 2 + PER_VALUE * len(values)))
    median = any(a.func == "median" for a in op.aggregates)
    _sweep(data.ptr, data.edge, data.nbr, data.ts, queries.ptr, queries.edge, window_lower_bounds(graph, prog),
           prog.window_inclusive, mask, x, median, out)
    return out


def window_aggregates(graph, kernel: I.Kernel) -> np.ndarray:
    """[m, number of aggregate slots] float64: every aggregate of the kernel at every trigger edge
    (edge order; columns as `aggregate_slots`)."""
    slots = aggregate_slots(kernel)
    result = np.zeros((graph.m, max(len(slots), 1)))
    for pi, prog in enumerate(kernel.programs):
        for ci, case in enumerate(prog.cases):
            for op in case.ops:
                if not isinstance(op, I.WindowAggregates):
                    continue
                values = list(dict.fromkeys(a.value for a in op.aggregates if a.value is not None))
                stats = _stage_statistics(graph, prog, op, values)
                source = [COUNT if agg.func == "count" else DISTINCT if agg.func == "distinct" else (
                    2 + PER_VALUE * values.index(agg.value) + STATISTICS.index(agg.func)) for agg in op.aggregates]
                # one gather per stage (row by row) rather than a strided copy of each column
                result[:, [slots[(pi, ci, agg)] for agg in op.aggregates]] = stats[:, source]
    return result
