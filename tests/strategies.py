"""Hypothesis strategies: small temporal multigraphs with ties, self-loops and parallel edges."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from blazingaml.graph import TemporalGraph

BASE_TS = 1_662_000_000  # a realistic epoch (snapml treats timestamp 0 as a sentinel)


@st.composite
def temporal_graphs(draw, max_nodes=7, max_edges=28, step=3600, slots=60, distinct_times=False, hubs=False):
    """Graphs whose timestamps fall on `slots` multiples of `step` seconds (so windows of hours to
    days cut through them), in random input order. With `hubs`, account 0 may take part in a
    large share of the edges (as sender, receiver or both)."""
    n = draw(st.integers(2, max_nodes))
    m = draw(st.integers(1, max_edges))
    src = draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m))
    dst = draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m))
    if hubs and draw(st.booleans()):
        for i in draw(st.lists(st.integers(0, m - 1), max_size=m)):
            if draw(st.booleans()):
                src[i] = 0
            else:
                dst[i] = 0
    if distinct_times:
        slots_used = draw(st.lists(st.integers(0, slots * 4), min_size=m, max_size=m, unique=True))
        ts = [BASE_TS + s * step // 4 for s in slots_used]
    else:
        ts = [BASE_TS + s * step for s in draw(st.lists(st.integers(0, slots), min_size=m, max_size=m))]
    return np.array(src), np.array(dst), np.array(ts, dtype=np.int64), n


def attributes(g) -> dict:
    """Amounts, currencies, formats (per edge, input order) and banks (per account) of a drawn
    graph: a function of its size, so every oracle sees the same values."""
    src, dst, ts, n = g
    rng = np.random.default_rng(len(src))
    m = len(src)
    return dict(amount_paid=rng.uniform(10, 1000, m).round(2), amount_received=rng.uniform(10, 1000, m).round(2),
                pay_currency=rng.integers(0, 3, m), recv_currency=rng.integers(0, 3, m),
                payment_format=rng.choice([0, 2, 2, 2], m), bank=rng.integers(0, 3, n))


def build(g) -> TemporalGraph:
    src, dst, ts, n = g
    return TemporalGraph.from_arrays(src, dst, ts, n=n, **attributes(g))


# Named emits are float32 columns computed in float64 by different algorithms (sliding shifted sums
# against two-pass moments): 1e-6 relative covers float32's rounding (6e-8) with room for the
# algorithms' difference (1e-12 on the test graphs), and is still far below any count (an integer
# count that differs by one differs by more than 1e-6 of itself up to a million). The absolute 1e-6
# is for values that are 0 up to rounding, such as the skew of a symmetric window (1e-16 noise).
REL_TOLERANCE, ABS_TOLERANCE = 1e-6, 1e-6


def differing_patterns(expected: np.ndarray, got: np.ndarray, columns: list[str]) -> list[str]:
    """Names of the patterns whose feature columns differ between two matrices (counts exactly,
    named emits' real values to REL_TOLERANCE)."""
    if expected.dtype.kind == "f" or got.dtype.kind == "f":
        expected = np.asarray(expected, np.float64).astype(np.float32).astype(np.float64)
        same = np.isclose(np.asarray(got, np.float64), expected, rtol=REL_TOLERANCE, atol=ABS_TOLERANCE,
                          equal_nan=True)
    else:
        same = expected == got
    return sorted({columns[j].split(".")[0] for j in np.flatnonzero((~same).any(axis=0))})


@st.composite
def pattern_files(draw, size: int = 10):
    """(text, checked patterns) of a file of up to `size` random valid patterns (see
    tests/pattern_gen.py). Each slot is kept with probability 9/10 while generating; shrinking
    drops the slots a failure does not need, so a failure ends as a small file."""
    from blazingaml.dsl.parser import parse_text
    from blazingaml.dsl.printer import pattern_text

    from .pattern_gen import HypothesisChooser, random_pattern

    chooser = HypothesisChooser(draw)
    texts = [pattern_text(random_pattern(chooser, f"p{i}")) for i in range(size) if draw(st.integers(0, 9)) != 0]
    if not texts:
        texts = [pattern_text(random_pattern(chooser, "p0"))]
    text = "\n".join(texts)
    return text, parse_text(text, "<random patterns>")
