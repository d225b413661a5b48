"""Pattern text -> AST -> text: the printer writes what the parser reads back unchanged."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blazingaml.dsl.parser import load_patterns, parse_text
from blazingaml.dsl.printer import number_text, pattern_text

from .conftest import ROOT
from .pattern_gen import HypothesisChooser, random_pattern


@st.composite
def patterns(draw):
    return random_pattern(HypothesisChooser(draw))


@settings(max_examples=300, deadline=None)
@given(p=patterns())
def test_random_patterns_print_and_parse_back(p):
    (again,) = parse_text(pattern_text(p))
    assert again == p


@pytest.mark.parametrize("p", load_patterns([ROOT / "patterns"]), ids=lambda p: p.name)
def test_library_patterns_print_and_parse_back(p):
    (again,) = parse_text(pattern_text(p), p.source)
    assert again == p


def test_parentheses_only_where_needed():
    text = """pattern q
    window 6h
    bins 1..3
    trigger a -> b as f where not (a == b or a.bank != b.bank) and (f.ts < 2) == (f.ts > 1)
    emit -(1 + 2) * 3 - (4 - 5) / abs(-f.amount_paid) when not not f.ts >= 0.25
"""
    assert pattern_text(parse_text(text)[0]) == text


@pytest.mark.parametrize("value,text", [(2.0, "2"), (0.5, "0.5"), (1e-05, "0.00001"), (1e20, "100000000000000000000")])
def test_numbers_are_written_without_exponents(value, text):
    assert number_text(value) == text
