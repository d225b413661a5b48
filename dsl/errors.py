"""Pattern-file errors with file:line:column, the offending line, a caret and a hint."""

from __future__ import annotations

from blazingaml.errors import BlazingError


_SHOWN = 100   # characters of the offending line shown under the message


class PatternError(BlazingError):
    """A pattern is well-formed text but wrong (undefined name, bad type, would explode, ...)."""

    def __init__(self, message: str, source: str = "<pattern>", line: int = 0, column: int = 0,
                 text: str | None = None, hint: str | None = None):
        self.source, self.line, self.column, self.message = source, line, column, message
        where = f"{source}:{line}:{column}" if line else source
        detail = f"{where}: {message}"
        if text is not None and line:
            lines = text.split("\n")  # lark counts lines by \n only
            src_line = lines[line - 1].rstrip("\r") if line - 1 < len(lines) else ""
            caret = max(column - 1, 0)
            if len(src_line) > _SHOWN:   # a hostile file's 100k-character line: show the part around the column
                start = max(0, min(caret - _SHOWN // 2, len(src_line) - _SHOWN))
                before, after = ("..." if start else ""), ("..." if start + _SHOWN < len(src_line) else "")
                src_line, caret = before + src_line[start:start + _SHOWN] + after, caret - start + len(before)
            detail += f"\n    {src_line}\n    {' ' * caret}^"
        super().__init__(detail, hint=hint)


class PatternSyntaxError(PatternError):
    """The text does not follow the grammar."""
