"""Typed errors. Every user mistake raises one of these; the CLI prints it as one line."""

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

    def __init__(self, path, line: int, column: str, value: str, reason: str):
        self.path, self.line, self.column, self.value, self.reason = path, line, column, value, reason
        super().__init__(
            f"{path}:{line}: column '{column}': {reason}: {value!r}",
            hint="fix the row, or pass --on-bad-rows skip to set bad rows aside in a side file",
        )


class ModelError(BlazingError):
    """A saved model is missing, corrupt, or does not fit the data it is applied to."""


class WorkLimitError(BlazingError):
    """A pattern's enumeration exceeded its per-trigger work bound."""


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
