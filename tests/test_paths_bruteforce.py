"""Cycle and path stages equal an independent brute-force enumeration with networkx."""

from __future__ import annotations

import networkx as nx
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

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


PRUNED = parse_text("""
pattern back_in_time
    window 2d
    bins 2..12
    trigger a -> b
    path p = b ~> a via out hops 1..11 increasing
    emit length(p) + 1

pattern any_order
    window 1d
    bins 1..6
    trigger a -> b
    path p = a ~> b via in hops 2..6 where edge.amount_paid > 100 or hop == 1
    emit length(p)
""")


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.sampled_from([9, 14, 300]))
def test_pruned_searches_find_the_same_paths(seed, n):
    """Dense graphs, where searches run long enough to build the pruning closure (and, with 300
    accounts, overflow the GPU's small closure table, which must switch pruning off, not break
    it): pruned Numba and CUDA C equal the unpruned reference, in fewer steps."""
    from blazingaml.kernel_results import WorkReport

    from .differential import host_features
    from .strategies import BASE_TS

    rng = np.random.default_rng(seed)
    m = 400 if n == 300 else 90
    hubs = rng.integers(0, 4, m)          # a few busy accounts make long searches
    src = np.where(rng.random(m) < 0.5, hubs, rng.integers(0, n, m))
    dst = np.where(rng.random(m) < 0.5, rng.integers(0, 4, m), rng.integers(0, n, m))
    graph = build((src, dst, BASE_TS + rng.integers(0, 40, m) * 1800, n))
    expected = mine_graph(graph, compile_patterns(PRUNED, optimise=False), "reference")
    pruned, unpruned = WorkReport(), WorkReport()
    compiled = compile_patterns(PRUNED)
    assert all(o.prune for k in compiled.kernels for p in k.programs for o in p.cases[0].ops[:1])
    assert np.array_equal(mine_graph(graph, compiled, "numba", work=pruned), expected)
    mine_graph(graph, compile_patterns(PRUNED, disabled={"path_pruning"}), "numba", work=unpruned)
    assert pruned.path_steps <= unpruned.path_steps
    assert np.array_equal(host_features(graph, compiled, 10**8, lanes=3, hub_threshold=0.0), expected)


def test_pruning_cuts_steps_on_a_hub():
    """A hub that pays many accounts that never lead back: pruning skips them all."""
    from blazingaml.kernel_results import WorkReport

    from .strategies import BASE_TS

    k = 300   # b -> x_i -> y_i (dead ends), and one way back b -> c -> a
    src = [0] + [1] * k + list(range(2, k + 2)) + [1, k + 2]
    dst = [1] + list(range(2, k + 2)) + list(range(k + 3, 2 * k + 3)) + [k + 2, 0]
    ts = [BASE_TS] + [BASE_TS + 60] * k + [BASE_TS + 120] * k + [BASE_TS + 180, BASE_TS + 240]
    graph = build((np.array(src), np.array(dst), np.array(ts), 2 * k + 3))
    (cycle,) = parse_text("""
pattern cycle
    window 1d
    bins 2..8
    trigger a -> b
    path p = b ~> a via out hops 1..7 increasing
    emit length(p) + 1
""")
    steps = {}
    for label, disabled in (("pruned", set()), ("unpruned", {"path_pruning"})):
        work = WorkReport()
        got = mine_graph(graph, compile_patterns([cycle], disabled=disabled), "numba", work=work)
        assert got.sum() == 1 and got[-1, 1] == 1          # the last edge closes the 3-cycle 0 -> 1 -> c -> 0
        steps[label] = work.path_steps
    assert steps["unpruned"] >= 2 * k and steps["pruned"] < 100


PATH_IN_LOOP = parse_text("""
pattern to_each_receiver
    window 2d
    bins 1..8
    trigger a -> b
    for x in a.in
    path p = b ~> x via out hops 1..7 increasing
    emit length(p)
""")


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_pruning_a_path_inside_a_loop(seed):
    """Regression: a path stage inside a loop searches towards a different end on each
    iteration; each search needs its own closure (a table left from the previous end pruned
    wrongly)."""
    from .differential import host_features
    from .strategies import BASE_TS

    rng = np.random.default_rng(seed)
    m, n = 120, 10
    graph = build((rng.integers(0, n, m), rng.integers(0, n, m), BASE_TS + rng.integers(0, 60, m) * 1200, n))
    expected = mine_graph(graph, compile_patterns(PATH_IN_LOOP, optimise=False), "reference")
    assert np.array_equal(mine_graph(graph, compile_patterns(PATH_IN_LOOP), "numba"), expected)
    assert np.array_equal(host_features(graph, compile_patterns(PATH_IN_LOOP), 10**8), expected)
