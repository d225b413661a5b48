"""Progress bars on stderr (rich), silenced by --quiet or when stderr is not a terminal."""

from __future__ import annotations

import contextlib
import sys

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

_console = Console(stderr=True)
_quiet = False


def set_quiet(value: bool) -> None:
    global _quiet
    _quiet = value


def log(message: str) -> None:
    """A status line on stderr (stdout stays clean for --json)."""
    if not _quiet:
        _console.print(message, highlight=False, soft_wrap=True)


def warn(message: str) -> None:
    """A warning on stderr, shown even with --quiet: something the user should know about the input."""
    _console.print(f"warning: {message}", highlight=False, markup=False, soft_wrap=True)


@contextlib.contextmanager
def bar(description: str, total: float | None, unit: str = ""):
    """Yield `advance(amount)`; shows rate in `unit`/s when a unit is given."""
    if _quiet or not sys.stderr.isatty():
        yield lambda amount=1: None
        return
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), TaskProgressColumn(),
               TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=_console, transient=False) as progress:
        task = progress.add_task(description, total=total, rate="")

        def advance(amount=1):
            progress.advance(task, amount)
            t = progress.tasks[0]
            if unit and t.elapsed:
                progress.update(task, rate=f"{t.completed / t.elapsed:,.0f} {unit}/s")

        yield advance
