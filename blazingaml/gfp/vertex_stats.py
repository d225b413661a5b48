"""GFP vertex statistics: per-account aggregates of the edges around a transaction, as snapml computes them.

For every edge of a stream, four blocks: the source's outgoing edges, the source's incoming edges, the
target's outgoing edges and the target's incoming edges. Each block holds `fan` (distinct
neighbours), `degree` (edges, parallel edges counted separately, self-loops counted like any
edge), `ratio` (degree / fan), then for every chosen column the mean, sum, minimum, maximum, median
(mean of the middle two for an even count), variance, skewness and kurtosis (population moments:
var = m2, skew = m3 / m2^1.5, kurtosis = m4 / m2^2, not excess; 0 where m2 is 0, and, with
`min_relative_var`, where m2 < min_relative_var * mean^2 as snapml does). An empty block is all zeros.

Which edges count is snapml's one-edge-at-a-time semantics, pinned by `tests/test_gfp_vertex_stats.py`
against snapml itself: an edge is inserted, its features are computed (it counts in its own blocks),
then the edges at the front of the insertion log with `ts < ts_now - window` are evicted. So the
window lags one edge: edge k sees every edge that the previous edge's eviction left. Two logs:
the graph window (`time_window`) holds fan, degree, ratio, min, max and median; the moments (mean,
sum, var, skew, kurtosis) are over edges also inside `vertex_stats_tw`.

Moments are kept per account, direction and column as power sums of `x - K` shifted by an anchor K
taken from the account's own values (not raw power sums, which lose every digit of a timestamp's
variance); the anchor is re-set to the window's mean each time the window has turned over, when the
mean has drifted more than DRIFT standard deviations from it, or when removing edges (an outlier
leaving) has shrunk the sums so far that rounding would dominate them. Turnover re-anchoring is
O(1) amortised per edge; the other two cost O(live edges) when they happen. Min, max and median scan the account's live edges, O(degree),
only when asked for.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import types
from numba.typed import Dict

FAN, DEGREE, RATIO = 0, 1, 2
# per column, in snapml's code order 3..10
AVERAGE, SUM, MINIMUM, MAXIMUM, MEDIAN, VAR, SKEW, KURTOSIS = range(8)
PER_COLUMN = 8
# Relative to the shifted second moment: a smaller variance is rounding noise of s2 - s1^2 (equal values
# summed in different orders), and is reported as 0 like snapml's, with skew and kurtosis 0.
NOISE_FLOOR = 1e-11
DRIFT = 100.0
# snapml reports var, skew and kurtosis as 0 where var < 1e-5 mean^2 (found by bisection on 1.17):
# a guard for its raw power sums. It zeroes every moment of an epoch-timestamp column.
SNAPML_MIN_RELATIVE_VAR = 1e-5
SHRINK = 1e-4
NAMES = ("fan", "degree", "ratio", "avg", "sum", "min", "max", "median", "var", "skew", "kurtosis")


def block_width(ncols: int) -> int:
    """Values in one (account, direction) block before feature selection."""
    return 3 + PER_COLUMN * ncols


@numba.njit(cache=True)
def _positions(owner, nv):
    """CSR of the edges each account owns, in insertion order; pos[j]: edge j's place in it."""
    m = owner.shape[0]
    ptr = np.zeros(nv + 1, np.int64)
    for j in range(m):
        ptr[owner[j] + 1] += 1
    for v in range(nv):
        ptr[v + 1] += ptr[v]
    fill = ptr[:-1].copy()
    edges = np.empty(m, np.int64)
    for j in range(m):
        edges[fill[owner[j]]] = j
        fill[owner[j]] += 1
    return ptr, edges


@numba.njit(cache=True)
def _reanchor(sums, peak, anchor, vals, edges, lo, hi, slot):
    """Recompute one slot's shifted power sums over edges[lo:hi], anchored at their mean."""
    c = vals.shape[1]
    n = hi - lo
    for col in range(c):
        k = 0.0
        if n > 0:
            for q in range(lo, hi):
                k += vals[edges[q], col]
            k /= n
        anchor[slot, col] = k
        s1 = s2 = s3 = s4 = 0.0
        for q in range(lo, hi):
            d = vals[edges[q], col] - k
            d2 = d * d
            s1 += d
            s2 += d2
            s3 += d2 * d
            s4 += d2 * d2
        sums[slot, col, 0] = s1
        sums[slot, col, 1] = s2
        sums[slot, col, 2] = s3
        sums[slot, col, 3] = s4
        peak[slot, col, 0] = s2
        peak[slot, col, 1] = s4


@numba.njit(cache=True)
def _add(sums, peak, anchor, vals, j, slot, sign):
    for col in range(vals.shape[1]):
        d = vals[j, col] - anchor[slot, col]
        d2 = d * d
        sums[slot, col, 0] += sign * d
        sums[slot, col, 1] += sign * d2
        sums[slot, col, 2] += sign * d2 * d
        sums[slot, col, 3] += sign * d2 * d2
        peak[slot, col, 0] = max(peak[slot, col, 0], sums[slot, col, 1])
        peak[slot, col, 1] = max(peak[slot, col, 1], sums[slot, col, 3])


