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
bucket sort by owner and short per-vertex sorts in Numba (`blazingaml.graph_build`). Graphs of
fewer than `NUMPY_BUILD_EDGES` edges are laid out by NumPy sorts instead, identically: that
skips Numba's start-up, which costs more than such a build.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from .io.columns import column_numpy

NUMPY_BUILD_EDGES = 1 << 16   # below this many edges, NumPy lays the graph out (see the module docstring)


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


def _empty_adjacency(n: int, m: int) -> Adjacency:
    # arrays allocated by NumPy, for huge pages (see _layout_numba)
    return Adjacency(ptr=np.empty(n + 1, np.int64), edge=np.empty(m, np.int64), nbr=np.empty(m, np.int32),
                     ts=np.empty(m, np.int64), ns_edge=np.empty(m, np.int64), ns_nbr=np.empty(m, np.int32),
                     ns_ts=np.empty(m, np.int64), prev_same=np.empty(m, np.int32))


def _adjacency(owner: np.ndarray, other: np.ndarray, ts: np.ndarray, n: int) -> Adjacency:
    """One direction by the Numba bucket sort (edges numbered in time order)."""
    from .graph_build import _build_direction

    adj = _empty_adjacency(n, owner.shape[0])
    _build_direction(owner, other, ts, adj.ptr, adj.edge, adj.nbr, adj.ts, adj.ns_edge, adj.ns_nbr, adj.ns_ts,
                     adj.prev_same)
    return adj


def _adjacency_numpy(owner: np.ndarray, other: np.ndarray, ts: np.ndarray, n: int) -> Adjacency:
    """The same direction by NumPy sorts: the time view is the edges stably sorted by owner (edge
    numbers are time order), the neighbour view the edges sorted by (owner, neighbour, edge), and
    each neighbour-view entry links to its predecessor in a run of one (owner, neighbour) pair."""
    m = owner.shape[0]
    adj = _empty_adjacency(n, m)
    adj.ptr[0] = 0
    np.cumsum(np.bincount(owner, minlength=n), out=adj.ptr[1:])
    by_time = np.argsort(owner, kind="stable")
    adj.edge[:], adj.nbr[:], adj.ts[:] = by_time, other[by_time], ts[by_time]
    by_nbr = np.lexsort((np.arange(m), other, owner))
    adj.ns_edge[:], adj.ns_nbr[:], adj.ns_ts[:] = by_nbr, other[by_nbr], ts[by_nbr]
    position = np.empty(m, np.int64)   # each edge's position in the time view
    position[by_time] = np.arange(m)
    adj.prev_same[:] = -1
    if m > 1:
        run = (owner[by_nbr[1:]] == owner[by_nbr[:-1]]) & (other[by_nbr[1:]] == other[by_nbr[:-1]])
        adj.prev_same[position[by_nbr[1:][run]]] = position[by_nbr[:-1][run]]
    return adj


_KINDS = (np.int32, np.int32, np.int64, np.int64, np.float64, np.float64, np.int8, np.int8, np.int8)


def _per_edge_inputs(src, dst, ts, tx_id, columns) -> list[np.ndarray]:
    """The nine per-edge arrays in input order, as contiguous NumPy arrays of the layout's types
    (absent attribute columns are zeros)."""
    m = src.shape[0]

    def attr(a, dtype):  # numpy arrays or Arrow columns
        if a is None:
            return np.zeros(m, dtype)
        if isinstance(a, (pa.Array, pa.ChunkedArray)):
            a = column_numpy(a)
        return np.ascontiguousarray(a, dtype=dtype)

    return [attr(a, kind) for a, kind in zip((src, dst, ts, tx_id, *columns), _KINDS)]


def _time_order(ts, tx_id) -> np.ndarray:
    """The input row of each edge number, by stable sorts: by ts after sorting by tx_id."""
    by_id = np.argsort(tx_id, kind="stable")
    return by_id[np.argsort(ts[by_id], kind="stable")]


def _layout_numpy(src, dst, ts, tx_id, n, columns):
    """(order, per-edge arrays in edge order, out, in) by NumPy sorts: a small graph's build."""
    order = _time_order(ts, tx_id)
    edges = [a[order] for a in _per_edge_inputs(src, dst, ts, tx_id, columns)]
    s, d, t = edges[:3]
    return order, edges, _adjacency_numpy(s, d, t, n), _adjacency_numpy(d, s, t, n)


def _layout_numba(src, dst, ts, tx_id, n, columns):
    """(order, per-edge arrays in edge order, out, in) by the Numba kernels: the minute counting
    sort where it applies, a parallel gather, and one thread per direction."""
    import numba

    from .graph_build import _gather_edges, _minute_order

    m = src.shape[0]
    order = np.empty(m, np.int64)  # the input row of each edge number: the graph's `row`
    by_minute = m > 1 and np.all(tx_id[1:] > tx_id[:-1]) and _minute_order(
        ts, max(1, min(numba.get_num_threads(), m // 65536)), order)
    if not by_minute:  # general case
        order[:] = _time_order(ts, tx_id)
    # Large arrays are allocated here by NumPy, which asks the kernel for huge pages: first
    # touch of a few hundred MB is then several times cheaper than from inside a Numba kernel.
    inputs = _per_edge_inputs(src, dst, ts, tx_id, columns)
    edges = [np.empty(m, kind) for kind in _KINDS]
    _gather_edges(order, *inputs, *edges)
    s, d, t = edges[:3]
    # The two directions are independent and their kernels release the GIL: one thread each.
    with ThreadPoolExecutor(max_workers=2) as pool:
        out_f = pool.submit(_adjacency, s, d, t, n)
        inc_f = pool.submit(_adjacency, d, s, t, n)
        return order, edges, out_f.result(), inc_f.result()


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
        columns = (amount_paid, amount_received, pay_currency, recv_currency, payment_format)
        if m < NUMPY_BUILD_EDGES:
            order, edges, out, inc = _layout_numpy(src, dst, ts, tx_id, n, columns)
        else:
            order, edges, out, inc = _layout_numba(src, dst, ts, tx_id, n, columns)
        s, d, t, x, ap, ar, pc, rc, pf = edges
        return cls(
            n=n, src=s, dst=d, ts=t, tx_id=x, row=order, amount_paid=ap, amount_received=ar, pay_currency=pc,
            recv_currency=rc, payment_format=pf,
            bank=np.zeros(n, np.int32) if bank is None else np.asarray(bank, dtype=np.int32),
            out=out, inc=inc,
        )

    @classmethod
    def from_table(cls, table: pa.Table, accounts: pa.Table | None = None) -> "TemporalGraph":
        """Build from a normalised transaction table (see `blazingaml.io.ibm_csv`)."""
        col = lambda name: column_numpy(table.column(name))  # noqa: E731
        n = None
        bank = None
        if accounts is not None and accounts.num_rows:
            n = accounts.num_rows
            bank_codes = accounts.column("bank").dictionary_encode().combine_chunks().indices
            bank = np.asarray(column_numpy(bank_codes), dtype=np.int32)
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
