"""TemporalGraph layout invariants on random temporal multigraphs (ties, self-loops, parallel edges)."""

from __future__ import annotations

import numpy as np
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
