"""Every library pattern: the Numba backend equals the reference interpreter, in both modes,
with and without the optimiser, on random small temporal multigraphs (ties included)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from blazingaml.dsl.parser import load_patterns
from blazingaml.ir.passes.cost import GraphStats
from blazingaml.runtime import compile_patterns, mine_graph

from .conftest import ROOT
from .strategies import build, differing_patterns, temporal_graphs

LIBRARY = load_patterns([ROOT / "patterns"])


# One plan for every drawn graph: re-planned for each example's statistics, the kernels would be
# recompiled dozens of times per run (seconds to minutes each). Plans that differ by graph are
# exercised by tests/test_random_patterns.py (every pass switched off in turn) and test_passes.py.
SMALL_GRAPH = GraphStats(vertices=8, edges=40, span_seconds=2 * 86400.0, mean_out=5.0, mean_in=5.0, p99_out=12.0,
                         p99_in=12.0, max_out=20, max_in=20)


@pytest.fixture(scope="module", params=["closing", "participation"])
def compiled(request):
    return (compile_patterns(LIBRARY, mode=request.param, stats=SMALL_GRAPH),
            compile_patterns(LIBRARY, mode=request.param, optimise=False))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(g=temporal_graphs())
def test_numba_equals_reference(compiled, g):
    optimised, plain = compiled
    graph = build(g)
    expected = mine_graph(graph, plain, backend="reference")
    got = mine_graph(graph, optimised, backend="numba")
    bad = differing_patterns(expected, got, optimised.columns)
    assert not bad, f"numba differs from reference for {bad}"


def test_unoptimised_numba_equals_reference():
    """The passes are optional: Numba code generated from the plain IR gives the same answers."""
    plain = compile_patterns(load_patterns([ROOT / "patterns" / "gfp"]), optimise=False)
    rng = np.random.default_rng(7)
    from .strategies import BASE_TS

    for _ in range(5):
        m, n = 40, 8
        g = (rng.integers(0, n, m), rng.integers(0, n, m), BASE_TS + rng.integers(0, 80, m) * 1800, n)
        graph = build(g)
        bad = differing_patterns(mine_graph(graph, plain, "reference"), mine_graph(graph, plain, "numba"), plain.columns)
        assert not bad, f"numba differs from reference for {bad}"   # counts exact, vertex statistics to 1e-6
