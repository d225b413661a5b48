"""TemporalGraph: the one in-memory layout every kernel (Numba, CUDA, reference) reads.

Layout (plain NumPy arrays, so the same buffers go to the GPU unchanged):

* **Edge order.** Edges are numbered 0..m-1 by (ts, tx_id): edge ``e`` *precedes* ``f`` iff
  ``e < f``. Timestamps have minute resolution and tie often; tx_id (input order) settles ties.
  Per-edge arrays, indexed by that number: ``src``, ``dst``, ``ts``, ``tx_id``, ``row`` (the
  row in the input table), ``amount_paid``, ``amount_received``, ``pay_currency``,
  ``recv_currency``, ``payment_format``.
* **Time-sorted CSR**, one per direction (``out`` and ``in``): the incident edges of vertex ``v``
  are ``edge[ptr[v]:ptr[v+1]]`` in increasing edge number (hence time), with parallel arrays
  ``nbr`` (the other endpoint) and ``ts``. A window lower bound is a binary search on ``ts``;
  the "precedes the trigger" upper bound is an early break on ``edge``.
* **Neighbour-sorted CSR** (``ns_*``), same ``ptr``: the incident edges of ``v`` ordered by
  (neighbour, edge number). All edges between ``v`` and one neighbour form a run sorted by time,
  so "is there a window edge v->x" is a binary search.
* **Same-neighbour links** (``prev_same``), per position of the time-sorted view: the position
  of the previous edge between the same two accounts (-1 for none). "Is this the first window
  edge to x" walks back from the edge itself, usually one step.

Vertex arrays: ``bank`` (bank code of each account). Construction is one stable sort by time (a
counting sort over minutes for IBM data), then per direction, in parallel, a two-pass
bucket sort by owner and short per-vertex sorts in Numba (see `_build_direction`).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numba
import numpy as np
import pyarrow as pa


_EDGES_PER_BUCKET = 8192  # graph construction's second pass works one bucket at a time in cache
_MAX_BUCKET_BITS = 16     # at most 65,536 vertices per bucket: bounds the per-bucket counters


@numba.njit(cache=True, nogil=True, parallel=True)
def _minute_order(ts, chunks, order):
    """Fill `order` with the input row of each edge number when every timestamp is a whole minute
    and the span is short (IBM data): a stable counting sort over minutes, the rows split into
    `chunks` contiguous runs counted and placed in parallel. False when that does not apply."""
    m = ts.shape[0]
    lo, hi = ts.min(), ts.max()
    off_minute = 0
    for i in numba.prange(m):
        if (ts[i] - lo) % 60 != 0:
            off_minute += 1
    buckets = (hi - lo) // 60 + 1
    if off_minute or buckets > 4 * m + 1024:
        return False
    step = (m + chunks - 1) // chunks
    count = np.zeros((chunks, buckets), np.int64)  # one row per chunk: no shared cache lines
    for c in numba.prange(chunks):
        for i in range(c * step, min(m, (c + 1) * step)):
            count[c, (ts[i] - lo) // 60] += 1
    placed = 0
    for b in range(buckets):  # earlier minutes first; within a minute, earlier chunks first
        for c in range(chunks):
            k = count[c, b]
            count[c, b] = placed
            placed += k
    for c in numba.prange(chunks):
        for i in range(c * step, min(m, (c + 1) * step)):
            b = (ts[i] - lo) // 60
            order[count[c, b]] = i
            count[c, b] += 1
    return True


# Arrays go to the parallel kernel one by one, not in tuples: Numba's parallel loops mishandle
# tuples of arrays (writes through an unpacked tuple can be lost).
@numba.njit(cache=True, nogil=True, parallel=True)
def _gather_edges(order, src, dst, ts, tx_id, ap, ar, pc, rc, pf,
                  src_, dst_, ts_, tx_id_, ap_, ar_, pc_, rc_, pf_):
    """Every per-edge array in edge-number order (`name_` from `name`), in one parallel pass.
    Writes are sequential; for near-sorted input (IBM files are sorted to within minutes) the
    reads stay within a small window that is in cache."""
    for p in numba.prange(order.shape[0]):
        i = order[p]
        src_[p], dst_[p], ts_[p], tx_id_[p] = src[i], dst[i], ts[i], tx_id[i]
        ap_[p], ar_[p] = ap[i], ar[i]
        pc_[p], rc_[p], pf_[p] = pc[i], rc[i], pf[i]


@numba.njit(cache=True, nogil=True)
def _bucket_bits(m, nkeys):
    """log2 of the vertex-range width of one bucket: about 8k edges per bucket on average, so a
    bucket's records and its slice of the output stay in L2 while the second pass works on them."""
    low = 0
    while low < _MAX_BUCKET_BITS and (np.int64(2) << low) * m <= _EDGES_PER_BUCKET * max(nkeys, 1):
        low += 1
    return low


