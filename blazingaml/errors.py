"""Typed errors. Every user mistake raises one of these; the CLI prints it as one line.

Exit codes of the `blazingaml` command (docs/operations.md): 0 success; 1 the input or the
environment needs fixing (a `BlazingError`, a full disk, a missing or unreadable file); 2 the
command line itself is wrong (argparse); 3 an internal error, a bug: one line on stderr and a
short report file with the traceback; 130 interrupted (Ctrl-C); 143 terminated (SIGTERM).
"""

from __future__ import annotations


class BlazingError(Exception):
    """Base class for errors caused by user input (files, options, patterns)."""

    hint: str | None = None

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint

    def render(self) -> str:
        text = str(self)
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class SchemaError(BlazingError):
    """A file has the wrong columns, header or structure."""


class BadRowError(BlazingError):
    """A data row cannot be parsed (bad timestamp, amount, currency, ...)."""

    SKIP_HINT = "fix the row, or pass --on-bad-rows skip to set bad rows aside in a side file"

    def __init__(self, path, line: int, column: str, value: str, reason: str, hint: str | None = None):
        self.path, self.line, self.column, self.value, self.reason = path, line, column, value, reason
        super().__init__(f"{path}:{line}: column '{column}': {reason}: {value!r}",
                         hint=f"{hint}; or pass --on-bad-rows skip to set such rows aside" if hint else self.SKIP_HINT)


class ModelError(BlazingError):
    """A saved model is missing, corrupt, or does not fit the data it is applied to."""


class WorkLimitError(BlazingError):
    """A pattern's enumeration exceeded its per-trigger work bound."""


class OutputError(BlazingError):
    """An output cannot be written where the user asked (a directory holding foreign files, ...)."""


class DiskFullError(OutputError):
    """The file system filled up while an output was being written; nothing was left under its name."""


class BackendUnavailable(BlazingError):
    """A requested backend cannot run here (no GPU, missing optional package)."""


def require(module: str, extra: str):
    """Import an optional dependency, or fail with the pip extra that provides it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise BackendUnavailable(
            f"this feature needs the optional package '{module}', which is not installed",
            hint=f"pip install 'blazingaml[{extra}]'",
        ) from exc
