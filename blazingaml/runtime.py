"""Feature runtime: compile patterns (AST -> IR -> passes -> backend) and mine features on a graph."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .errors import BlazingError
from .graph import TemporalGraph
from .ir import nodes as I
from .ir.lower import lower
from .ir.passes import optimize
from .ir.passes.cost import GraphStats
from .kernel_results import (ON_WORK_LIMIT, WorkReport, can_hit_work_limit, column_positions, count_cap, feature_dtype,
                             kernel_named_slices, program_indices, report, settle_overflow)

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
    stats: GraphStats | None = None   # what the cost model knew; None: defaults, re-planned for each graph mined
    disabled: frozenset = frozenset()
    optimised: bool = True

    def for_graph(self, graph: TemporalGraph) -> "CompiledPatterns":
        """The plan re-made with `graph`'s statistics (intersection order, kernel grouping), unless
        it was made for given statistics or without passes. A kernel whose IR comes out the same
        is the same cached kernel, so re-planning compiles only what the graph changed."""
        if not self.optimised or self.stats is not None:
            return self
        stats = GraphStats.of(graph)
        return replace(self, kernels=optimize(self.programs, self.mode, stats, self.disabled), stats=stats)

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.programs]

    @property
    def work_limited(self) -> list[str]:
        """Patterns whose triggers the work bound can stop (those with a path stage)."""
        return [p.name for p in self.programs if can_hit_work_limit(p)]


def compile_patterns(patterns, mode: str = "closing", stats=None, optimise: bool = True,
                     disabled=frozenset()) -> CompiledPatterns:
    """Lower checked AST patterns and run the optimiser passes (all of them, none with
    `optimise=False`, or all but those named in `disabled`)."""
    if mode not in MODES:
        raise BlazingError(f"unknown feature mode '{mode}'", hint="choose closing or participation")
    programs = tuple(lower(p) for p in patterns)
    kernels = optimize(programs, mode=mode, stats=stats, disabled=disabled) if optimise else (I.Kernel(programs),)
    columns = [c for p in programs for c in p.columns]
    return CompiledPatterns(programs, kernels, columns, mode, stats, frozenset(disabled), optimise)


def mine_graph(graph: TemporalGraph, compiled: CompiledPatterns, backend: str = "numba", threads: int | None = None,
               max_work: int = DEFAULT_MAX_WORK, progress=None, dtype=np.int32, on_work_limit: str = "flag",
               work: WorkReport | None = None, rows: tuple[int, int] | None = None,
               prepared: dict | None = None) -> np.ndarray:
    """Feature matrix [m, len(columns)] in input-row order.

    `rows=(r0, r1)` mines only the triggers of input rows r0..r1-1 and returns their rows
    [r1 - r0, len(columns)], equal to those rows of the whole matrix (numba backend, closing mode:
    there a trigger writes only its own row). Mining a file range by range bounds the output's
    memory; pass one `prepared` dict to every range so that the per-kernel work that does not
    depend on the range (sliding sweeps, trigger order) is done once.

    `dtype` int32 (default) keeps exact counts; a smaller unsigned type (uint16 for model features)
    saturates each count at the type's maximum and takes a half or a quarter of the memory.
    A trigger whose path search exceeds `max_work` steps stops the run (`on_work_limit="error"`)
    or gets the type's maximum in that pattern's bins and is recorded in `work` ("flag", the
    default; a warning names how many and the first tx_id). `work` also adds up path steps.
    Patterns with named emits make the matrix float32, whatever `dtype` (see kernel_results)."""
    dtype = feature_dtype(compiled.programs, dtype)
    if backend not in BACKENDS:
        raise BlazingError(f"unknown backend '{backend}'", hint="choose numba, cupy or reference")
    if on_work_limit not in ON_WORK_LIMIT:
        raise BlazingError(f"unknown --on-work-limit '{on_work_limit}'", hint="choose flag or error")
    if rows is not None and (backend != "numba" or compiled.mode != "closing"):
        raise BlazingError("mining a range of rows needs the numba backend in closing mode",
                           hint="mine the whole graph at once with this backend or mode")
    if graph.m == 0:
        return np.zeros((0, len(compiled.columns)), dtype)
    compiled = compiled.for_graph(graph)
    if backend == "reference":
        from .backends.reference import ReferenceInterpreter

        interpreter = ReferenceInterpreter(graph, compiled.mode, max_work=max_work)
        values = graph.to_input_order(interpreter.run(compiled.programs))
        overflow, steps = interpreter.overflow, interpreter.path_steps
    elif backend == "cupy":
        from .backends.cupy.runner import run_on_gpu

        per_edge, overflow, steps = run_on_gpu(graph, compiled, max_work, progress)
        values = graph.to_input_order(per_edge)
    else:
        values, overflow, steps = run_numba(graph, compiled, threads, max_work, progress, dtype, rows=rows,
                                            prepared=prepared)
    return settle(graph, compiled, values, overflow, steps, max_work, on_work_limit, work, dtype,
                  first_row=rows[0] if rows else 0)


def settle(graph: TemporalGraph, compiled: CompiledPatterns, values: np.ndarray, overflow: np.ndarray,
           path_steps: int, max_work: int, on_work_limit: str = "flag", work: WorkReport | None = None,
           dtype=np.int32, first_row: int = 0) -> np.ndarray:
    """A backend's raw result (features in input order, overflow codes [m edges, programs], path
    steps) as `mine_graph` returns it: work limits raised or saturated and flagged (see
    kernel_results), counts saturated at `dtype`'s maximum. `values` row 0 is input row `first_row`."""
    work = WorkReport() if work is None else work
    work.path_steps += int(path_steps)
    flagged = len(work.rows)
    columns = list(column_positions(compiled.programs).values())
    settle_overflow(graph, compiled.programs, overflow, values, columns, graph.row - first_row, max_work,
                    on_work_limit, work)
    if len(work.rows) > flagged:
        report(work, max_work)
    dtype = feature_dtype(compiled.programs, dtype)
    if values.dtype == dtype:
        return values
    if dtype.kind == "f":
        return values.astype(dtype)
    return np.minimum(values, np.iinfo(dtype).max).astype(dtype)


