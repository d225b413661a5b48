"""Mine pattern features for a transaction table: the glue between data, graph and runtime."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from .graph import TemporalGraph
from .kernel_results import WorkReport
from .runtime import DEFAULT_MAX_WORK, compile_patterns, mine_graph


@dataclass
class MinedFeatures:
    table: pa.Table        # tx_id + one int32 column per (pattern, bin) and a float32 one per named emit,
                           # then <pattern>.work_limited flags
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
    t0 = time.perf_counter()
    graph = graph or TemporalGraph.from_table(table, accounts)
    t1 = time.perf_counter()
    compiled = compile_patterns(patterns, mode=mode)
    work = WorkReport()
    values = mine_graph(graph, compiled, backend=backend, threads=threads, max_work=max_work, progress=progress,
                        on_work_limit=on_work_limit, work=work)
    t2 = time.perf_counter()
    columns = [pa.array(table.column("tx_id").to_numpy())]
    # counts stay int32 columns when named emits make the matrix float32 (exact up to count_cap)
    real = {f"{p.name}.{name}" for p in compiled.programs for name in p.named}
    columns += [pa.array(np.ascontiguousarray(values[:, j] if name in real else values[:, j].astype(np.int32)))
                for j, name in enumerate(compiled.columns)]
    columns += [pa.array(work.flags(name, graph.m)) for name in compiled.work_limited]
    names = ["tx_id"] + compiled.columns + [f"{name}.work_limited" for name in compiled.work_limited]
    out = pa.table(columns, names=names)
    return MinedFeatures(out, t2 - t1, t1 - t0, graph.m)
