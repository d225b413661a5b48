"""Parse pattern text into checked AST patterns (lark LALR + a Transformer)."""

from __future__ import annotations

import math
import os
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path

from lark import Lark, Token, Transformer, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, v_args
from lark.exceptions import VisitError

from . import ast as A
from .checks import check_bounds, check_pattern
from .errors import PatternError, PatternSyntaxError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_BINS = 256
MAX_NESTING = 64            # parentheses, or `not` / unary minus in a row
MAX_NUMBER = 2.0 ** 53      # numbers and durations (in seconds) are exact doubles below this
_PREFIX_RUN = re.compile(r"(?:\bnot\b\s*|-\s*){%d,}" % (MAX_NESTING + 1))

# What the user should read instead of lark's terminal names.
_FRIENDLY = {
    "NAME": "a name", "INT": "a whole number", "NUMBER": "a number", "DURATION": "a duration like 6h",
    "DIRECTION": "'out' or 'in'", "SET_KIND": "'nodes' or 'edges'", "STRING": "a quoted string",
    "COMPARE": "a comparison", "RARROW": "'->'", "DOT": "'.'", "EQUAL": "'='", "COLON": "':'",
    "__ANON_0": "'~>'", "$END": "end of file",
}


@lru_cache(maxsize=1)
def _parser() -> Lark:
    grammar = resources.files(__package__).joinpath("pattern.lark").read_text()
    return Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=False)


def _pos(meta_or_token) -> A.Pos:
    line = getattr(meta_or_token, "line", 0) or 0
    column = getattr(meta_or_token, "column", 0) or 0
    return A.Pos(line, column)


def _too_large(token: Token, what: str):
    raise PatternError(f"{what} {str(token)[:24]}{'...' if len(str(token)) > 24 else ''} is too large",
                       line=getattr(token, "line", 0) or 0, column=getattr(token, "column", 0) or 0,
                       hint=f"numbers and durations must stay below {int(MAX_NUMBER):,} (seconds)")


def _number(token: Token, what: str = "the number") -> float:
    value = float(str(token)) if len(str(token)) < 40 else math.inf
    if not value < MAX_NUMBER:
        _too_large(token, what)
    return value


def _whole(token: Token, what: str) -> int:
    return int(_number(token, what))


def _duration(token: Token) -> A.Duration:
    text = str(token)
    seconds = _number(Token(token.type, text[:-1], line=token.line, column=token.column), "the duration") \
        * _UNITS[text[-1]]
    if not seconds < MAX_NUMBER:
        _too_large(token, "the duration")
    return A.Duration(_pos(token), int(round(seconds)), text)


