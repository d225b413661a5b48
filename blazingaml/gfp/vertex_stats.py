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
O(1) amortised per edge; the other two cost O(live edges) when they happen. Min, max and median
scan the account's live edges, O(degree), only when asked for.

`VertexStatsStream` keeps all of this across batches (the drop-in's `transform` calls): per
(account, direction) a linked list of its live edges, so inserting an edge and evicting the log's
front cost O(1) each, and a batch costs O(batch) plus what it evicts. `vertex_stats` is the same
stream run once over an array.
"""

from __future__ import annotations

import numba
import numpy as np

from . import hash_table

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


# One record per slot (2 * account + direction; 0 out, 1 in), int64, read as float64 from column
# FLOATS on (the same memory): an insert, an eviction or a block touches one record, not seven arrays.
GHEAD, MHEAD, TAIL, GCOUNT, MCOUNT, TURNED, FAN_COUNT = range(7)   # oldest graph / moments edge, newest edge
FLOATS = 8
S1, S2, S3, S4, ANCHOR, PEAK2, PEAK4 = range(7)   # per column, from FLOATS + RECORD_PER_COLUMN * col
RECORD_PER_COLUMN = 8


@numba.njit(cache=True, nogil=True, inline="always")
def _at(col):
    return FLOATS + RECORD_PER_COLUMN * col


@numba.njit(cache=True, nogil=True, inline="always")
def _reanchor(fr, vals, nxt, d, head, n, slot):
    """Recompute one slot's shifted power sums over its n edges from `head` on (links `nxt[:, d]`),
    anchored at their mean."""
    for col in range(vals.shape[1]):
        k = 0.0
        j = head
        for _ in range(n):
            k += vals[j, col]
            j = nxt[j, d]
        if n > 0:
            k /= n
        at = _at(col)
        fr[slot, at + ANCHOR] = k
        s1 = s2 = s3 = s4 = 0.0
        j = head
        for _ in range(n):
            x = vals[j, col] - k
            x2 = x * x
            s1 += x
            s2 += x2
            s3 += x2 * x
            s4 += x2 * x2
            j = nxt[j, d]
        fr[slot, at + S1] = s1
        fr[slot, at + S2] = s2
        fr[slot, at + S3] = s3
        fr[slot, at + S4] = s4
        fr[slot, at + PEAK2] = s2
        fr[slot, at + PEAK4] = s4


@numba.njit(cache=True, nogil=True, inline="always")
def _add(fr, vals, j, slot, sign):
    for col in range(vals.shape[1]):
        at = _at(col)
        d = vals[j, col] - fr[slot, at + ANCHOR]
        d2 = d * d
        fr[slot, at + S1] += sign * d
        fr[slot, at + S2] += sign * d2
        fr[slot, at + S3] += sign * d2 * d
        fr[slot, at + S4] += sign * d2 * d2
        fr[slot, at + PEAK2] = max(fr[slot, at + PEAK2], fr[slot, at + S2])
        fr[slot, at + PEAK4] = max(fr[slot, at + PEAK4], fr[slot, at + S4])


@numba.njit(cache=True, nogil=True, inline="always")
def _losing_digits(fr, ncols, slot, n):
    """Whether the slot's shifted sums should be recomputed: the mean has moved more than DRIFT
    standard deviations from the anchor (m4 = s4 - 4 d s3 + ... would cancel), or removals have
    shrunk s2 or s4 below SHRINK of their peak (what is left is as much rounding as value)."""
    if n == 0:
        return False
    for col in range(ncols):
        at = _at(col)
        d = fr[slot, at + S1] / n
        m2 = fr[slot, at + S2] / n - d * d
        if d * d > DRIFT * max(m2, 0.0):
            return True
        if fr[slot, at + S2] < SHRINK * fr[slot, at + PEAK2] or fr[slot, at + S4] < SHRINK * fr[slot, at + PEAK4]:
            return True
    return False


@numba.njit(cache=True, nogil=True, inline="always")
def _block(out, vals, nxt, d, rec, fr, slot, order_stats, min_relative_var):
    """Write one (account, direction) block into `out` (zeros): the slot's GCOUNT graph-live edges
    from GHEAD on, the last MCOUNT of them also in the moments window."""
    degree, n = rec[slot, GCOUNT], rec[slot, MCOUNT]
    if degree == 0:
        return
    out[FAN] = rec[slot, FAN_COUNT]
    out[DEGREE] = degree
    out[RATIO] = degree / rec[slot, FAN_COUNT]
    for col in range(vals.shape[1]):
        base = 3 + PER_COLUMN * col
        if n > 0:
            at = _at(col)
            k = fr[slot, at + ANCHOR]
            s1, s2, s3, s4 = fr[slot, at + S1] / n, fr[slot, at + S2] / n, fr[slot, at + S3] / n, fr[slot, at + S4] / n
            m2 = s2 - s1 * s1
            m3 = s3 - 3.0 * s1 * s2 + 2.0 * s1 * s1 * s1
            m4 = s4 - 4.0 * s1 * s3 + 6.0 * s1 * s1 * s2 - 3.0 * s1 * s1 * s1 * s1
            mean = k + s1
            out[base + AVERAGE] = mean
            out[base + SUM] = n * k + fr[slot, at + S1]
            # below NOISE_FLOOR, m2 is what cancellation left of equal values
            if m2 > NOISE_FLOOR * s2 and m2 >= min_relative_var * mean * mean:
                out[base + VAR] = m2
                out[base + SKEW] = m3 / m2 ** 1.5
                out[base + KURTOSIS] = m4 / (m2 * m2)
        if order_stats:
            scratch = np.empty(degree, np.float64)
            j = rec[slot, GHEAD]
            for q in range(degree):
                scratch[q] = vals[j, col]
                j = nxt[j, d]
            out[base + MINIMUM] = scratch.min()
            out[base + MAXIMUM] = scratch.max()
            out[base + MEDIAN] = np.median(scratch)


@numba.njit(cache=True, nogil=True, inline="always")
def _leave(j, acct, vals, nxt, rec, fr, pairs, graph, moments):
    """Edge j (the oldest of its slots) leaves the graph window and/or the moments window."""
    for d in range(2):
        owner, other = (acct[j, 0], acct[j, 1]) if d == 0 else (acct[j, 1], acct[j, 0])
        slot = 2 * owner + d
        if graph:
            rec[slot, GHEAD] = nxt[j, d]
            rec[slot, GCOUNT] -= 1
            if hash_table.decrement(pairs, (slot << 32) | other) == 0:
                rec[slot, FAN_COUNT] -= 1
        if moments:
            rec[slot, MHEAD] = nxt[j, d]
            rec[slot, MCOUNT] -= 1
            rec[slot, TURNED] += 1
            _add(fr, vals, j, slot, -1.0)
            n = rec[slot, MCOUNT]
            if rec[slot, TURNED] >= n or _losing_digits(fr, vals.shape[1], slot, n):
                _reanchor(fr, vals, nxt, d, rec[slot, MHEAD], n, slot)
                rec[slot, TURNED] = 0


@numba.njit(cache=True, nogil=True)
def _advance(acct, ts, vals, nxt, fronts, first, m, history, rec, fr, pairs, graph_window, stats_window, max_edges,
             keep, out, order_stats, min_relative_var):
    """Insert edges first..m-1 of the log. History edges (`history`) are inserted as they stand: all
    inside the graph window, inside the moments window from fronts[1] on, nothing evicted or
    emitted. Otherwise each edge is inserted, its four blocks' positions `keep` written to
    out[k - first] (block after block), then the log's fronts evicted (snapml's one-edge-at-a-time
    order): the graph keeps at most `max_edges` edges after an eviction, as snapml's `max_no_edges`
    does. `pairs` counts each slot's live edges per neighbour (key slot << 32 | neighbour)."""
    block = np.zeros(3 + PER_COLUMN * vals.shape[1], np.float64)
    for k in range(first, m):
        for d in range(2):
            owner, other = (acct[k, 0], acct[k, 1]) if d == 0 else (acct[k, 1], acct[k, 0])
            slot = 2 * owner + d
            nxt[k, d] = -1
            if hash_table.increment(pairs, (slot << 32) | other) == 0:
                rec[slot, FAN_COUNT] += 1
            if rec[slot, GCOUNT] == 0:
                rec[slot, GHEAD] = k
            else:
                nxt[rec[slot, TAIL], d] = k
            rec[slot, TAIL] = k
            rec[slot, GCOUNT] += 1
            if k < fronts[1]:                 # history already out of the moments window
                continue
            if rec[slot, MCOUNT] == 0:        # empty window: anchor at this value, sums restart exactly
                rec[slot, MHEAD] = k
                rec[slot, MCOUNT] = 1
                _reanchor(fr, vals, nxt, d, k, 1, slot)
            else:
                rec[slot, MCOUNT] += 1
                _add(fr, vals, k, slot, 1.0)
            n = rec[slot, MCOUNT]
            if _losing_digits(fr, vals.shape[1], slot, n):
                _reanchor(fr, vals, nxt, d, rec[slot, MHEAD], n, slot)
                rec[slot, TURNED] = 0
        if history:
            continue
        for b in range(4):
            d = b % 2
            block[:] = 0.0
            _block(block, vals, nxt, d, rec, fr, 2 * (acct[k, 0] if b < 2 else acct[k, 1]) + d, order_stats,
                   min_relative_var)
            for i in range(keep.shape[0]):
                out[k - first, b * keep.shape[0] + i] = block[keep[i]]
        gf, sf = fronts[0], fronts[1]
        while gf <= k and (ts[gf] < ts[k] - graph_window or k + 1 - gf > max_edges):
            _leave(gf, acct, vals, nxt, rec, fr, pairs, True, gf >= sf)
            gf += 1
        sf = max(sf, gf)
        while sf <= k and ts[sf] < ts[k] - stats_window:
            _leave(sf, acct, vals, nxt, rec, fr, pairs, False, True)
            sf += 1
        fronts[0], fronts[1] = gf, sf


