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
  so "is there a window edge v->x" and "is this the first window edge to x" are binary searches.

Vertex arrays: ``bank`` (bank code of each account). Construction is one stable sort by time (a
counting sort over minutes for IBM data), then per direction, in parallel, O(m + n) radix
grouping and short per-vertex sorts in Numba.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numba
import numpy as np
import pyarrow as pa


_DIGIT_BITS = 11
_DIGITS = 1 << _DIGIT_BITS


@numba.njit(cache=True, nogil=True)
def _minute_order(ts):
    """Stable order of edges by timestamp when every timestamp is a whole minute and the span is
    short (IBM data): one counting-sort pass. Returns an empty array when that does not apply."""
    m = ts.shape[0]
    lo, hi = ts.min(), ts.max()
    for i in range(m):
        if (ts[i] - lo) % 60 != 0:
            return np.empty(0, np.int64)
    buckets = (hi - lo) // 60 + 1
    if buckets > 4 * m + 1024:
        return np.empty(0, np.int64)
    count = np.zeros(buckets + 1, np.int64)
    for i in range(m):
        count[(ts[i] - lo) // 60 + 1] += 1
    for b in range(buckets):
        count[b + 1] += count[b]
    order = np.empty(m, np.int64)
    for i in range(m):
        b = (ts[i] - lo) // 60
        order[count[b]] = i
        count[b] += 1
    return order


@numba.njit(cache=True, nogil=True, parallel=True)
def _gather_edges(order, src, dst, ts, tx_id):
    m = order.shape[0]
    s, d = np.empty(m, np.int32), np.empty(m, np.int32)
    t, x = np.empty(m, np.int64), np.empty(m, np.int64)
    for i in numba.prange(m):
        e = order[i]
        s[i], d[i], t[i], x[i] = src[e], dst[e], ts[e], tx_id[e]
    return s, d, t, x


@numba.njit(cache=True, nogil=True)
def _gather_attributes(order, amount_paid, amount_received, pay_currency, recv_currency, payment_format):
    m = order.shape[0]
    ap, ar = np.empty(m, np.float64), np.empty(m, np.float64)
    pc, rc, pf = np.empty(m, np.int8), np.empty(m, np.int8), np.empty(m, np.int8)
    for i in range(m):
        e = order[i]
        ap[i], ar[i] = amount_paid[e], amount_received[e]
        pc[i], rc[i], pf[i] = pay_currency[e], recv_currency[e], payment_format[e]
    return ap, ar, pc, rc, pf


@numba.njit(cache=True, nogil=True)
def _build_direction(owner, other, ts, nkeys):
    """One direction of the CSR from edges numbered in time order: (ptr, edge, nbr, ts, ns_edge,
    ns_nbr, ns_ts).

    Grouping by owner is a stable LSD radix sort with 11-bit digits: each scatter pass stays
    within cache, which matters far more than the O(m) bound (a one-pass counting sort over 500k
    buckets is several times slower here). Each vertex's segment is then stable-sorted by
    neighbour (insertion sort for short ones), carrying edge numbers and timestamps along.
    """
    m = owner.shape[0]
    keys = owner.astype(np.int32)
    order = np.arange(m, dtype=np.int32)   # int32 while sorting: half the bytes moved per pass
    keys_tmp = np.empty_like(keys)
    order_tmp = np.empty_like(order)
    passes = 1
    while (nkeys - 1) >> (passes * _DIGIT_BITS) > 0:
        passes += 1
    # one read of the keys gives every pass's histogram
    count = np.zeros((passes, _DIGITS + 1), dtype=np.int64)
    for i in range(m):
        k = keys[i]
        for q in range(passes):
            count[q, ((k >> (q * _DIGIT_BITS)) & (_DIGITS - 1)) + 1] += 1
    for q in range(passes):
        for d in range(_DIGITS):
            count[q, d + 1] += count[q, d]
        shift = q * _DIGIT_BITS
        for i in range(m):
            d = (keys[i] >> shift) & (_DIGITS - 1)
            j = count[q, d]
            keys_tmp[j] = keys[i]
            order_tmp[j] = order[i]
            count[q, d] = j + 1
        keys, keys_tmp = keys_tmp, keys
        order, order_tmp = order_tmp, order
    ptr = np.zeros(nkeys + 1, dtype=np.int64)
    for i in range(m):
        ptr[keys[i] + 1] += 1
    for k in range(nkeys):
        ptr[k + 1] += ptr[k]
    edge = np.empty(m, np.int64)
    nbr = np.empty(m, np.int32)
    ets = np.empty(m, np.int64)
    for p in range(m):
        e = order[p]
        edge[p] = e
        nbr[p] = other[e]
        ets[p] = ts[e]
    ns_edge = edge.copy()
    ns_nbr = nbr.copy()
    ns_ts = ets.copy()
    for v in range(nkeys):
        lo, hi = ptr[v], ptr[v + 1]
        if hi - lo <= 32:
            for i in range(lo + 1, hi):  # insertion sort: stable, fast on short lists
                ke, kn, kt = ns_edge[i], ns_nbr[i], ns_ts[i]
                j = i - 1
                while j >= lo and ns_nbr[j] > kn:
                    ns_edge[j + 1] = ns_edge[j]
                    ns_nbr[j + 1] = ns_nbr[j]
                    ns_ts[j + 1] = ns_ts[j]
                    j -= 1
                ns_edge[j + 1] = ke
                ns_nbr[j + 1] = kn
                ns_ts[j + 1] = kt
        else:
            perm = np.argsort(nbr[lo:hi], kind="mergesort")
            for i in range(hi - lo):
                ns_edge[lo + i] = edge[lo + perm[i]]
                ns_nbr[lo + i] = nbr[lo + perm[i]]
                ns_ts[lo + i] = ets[lo + perm[i]]
    return ptr, edge, nbr, ets, ns_edge, ns_nbr, ns_ts


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

    def degree(self) -> np.ndarray:
        return np.diff(self.ptr)


def _adjacency(owner: np.ndarray, other: np.ndarray, ts: np.ndarray, n: int) -> Adjacency:
    return Adjacency(*_build_direction(owner, other, ts, n))


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
        # Stable sort by ts after sorting by tx_id gives (ts, tx_id) order.
        if m > 1 and np.all(tx_id[1:] > tx_id[:-1]):
            order = _minute_order(ts)
            if order.shape[0] != m:
                order = np.argsort(ts, kind="stable")
        else:
            by_id = np.argsort(tx_id, kind="stable")
            order = by_id[np.argsort(ts[by_id], kind="stable")]

        def attributes():
            def attr(a, dtype):  # numpy arrays, or Arrow columns (converted here, off the critical path)
                if a is None:
                    return np.zeros(m, dtype)
                if isinstance(a, (pa.Array, pa.ChunkedArray)):
                    a = a.to_numpy()
                return np.ascontiguousarray(a, dtype=dtype)

            return _gather_attributes(order, attr(amount_paid, np.float64), attr(amount_received, np.float64),
                                      attr(pay_currency, np.int8), attr(recv_currency, np.int8),
                                      attr(payment_format, np.int8))

        order = order.astype(np.int64)
        s, d, t, x = _gather_edges(order, src, dst, ts, tx_id)
        # Both directions and the attribute gather are independent, and their kernels release the
        # GIL: the directions run in two threads while this one gathers the attributes.
        with ThreadPoolExecutor(max_workers=2) as pool:
            out_f = pool.submit(_adjacency, s, d, t, n)
            inc_f = pool.submit(_adjacency, d, s, t, n)
            ap, ar, pc, rc, pf = attributes()
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
