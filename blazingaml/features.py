"""Mine pattern features for a transaction table: the glue between data, graph and runtime."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from .graph import TemporalGraph
from .io.columns import arrow_column
from .kernel_results import WorkReport
from .runtime import DEFAULT_MAX_WORK, compile_patterns, mine_graph


@dataclass
class MinedFeatures:
    table: pa.Table        # tx_id + one int32 column per (pattern, bin), then <pattern>.work_limited flags
    seconds: float
    graph_seconds: float
    edges: int

    @property
    def edges_per_second(self) -> float:
        return self.edges / max(self.seconds, 1e-9)


def mine_table(table: pa.Table, accounts: pa.Table | None, patterns, backend: str = "numba", mode: str = "closing",
               threads: int | None = None, max_work: int = DEFAULT_MAX_WORK, progress=None,
               graph: TemporalGraph | None = None, on_work_limit: str = "flag") -> MinedFeatures:
    """Mine every pattern on the transactions in `table` (one output row per input row).

    Patterns with a path stage get a boolean `<pattern>.work_limited` column: true where the
    trigger's path search hit `max_work` and its counts were saturated (see mine_graph)."""
    run = MiningRun.start(table, accounts, patterns, backend, mode, threads, max_work, progress, graph, on_work_limit)
    out = run.rows(0, run.graph.m)
    return MinedFeatures(out, run.seconds, run.graph_seconds, run.graph.m)


# How feature files are written: plain pages compressed with LZ4, min/max statistics for `tx_id` only.
# On 1M rows of the GFP set (185 count columns) dictionary pages and per-column statistics took 2.4 s of
# a 6.4 s `mine`; this writes the same table in 0.9 s and reads it in half the time, at twice the bytes
# (14 MB; bench/RESULTS.md, issue 13, "On a quiet machine").
FEATURE_PARQUET = {"use_dictionary": False, "compression": "lz4", "write_statistics": ["tx_id"]}


def mine_to_parquet(path, table: pa.Table, accounts: pa.Table | None, patterns, memory: int,
                    backend: str = "numba", mode: str = "closing", threads: int | None = None,
                    max_work: int = DEFAULT_MAX_WORK, progress=None, on_work_limit: str = "flag") -> MinedFeatures:
    """`mine_table` written to the Parquet file `path` (atomically) range by range of input rows,
    each range's rows written as soon as they are mined, so that the features never take more
    than about `memory` bytes besides the graph (see `row_ranges`). The file holds the same
    rows and columns as `mine_table`'s table; only its row groups follow the ranges. The
    returned table is the schema alone (no rows)."""
    import pyarrow.parquet as pq

    from .io.atomic import atomic_path

    run = MiningRun.start(table, accounts, patterns, backend, mode, threads, max_work, None, None, on_work_limit)
    ranges = row_ranges(run, memory)
    with atomic_path(path) as tmp:
        with pq.ParquetWriter(tmp, run.schema, **FEATURE_PARQUET) as writer:
            for first, last in ranges:
                writer.write_table(run.rows(first, last))
                if progress is not None:
                    progress(last - first)
    # built from typed empty arrays: Schema.empty_table imports pandas, 0.3 s of a short command
    empty = pa.Table.from_arrays([pa.nulls(0, f.type) for f in run.schema], schema=run.schema)
    return MinedFeatures(empty, run.seconds, run.graph_seconds, run.graph.m)


@dataclass
class MiningRun:
    """A graph and compiled patterns, mined one range of input rows at a time (`rows`)."""

    table: pa.Table
    graph: TemporalGraph
    compiled: object             # runtime.CompiledPatterns, planned for `graph`
    options: dict                # mine_graph's keyword arguments
    graph_seconds: float
    seconds: float = 0.0
    work: WorkReport = field(default_factory=WorkReport)
    prepared: dict = field(default_factory=dict)   # per-kernel work shared by the ranges

    @classmethod
    def start(cls, table, accounts, patterns, backend, mode, threads, max_work, progress, graph, on_work_limit):
        t0 = time.perf_counter()
        graph = graph or TemporalGraph.from_table(table, accounts)
        t1 = time.perf_counter()
        compiled = compile_patterns(patterns, mode=mode).for_graph(graph)
        options = dict(backend=backend, threads=threads, max_work=max_work, progress=progress,
                       on_work_limit=on_work_limit)
        return cls(table, graph, compiled, options, t1 - t0, time.perf_counter() - t1)

    @property
    def names(self) -> list[str]:
        return ["tx_id"] + self.compiled.columns + [f"{name}.work_limited" for name in self.compiled.work_limited]

    @property
    def real_columns(self) -> set[str]:
        """Columns of named emits (float32); the others are counts (int32)."""
        return {f"{p.name}.{name}" for p in self.compiled.programs for name in p.named}

    @property
    def schema(self) -> pa.Schema:
        real = self.real_columns
        types = ([self.table.schema.field("tx_id").type] + [pa.float32() if c in real else pa.int32() for c in self.compiled.columns]
                 + [pa.bool_()] * len(self.compiled.work_limited))
        return pa.schema([pa.field(n, t) for n, t in zip(self.names, types)])

    def rows(self, first: int, last: int) -> pa.Table:
        """The features of input rows first..last-1 (all patterns), as a table."""
        t0 = time.perf_counter()
        whole = (first, last) == (0, self.graph.m)
        values = mine_graph(self.graph, self.compiled, work=self.work, rows=None if whole else (first, last),
                            prepared=self.prepared, **self.options)
        self.seconds += time.perf_counter() - t0
        columns = [self.table.column("tx_id").slice(first, last - first).combine_chunks()]
        # counts stay int32 columns when named emits make the matrix float32 (exact up to count_cap)
        real = self.real_columns
        columns += [arrow_column(np.asarray(values[:, j], np.float32 if name in real else np.int32))
                    for j, name in enumerate(self.compiled.columns)]
        columns += [arrow_column(self.work.flags(name, self.graph.m)[first:last]) for name in self.compiled.work_limited]
        return pa.Table.from_arrays(columns, schema=self.schema)


RANGE_ROWS_MIN = 1024   # smallest range of rows `row_ranges` plans (Parquet row groups stay useful)


def row_ranges(run: MiningRun, memory: int) -> list[tuple[int, int]]:
    """Ranges of input rows to mine one after another within `memory` bytes.

    The graph, the input table and each kernel's range-independent arrays (sliding counts,
    trigger order, overflow codes) are fixed costs; what is left bounds the rows of one range,
    each costing its int32 features twice (the mined matrix, Parquet's encoding buffers).
    When the fixed costs alone exceed `memory`, ranges of RANGE_ROWS_MIN rows are planned and
    a warning says how much the graph needs."""
    from .progress import log

    m = run.graph.m
    fixed = run.table.nbytes + sum(a.nbytes for a in vars(run.graph).values() if isinstance(a, np.ndarray))
    fixed += sum(a.nbytes for adj in (run.graph.out, run.graph.inc) for a in vars(adj).values()
                 if isinstance(a, np.ndarray))
    fixed += m * (2 * len(run.compiled.programs) + 12 * len(run.compiled.kernels))
    per_row = 8 + 2 * 4 * len(run.compiled.columns)
    if fixed > memory:
        log(f"warning: the graph and its indexes need about {fixed / 2**30:.1f} GiB, more than --memory "
            f"{memory / 2**30:.1f} GiB; mining in ranges of {RANGE_ROWS_MIN:,} rows")
    step = max(RANGE_ROWS_MIN, (memory - fixed) // per_row)
    return [(a, min(m, a + step)) for a in range(0, m, step)] or [(0, 0)]
