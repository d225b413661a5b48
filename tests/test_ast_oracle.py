"""The AST oracle (tests/ast_oracle.py) equals the reference interpreter on every library
pattern in both modes: two independent readings of docs/language.md agree."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from blazingaml.dsl.parser import load_patterns, parse_text
from blazingaml.runtime import compile_patterns, mine_graph

from .conftest import ROOT
from .differential import oracle
from .strategies import build, differing_patterns, temporal_graphs

LIBRARY = load_patterns([ROOT / "patterns"])


@pytest.mark.parametrize("mode", ["closing", "participation"])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(g=temporal_graphs(max_nodes=6, max_edges=20, hubs=True))
def test_ast_oracle_equals_reference_on_the_library(mode, g):
    expected = mine_graph(build(g), compile_patterns(LIBRARY, mode=mode, optimise=False), "reference")
    got = oracle(LIBRARY, g, mode)
    bad = differing_patterns(expected, got, [c for p in LIBRARY for c in p.columns()])
    assert not bad, f"the AST oracle and the reference differ for {bad}"


def test_ast_oracle_counts_what_the_language_reference_says():
    """A hand-checked case: three accounts paying one another round a 3-cycle."""
    (cycle,) = parse_text("""
pattern cycle
    window 1d
    bins 2..4
    trigger a -> b
    path back = b ~> a via out hops 1..3 increasing
    emit length(back) + 1
""")
    base = 1_662_000_000
    g = (np.array([0, 1, 2]), np.array([1, 2, 0]), np.array([base, base + 60, base + 120]), 3)
    got = oracle([cycle], g, "closing")
    assert got.tolist() == [[0, 0, 0], [0, 0, 0], [0, 1, 0]]          # the last edge closes a 3-cycle
    assert oracle([cycle], g, "participation").tolist() == [[0, 1, 0]] * 3