class _ToAst(Transformer):
    def __init__(self, source: str, text: str):
        super().__init__()
        self.source, self.text = source, text

    def _error(self, message: str, where, hint: str | None = None):
        pos = _pos(where)
        raise PatternError(message, self.source, pos.line, pos.column, self.text, hint)

    # ------------------------------------------------------------------ expressions
    @v_args(inline=True)
    def number(self, tok):
        return A.Number(_pos(tok), _number(tok))

    @v_args(inline=True)
    def duration(self, tok):
        return _duration(tok)

    @v_args(inline=True)
    def string(self, tok):
        return A.String(_pos(tok), str(tok)[1:-1])

    @v_args(inline=True)
    def name(self, tok):
        return A.Name(_pos(tok), str(tok))

    @v_args(inline=True)
    def attribute(self, target, attr):
        return A.Attribute(_pos(target), str(target), str(attr))

    @v_args(inline=True)
    def call(self, func, arg):
        return A.Call(_pos(func), str(func), arg)

    @v_args(inline=True)
    def neg(self, operand):
        return A.Unary(operand.pos, "-", operand)

    @v_args(inline=True)
    def not_op(self, operand):
        return A.Unary(operand.pos, "not", operand)

    @v_args(inline=True)
    def member(self, element, set_name):
        return A.Member(element.pos, element, str(set_name))

    def _fold(self, items, op_default=None):
        result = items[0]
        i = 1
        while i < len(items):
            if isinstance(items[i], Token):
                op, right = str(items[i]), items[i + 1]
                i += 2
            else:
                op, right = op_default, items[i]
                i += 1
            result = A.Binary(result.pos, op, result, right)
        return result

    def sum(self, items):
        return self._fold(items)

    def product(self, items):
        return self._fold(items)

    def comparison(self, items):
        return self._fold(items)

    def or_expr(self, items):
        return self._fold(items, "or")

    def and_expr(self, items):
        return self._fold(items, "and")

    # ------------------------------------------------------------------ statements
    def neighbour_atom(self, items):
        owner, direction = items[0], items[1]
        edge = str(items[2]) if len(items) > 2 else None
        return A.NeighbourAtom(str(owner), str(direction), edge, _pos(owner))

    @v_args(inline=True)
    def named_atom(self, tok):
        return A.NamedAtom(str(tok), _pos(tok))

    def subtracted(self, items):
        return ("subtracted", tuple(items))

    def set_term(self, items):
        negative = ()
        if items and isinstance(items[-1], tuple) and items[-1][0] == "subtracted":
            negative = items.pop()[1]
        return A.SetTerm(tuple(items), negative)

    def set_expr(self, items):
        return tuple(items)

    @v_args(meta=True)
    def for_stmt(self, meta, items):
        items = list(items)
        distinct = bool(items) and isinstance(items[0], Token) and items[0].type == "DISTINCT"
        if distinct:
            items.pop(0)
        var, owner, direction = str(items[0]), str(items[1]), str(items[2])
        rest = items[3:]
        edge = str(rest.pop(0)) if rest and isinstance(rest[0], Token) else None
        where = rest[0] if rest else None
        return A.For(_pos(meta), var, owner, direction, edge, distinct, where)

    @v_args(meta=True)
    def stage_stmt(self, meta, items):
        name, kind, var, terms = str(items[0]), str(items[1]), str(items[2]), items[3]
        where = items[4] if len(items) > 4 else None
        return A.Stage(_pos(meta), name, kind, var, terms, where)

    @v_args(meta=True)
    def path_stmt(self, meta, items):
        items = list(items)
        name, start, end, direction, lo, hi = (str(items[0]), str(items[1]), str(items[2]), str(items[3]),
                                               _whole(items[4], "the hop count"), _whole(items[5], "the hop count"))
        rest = items[6:]
        increasing = bool(rest) and isinstance(rest[0], Token) and rest[0].type == "INCREASING"
        if increasing:
            rest.pop(0)
        where = rest[0] if rest else None
        return A.PathStage(_pos(meta), name, start, end, direction, lo, hi, increasing, where)

    @v_args(meta=True)
    def emit_stmt(self, meta, items):
        return A.Emit(_pos(meta), items[0], items[1] if len(items) > 1 else None)

    @v_args(meta=True)
    def named_emit(self, meta, items):
        return A.Emit(_pos(meta), items[1], items[2] if len(items) > 2 else None, str(items[0]))

    @v_args(meta=True)
    def require_stmt(self, meta, items):
        return A.Require(_pos(meta), items[0])

    @v_args(meta=True)
    def case(self, meta, items):
        return A.Case(str(items[0]), tuple(items[1:]), _pos(meta))

    @v_args(meta=True)
    def single_case(self, meta, items):
        return (A.Case("main", tuple(items), _pos(meta)),)

    def cases(self, items):
        return tuple(items)

    @v_args(meta=True)
    def trigger(self, meta, items):
        src, dst = str(items[0]), str(items[1])
        rest = list(items[2:])
        edge = str(rest.pop(0)) if rest and isinstance(rest[0], Token) else "e"
        where = rest[0] if rest else None
        return A.Trigger(src, dst, edge, where, _pos(meta))

    # ------------------------------------------------------------------ headers
    @v_args(meta=True)
    def window(self, meta, items):
        d = _duration(items[0])
        mode = str(items[1]) if len(items) > 1 else "inclusive"
        return ("window", d.seconds, mode != "exclusive", _pos(meta), mode == "lagged")

    @v_args(meta=True)
    def bins(self, meta, items):
        return ("bins", items[0], _pos(meta))

    @v_args(meta=True)
    def bin_range(self, meta, items):
        lo, hi = _whole(items[0], "the bin edge"), _whole(items[1], "the bin edge")
        if hi < lo:
            self._error(f"empty bin range {lo}..{hi}", meta, hint="write the smaller edge first: bins 2..30")
        if hi - lo + 1 > MAX_BINS:
            self._error(f"{hi - lo + 1} bins is too many (at most {MAX_BINS})", meta)
        return tuple(range(lo, hi + 1))

    @v_args(meta=True)
    def bin_list(self, meta, items):
        edges = tuple(_whole(x, "the bin edge") for x in items)
        if any(b <= a for a, b in zip(edges, edges[1:])):
            self._error("bin edges must increase", meta, hint="for example: bins 2, 3, 5, 10")
        return edges

    @v_args(meta=True)
    def description(self, meta, items):
        return ("description", str(items[0])[1:-1], _pos(meta))

    @v_args(meta=True)
    def pattern(self, meta, items):
        name = str(items[0])
        window = bins = None
        description = ""
        for item in items[1:-2]:
            if item[0] == "window":
                if window:
                    self._error("`window` given twice", item[3])
                window = item
            elif item[0] == "bins":
                if bins:
                    self._error("`bins` given twice", item[2])
                bins = item
            else:
                description = item[1]
        trigger, cases = items[-2], items[-1]
        if window is None:
            self._error(f"pattern `{name}` has no window", meta,
                        hint="add a line like `window 24h` after the pattern name")
        counted = any(isinstance(s, A.Emit) and not s.name for c in cases for s in c.stmts)
        if bins and not counted:
            self._error(f"pattern `{name}` has `bins` but no counted emit", bins[2],
                        hint="bins histogram `emit VALUE`; a named emit (`emit NAME = VALUE`) is its own column")
        default_bins = tuple(range(2, 31)) if counted else ()
        return A.Pattern(name, window[1], window[2], bins[1] if bins else default_bins, trigger, cases,
                         description, self.source, _pos(meta), window_lagged=window[4])

    def start(self, items):
        return list(items)


