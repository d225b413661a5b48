"""Hostile pattern files: rejected or bounded with a clear message; user text never reaches code.

A pattern file is untrusted input that becomes generated Numba and CUDA source. Names and strings
that look like code, deep nesting, enormous numbers and huge files must each end in one located
PatternError (never a RecursionError, an OverflowError or a traceback), and the generated source,
comments stripped, must not depend on the names a user chose at all.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blazingaml.backends.cupy.codegen import generate_cuda
from blazingaml.backends.numba_codegen import generate_source
from blazingaml.cli import EXIT_INPUT, main
from blazingaml.dsl import PatternError, parse_text
from blazingaml.runtime import compile_patterns

HEAD = "pattern p\n    window 6h\n    trigger a -> b\n"
STAGE = "    stage s = nodes x in a.out\n"

HOSTILE = {
    # name: (text, message fragment, line)
    "deep parentheses-free nesting (not)": (HEAD + STAGE + "    emit size(s) when " + "not " * 5000 + "size(s) >= 2\n",
                                             "nested more than 64 deep", 5),
    "deep unary minus": (HEAD + STAGE + "    emit " + "-" * 5000 + "size(s)\n", "nested more than 64 deep", 5),
    "a sum of 20,000 terms": (HEAD + STAGE + "    emit size(s)" + " + 1" * 20000 + "\n", "operators deep", 5),
    "a 10-year-plus window": ("pattern p\n    window 99999999999999999999d\n    trigger a -> b\n    emit 1\n",
                              "the duration 99999999999999999999... is too long (at most 3650 days)", 2),
    "a window of 400 digits": ("pattern p\n    window 9" + "9" * 400 + ".5d\n    trigger a -> b\n    emit 1\n",
                               "is too long", 2),
    "a huge bin edge": ("pattern p\n    window 6h\n    bins 1, 99999999999999999999999\n    trigger a -> b\n    emit 1\n",
                        "the whole number 99999999999999999999... is too large", 3),
    "a number beyond float range": (HEAD + "    stage s = nodes x in a.out as f where f.amount_paid > 9" + "9" * 400
                                    + ".0\n    emit size(s)\n", "is too large (at most 1e+15)", 4),
    "a huge emitted value": (HEAD + "    emit 99999999999999999999999999\n", "is too large", 4),
    "a huge hop count": (HEAD + "    path q = b ~> a via out hops 1..99999999999999999999999 increasing\n"
                         "    emit length(q)\n", "is too large", 4),
    "a 100,000-character name": ("pattern " + "p" * 100_000 + "\n    window 6h\n    trigger a -> b\n    emit 1\n",
                                 "a name of 100000 characters (at most 64)", 1),
    "a 10,000-character string": (HEAD + '    stage s = nodes x in a.out as f where f.format == "' + "A" * 10_000
                                  + '"\n    emit size(s)\n', "a string of 10000 characters", 4),
    "3,000 cases": (HEAD + "".join(f"    case c{i}:\n        emit 1\n" for i in range(3000)),
                    "3000 cases in one pattern (at most 32)", 4),
    "3,000 stages": (HEAD + "".join(f"    stage s{i} = nodes x{i} in a.out\n" for i in range(3000)) + "    emit 1\n",
                     "3001 statements in one pattern case (at most 32)", 4),
    "code in a currency string": (HEAD + "    stage s = nodes x in a.out as f where f.currency_paid == "
                                  "\"__import__('os').system('rm -rf /')\"\n    emit size(s)\n",
                                  "unknown currency \"__import__('os').system('rm -rf /')\"", 4),
    "a string that closes a C comment": ("pattern p\n    window 6h\n    description \"*/ system(\\\"rm\\\"); /*\"\n"
                                         "    trigger a -> b\n    emit 1\n", "unexpected 'rm'", 3),
    "division by zero": (HEAD + "    emit 1 / 0\n", "division by zero", 4),
    "unbounded unordered paths": (HEAD + "    path q = b ~> a via out hops 1..40\n    emit length(q)\n",
                                  "would explode", 4),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_pattern_is_rejected_with_a_located_message(case):
    text, fragment, line = HOSTILE[case]
    with pytest.raises(PatternError) as err:
        parse_text(text, "hostile.pattern")
    rendered = err.value.render()
    assert rendered.startswith(f"hostile.pattern:{line}:") and fragment in rendered
    assert len(rendered) < 600          # a bounded message, whatever the size of the offending line


def test_hostile_pattern_file_through_the_cli(capsys, tmp_path):
    path = tmp_path / "hostile.pattern"
    path.write_text(HOSTILE["deep unary minus"][0])
    assert main(["check", str(path)]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}:5:") and "Traceback" not in err and "hint: split" in err


KEYWORDS = {"pattern", "window", "bins", "description", "trigger", "as", "where", "case", "for", "distinct", "in",
            "out", "stage", "nodes", "edges", "path", "via", "hops", "increasing", "emit", "when", "require", "and",
            "or", "not", "inclusive", "exclusive", "edge", "hop", "size", "length", "abs"}
NAMES = st.lists(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,30}", fullmatch=True).filter(lambda n: n not in KEYWORDS),
                 min_size=8, max_size=8, unique=True)
CODE_LIKE = ["__import__", "system", "popen", "exec", "eval", "getattr", "__builtins__", "printf"]


def pattern_text(names, description: str) -> str:
    p, a, b, e, s, x, f, q = names
    return (f'pattern {p}\n    window 6h\n    description "{description}"\n'
            f'    trigger {a} -> {b} as {e} where {e}.currency_paid == "US Dollar"\n'
            f'    stage {s} = nodes {x} in {b}.out as {f} where {f}.format == "Cash" and {x} != {a}\n'
            f'    path {q} = {b} ~> {a} via out hops 1..4 increasing\n'
            f'    emit size({s}) + length({q}) when size({s}) >= 2\n')


def generated(text: str) -> tuple[str, str]:
    compiled = compile_patterns(parse_text(text, "user.pattern"))
    return ("\n".join(generate_source(k, compiled.mode) for k in compiled.kernels),
            generate_cuda(compiled.kernels, compiled.mode))


def without_comments(source: str, marker: str) -> str:
    return "\n".join(line.split(marker, 1)[0].rstrip() for line in source.splitlines())


NEUTRAL = generated(pattern_text(["p", "a", "b", "e", "s", "x", "f", "q"], "plain"))


def test_generated_source_never_contains_user_strings():
    """Code-like names appear only in comments; the description and the currency and format strings
    appear nowhere: strings become vocabulary codes, descriptions stay out of generated source."""
    description = "*/ #include <stdlib.h> /* __import__('os').system('x') \\\\"
    numba_src, cuda_src = generated(pattern_text(CODE_LIKE, description))
    for source, marker in ((numba_src, "#"), (cuda_src, "//")):
        for text in (description, "*/", "#include", "US Dollar", "Cash", "os').system"):
            assert text not in source
        code = without_comments(source, marker)
        for name in CODE_LIKE:
            assert name not in code


@settings(max_examples=40, deadline=None)
@given(names=NAMES)
def test_generated_code_does_not_depend_on_user_names(names):
    """Comments aside, the generated Numba and CUDA source is the same whatever the names are."""
    numba_src, cuda_src = generated(pattern_text(names, "any"))
    assert without_comments(numba_src, "#") == without_comments(NEUTRAL[0], "#")
    assert without_comments(cuda_src, "//") == without_comments(NEUTRAL[1], "//")


def test_exploding_enumeration_is_bounded_with_a_clear_message(capsys, small_world, tmp_path):
    """A path stage whose search explodes on hub accounts stops at --max-work, naming the pattern."""
    _, parquet = small_world
    pattern = tmp_path / "walks.pattern"
    pattern.write_text("pattern walks\n    window 10d\n    trigger a -> b\n"
                       "    path q = b ~> a via out hops 1..12\n    emit length(q)\n")
    out = tmp_path / "features.parquet"
    code = main(["mine", "--patterns", str(pattern), "--input", str(parquet), "--output", str(out),
                 "--max-work", "2000", "--on-work-limit", "error", "--quiet"])
    err = capsys.readouterr().err
    assert code == EXIT_INPUT and "Traceback" not in err
    assert "pattern `walks`: a path stage exceeded 2,000 steps" in err and "hint: tighten the pattern" in err
    assert not out.exists()
