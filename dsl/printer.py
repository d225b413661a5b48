"""Print AST patterns back to pattern text: `parse_text(pattern_text(p))` gives `p` again.

Used to show patterns the tests generate (a failing random pattern shrinks to a small file a
person can read) and to normalise hand-written ones. Parentheses appear only where the grammar
needs them to keep the tree's shape.
"""

from __future__ import annotations

import math

import numpy as np

from . import ast as A

# Binding strength of each binary operator (higher binds tighter); comparisons do not chain.
_PRECEDENCE = {"or": 1, "and": 2, "<": 4, "<=": 4, ">": 4, ">=": 4, "==": 4, "!=": 4,
               "+": 5, "-": 5, "*": 6, "/": 6}
_NOT, _MEMBER, _UNARY_MINUS, _ATOM = 3, 4, 7, 8
_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def number_text(value: float) -> str:
    """A number as the grammar spells it: digits, optionally a point and more digits."""
    if not math.isfinite(value):
        raise ValueError(f"{value} cannot be written in a pattern")
    if float(value).is_integer():
        return str(int(value))
    text = np.format_float_positional(value, trim="-")
    return text if not text.startswith(".") else "0" + text


def _strength(e: A.Expr) -> int:
    if isinstance(e, A.Binary):
        return _PRECEDENCE[e.op]
    if isinstance(e, A.Unary):
        return _NOT if e.op == "not" else _UNARY_MINUS
    if isinstance(e, A.Member):
        return _MEMBER
    return _ATOM


def expr_text(e: A.Expr) -> str:
    """Pattern text of an expression."""
    if isinstance(e, A.Number):
        return number_text(e.value)
    if isinstance(e, A.Duration):
        return e.text
    if isinstance(e, A.String):
        return f'"{e.value}"'
    if isinstance(e, A.Name):
        return e.name
    if isinstance(e, A.Attribute):
        return f"{e.target}.{e.attr}"
    if isinstance(e, A.Call):
        return f"{e.func}({expr_text(e.arg)})"
    if isinstance(e, A.Member):
        return f"{_operand(e.element, _MEMBER + 1)} in {e.set_name}"
    if isinstance(e, A.Unary):
        if e.op == "not":
            return f"not {_operand(e.operand, _NOT)}"
        return f"-{_operand(e.operand, _UNARY_MINUS)}"
    if isinstance(e, A.Binary):
        strength = _PRECEDENCE[e.op]
        # Left-associative chains print bare; a right operand of equal strength keeps its parentheses,
        # and comparisons (which do not chain) parenthesise both sides of equal strength.
        left_min = strength + 1 if strength == 4 else strength
        return f"{_operand(e.left, left_min)} {e.op} {_operand(e.right, strength + 1)}"
    raise TypeError(f"not an expression: {e!r}")


def _operand(e: A.Expr, minimum: int) -> str:
    text = expr_text(e)
    return text if _strength(e) >= minimum else f"({text})"


def _atom_text(atom) -> str:
    if isinstance(atom, A.NamedAtom):
        return atom.name
    return f"{atom.owner}.{atom.direction}" + (f" as {atom.edge}" if atom.edge else "")


def set_expr_text(terms: tuple) -> str:
    """Pattern text of a set expression (terms united, each an intersection minus its subtracted parts)."""
    parts = []
    for term in terms:
        text = " & ".join(_atom_text(a) for a in term.positive)
        text += "".join(f" - {_atom_text(a)}" for a in term.negative)
        parts.append(text)
    return " | ".join(parts)


def _where(e: A.Expr | None, keyword: str = "where") -> str:
    return f" {keyword} {expr_text(e)}" if e is not None else ""


def statement_text(s: A.Stmt) -> str:
    """Pattern text of one statement (one line)."""
    if isinstance(s, A.For):
        return (f"for {'distinct ' if s.distinct else ''}{s.var} in {s.owner}.{s.direction}"
                f"{' as ' + s.edge if s.edge else ''}{_where(s.where)}")
    if isinstance(s, A.Stage):
        return f"stage {s.name} = {s.kind} {s.var} in {set_expr_text(s.terms)}{_where(s.where)}"
    if isinstance(s, A.PathStage):
        return (f"path {s.name} = {s.start} ~> {s.end} via {s.direction} hops {s.min_hops}..{s.max_hops}"
                f"{' increasing' if s.increasing else ''}{_where(s.where)}")
    if isinstance(s, A.Require):
        return f"require {expr_text(s.cond)}"
    if isinstance(s, A.Emit):
        name = f"{s.name} = " if s.name else ""
        return f"emit {name}{expr_text(s.value)}{_where(s.when, 'when')}"
    raise TypeError(f"not a statement: {s!r}")


def duration_text(seconds: int) -> str:
    """The shortest exact spelling of a duration: 86400 -> 1d, 5400 -> 90m."""
    for unit, size in _UNITS:
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    raise AssertionError("unreachable: every whole number of seconds has a spelling")


def bins_text(bins: tuple) -> str:
    if len(bins) == 1 or list(bins) == list(range(bins[0], bins[-1] + 1)):
        return f"{bins[0]}..{bins[-1]}"
    return ", ".join(str(b) for b in bins)


def pattern_text(p: A.Pattern) -> str:
    """Pattern text of a whole pattern, indented the way the library is written."""
    lines = [f"pattern {p.name}"]
    if p.description:
        lines.append(f'    description "{p.description}"')
    mode = " lagged" if p.window_lagged else ("" if p.window_inclusive else " exclusive")
    lines.append(f"    window {duration_text(p.window_seconds)}{mode}")
    if p.bins:
        lines.append(f"    bins {bins_text(p.bins)}")
    t = p.trigger
    lines.append(f"    trigger {t.src} -> {t.dst}{' as ' + t.edge if t.edge != 'e' else ''}{_where(t.where)}")
    if len(p.cases) == 1 and p.cases[0].name == "main":
        lines.extend(f"    {statement_text(s)}" for s in p.cases[0].stmts)
    else:
        for case in p.cases:
            lines.append(f"    case {case.name}:")
            lines.extend(f"        {statement_text(s)}" for s in case.stmts)
    return "\n".join(lines) + "\n"