def _syntax_error(exc: UnexpectedInput, source: str, text: str) -> PatternSyntaxError:
    line, column = getattr(exc, "line", 0) or 0, getattr(exc, "column", 0) or 0
    if isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
        lines = text.rstrip().splitlines() or [""]
        line, column = len(lines), len(lines[-1]) + 1
        expected = sorted(_FRIENDLY.get(t, repr(t.lower()) if t.isupper() else t) for t in exc.expected)
        return PatternSyntaxError("the file ends in the middle of a pattern", source, line, column, text,
                                  hint="expected " + ", ".join(expected[:6]) if expected else None)
    if isinstance(exc, UnexpectedCharacters):
        char = getattr(exc, "char", None) or "?"
        hint = "strings use double quotes" if char == "'" else "names are letters, digits and _; comments start with #"
        return PatternSyntaxError(f"unexpected character {char!r}", source, line, column, text, hint=hint)
    token = exc.token
    expected = sorted({_FRIENDLY.get(t, _keyword(t)) for t in exc.expected})
    found = f"'{token}'" if str(token) else token.type
    hint = "expected " + ", ".join(expected[:8]) if expected else None
    if str(token) in ("pattern", "window", "bins", "trigger") and "stage" not in str(token):
        hint = (hint or "") + ("; a pattern needs `pattern NAME`, `window`, `trigger a -> b`, then stages and `emit`")
    return PatternSyntaxError(f"unexpected {found}", source, line, column, text, hint=hint)


