"""Mistakes in pattern files: file:line:col, the line, a caret and a hint; fuzzing the parser."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blazingaml.dsl import PatternError, PatternSyntaxError, parse_text

HEAD = "pattern p\n    window 6h\n    trigger a -> b\n"

CASES = [
    # (text, message fragment, line, hint fragment)
    (HEAD + "    stage s = nodes x in c.out\n    emit size(s)\n", "undefined node `c`", 4, "bind `c`"),
    (HEAD + "    stage s = nodes x in a.out\n    emit size(t)\n", "undefined name `t`", 5, "bind `t`"),
    (HEAD + "    stage s = nodes x in a.out\n", "ends with `emit`", 4, "emit size"),
    ("pattern p\n    trigger a -> b\n    emit 1\n", "has no window", 1, "window 24h"),
    (HEAD + "    stage s = nodes x in a.sideways\n    emit 1\n", "unexpected", 4, None),
    (HEAD + "    stage s = nodes x in a.out where x.colour == 1\n    emit 1\n", "no attribute `colour`", 4, "bank"),
    (HEAD + "    stage s = nodes x in a.out as f where f.currency_paid == \"Doubloon\"\n    emit 1\n",
     "unknown currency \"Doubloon\"", 4, "US Dollar"),
    (HEAD + "    stage s = nodes x in a.out as f where f.format == \"Pigeon\"\n    emit 1\n",
     "unknown payment format", 4, "ACH"),
    (HEAD + "    stage s = nodes x in a.out where x < b\n    emit 1\n", "compares numbers", 4, "=="),
    (HEAD + "    stage s = nodes x in a.out\n    emit size(s) when size(s)\n", "must be a condition", 5, "size(mids)"),
    (HEAD + "    path p = b ~> a via out hops 1..20\n    emit length(p)\n", "would explode", 4, "increasing"),
    (HEAD + "    for x in a.out\n    for y in x.out\n    for z in y.out\n    for w in z.out\n    emit 1\n",
     "nested `for`", 7, "size(S)"),
    (HEAD + "    stage a = nodes x in b.out\n    emit 1\n", "already bound", 4, "own name"),
    (HEAD + "    stage s = nodes x in a.out\n    emit 1\n    stage t = nodes y in b.in\n", "must be the last", 5, None),
    ("pattern p\n    window 6h\n    bins 5..2\n    trigger a -> b\n    emit 1\n", "empty bin range", 3, "smaller edge"),
    (HEAD + "    stage s = nodes x in a.out\n    emit size(s) + a\n", "needs numbers", 5, None),
    (HEAD + "    stage s = nodes x in a.out & t\n    emit 1\n", "not a set stage", 4, "above"),
    (HEAD + "    stage s = nodes x in a.out\n    emit s\n", "needs a number", 5, None),
    (HEAD + "    emit 1 @\n", "unexpected character '@'", 4, None),
    ("pattern p\n    window 6h\n    trigger a -> b\n    stage s = nodes x in\n", "ends in the middle", 4, "expected"),
    (HEAD + "    stage s = edges x in a.out & b.in\n    emit 1\n", "`edges` stage", 4, "nodes"),
    (HEAD + "    stage s = nodes x in a.out | b.in as f\n    emit 1\n", "only in an intersection", 4, None),
    (HEAD + "    path p = b ~> a via out hops 3..1\n    emit 1\n", "bad hop range", 4, "hops 1..9"),
    (HEAD + "    emit 1\n" + HEAD + "    emit 2\n", "defined twice", 5, None),
    # an `edges` stage has a size but no members (random-pattern testing found the hole)
    (HEAD + "    stage s = edges x in a.out\n    emit 1 when b in s\n", "has a size, not members", 5, "nodes"),
    (HEAD + "    stage s = edges x in a.out\n    stage t = nodes y in b.in & s\n    emit 1\n",
     "has a size, not members", 5, "nodes"),
    (HEAD + "    stage s = nodes x in a.out\n    emit 1 when e.src in s\n", "node's name", 5, "x in mids"),
    # aggregates and named emits
    (HEAD + "    stage s = edges x in a.out\n    emit m = mean(s.ts - e.ts)\n", "one `edges` stage's edges", 5,
     "mean(S.amount_paid)"),
    (HEAD + "    stage s = edges x in a.out\n    emit m = mean(s.ts + size(s))\n", "one `edges` stage's edges", 5,
     "only the stage's edge attributes"),
    (HEAD + "    stage s = nodes x in a.out\n    emit m = count(s)\n", "not an `edges` stage", 5, "edges x in b.in"),
    (HEAD + "    emit m = sum(2)\n", "one `edges` stage's edges", 4, None),
    (HEAD + "    for c in b.out\n    stage s = edges y in c.out\n    emit mean(s.ts)\n", "trigger's accounts", 6,
     "a.out, a.in, b.out or b.in"),
    (HEAD + "    for c in b.out\n    stage s = edges y in a.out where y != c\n    emit mean(s.ts)\n",
     "may read only its own edge", 5, "cannot depend on one trigger"),
    (HEAD + "    stage s = edges x in a.out\n    emit m = mean(s.currency_paid)\n", "needs a number", 5, None),
    (HEAD + "    for c in b.out\n    emit m = 1\n", "once per `for` instance", 5, "without `for`"),
    (HEAD + "    emit m = 1\n    emit m = 2\n", "emitted twice", 5, "own name"),
    (HEAD + "    emit 1\n    emit 2\n", "at most one counted", 5, "emit NAME = VALUE"),
    ("pattern p\n    window 6h\n    bins 2..4\n    trigger a -> b\n    emit m = 1\n", "no counted emit", 3,
     "its own column"),
    # found by bench/fuzz_patterns.py: deep nesting crashed (RecursionError) or took seconds, huge
    # numbers crashed the lowering or the C generator
    (HEAD + "    emit " + "(" * 5000 + "1" + ")" * 5000 + "\n", "nested more than 64 deep", 4, "parentheses"),
    (HEAD + "    emit 1 when " + "not " * 70 + "1 < 2\n", "nested more than 64 deep", 4, None),
    (HEAD + "    emit " + "- " * 50000 + "1\n", "nested more than 64 deep", 4, None),
    (HEAD + "    emit " + " + ".join(["1"] * 300) + "\n", "more than 200 operators deep", 4, "require"),
    ("pattern p\n    window " + "9" * 400 + "d\n    trigger a -> b\n    emit 1\n", "is too long", 2, "below"),
    (HEAD + "    emit 99999999999999999999\n", "is too large", 4, "below"),
    ("pattern p\n    window 6h\n    bins 1, " + "9" * 5000 + "\n    trigger a -> b\n    emit 1\n", "too large", 3, None),
    (HEAD + "    path q = b ~> a via out hops 1.." + "9" * 30 + "\n    emit 1\n", "too large", 4, None),
]


@pytest.mark.parametrize("text,fragment,line,hint", CASES, ids=[c[1][:30] for c in CASES])
def test_error_message(text, fragment, line, hint):
    with pytest.raises(PatternError) as err:
        parse_text(text, "mistake.pattern")
    exc = err.value
    rendered = exc.render()
    assert fragment in rendered
    assert rendered.startswith(f"mistake.pattern:{line}:")
    assert "^" in rendered  # caret under the offending column
    src_line = text.splitlines()[line - 1]
    if len(src_line) <= 100:
        assert src_line in rendered
    else:  # a very long line is shown around the column (dsl.errors._SHOWN characters)
        assert "..." in rendered and len(rendered.splitlines()[1]) < 120
    if hint:
        assert exc.hint and hint in exc.hint


def test_at_least_fifteen_distinct_mistakes():
    assert len({c[1] for c in CASES}) >= 15


ALPHABET = st.sampled_from(list("abcxyz_019 .,()&|-+*/<>=!~:\"#\n\t") + [
    "pattern ", "window ", "6h ", "bins ", "2..30 ", "trigger ", " -> ", "stage ", "nodes ", "edges ", " in ",
    ".out", ".in", "emit ", "size(", "where ", "for ", "path ", "~>", "via out ", "hops 1..3 ", "case k:",
    "increasing ", "when ", "and ", "or ", "not ", "as ", "require ", "distinct ",
])


@settings(max_examples=400, deadline=None)
@given(st.lists(ALPHABET, max_size=60).map("".join))
def test_fuzzed_text_only_raises_pattern_errors(text):
    try:
        parse_text(text, "fuzz.pattern")
    except (PatternSyntaxError, PatternError):
        pass


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_fuzzed_unicode_only_raises_pattern_errors(text):
    try:
        parse_text(text)
    except (PatternSyntaxError, PatternError):
        pass


def test_pattern_files_cannot_run_code():
    """There is no eval: user identifiers never reach generated code except inside comments."""
    import ast

    from blazingaml.backends.numba_codegen import generate_source
    from blazingaml.ir import nodes as I
    from blazingaml.ir.lower import lower

    text = HEAD.replace("trigger a -> b", "trigger __import__ -> os") + \
        "    stage system = nodes x in os.out where x != __import__\n    emit size(system)\n"
    (p,) = parse_text(text)
    source = generate_source(I.Kernel((lower(p),)))
    code = "\n".join(line.split("#", 1)[0] for line in source.splitlines())
    assert "__import__" not in code and "system" not in code and " os" not in code
    names = {n.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name)}
    assert not names & {"__import__", "os", "system", "eval", "exec"}
