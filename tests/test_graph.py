"""TemporalGraph layout invariants on random temporal multigraphs (ties, self-loops, parallel edges)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blazingaml.graph import TemporalGraph


@st.composite
def multigraphs(draw, max_nodes=12, max_edges=80):
    n = draw(st.integers(1, max_nodes))
    m = draw(st.integers(0, max_edges))
    src = draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m))
    dst = draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m))
    ts = draw(st.lists(st.integers(0, 30), min_size=m, max_size=m))  # few values: many ties
    return n, np.array(src, np.int32), np.array(dst, np.int32), np.array(ts, np.int64)


@settings(max_examples=150, deadline=None)
@given(multigraphs())
def test_layout_invariants(g):
    n, src, dst, ts = g
    graph = TemporalGraph.from_arrays(src, dst, ts, n=n)
    m = len(src)
    # edge numbers follow (ts, tx_id)
    key = list(zip(graph.ts.tolist(), graph.tx_id.tolist()))
    assert key == sorted(key)
    assert sorted(graph.row.tolist()) == list(range(m))
    assert (graph.src == src[graph.row]).all() and (graph.dst == dst[graph.row]).all()
    for adj, owner, other in ((graph.out, graph.src, graph.dst), (graph.inc, graph.dst, graph.src)):
        assert adj.ptr[0] == 0 and adj.ptr[-1] == m and (np.diff(adj.ptr) >= 0).all()
        for v in range(n):
            lo, hi = adj.ptr[v], adj.ptr[v + 1]
            edges = adj.edge[lo:hi]
            assert (owner[edges] == v).all()
            assert (np.diff(edges) > 0).all()  # time order
            assert (adj.nbr[lo:hi] == other[edges]).all() and (adj.ts[lo:hi] == graph.ts[edges]).all()
            ns = adj.ns_edge[lo:hi]
            assert sorted(ns.tolist()) == sorted(edges.tolist())
            pairs = list(zip(adj.ns_nbr[lo:hi].tolist(), ns.tolist()))
            assert pairs == sorted(pairs)  # (neighbour, time) order
            assert (adj.ns_ts[lo:hi] == graph.ts[ns]).all()
            # same-neighbour links: the previous position with the same neighbour, by brute force
            for p in range(lo, hi):
                earlier = [q for q in range(lo, p) if adj.nbr[q] == adj.nbr[p]]
                assert adj.prev_same[p] == (earlier[-1] if earlier else -1)
    restored = graph.to_input_order(np.arange(m))
    assert (graph.row[restored] == np.arange(m)).all()


def test_from_table_uses_account_banks(small_world):
    import pyarrow.parquet as pq

    from blazingaml.io.ibm_csv import accounts_path_for

    _, parquet = small_world
    table = pq.read_table(parquet)
    accounts = pq.read_table(accounts_path_for(parquet))
    graph = TemporalGraph.from_table(table, accounts)
    assert graph.n == accounts.num_rows and graph.m == table.num_rows
    banks = accounts["bank"].to_pylist()
    same_bank = [banks[s] == banks[d] for s, d in zip(graph.src[:50], graph.dst[:50])]
    assert same_bank == [graph.bank[s] == graph.bank[d] for s, d in zip(graph.src[:50], graph.dst[:50])]


def _sorted_reference(src, dst, ts, columns):
    """The layout by plain NumPy sorts: edge order by (ts, row); each direction by (owner, edge),
    its neighbour view by (owner, neighbour, edge)."""
    order = np.lexsort((np.arange(len(ts)), ts))
    edge_src, edge_dst = src[order], dst[order]
    edges = np.arange(len(ts))
    views = {}
    for name, owner, other in (("out", edge_src, edge_dst), ("inc", edge_dst, edge_src)):
        by_time = np.lexsort((edges, owner))
        by_nbr = np.lexsort((edges, other, owner))
        views[name] = (by_time, other[by_time], by_nbr, other[by_nbr])
    return order, {name: column[order] for name, column in columns.items()}, views


def _previous_same_neighbour(ptr, nbr):
    """prev_same the plain way: per vertex, remember the last position seen for each neighbour."""
    prev = np.full(len(nbr), -1, np.int64)
    for v in range(len(ptr) - 1):
        last = {}
        for p in range(ptr[v], ptr[v + 1]):
            prev[p] = last.get(int(nbr[p]), -1)
            last[int(nbr[p])] = p
    return prev


@pytest.mark.parametrize("minutes", [True, False])
def test_large_graph_matches_plain_sorts(minutes):
    """Big enough for many construction buckets, hub segments, the chunked minute sort and the
    long-segment sort path; near-sorted timestamps like IBM files, or arbitrary seconds."""
    rng = np.random.default_rng(7)
    n, m = 30_000, 300_000
    hubs = rng.integers(0, n, 40)
    src = np.where(rng.random(m) < 0.2, rng.choice(hubs, m), rng.integers(0, n, m)).astype(np.int32)
    dst = np.where(rng.random(m) < 0.2, rng.choice(hubs, m), rng.integers(0, n, m)).astype(np.int32)
    base = 1_662_000_000 - 1_662_000_000 % 60
    if minutes:
        ts = base + 60 * (np.arange(m) // 40 + rng.integers(-15, 1, m)).clip(0)
    else:
        ts = base + rng.integers(0, 10**6, m)
    columns = {
        "amount_paid": rng.random(m) * 1e4, "amount_received": rng.random(m) * 1e4,
        "pay_currency": rng.integers(0, 15, m).astype(np.int8),
        "recv_currency": rng.integers(0, 15, m).astype(np.int8),
        "payment_format": rng.integers(0, 7, m).astype(np.int8),
    }
    graph = TemporalGraph.from_arrays(src, dst, ts, n=n, **columns)
    order, expected, views = _sorted_reference(src, dst, ts, columns)
    assert (graph.row == order).all()
    assert (graph.src == src[order]).all() and (graph.dst == dst[order]).all() and (graph.ts == ts[order]).all()
    assert (graph.tx_id == order).all()
    for name, column in expected.items():
        assert (getattr(graph, name) == column).all(), name
    for name, (by_time, nbr, by_nbr, ns_nbr) in views.items():
        adj = graph.out if name == "out" else graph.inc
        assert (adj.edge == by_time).all() and (adj.nbr == nbr).all() and (adj.ts == graph.ts[by_time]).all()
        assert (adj.ns_edge == by_nbr).all() and (adj.ns_nbr == ns_nbr).all()
        assert (adj.ns_ts == graph.ts[by_nbr]).all()
        assert (adj.prev_same == _previous_same_neighbour(adj.ptr, adj.nbr)).all()
        owner = graph.src if name == "out" else graph.dst
        assert (adj.ptr == np.concatenate([[0], np.cumsum(np.bincount(owner, minlength=n))])).all()


@settings(max_examples=120, deadline=None)
@given(multigraphs(max_nodes=20, max_edges=120), st.booleans())
def test_numpy_and_numba_builds_are_identical(g, shuffled_ids):
    """Small graphs are laid out by NumPy sorts, large ones by the Numba kernels: both give the
    same arrays, byte for byte (ties, self-loops, parallel edges, tx_ids out of input order)."""
    from blazingaml.graph import _layout_numba, _layout_numpy

    n, src, dst, ts = g
    m = len(src)
    rng = np.random.default_rng(m)
    tx_id = rng.permutation(m).astype(np.int64) if shuffled_ids else np.arange(m, dtype=np.int64)
    ts = 1_662_000_000 - 1_662_000_000 % 60 + 60 * ts   # whole minutes: the Numba minute sort applies
    columns = (rng.random(m), rng.random(m), rng.integers(0, 15, m).astype(np.int8),
               rng.integers(0, 15, m).astype(np.int8), rng.integers(0, 7, m).astype(np.int8))
    a, b = _layout_numpy(src, dst, ts, tx_id, n, columns), _layout_numba(src, dst, ts, tx_id, n, columns)
    assert a[0].dtype == b[0].dtype and (a[0] == b[0]).all()
    for x, y in zip(a[1], b[1]):
        assert x.dtype == y.dtype and (x == y).all()
    for adj_a, adj_b in zip(a[2:], b[2:]):
        for name in ("ptr", "edge", "nbr", "ts", "ns_edge", "ns_nbr", "ns_ts", "prev_same"):
            x, y = getattr(adj_a, name), getattr(adj_b, name)
            assert x.dtype == y.dtype and (x == y).all(), name


def test_small_graphs_do_not_start_numba():
    """A graph under NUMPY_BUILD_EDGES edges is built without importing Numba (its start-up is
    the fixed cost of `info` on a short file); one at the bound uses the Numba kernels."""
    import subprocess
    import sys

    probe = """
import sys, numpy as np
from blazingaml.graph import NUMPY_BUILD_EDGES, TemporalGraph
m = NUMPY_BUILD_EDGES - 1 + int(sys.argv[1])
rng = np.random.default_rng(0)
TemporalGraph.from_arrays(rng.integers(0, 99, m), rng.integers(0, 99, m), 60 * rng.integers(0, 999, m))
print("numba" in sys.modules)
"""
    seen = [subprocess.run([sys.executable, "-c", probe, str(extra)], capture_output=True, text=True, check=True)
            .stdout.strip() for extra in (0, 1)]
    assert seen == ["False", "True"]
