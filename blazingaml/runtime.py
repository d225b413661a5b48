"""Feature runtime: compile patterns (AST -> IR -> passes -> backend) and mine features on a graph."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import BlazingError, WorkLimitError
from .graph import TemporalGraph
from .ir import nodes as I
from .ir.lower import lower
from .ir.passes import optimize

BACKENDS = ("numba", "reference", "cupy")
MODES = ("closing", "participation")
DEFAULT_MAX_WORK = 2_000_000


@dataclass
class CompiledPatterns:
    """Patterns lowered and optimised, ready for a backend."""

    programs: tuple          # plain IR programs, in the user's order (what the reference runs)
    kernels: tuple           # optimised, fused kernels (what the numba backend runs)
    columns: list            # output columns in the user's order
    mode: str

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.programs]


def compile_patterns(patterns, mode: str = "closing", stats=None, optimise: bool = True,
                     disabled=frozenset()) -> CompiledPatterns:
    """Lower checked AST patterns and run the optimiser passes (all of them, none with
    `optimise=False`, or all but those named in `disabled`)."""
    if mode not in MODES:
        raise BlazingError(f"unknown feature mode '{mode}'", hint="choose closing or participation")
    programs = tuple(lower(p) for p in patterns)
    kernels = optimize(programs, mode=mode, stats=stats, disabled=disabled) if optimise else (I.Kernel(programs),)
    columns = [c for p in programs for c in p.columns]
    return CompiledPatterns(programs, kernels, columns, mode)


def _column_positions(compiled: CompiledPatterns) -> dict[str, int]:
    pos, col = {}, 0
    for p in compiled.programs:
        pos[p.name] = col
        col += len(p.bins)
    return pos


def mine_graph(graph: TemporalGraph, compiled: CompiledPatterns, backend: str = "numba", threads: int | None = None,
               max_work: int = DEFAULT_MAX_WORK, progress=None, dtype=np.int32) -> np.ndarray:
    """Feature matrix [m, len(columns)] in input-row order.

    `dtype` int32 (default) keeps exact counts; a smaller unsigned type (uint16 for model features)
    saturates each count at the type's maximum and takes a half or a quarter of the memory."""
    dtype = np.dtype(dtype)
    cap = int(np.iinfo(dtype).max)
    if backend not in BACKENDS:
        raise BlazingError(f"unknown backend '{backend}'", hint="choose numba, cupy or reference")
    total = len(compiled.columns)
    if graph.m == 0:
        return np.zeros((0, total), dtype)
    if backend == "reference":
        from .backends.reference import ReferenceInterpreter

        per_edge = ReferenceInterpreter(graph, compiled.mode, max_work=max_work).run(compiled.programs)
        return _saturate(graph.to_input_order(per_edge), dtype, cap)
    if backend == "cupy":
        from .backends.cupy.runner import run_on_gpu

        return _saturate(graph.to_input_order(run_on_gpu(graph, compiled, max_work, progress)), dtype, cap)
    return run_numba(graph, compiled, threads, max_work, progress, dtype)


def _saturate(values: np.ndarray, dtype: np.dtype, cap: int) -> np.ndarray:
    if values.dtype == dtype:
        return values
    return np.minimum(values, cap).astype(dtype)


def kernel_column_slices(kernel: I.Kernel, positions: dict[str, int]) -> list[tuple[slice, slice]]:
    """(columns of the full feature matrix, columns of the kernel's output) for each program."""
    pairs, col = [], 0
    for p in kernel.programs:
        k = len(p.bins)
        pairs.append((slice(positions[p.name], positions[p.name] + k), slice(col, col + k)))
        col += k
    return pairs


def check_overflow(graph: TemporalGraph, kernel: I.Kernel, overflow: np.ndarray, max_work: int):
    """Turn a kernel's per-trigger overflow codes into one clear error (1: path work, 2: GPU credit list)."""
    if not overflow.any():
        return
    names = ", ".join(p.name for p in kernel.programs)
    hit = np.flatnonzero(overflow == 1)
    if len(hit):
        raise WorkLimitError(
            f"a path stage in {names} exceeded {max_work:,} steps for {len(hit):,} trigger(s), first at tx_id "
            f"{int(graph.tx_id[hit[0]])}",
            hint="tighten the pattern (fewer hops, `increasing`, a shorter window) or raise --max-work")
    hit = np.flatnonzero(overflow == 2)
    from .backends.cupy.codegen import CREDIT_CAP

    raise WorkLimitError(
        f"in participation mode a pattern instance of {names} credits more than {CREDIT_CAP} edges, the GPU "
        f"kernel's per-thread limit ({len(hit):,} trigger(s), first at tx_id {int(graph.tx_id[hit[0]])})",
        hint="run participation features for this pattern set with --backend numba, or use --mode closing")


def run_numba(graph: TemporalGraph, compiled: CompiledPatterns, threads: int | None = None,
              max_work: int = DEFAULT_MAX_WORK, progress=None, dtype=np.int32, jit: bool = True) -> np.ndarray:
    """The numba backend: kernels write straight into the input-ordered feature matrix (see
    NumbaCodegen). With `jit=False` the same generated source runs as plain Python, one trigger
    at a time (for debugging generated code, and for tests that cannot afford a compile per pattern)."""
    import numba

    from .backends.numba_codegen import interpret_kernel, load_kernel
    from .backends.source_writer import STACK_SLOTS, graph_arrays
    from .backends.sliding import sliding_counts
    from .ir.passes.schedule import trigger_order

    if threads:
        numba.set_num_threads(min(int(threads), numba.config.NUMBA_NUM_THREADS))
    nthreads = numba.get_num_threads()
    dtype = np.dtype(dtype)
    cap = int(np.iinfo(dtype).max)
    positions = _column_positions(compiled)
    out = np.zeros((graph.m, len(compiled.columns)), dtype)
    arrays = graph_arrays(graph)
    for kernel in compiled.kernels:
        fn = load_kernel(kernel, compiled.mode)[0] if jit else interpret_kernel(kernel, compiled.mode)
        bins = np.concatenate([np.asarray(p.bins, np.float64) for p in kernel.programs])
        colmap = np.concatenate([np.arange(positions[p.name], positions[p.name] + len(p.bins)) for p in kernel.programs])
        overflow = np.zeros(graph.m, np.int8)
        stamp = np.zeros(graph.m if compiled.mode == "participation" else 1, np.int64)
        scratch = [np.zeros((nthreads, STACK_SLOTS), np.int64) for _ in range(4)]
        sliding = sliding_counts(graph, kernel)
        order = trigger_order(graph, kernel)
        fn(order, *arrays, bins, out, graph.row, colmap.astype(np.int64), cap, overflow, stamp, max_work, *scratch,
           sliding)
        check_overflow(graph, kernel, overflow, max_work)
        if progress is not None:
            progress(len(kernel.programs))
    return out