@numba.njit(cache=True, nogil=True)
def _renumber(nxt, rec, acct, gf, m):
    """Edge numbers shift down by gf (the log drops its evicted front): links, heads and tails of
    the live slots, each found through the live edge it names."""
    for j in range(gf, m):
        for d in range(2):
            slot = 2 * acct[j, d] + d
            if nxt[j, d] >= 0:
                nxt[j, d] -= gf
            for h in (GHEAD, MHEAD, TAIL):
                if rec[slot, h] == j and (h != MHEAD or rec[slot, MCOUNT] > 0):
                    rec[slot, h] = j - gf


class VertexStatsStream:
    """Vertex statistics of a stream, kept up to date edge by edge (snapml's one-edge-at-a-time order).

    Holds the rows of the graph window (`rows`: raw source, raw target, timestamp, the chosen
    columns), their dense accounts, and per (account, direction) a record: a linked list of its
    live edges, its counts, fan and shifted moment sums; a hash table counts each record's live
    edges per neighbour. Appending a batch costs O(batch) plus the evicted edges (and a re-anchor,
    O(live edges of the slot), when the module doc says); the log drops its evicted front when
    full and doubles, amortised O(1) per edge. `keep` picks the positions of a block (0..block_width
    - 1) that `append` writes; all of them by default."""

    def __init__(self, ncols: int, graph_window, stats_window, order_stats=True, min_relative_var=0.0,
                 max_edges: int | None = None, keep=None):
        self.ncols, self.graph_window, self.stats_window = ncols, float(graph_window), float(stats_window)
        self.max_edges = np.iinfo(np.int64).max if max_edges is None else int(max_edges)
        self.order_stats, self.min_relative_var = bool(order_stats), float(min_relative_var)
        self.keep = np.arange(block_width(ncols)) if keep is None else np.asarray(keep, np.int64)
        self.m = 0
        self.fronts = np.zeros(2, np.int64)        # first edge in the graph window, in the moments window
        self.rows = np.zeros((0, 3 + ncols), np.float64)
        self.acct = np.zeros((0, 2), np.int64)
        self.nxt = np.zeros((0, 2), np.int64)
        self.pairs = hash_table.empty()
        self.records = np.zeros((0, FLOATS + RECORD_PER_COLUMN * ncols), np.int64)
        self._grow_slots(0)

    def _grow_slots(self, accounts: int) -> None:
        held = self.records.shape[0]
        if 2 * accounts <= held and held:
            return
        records = np.zeros((max(2 * accounts, 2 * held, 64), self.records.shape[1]), np.int64)   # doubling
        records[:held] = self.records
        self.records = records

    def _make_room(self, b: int) -> None:
        """Room for b more edges: drop the evicted front, double when the live part is over half."""
        if self.m + b <= len(self.rows):
            return
        gf = int(self.fronts[0])
        _renumber(self.nxt, self.records, self.acct, gf, self.m)
        live = self.m - gf
        cap = max(2 * (live + b), 1024)
        for name in ("rows", "acct", "nxt"):
            old = getattr(self, name)
            new = np.zeros((cap, old.shape[1]), old.dtype)
            new[:live] = old[gf:self.m]
            setattr(self, name, new)
        self.m, self.fronts = live, self.fronts - gf

    def append(self, rows: np.ndarray, accounts: np.ndarray, history: bool = False, out=None) -> np.ndarray:
        """Insert `rows` (raw source, raw target, timestamp, columns) with their dense `accounts`;
        blocks [batch, 4, len(keep)] (history: inserted as it stands, nothing emitted). `out`, when
        given, is a [batch, 4 * len(keep)] array (any strides) the blocks are written into."""
        b = len(rows)
        self._make_room(b)
        self._grow_slots(int(accounts.max(initial=-1)) + 1)
        first = self.m
        self.rows[first:first + b], self.acct[first:first + b] = rows, accounts
        self.m += b
        # each live edge holds at most one key per direction
        self.pairs = hash_table.with_room(self.pairs, 2 * (self.m - int(self.fronts[0])))
        if out is None:
            out = np.empty((0 if history else b, 4 * len(self.keep)), np.float64)
        _advance(self.acct, self.rows[:, 2], self.rows[:, 3:], self.nxt, self.fronts, first, self.m, history,
                 self.records, self.records.view(np.float64), self.pairs, self.graph_window, self.stats_window,
                 self.max_edges, self.keep, out, self.order_stats, self.min_relative_var)
        return out.reshape(len(out), 4, len(self.keep))

    def window_rows(self) -> tuple[np.ndarray, int]:
        """The graph window's rows and where the moments window starts among them."""
        gf = int(self.fronts[0])
        return self.rows[gf:self.m].copy(), int(self.fronts[1]) - gf


