"""Each optimiser pass on its own: what it rewrites, and that meaning is kept."""

from __future__ import annotations

import numpy as np

from blazingaml.dsl.parser import parse_text
from blazingaml.graph import TemporalGraph
from blazingaml.ir import nodes as I
from blazingaml.ir.lower import lower
from blazingaml.ir.passes import optimize, optimize_program
from blazingaml.ir.passes.cost import GraphStats, program_cost
from blazingaml.ir.passes.cross_pattern import cross_pattern_fusion
from blazingaml.ir.passes.intersection import intersection_driver
from blazingaml.ir.passes.pushdown import predicate_pushdown
from blazingaml.ir.passes.schedule import trigger_order
from blazingaml.ir.passes.stage_fusion import stage_fusion
from blazingaml.ir.passes.window_search import window_search
from blazingaml.ir.passes.windowed_aggregates import windowed_aggregates


def program(text):
    return lower(parse_text(text)[0])


SG = program("""
pattern sg
    window 6h
    trigger u -> v where u != v
    for distinct w in v.out where w != u and w != v and u != v
    stage mids = nodes x in u.out as f & w.in where x != u and f.amount_paid > 10
    stage unused = nodes y in v.in
    emit size(mids) when size(mids) >= 2
""")
FAN = program("""
pattern fan
    window 1d exclusive
    trigger a -> b where a != b
    stage s = nodes x in b.in where x != b
    emit size(s) when size(s) >= 2
""")


def ops(p):
    return p.cases[0].ops


def test_window_search_sets_every_scan():
    p = window_search(SG)
    assert all(o.scan == I.Scan("search", "break") for o in ops(p) if hasattr(o, "scan"))
    assert all(o.scan == I.Scan() for o in ops(SG) if hasattr(o, "scan"))


def test_pushdown_hoists_and_splits():
    p = predicate_pushdown(SG)
    kinds = [type(o).__name__ for o in ops(p)]
    assert kinds[:2] == ["Require", "Loop"]  # `u != v` needs nothing from the loop
    assert I.expr_text(ops(p)[0].cond) == "(u != v)"
    loop = ops(p)[1]
    assert "u != v" not in I.expr_text(loop.filter)
    mids = ops(p)[2]
    assert mids.pushed and I.expr_text(mids.member_filter) == "(x != u)"
    assert I.expr_text(mids.edge_filter) == "(f.amount_paid > 10)"


def test_stage_fusion_drops_unused_and_folds_require():
    p = stage_fusion(predicate_pushdown(SG))
    names = [getattr(o, "name", None) for o in ops(p)]
    assert "unused" not in names and "mids" in names
    looped = program("""
pattern q
    window 1h
    trigger a -> b
    for x in b.out
    require x != a
    emit 1
""")
    fused = stage_fusion(looped)
    assert [type(o).__name__ for o in ops(fused)] == ["Loop", "Emit"]
    assert I.expr_text(ops(fused)[0].filter) == "(x != a)"


def test_intersection_driver_is_chosen_at_run_time():
    p = intersection_driver(SG)
    assert ops(p)[1].driver == "smallest"
    single = intersection_driver(FAN)
    assert ops(single)[0].driver == "first"


def test_windowed_aggregates_rewrites_fan_only():
    p = windowed_aggregates(FAN)
    assert isinstance(ops(p)[0], I.SlidingCount) and ops(p)[0].skip_self
    assert windowed_aggregates(SG) is SG


def test_cross_pattern_fusion_and_cost():
    cyc = program("""
pattern c
    window 1d
    trigger a -> b
    path p = b ~> a via out hops 1..5 increasing
    emit length(p)
""")
    kernels = cross_pattern_fusion((SG, FAN, cyc))
    assert [set(p.name for p in k.programs) for k in kernels] == [{"fan", "sg"}, {"c"}]
    stats = GraphStats(1000, 10000, 86400 * 10, 10, 10, 50, 50, 500, 500)
    assert program_cost(FAN, stats) < program_cost(SG, stats) < program_cost(cyc, stats)


def test_trigger_order_is_a_balanced_permutation():
    rng = np.random.default_rng(0)
    m = 1000
    src = rng.integers(0, 50, m)
    src[:300] = 0  # a hub
    g = TemporalGraph.from_arrays(src, rng.integers(0, 50, m), rng.integers(0, 10**6, m))
    (kernel,) = optimize((SG,))
    order = trigger_order(g, kernel, threads=4)
    assert sorted(order.tolist()) == list(range(m))
    from blazingaml.ir.passes.cost import trigger_work

    work = trigger_work(g, kernel.programs[0])[order].reshape(4, -1).sum(axis=1)
    assert work.max() / work.min() < 1.2


def test_optimize_program_records_passes():
    p = optimize_program(FAN)
    assert p.passes == ("window_search", "predicate_pushdown", "stage_fusion", "intersection_driver",
                        "windowed_aggregates")
    assert optimize_program(FAN, mode="participation").passes[-1] == "intersection_driver"


