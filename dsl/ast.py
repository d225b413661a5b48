"""AST of the pattern language: frozen dataclasses that keep source positions for errors."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Pos:
    line: int = 0
    column: int = 0


# ----------------------------------------------------------------------------- expressions
@dataclass(frozen=True)
class Expr:
    pos: Pos = field(default=Pos(), compare=False)


@dataclass(frozen=True)
class Number(Expr):
    value: float = 0.0


@dataclass(frozen=True)
class Duration(Expr):
    seconds: int = 0
    text: str = ""


@dataclass(frozen=True)
class String(Expr):
    value: str = ""


@dataclass(frozen=True)
class Name(Expr):
    name: str = ""


@dataclass(frozen=True)
class Attribute(Expr):
    target: str = ""
    attr: str = ""


@dataclass(frozen=True)
class Call(Expr):
    func: str = ""
    arg: Expr = None


@dataclass(frozen=True)
class Unary(Expr):
    op: str = ""          # "-" or "not"
    operand: Expr = None


@dataclass(frozen=True)
class Binary(Expr):
    op: str = ""          # + - * / < <= > >= == != and or
    left: Expr = None
    right: Expr = None


@dataclass(frozen=True)
class Member(Expr):
    element: Expr = None
    set_name: str = ""


# ----------------------------------------------------------------------------- statements
@dataclass(frozen=True)
class NeighbourAtom:
    owner: str
    direction: str        # "out" or "in"
    edge: str | None
    pos: Pos = field(default=Pos(), compare=False)


@dataclass(frozen=True)
class NamedAtom:
    name: str
    pos: Pos = field(default=Pos(), compare=False)


@dataclass(frozen=True)
class SetTerm:
    positive: tuple
    negative: tuple


@dataclass(frozen=True)
class Stmt:
    pos: Pos = field(default=Pos(), compare=False)


@dataclass(frozen=True)
class For(Stmt):
    var: str = ""
    owner: str = ""
    direction: str = "out"
    edge: str | None = None
    distinct: bool = False
    where: Expr | None = None


@dataclass(frozen=True)
class Stage(Stmt):
    name: str = ""
    kind: str = "nodes"   # "nodes" (distinct members) or "edges" (every window edge)
    var: str = ""
    terms: tuple = ()     # SetTerm, united
    where: Expr | None = None


@dataclass(frozen=True)
class PathStage(Stmt):
    name: str = ""
    start: str = ""
    end: str = ""
    direction: str = "out"
    min_hops: int = 1
    max_hops: int = 1
    increasing: bool = False
    where: Expr | None = None


@dataclass(frozen=True)
class Require(Stmt):
    cond: Expr = None


@dataclass(frozen=True)
class Emit(Stmt):
    value: Expr = None
    when: Expr | None = None
    name: str | None = None   # a named emit: the value itself, a float column `<pattern>.<name>`


@dataclass(frozen=True)
class Case:
    name: str
    stmts: tuple
    pos: Pos = field(default=Pos(), compare=False)


@dataclass(frozen=True)
class Trigger:
    src: str
    dst: str
    edge: str
    where: Expr | None
    pos: Pos = field(default=Pos(), compare=False)


@dataclass(frozen=True)
class Pattern:
    name: str
    window_seconds: int
    window_inclusive: bool
    bins: tuple
    trigger: Trigger
    cases: tuple          # Case; a pattern without `case` has one case named "main"
    description: str = ""
    source: str = "<pattern>"
    pos: Pos = field(default=Pos(), compare=False)
    window_lagged: bool = False   # the window starts `window` before the stream's previous transaction

    def named_emits(self) -> list[str]:
        """Names of the named (real-valued) emits, in the order they appear."""
        return [s.name for c in self.cases for s in c.stmts if isinstance(s, Emit) and s.name]

    def bin_names(self) -> list[str]:
        """Column suffix of each bin: its lower edge; the last bin is open (`30+`)."""
        if not self.bins:
            return []
        names = [str(self.bins[0])]
        for prev, edge in zip(self.bins[:-2], self.bins[1:-1]):
            names.append(str(prev + 1) if edge > prev + 1 else str(edge))
        names.append(f"{self.bins[-1]}+")
        return names if len(self.bins) > 1 else [f"{self.bins[0]}+"]

    def columns(self) -> list[str]:
        """Feature columns: the bins of counted emits, then one per named emit."""
        return [f"{self.name}.{b}" for b in self.bin_names() + self.named_emits()]