@numba.njit(cache=True, nogil=True)
def _build_direction(owner, other, ts, ptr, edge, nbr, ets, ns_edge, ns_nbr, ns_ts, prev_same):
    """Fill one direction of the CSR (`ptr`, time view `edge, nbr, ets`, neighbour-sorted view
    `ns_*`, links `prev_same`) from edges numbered in time order; `ptr` has one entry per vertex
    plus one.

    Two passes, both stable, so each vertex's edges keep increasing edge number (time):

    1. Scatter every edge, as a record (edge number and neighbour packed in one word, timestamp,
       owner), into the bucket of its owner's high bits. Buckets are few (hundreds), so the
       scatter writes a few hundred sequential streams, and every input is read in order. The
       records are staged in the `ns_*` arrays, which have exactly their size.
    2. Bucket by bucket, while its records are in cache: count owners (this gives `ptr`), place
       each record at its final position in the time view, then sort each vertex's segment by
       (neighbour, edge number) into the neighbour-sorted view, overwriting the bucket's records
       (its segments cover exactly the bucket's range). Packed 64-bit keys; insertion sort for
       short segments, an in-place sort for longer ones. No random reads of the big arrays.
       The sorted keys give `prev_same` on the way (see `link_same_neighbour`).
    """
    m = owner.shape[0]
    nkeys = ptr.shape[0] - 1
    low = _bucket_bits(m, nkeys)
    width = np.int64(1) << low
    nbuckets = (nkeys + width - 1) >> low
    start = np.zeros(nbuckets + 1, np.int64)
    for i in range(m):
        start[(owner[i] >> low) + 1] += 1
    largest = 0
    for b in range(nbuckets):
        largest = max(largest, start[b + 1])
        start[b + 1] += start[b]
    cursor = start[:-1].copy()
    packed, rec_ts, rec_owner = ns_edge, ns_ts, ns_nbr
    for i in range(m):
        b = owner[i] >> low
        j = cursor[b]
        cursor[b] = j + 1
        packed[j] = (np.int64(i) << 32) | other[i]
        rec_ts[j] = ts[i]
        rec_owner[j] = owner[i]

    ptr[0] = 0
    count = np.empty(width + 1, np.int64)
    key = np.empty(largest, np.int64)
    for b in range(nbuckets):
        lo, hi = start[b], start[b + 1]
        v0 = b << low
        nv = min(width, nkeys - v0)
        count[: nv + 1] = 0
        for j in range(lo, hi):
            count[rec_owner[j] - v0 + 1] += 1
        count[0] = lo
        for k in range(nv):
            count[k + 1] += count[k]
            ptr[v0 + k + 1] = count[k + 1]
        for j in range(lo, hi):
            k = rec_owner[j] - v0
            p = count[k]
            count[k] = p + 1
            word = packed[j]
            edge[p] = word >> 32
            nbr[p] = word & 0xFFFFFFFF
            ets[p] = rec_ts[j]
        for v in range(v0, v0 + nv):
            s, k = ptr[v], ptr[v + 1] - ptr[v]
            if k == 1:
                ns_edge[s], ns_nbr[s], ns_ts[s] = edge[s], nbr[s], ets[s]
                prev_same[s] = -1
                continue
            for i in range(k):  # (neighbour, position) keys: unique, so any sort is stable here
                key[i] = (np.int64(nbr[s + i]) << 32) | i
            if k <= 24:
                for i in range(1, k):
                    x = key[i]
                    j = i - 1
                    while j >= 0 and key[j] > x:
                        key[j + 1] = key[j]
                        j -= 1
                    key[j + 1] = x
            else:
                key[:k].sort()
            link_same_neighbour(key, k, s, edge, nbr, ets, ns_edge, ns_nbr, ns_ts, prev_same)


