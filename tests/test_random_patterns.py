"""Random patterns, not only the library: every executor equals the AST oracle.

Each example is a file of random valid patterns (tests/pattern_gen.py, covering every construct
of docs/language.md) and a random temporal multigraph with ties, self-loops, parallel edges and
sometimes a hub. In both feature modes, the reference interpreter on the plain and on the
optimised IR, the generated Numba source with each optimiser pass switched off in turn, and the
generated CUDA C on the host shim must all equal the AST oracle (tests/differential.py). A
failure shrinks to a small pattern file, printed with the graph.

CI runs 40 files of about 9 patterns each; `-m slow` runs the long campaign recorded in
bench/RESULTS.md (real Numba compiles included)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, note, seed, settings
from hypothesis import strategies as st

from .differential import disagreements
from .strategies import pattern_files, temporal_graphs

GRAPHS = temporal_graphs(max_nodes=7, max_edges=22, slots=40, hubs=True)
LANES = st.sampled_from([2, 3, 32])


def check(file, g, lanes, split, jit=False):
    text, patterns = file
    note(f"pattern file:\n{text}")
    note(f"graph (src, dst, ts, n): {g}")
    found = []
    for mode in ("closing", "participation"):
        found += disagreements(patterns, g, mode, jit=jit, host_lanes=lanes, split_every_hub=split)
    assert not found, "\n".join(found)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(file=pattern_files(), g=GRAPHS, lanes=LANES, split=st.booleans())
def test_random_patterns_agree(file, g, lanes, split):
    check(file, g, lanes, split)


@pytest.mark.slow
@seed(20261128)
@settings(max_examples=560, deadline=None, suppress_health_check=list(HealthCheck))
@given(file=pattern_files(), g=GRAPHS, lanes=LANES, split=st.booleans())
def test_random_patterns_agree_long(file, g, lanes, split):
    """The long campaign: >= 5,000 patterns, real Numba compiles too (results in bench/RESULTS.md)."""
    check(file, g, lanes, split, jit=True)