def vertex_stats(acct_src, acct_dst, ts, vals, graph_window, stats_window, stats_front=0, history=0,
                 order_stats=True, min_relative_var=0.0):
    """Blocks [m - history, 4, 3 + 8 * ncols] for the stream's edges after the first `history` ones.

    `acct_src`/`acct_dst` are dense account numbers, `vals` [m, ncols] the chosen columns, edges in
    insertion order. The first `history` edges are replayed, not emitted: all of them inside the graph
    window, those from `stats_front` on inside the moments window. `order_stats=False` leaves min,
    max and median at 0 (they cost O(degree) per edge). A variance below `min_relative_var * mean^2`
    is reported as 0, with its skew and kurtosis (snapml does so below SNAPML_MIN_RELATIVE_VAR). Returns
    (blocks, graph_front, stats_front): the first edge still in each window after the last edge's eviction."""
    accounts = np.column_stack([np.asarray(acct_src, np.int64), np.asarray(acct_dst, np.int64)])
    vals = np.asarray(vals, np.float64)
    vals = vals[:, None] if vals.ndim == 1 else vals
    rows = np.column_stack([accounts, np.asarray(ts, np.float64), vals])
    stream = VertexStatsStream(vals.shape[1], graph_window, stats_window, order_stats, min_relative_var)
    stream.fronts[1] = int(stats_front)
    stream.append(rows[:history], accounts[:history], history=True)
    blocks = stream.append(rows[history:], accounts[history:])
    dropped = len(rows) - stream.m    # edges the log let go to make room
    return blocks, dropped + int(stream.fronts[0]), dropped + int(stream.fronts[1])