@numba.njit(cache=True, nogil=True)
def link_same_neighbour(key, k, s, edge, nbr, ets, ns_edge, ns_nbr, ns_ts, prev_same):
    """Write the neighbour-sorted view and the `prev_same` links of the segment at `s` (k entries)
    from its sorted (neighbour << 32 | offset) keys: within a run of one neighbour the offsets
    rise with time, so each entry's predecessor in the run is its previous edge to that neighbour."""
    for i in range(k):
        q = s + (key[i] & 0xFFFFFFFF)
        ns_edge[s + i], ns_nbr[s + i], ns_ts[s + i] = edge[q], nbr[q], ets[q]
        same = i > 0 and (key[i] >> 32) == (key[i - 1] >> 32)
        prev_same[q] = s + (key[i - 1] & 0xFFFFFFFF) if same else -1


@dataclass
class Adjacency:
    """One direction of the CSR: time-sorted and neighbour-sorted views sharing `ptr`."""

    ptr: np.ndarray      # int64[n+1]
    edge: np.ndarray     # int64[m]  edge numbers, time order within a vertex
    nbr: np.ndarray      # int32[m]
    ts: np.ndarray       # int64[m]
    ns_edge: np.ndarray  # int64[m]  edge numbers, (neighbour, time) order within a vertex
    ns_nbr: np.ndarray   # int32[m]
    ns_ts: np.ndarray    # int64[m]
    prev_same: np.ndarray  # int32[m]  per time-view position: the position of the previous edge
    #                        between the same two accounts, -1 for the first (paths' parallel-edge test)

    def degree(self) -> np.ndarray:
        return np.diff(self.ptr)


def _adjacency(owner: np.ndarray, other: np.ndarray, ts: np.ndarray, n: int) -> Adjacency:
    m = owner.shape[0]  # arrays allocated by NumPy, for huge pages (see from_arrays)
    adj = Adjacency(ptr=np.empty(n + 1, np.int64), edge=np.empty(m, np.int64), nbr=np.empty(m, np.int32),
                    ts=np.empty(m, np.int64), ns_edge=np.empty(m, np.int64), ns_nbr=np.empty(m, np.int32),
                    ns_ts=np.empty(m, np.int64), prev_same=np.empty(m, np.int32))
    _build_direction(owner, other, ts, adj.ptr, adj.edge, adj.nbr, adj.ts, adj.ns_edge, adj.ns_nbr, adj.ns_ts,
                     adj.prev_same)
    return adj


