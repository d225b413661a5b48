"""Every `pattern` example in docs/language.md parses, checks, compiles and runs, on both engines."""

from __future__ import annotations

import re

import numpy as np
import pytest

from blazingaml.dsl.parser import parse_text
from blazingaml.runtime import compile_patterns, mine_graph

from .conftest import ROOT
from .strategies import BASE_TS, build, differing_patterns

DOC = (ROOT / "docs" / "language.md").read_text()
BLOCKS = re.findall(r"```pattern\n(.*?)```", DOC, flags=re.S)


def test_doc_has_examples():
    assert len(BLOCKS) >= 6


@pytest.mark.parametrize("block", BLOCKS, ids=[re.search(r"pattern (\w+)", b).group(1) for b in BLOCKS])
def test_doc_example_runs(block):
    patterns = parse_text(block, "docs/language.md")
    rng = np.random.default_rng(1)
    m, n = 60, 8
    graph = build((rng.integers(0, n, m), rng.integers(0, n, m), BASE_TS + rng.integers(0, 96, m) * 1800, n))
    expected = mine_graph(graph, compile_patterns(patterns, optimise=False), "reference")
    compiled = compile_patterns(patterns)
    assert not differing_patterns(expected, mine_graph(graph, compiled, "numba"), compiled.columns)
