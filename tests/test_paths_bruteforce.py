"""Cycle and path stages equal an independent brute-force enumeration with networkx."""

from __future__ import annotations

import networkx as nx
import numpy as np
from hypothesis import given, settings

from blazingaml.dsl.parser import load_patterns, parse_text
from blazingaml.runtime import compile_patterns, mine_graph

from .conftest import ROOT
from .strategies import build, temporal_graphs


def brute_cycles(graph, window, max_len, increasing, tie_rule):
    """For each trigger a->b: enumerate vertex paths b ~> a in the window with networkx and test
    that some edge choice satisfies the time rules; histogram of cycle lengths per edge."""
    m = graph.m
    result = np.zeros((m, max_len + 1), np.int64)
    for e in range(m):
        a, b, t = int(graph.src[e]), int(graph.dst[e]), int(graph.ts[e])
        if a == b:
            continue
        window_edges = [f for f in range(e + 1) if graph.ts[f] >= t - window]
        g = nx.DiGraph()
        times: dict = {}
        for f in window_edges:
            u, v = int(graph.src[f]), int(graph.dst[f])
            if u != v:
                g.add_edge(u, v)
                times.setdefault((u, v), []).append(int(graph.ts[f]))
        if b not in g or a not in g:
            continue
        for path in nx.all_simple_paths(g, b, a, cutoff=max_len - 1):
            hops = list(zip(path, path[1:]))
            if increasing:
                last, ok = -np.inf, True
                for h in hops:
                    later = [x for x in times[h] if last < x < t]
                    if not later:
                        ok = False
                        break
                    last = min(later)
            else:
                ok = all(any(x < t or (tie_rule and i == 0 and h[1] != a) for x in times[h])
                         for i, h in enumerate(hops))
            if ok:
                result[e, len(hops) + 1] += 1
    return result


def binned(hist, bins):
    out = np.zeros((hist.shape[0], len(bins)), np.int64)
    for length in range(hist.shape[1]):
        if hist[:, length].any():
            i = next((k for k, edge in enumerate(bins) if length <= edge), len(bins) - 1)
            i = len(bins) - 1 if length >= bins[-1] else i
            out[:, i] += hist[:, length]
    return out


CYCLES = {p.name: p for p in load_patterns([ROOT / "patterns" / "gfp" / "cycles.pattern"])}


@settings(max_examples=60, deadline=None)
@given(g=temporal_graphs(max_nodes=6, max_edges=24))
def test_cycles_equal_bruteforce(g):
    graph = build(g)
    got = mine_graph(graph, compile_patterns([CYCLES["temporal_cycle"], CYCLES["simple_cycle"]]), "numba")
    got = got[graph.row]  # back to edge order
    day = 24 * 3600
    tc = binned(brute_cycles(graph, day, 66, True, False), tuple(range(2, 31)))
    lc = binned(brute_cycles(graph, day, 10, False, True), tuple(range(2, 11)))
    assert np.array_equal(got[:, :29], tc)
    assert np.array_equal(got[:, 29:], lc)


CHAIN = parse_text("""
pattern reach
    window 2d
    bins 1..6
    trigger a -> b
    path p = b ~> a via in hops 2..4
    emit length(p)
""")


@settings(max_examples=40, deadline=None)
@given(g=temporal_graphs(max_nodes=6, max_edges=20))
def test_reverse_paths_equal_bruteforce(g):
    """`via in` walks edges backwards: b ~> a via in is a path a ~> b of forward edges."""
    graph = build(g)
    got = mine_graph(graph, compile_patterns(CHAIN), "numba")[graph.row]
    expected = np.zeros_like(got)
    for e in range(graph.m):
        a, b, t = int(graph.src[e]), int(graph.dst[e]), int(graph.ts[e])
        if a == b:
            continue
        dg = nx.DiGraph()
        dg.add_edges_from((int(graph.src[f]), int(graph.dst[f])) for f in range(e + 1)
                          if graph.ts[f] >= t - 2 * 86400 and graph.src[f] != graph.dst[f])
        if a in dg and b in dg:
            for path in nx.all_simple_paths(dg, a, b, cutoff=4):
                if len(path) - 1 >= 2:
                    expected[e, min(len(path) - 1, 6) - 1] += 1
    assert np.array_equal(got, expected)