@dataclass
class TemporalGraph:
    """A temporal multigraph of transactions in the layout described in the module docstring."""

    n: int
    src: np.ndarray
    dst: np.ndarray
    ts: np.ndarray
    tx_id: np.ndarray
    row: np.ndarray
    amount_paid: np.ndarray
    amount_received: np.ndarray
    pay_currency: np.ndarray
    recv_currency: np.ndarray
    payment_format: np.ndarray
    bank: np.ndarray
    out: Adjacency
    inc: Adjacency

    @property
    def m(self) -> int:
        return int(self.src.shape[0])

    @classmethod
    def from_arrays(cls, src, dst, ts, tx_id=None, n=None, amount_paid=None, amount_received=None,
                    pay_currency=None, recv_currency=None, payment_format=None, bank=None) -> "TemporalGraph":
        """Build from per-transaction arrays in input order (any order of time)."""
        src = np.asarray(src, dtype=np.int32)
        dst = np.asarray(dst, dtype=np.int32)
        ts = np.asarray(ts, dtype=np.int64)
        m = src.shape[0]
        tx_id = np.arange(m, dtype=np.int64) if tx_id is None else np.asarray(tx_id, dtype=np.int64)
        if n is None:
            n = int(max(src.max(initial=-1), dst.max(initial=-1)) + 1)
        if m and (src.min() < 0 or dst.min() < 0 or max(src.max(), dst.max()) >= n):
            raise ValueError("account indices must lie in [0, n)")
        if m >= 2**31:
            raise ValueError("one graph holds at most 2^31 - 1 transactions; split the period")
        order = np.empty(m, np.int64)  # the input row of each edge number: the graph's `row`
        by_minute = m > 1 and np.all(tx_id[1:] > tx_id[:-1]) and _minute_order(
            ts, max(1, min(numba.get_num_threads(), m // 65536)), order)
        if not by_minute:  # general case: stable sort by ts after sorting by tx_id
            by_id = np.argsort(tx_id, kind="stable")
            order[:] = by_id[np.argsort(ts[by_id], kind="stable")]

        def attr(a, dtype):  # numpy arrays or Arrow columns
            if a is None:
                return np.zeros(m, dtype)
            if isinstance(a, (pa.Array, pa.ChunkedArray)):
                a = a.to_numpy()
            return np.ascontiguousarray(a, dtype=dtype)

        # Large arrays are allocated here by NumPy, which asks the kernel for huge pages: first
        # touch of a few hundred MB is then several times cheaper than from inside a Numba kernel.
        kinds = (np.int32, np.int32, np.int64, np.int64, np.float64, np.float64, np.int8, np.int8, np.int8)
        inputs = (src, dst, ts, tx_id, amount_paid, amount_received, pay_currency, recv_currency, payment_format)
        inputs = [attr(a, kind) for a, kind in zip(inputs, kinds)]
        outputs = [np.empty(m, kind) for kind in kinds]
        _gather_edges(order, *inputs, *outputs)
        s, d, t, x, ap, ar, pc, rc, pf = outputs
        # The two directions are independent and their kernels release the GIL: one thread each.
        with ThreadPoolExecutor(max_workers=2) as pool:
            out_f = pool.submit(_adjacency, s, d, t, n)
            inc_f = pool.submit(_adjacency, d, s, t, n)
            out, inc = out_f.result(), inc_f.result()
        return cls(
            n=n, src=s, dst=d, ts=t, tx_id=x, row=order, amount_paid=ap, amount_received=ar, pay_currency=pc,
            recv_currency=rc, payment_format=pf,
            bank=np.zeros(n, np.int32) if bank is None else np.asarray(bank, dtype=np.int32),
            out=out, inc=inc,
        )

    @classmethod
    def from_table(cls, table: pa.Table, accounts: pa.Table | None = None) -> "TemporalGraph":
        """Build from a normalised transaction table (see `blazingaml.io.ibm_csv`)."""
        col = lambda name: table.column(name).to_numpy()  # noqa: E731
        n = None
        bank = None
        if accounts is not None and accounts.num_rows:
            n = accounts.num_rows
            bank_codes = accounts.column("bank").dictionary_encode().combine_chunks().indices
            bank = np.asarray(bank_codes.to_numpy(zero_copy_only=False), dtype=np.int32)
        return cls.from_arrays(
            col("src"), col("dst"), col("ts"), tx_id=col("tx_id"), n=n,
            amount_paid=table.column("amount_paid"), amount_received=table.column("amount_received"),
            pay_currency=table.column("pay_currency"), recv_currency=table.column("recv_currency"),
            payment_format=table.column("payment_format"), bank=bank,
        )

    def adjacency(self, direction: str) -> Adjacency:
        return self.out if direction == "out" else self.inc

    def to_input_order(self, per_edge: np.ndarray) -> np.ndarray:
        """Reorder a per-edge array (edge-number order) back to input-row order."""
        result = np.empty_like(per_edge)
        result[self.row] = per_edge
        return result

    def summary(self) -> dict:
        dout, din = self.out.degree(), self.inc.degree()
        return {
            "accounts": self.n, "transactions": self.m,
            "first_ts": int(self.ts[0]) if self.m else None, "last_ts": int(self.ts[-1]) if self.m else None,
            "self_loops": int((self.src == self.dst).sum()),
            "max_out_degree": int(dout.max(initial=0)), "max_in_degree": int(din.max(initial=0)),
            "mean_degree": float(self.m / max(self.n, 1)),
        }