def _keyword(terminal: str) -> str:
    names = {"PATTERN": "pattern", "WINDOW": "window", "TRIGGER": "trigger", "STAGE": "stage", "EMIT": "emit",
             "FOR": "for", "PATH": "path", "CASE": "case", "WHERE": "where", "WHEN": "when", "AS": "as",
             "IN": "in", "VIA": "via", "HOPS": "hops", "LPAR": "'('", "RPAR": "')'", "AMPERSAND": "'&'",
             "VBAR": "'|'", "MINUS": "'-'", "PLUS": "'+'", "COMMA": "','", "REQUIRE": "require"}
    return names.get(terminal, terminal.lower())


def _check_nesting(text: str, source: str):
    """Refuse nesting deeper than MAX_NESTING before parsing (the tree walk would otherwise
    recurse, and slowly, through thousands of levels)."""
    depth = 0
    for i, char in enumerate(text):
        depth += (char == "(") - (char == ")")
        if depth > MAX_NESTING:
            break
    else:
        run = _PREFIX_RUN.search(text)
        if not run:
            return
        i = run.start()
    line = text.count("\n", 0, i) + 1
    column = i - (text.rfind("\n", 0, i) + 1) + 1
    raise PatternSyntaxError(f"expression nested more than {MAX_NESTING} deep", source, line, column, text,
                             hint="split the condition, or write it without so many parentheses")


def parse_text(text: str, source: str = "<pattern>") -> list[A.Pattern]:
    """Parse and check pattern text; raise PatternSyntaxError / PatternError on mistakes."""
    _check_nesting(text, source)
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(exc, source, text) from None
    check_bounds(tree, source, text)
    try:
        patterns = _ToAst(source, text).transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, PatternError):
            error = exc.orig_exc
            if error.source == "<pattern>" and error.line:   # raised without the file: add it
                error = PatternError(error.message, source, error.line, error.column, text, error.hint)
            raise error from None
        raise
    names = set()
    for p in patterns:
        if p.name in names:
            raise PatternError(f"pattern `{p.name}` is defined twice", source, p.pos.line, p.pos.column, text)
        names.add(p.name)
        check_pattern(p, text)
    return patterns


def parse_file(path: str | os.PathLike) -> list[A.Pattern]:
    """Parse one .pattern file."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise PatternError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise PatternError(f"{path}: not a UTF-8 text file") from None
    return parse_text(text, str(path))


def pattern_files(paths) -> list[Path]:
    """Expand files and directories (recursively, *.pattern) in a stable order."""
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            out.extend(sorted(p.rglob("*.pattern")))
        elif p.exists():
            out.append(p)
        else:
            raise PatternError(f"{p}: no such file or directory")
    if not out:
        raise PatternError("no .pattern files found in " + ", ".join(str(p) for p in paths))
    return out


def load_patterns(paths, only=None) -> list[A.Pattern]:
    """Parse every pattern in the given files/directories; names must be unique across them.

    `only` (names) keeps just those patterns, in file order; a name no file defines is an error."""
    patterns: list[A.Pattern] = []
    seen: dict[str, str] = {}
    for f in pattern_files(paths):
        for p in parse_file(f):
            if p.name in seen:
                raise PatternError(f"pattern `{p.name}` is defined in both {seen[p.name]} and {f}",
                                   hint="pattern names become feature column names and must be unique")
            seen[p.name] = str(f)
            patterns.append(p)
    if only is None:
        return patterns
    unknown = [n for n in only if n not in seen]
    if unknown:
        raise PatternError(f"no pattern named {', '.join(unknown)} in " + ", ".join(str(p) for p in paths),
                           hint="patterns there: " + ", ".join(seen))
    return [p for p in patterns if p.name in set(only)]