def run_numba(graph: TemporalGraph, compiled: CompiledPatterns, threads: int | None = None,
              max_work: int = DEFAULT_MAX_WORK, progress=None, dtype=np.int32, jit: bool = True,
              rows: tuple[int, int] | None = None, prepared: dict | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """The numba backend: (feature matrix in input order, overflow codes [m edges, programs],
    path steps).

    Kernels write straight into the input-ordered feature matrix (see NumbaCodegen). With
    `jit=False` the same generated source runs as plain Python, one trigger at a time (for
    debugging generated code, and for tests that cannot afford a compile per pattern). `rows` and
    `prepared`: see mine_graph."""
    import numba

    from .backends.numba_codegen import CLOSURE_SCRATCH, NumbaCodegen, interpret_kernel, load_kernel
    from .backends.source_writer import STACK_SLOTS, graph_arrays
    from .backends.sliding import sliding_counts
    from .backends.window_sweeps import window_aggregates
    from .ir.passes.schedule import trigger_order

    if threads:
        numba.set_num_threads(min(int(threads), numba.config.NUMBA_NUM_THREADS))
    nthreads = numba.get_num_threads()
    dtype = feature_dtype(compiled.programs, dtype)
    cap = count_cap(dtype)
    positions = column_positions(compiled.programs)
    # Column-major: each trigger writes a few bins, consecutive triggers the same columns' next
    # rows; and each feature column comes out contiguous, as Parquet and Arrow store it.
    first, last = rows if rows is not None else (0, graph.m)
    out = np.zeros((last - first, len(compiled.columns)), dtype, order="F")
    overflow_all = np.zeros((graph.m, len(compiled.programs)), np.int8)
    steps = np.zeros(nthreads, np.int64)   # path steps, per thread (no atomics)
    arrays = graph_arrays(graph)
    prepared = {} if prepared is None else prepared
    out_row = graph.row - first if first else graph.row
    for kernel in compiled.kernels:
        fn = load_kernel(kernel, compiled.mode)[0] if jit else interpret_kernel(kernel, compiled.mode)
        bins = np.concatenate([np.asarray(p.bins, np.float64) for p in kernel.programs])
        colmap = np.concatenate([np.arange(positions[p.name], positions[p.name] + len(p.bins)) for p in kernel.programs])
        overflow = np.zeros((graph.m, len(kernel.programs)), np.int8)
        stamp = np.zeros(graph.m if compiled.mode == "participation" else 1, np.int64)
        scratch = [np.zeros((nthreads, STACK_SLOTS), np.int64) for _ in range(4)]
        scratch += [np.zeros((nthreads, NumbaCodegen.CLOSURE_CAPACITY), dtype) for _, dtype in CLOSURE_SCRATCH]
        if kernel not in prepared:
            prepared[kernel] = sliding_counts(graph, kernel), trigger_order(graph, kernel), window_aggregates(graph, kernel)
        sliding, order, aggregates = prepared[kernel]
        if rows is not None:  # the range's triggers, still in the load balancer's order
            order = order[(graph.row[order] >= first) & (graph.row[order] < last)]
        reals = np.zeros((graph.m, max(sum(len(p.named) for p in kernel.programs), 1)))
        fn(order, *arrays, bins, out, out_row, colmap.astype(np.int64), cap, overflow, stamp, max_work,
           *scratch[:4], sliding, steps, *scratch[4:], np.zeros(nthreads, np.int64), aggregates, reals)
        named = kernel_named_slices(kernel, positions)
        if named:   # named emits of the edges whose rows are in range
            edges = np.flatnonzero((graph.row >= first) & (graph.row < last))
            for dst, src in named:
                out[out_row[edges], dst] = reals[edges, src]
        overflow_all[:, program_indices(compiled, kernel)] = overflow
        if progress is not None:
            progress(len(kernel.programs))
    return out, overflow_all, int(steps.sum())