REQUIRE_AFTER_DISTINCT = """
pattern first_payment_large
    window 1h
    bins 1..2
    trigger a -> b
    for distinct x in b.out as f
    require f.amount_paid > 100
    emit 1
"""


def test_stage_fusion_keeps_require_after_distinct_loop():
    """Regression (issue 11): folding `require f.amount_paid > 100` into `for distinct x in b.out
    as f` changed which edge the loop takes for x. Edges 1->2 paid 50 then 200, then the trigger
    0->1: x = 2 is met at its first edge (50), so the require stops the instance: 0, not 1."""
    from blazingaml.runtime import compile_patterns, mine_graph

    graph = TemporalGraph.from_arrays([1, 1, 0], [2, 2, 1], [1_662_000_000, 1_662_000_060, 1_662_000_120],
                                      amount_paid=[50.0, 200.0, 10.0])
    patterns = parse_text(REQUIRE_AFTER_DISTINCT)
    for passes in ({"optimise": False}, {}):
        compiled = compile_patterns(patterns, **passes)
        for backend in ("reference", "numba"):
            assert mine_graph(graph, compiled, backend)[2].tolist() == [0, 0], (passes, backend)
    fused = stage_fusion(program(REQUIRE_AFTER_DISTINCT))
    assert [type(o).__name__ for o in ops(fused)] == ["Loop", "Require", "Emit"]


def test_stage_fusion_folds_what_distinct_loops_allow():
    """Into a distinct loop only conjuncts that do not read its edge fold; the rest stay a require."""
    fused = stage_fusion(program("""
pattern q
    window 1h
    trigger a -> b
    for distinct x in b.out as f where x != a
    require x != b and f.amount_paid > 100
    emit 1
"""))
    assert [type(o).__name__ for o in ops(fused)] == ["Loop", "Require", "Emit"]
    assert I.expr_text(ops(fused)[0].filter) == "((x != a) and (x != b))"
    assert I.expr_text(ops(fused)[1].cond) == "(f.amount_paid > 100)"


def test_windowed_aggregates_keeps_sets_that_later_sets_name():
    """Regression (random patterns): a fan set named in a later set expression must stay a set;
    as a sweep it has a size but no members to test (generated code failed with KeyError)."""
    text = """
pattern q
    window 1d
    bins 0..2
    trigger a -> b
    stage c = nodes d in b.in
    stage f = nodes g in a.out - c
    emit size(f)
"""
    p = program(text)
    assert windowed_aggregates(p) is p
    from blazingaml.runtime import compile_patterns, mine_graph

    graph = TemporalGraph.from_arrays([1, 2, 0, 0], [0, 0, 1, 3], [1_662_000_000 + 60 * i for i in range(4)])
    patterns = parse_text(text)
    expected = mine_graph(graph, compile_patterns(patterns, optimise=False), "reference")
    assert expected.sum() > 0
    assert np.array_equal(mine_graph(graph, compile_patterns(patterns), "numba"), expected)


def test_plan_is_remade_for_the_graph_it_runs_on():
    """The cost model reads the graph being mined: on a graph whose senders fan out widely the
    out-neighbourhood becomes the costlier membership test, so the intersection order flips; the
    answers do not change."""
    from blazingaml.runtime import compile_patterns, mine_graph

    patterns = parse_text("""
pattern sg
    window 6h
    bins 1..4
    trigger u -> v
    for distinct w in v.out
    stage mids = nodes x in u.out & w.in
    emit size(mids)
""")
    default = compile_patterns(patterns)
    assert [a.direction for a in default.kernels[0].programs[0].cases[0].ops[-2].terms[0].positive] == ["out", "in"]
    rng = np.random.default_rng(1)
    m = 3000
    src = np.where(rng.random(m) < 0.6, rng.integers(0, 40, m), rng.integers(0, 400, m))   # 40 wide payers
    graph = TemporalGraph.from_arrays(src, rng.integers(0, 400, m), 1_662_000_000 + rng.integers(0, 3600, m))
    planned = default.for_graph(graph)
    assert planned.stats == GraphStats.of(graph) and planned.stats.p99_out > planned.stats.p99_in
    assert [a.direction for a in planned.kernels[0].programs[0].cases[0].ops[-2].terms[0].positive] == ["in", "out"]
    assert planned.for_graph(graph) is planned
    small = TemporalGraph.from_arrays(src[:300], graph.dst[:300], graph.ts[:300])
    assert np.array_equal(mine_graph(small, default, "numba"), mine_graph(small, compile_patterns(patterns, optimise=False),
                                                                           "reference"))


def test_trigger_work_scales_with_the_window():
    rng = np.random.default_rng(0)
    g = TemporalGraph.from_arrays(rng.integers(0, 20, 500), rng.integers(0, 20, 500),
                                  1_662_000_000 + rng.integers(0, 10 * 86400, 500))
    from blazingaml.ir.passes.cost import trigger_work

    day, week = (I.replace(SG, window_seconds=s) for s in (86400, 7 * 86400))
    assert (trigger_work(g, day) < trigger_work(g, week)).all()
