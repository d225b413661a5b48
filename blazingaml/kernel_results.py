"""How kernel results land in the feature matrix; every backend uses this module.

* Columns: each pattern's bins, then its named emits, are contiguous, patterns in the user's
  order (`column_positions`); a fused kernel writes its programs' bins side by side
  (`kernel_column_slices` maps them) and their named emits' values into a float64 matrix of its
  own (`kernel_named_slices`). A pattern set with named emits is mined into a float32 matrix,
  whose counts are exact up to `count_cap`.
* Overflow codes: besides counts, a kernel returns one int8 code per (trigger edge, program of
  the kernel): 0 done, `WORK_LIMIT` the trigger's path search exceeded the work bound and was
  stopped, `CREDIT_LIMIT` (GPU, participation mode) an instance credited more edges than a
  thread's list holds. `settle_overflow` turns them into one clear error, or, for work limits
  with `on_work_limit="flag"` (the default), into saturated counts and per-pattern flags, so one
  hub trigger never costs a whole run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import BlazingError, WorkLimitError
from .ir import nodes as I
from .progress import log

WORK_LIMIT, CREDIT_LIMIT = 1, 2
ON_WORK_LIMIT = ("flag", "error")
CREDIT_CAP = 256   # edges one participation instance may credit on the GPU (a per-thread list)


def column_positions(programs) -> dict[str, int]:
    """First feature-matrix column of each program (programs in the user's order)."""
    positions, col = {}, 0
    for p in programs:
        positions[p.name] = col
        col += len(p.columns)
    return positions


def feature_dtype(programs, dtype) -> np.dtype:
    """The feature matrix's type: `dtype` for counts only, float32 once a named emit is real-valued."""
    return np.dtype(np.float32) if any(p.named for p in programs) else np.dtype(dtype)


def count_cap(dtype) -> int:
    """The largest count a feature matrix of `dtype` holds (float32: every integer up to 2**24)."""
    dtype = np.dtype(dtype)
    return 2 ** 24 if dtype.kind == "f" else int(np.iinfo(dtype).max)


def kernel_named_slices(kernel: I.Kernel, positions: dict[str, int]) -> list[tuple[slice, slice]]:
    """(columns of the full feature matrix, columns of the kernel's named-emit output) per program."""
    pairs, col = [], 0
    for p in kernel.programs:
        start = positions[p.name] + len(p.bins)
        pairs.append((slice(start, start + len(p.named)), slice(col, col + len(p.named))))
        col += len(p.named)
    return pairs


def kernel_column_slices(kernel: I.Kernel, positions: dict[str, int]) -> list[tuple[slice, slice]]:
    """(columns of the full feature matrix, columns of the kernel's output) for each program."""
    pairs, col = [], 0
    for p in kernel.programs:
        k = len(p.bins)
        pairs.append((slice(positions[p.name], positions[p.name] + k), slice(col, col + k)))
        col += k
    return pairs


def program_indices(compiled, kernel: I.Kernel) -> list[int]:
    """Position of each of the kernel's programs in the user's order (overflow matrix columns)."""
    index = {p.name: j for j, p in enumerate(compiled.programs)}
    return [index[p.name] for p in kernel.programs]


def can_hit_work_limit(program: I.Program) -> bool:
    """Only path searches are bounded (every other stage's work is polynomial in the window)."""
    return any(isinstance(o, I.PathCount) for c in program.cases for o in c.ops)


@dataclass
class WorkReport:
    """What the path searches of a run did: their steps, and the triggers the work bound
    stopped, per pattern, as input rows."""

    path_steps: int = 0                            # steps of every path search (all triggers, all patterns)
    rows: dict = field(default_factory=dict)       # pattern -> sorted input rows (int64)
    first_tx: dict = field(default_factory=dict)   # pattern -> tx_id of its first flagged trigger

    def flags(self, pattern: str, m: int) -> np.ndarray:
        """bool[m] in input order: was this row's trigger stopped for `pattern`?"""
        flags = np.zeros(m, bool)
        flags[self.rows.get(pattern, np.zeros(0, np.int64))] = True
        return flags

    def summary(self, max_work: int) -> str | None:
        """One line: how many triggers per pattern, and the first tx_id (None when none)."""
        if not self.rows:
            return None
        parts = [f"{name}: {len(rows):,} trigger(s), first at tx_id {self.first_tx[name]}"
                 for name, rows in self.rows.items()]
        return (f"the path search exceeded --max-work {max_work:,} steps for " + "; ".join(parts)
                + ". Their counts are saturated and flagged in <pattern>.work_limited"
                " (--on-work-limit error stops instead)")


def settle_overflow(graph, programs, overflow: np.ndarray, out: np.ndarray, columns, rows: np.ndarray,
                    max_work: int, on_work_limit: str, work: WorkReport):
    """Act on overflow codes [m edges, len(programs)] (edge order) of a kernel's programs.

    `columns[j]` is the first column of program j's bins in the feature matrix `out`, and
    `rows[e]` the row of edge e (`graph.row` when `out` is in input order). A work limit raises
    WorkLimitError (`on_work_limit="error"`) or sets the trigger's row of the pattern's bins to
    the matrix type's maximum and is recorded in `work` ("flag"); a GPU credit-list overflow
    always raises."""
    if on_work_limit not in ON_WORK_LIMIT:
        raise BlazingError(f"unknown --on-work-limit '{on_work_limit}'", hint="choose flag or error")
    if not overflow.any():
        return
    credit = (overflow == CREDIT_LIMIT).any(axis=1)
    if credit.any():
        names = ", ".join(p.name for j, p in enumerate(programs) if (overflow[:, j] == CREDIT_LIMIT).any())
        first = int(graph.tx_id[np.flatnonzero(credit)[0]])
        raise WorkLimitError(
            f"in participation mode a pattern instance of {names} credits more than {CREDIT_CAP} edges, the GPU "
            f"kernel's per-thread limit ({int(credit.sum()):,} trigger(s), first at tx_id {first})",
            hint="run participation features for this pattern set with --backend numba, or use --mode closing")
    cap = count_cap(out.dtype)
    for j, p in enumerate(programs):
        edges = np.flatnonzero(overflow[:, j] == WORK_LIMIT)
        if not len(edges):
            continue
        first = int(graph.tx_id[edges[0]])
        if on_work_limit == "error":
            raise WorkLimitError(
                f"pattern `{p.name}`: a path stage exceeded {max_work:,} steps for {len(edges):,} trigger(s), first "
                f"at tx_id {first}",
                hint="tighten the pattern (fewer hops, `increasing`, a shorter window), raise --max-work, or "
                     "pass --on-work-limit flag to saturate and flag those triggers")
        out[rows[edges], columns[j]:columns[j] + len(p.bins)] = cap
        work.rows[p.name] = np.union1d(work.rows.get(p.name, np.zeros(0, np.int64)), graph.row[edges])
        work.first_tx.setdefault(p.name, first)


def report(work: WorkReport, max_work: int) -> None:
    """Print what the work bound stopped (nothing when it stopped nothing)."""
    text = work.summary(max_work)
    if text:
        log(f"warning: {text}")