@numba.njit(cache=True)
def _losing_digits(sums, peak, slot, n):
    """Whether the slot's shifted sums should be recomputed: the mean has moved more than DRIFT
    standard deviations from the anchor (m4 = s4 - 4 d s3 + ... would cancel), or removals have
    shrunk s2 or s4 below SHRINK of their peak (what is left is as much rounding as value)."""
    if n == 0:
        return False
    for col in range(sums.shape[1]):
        d = sums[slot, col, 0] / n
        m2 = sums[slot, col, 1] / n - d * d
        if d * d > DRIFT * max(m2, 0.0):
            return True
        if sums[slot, col, 1] < SHRINK * peak[slot, col, 0] or sums[slot, col, 3] < SHRINK * peak[slot, col, 1]:
            return True
    return False


@numba.njit(cache=True)
def _block(out, vals, edges, glo, hi, slo, fan, sums, anchor, slot, order_stats, min_relative_var):
    """Write one (account, direction) block from its live edges."""
    degree = hi - glo
    if degree == 0:
        return
    out[FAN] = fan
    out[DEGREE] = degree
    out[RATIO] = degree / fan
    n = hi - slo
    c = vals.shape[1]
    scratch = np.empty(degree if order_stats else 0, np.float64)
    for col in range(c):
        base = 3 + PER_COLUMN * col
        if n > 0:
            k = anchor[slot, col]
            s1, s2, s3, s4 = sums[slot, col, 0] / n, sums[slot, col, 1] / n, sums[slot, col, 2] / n, sums[slot, col, 3] / n
            m2 = s2 - s1 * s1
            m3 = s3 - 3.0 * s1 * s2 + 2.0 * s1 * s1 * s1
            m4 = s4 - 4.0 * s1 * s3 + 6.0 * s1 * s1 * s2 - 3.0 * s1 * s1 * s1 * s1
            mean = k + s1
            out[base + AVERAGE] = mean
            out[base + SUM] = n * k + sums[slot, col, 0]
            # below NOISE_FLOOR, m2 is what cancellation left of equal values
            if m2 > NOISE_FLOOR * s2 and m2 >= min_relative_var * mean * mean:
                out[base + VAR] = m2
                out[base + SKEW] = m3 / m2 ** 1.5
                out[base + KURTOSIS] = m4 / (m2 * m2)
        if order_stats:
            for q in range(glo, hi):
                scratch[q - glo] = vals[edges[q], col]
            out[base + MINIMUM] = scratch.min()
            out[base + MAXIMUM] = scratch.max()
            out[base + MEDIAN] = np.median(scratch)


@numba.njit(cache=True)
def eviction_fronts(ts, graph_window, stats_window, stats_front, first):
    """For each edge k >= first: the first edge still in the graph log, and in the moments log, after
    k's eviction (snapml pops the log's front while its ts < ts[k] - window). Edges before `first`
    are all in the graph log; the moments log starts at `stats_front`. The moments front is kept
    at or after the graph front: an edge out of the graph is out of the moments too."""
    m = ts.shape[0]
    graph_fronts = np.empty(m - first, np.int64)
    stats_fronts = np.empty(m - first, np.int64)
    gf, sf = 0, stats_front
    for k in range(first, m):
        while gf <= k and ts[gf] < ts[k] - graph_window:
            gf += 1
        while sf <= k and ts[sf] < ts[k] - stats_window:
            sf += 1
        sf = max(sf, gf)
        graph_fronts[k - first] = gf
        stats_fronts[k - first] = sf
    return graph_fronts, stats_fronts


@numba.njit(cache=True)
def _drop(pair, fan, slot, key):
    pair[key] -= 1
    if pair[key] == 0:
        fan[slot] -= 1


@numba.njit(cache=True)
def _stream(acct_src, acct_dst, vals, nv, stats_front, first_out, graph_fronts, stats_fronts, order_stats,
            min_relative_var):
    """Blocks for edges first_out.. of the stream. The first `first_out` edges are the history: all
    still in the graph window, those from `stats_front` on also in the moments window."""
    m = acct_src.shape[0]
    c = vals.shape[1]
    out = np.zeros((m - first_out, 4, 3 + PER_COLUMN * c), np.float64)
    # slot = 2 * account + direction (0 out, 1 in)
    ptr_o, edges_o = _positions(acct_src, nv)
    ptr_i, edges_i = _positions(acct_dst, nv)
    nslot = 2 * nv
    glo = np.empty(nslot, np.int64)      # first graph-live position in the slot's edge list
    slo = np.empty(nslot, np.int64)      # first moments-live position
    hi = np.empty(nslot, np.int64)       # one past the last inserted
    for v in range(nv):
        glo[2 * v] = slo[2 * v] = hi[2 * v] = ptr_o[v]
        glo[2 * v + 1] = slo[2 * v + 1] = hi[2 * v + 1] = ptr_i[v]
    turned = np.zeros(nslot, np.int64)   # moment removals since the slot's anchor was set
    sums = np.zeros((nslot, c, 4), np.float64)
    anchor = np.zeros((nslot, c), np.float64)
    peak = np.zeros((nslot, c, 2), np.float64)    # largest s2, s4 since the anchor was set
    fan = np.zeros(nslot, np.int64)
    pair = Dict.empty(key_type=types.int64, value_type=types.int64)  # slot * nv + neighbour -> live edges
    gf, sf = 0, stats_front
    for k in range(m):
        for d in range(2):
            owner, other = (acct_src[k], acct_dst[k]) if d == 0 else (acct_dst[k], acct_src[k])
            slot = 2 * owner + d
            key = slot * nv + other
            seen = pair.get(key, 0)
            pair[key] = seen + 1
            if seen == 0:
                fan[slot] += 1
            if k < sf:                      # history already out of the moments window
                slo[slot] += 1
            elif hi[slot] == slo[slot]:     # empty window: anchor at this value, sums restart exactly
                _reanchor(sums, peak, anchor, vals, edges_o if d == 0 else edges_i, hi[slot], hi[slot] + 1, slot)
            else:
                _add(sums, peak, anchor, vals, k, slot, 1.0)
            hi[slot] += 1
            if k >= sf and _losing_digits(sums, peak, slot, hi[slot] - slo[slot]):
                _reanchor(sums, peak, anchor, vals, edges_o if d == 0 else edges_i, slo[slot], hi[slot], slot)
                turned[slot] = 0
        if k < first_out:
            continue   # history: its evictions are already reflected in the fronts
        row = k - first_out
        for b in range(4):
            slot = 2 * (acct_src[k] if b < 2 else acct_dst[k]) + b % 2
            _block(out[row, b], vals, edges_o if b % 2 == 0 else edges_i, glo[slot], hi[slot], slo[slot],
                   fan[slot], sums, anchor, slot, order_stats, min_relative_var)
        for is_graph in (True, False):
            until = graph_fronts[row] if is_graph else stats_fronts[row]
            for j in range(gf if is_graph else sf, until):
                for d in range(2):
                    owner, other = (acct_src[j], acct_dst[j]) if d == 0 else (acct_dst[j], acct_src[j])
                    slot = 2 * owner + d
                    if is_graph:
                        glo[slot] += 1
                        _drop(pair, fan, slot, slot * nv + other)
                    if j >= (sf if is_graph else gf):     # still in the moments: leaves them now
                        slo[slot] += 1
                        turned[slot] += 1
                        _add(sums, peak, anchor, vals, j, slot, -1.0)
                        n = hi[slot] - slo[slot]
                        if turned[slot] >= n or _losing_digits(sums, peak, slot, n):
                            _reanchor(sums, peak, anchor, vals, edges_o if d == 0 else edges_i, slo[slot], hi[slot], slot)
                            turned[slot] = 0
            if is_graph:
                gf = until
            else:
                sf = until
    return out


def vertex_stats(acct_src, acct_dst, ts, vals, graph_window, stats_window, stats_front=0, history=0,
                 order_stats=True, min_relative_var=0.0):
    """Blocks [m - history, 4, 3 + 8 * ncols] for the stream's edges after the first `history` ones.

    `acct_src`/`acct_dst` are dense account numbers, `vals` [m, ncols] the chosen columns, edges in
    insertion order. The first `history` edges are replayed, not emitted: all of them inside the graph
    window, those from `stats_front` on inside the moments window. `order_stats=False` leaves min,
    max and median at 0 (they cost O(degree) per edge). A variance below `min_relative_var * mean^2`
is reported as 0, with its skew and kurtosis (snapml does so below SNAPML_MIN_RELATIVE_VAR). Returns (blocks, graph_front, stats_front):
    the first edge still in each window after the last edge's eviction."""
    acct_src = np.ascontiguousarray(acct_src, np.int64)
    acct_dst = np.ascontiguousarray(acct_dst, np.int64)
    ts = np.ascontiguousarray(ts, np.float64)
    nv = int(max(acct_src.max(initial=-1), acct_dst.max(initial=-1))) + 1
    vals = np.ascontiguousarray(vals, np.float64)
    vals = vals[:, None] if vals.ndim == 1 else vals
    graph_fronts, stats_fronts = eviction_fronts(ts, float(graph_window), float(stats_window), int(stats_front),
                                                 int(history))
    blocks = _stream(acct_src, acct_dst, vals, nv, int(stats_front), int(history), graph_fronts, stats_fronts,
                     bool(order_stats), float(min_relative_var))
    if len(graph_fronts) == 0:
        return blocks, 0, int(stats_front)
    return blocks, int(graph_fronts[-1]), int(stats_fronts[-1])
