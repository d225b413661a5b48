"""Feature tables: raw per-transaction fields and mined pattern counts, handed to scorers in float32 blocks."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from ..errors import BlazingError
from ..graph import TemporalGraph
from ..progress import bar
from ..runtime import DEFAULT_MAX_WORK, compile_patterns, mine_graph

RAW_FEATURES = ["log_amount_paid", "log_amount_received", "pay_currency", "recv_currency", "payment_format",
                "hour", "weekday", "cross_currency", "cross_bank", "self_transfer"]


def raw_features(table: pa.Table, graph: TemporalGraph | None = None) -> pd.DataFrame:
    """Per-transaction features needing no graph mining (account IDs are not features)."""
    ts = table.column("ts").to_numpy()
    src, dst = table.column("src").to_numpy(), table.column("dst").to_numpy()
    pay, recv = table.column("pay_currency").to_numpy(), table.column("recv_currency").to_numpy()
    bank = graph.bank if graph is not None else np.zeros(int(max(src.max(initial=0), dst.max(initial=0))) + 1, np.int32)
    return pd.DataFrame({
        "log_amount_paid": np.log1p(table.column("amount_paid").to_numpy()),
        "log_amount_received": np.log1p(table.column("amount_received").to_numpy()),
        "pay_currency": pay.astype(np.int16), "recv_currency": recv.astype(np.int16),
        "payment_format": table.column("payment_format").to_numpy().astype(np.int16),
        "hour": ((ts // 3600) % 24).astype(np.int16), "weekday": (((ts // 86400) + 4) % 7).astype(np.int16),
        "cross_currency": (pay != recv).astype(np.int8), "cross_bank": (bank[src] != bank[dst]).astype(np.int8),
        "self_transfer": (src == dst).astype(np.int8),
    })


def pattern_hashes(patterns) -> dict:
    """Identity of each pattern's meaning (its checked AST), for model/data compatibility checks."""
    from ..ir.lower import lower

    return {p.name: lower(p).digest() for p in patterns}


FEATURE_DTYPE = np.uint16      # mined counts, saturating at 65,535 (half of int32's memory)
BATCH_ROWS = 131_072           # rows per float32 block handed to the scorer


@dataclass
class FeatureTable:
    """Raw and mined features of every transaction, input order.

    Mined counts stay in one compact matrix (`FEATURE_DTYPE`), the values of named emits (vertex statistics,
    aggregates) in a float32 matrix of their own; scorers get float32 blocks of just the rows and columns
    they need (`matrix`), so a 5M-transaction world never holds a dense float copy of all its features."""

    raw: pd.DataFrame            # RAW_FEATURES
    mined: np.ndarray            # [m, count columns] FEATURE_DTYPE
    labels: np.ndarray | None
    ts: np.ndarray
    pattern_columns: list = field(default_factory=list)   # every mined column, in the compiled order
    mining_seconds: float = 0.0
    graph: TemporalGraph | None = None
    named: np.ndarray | None = None                        # [m, named-emit columns] float32
    named_columns: frozenset = frozenset()                 # which pattern_columns live in `named`

    def __post_init__(self):
        self._raw_values = self.raw.to_numpy(np.float32)
        counts = [c for c in self.pattern_columns if c not in self.named_columns]
        values = [c for c in self.pattern_columns if c in self.named_columns]
        self._where = {**{c: (self.mined, i) for i, c in enumerate(counts)},
                       **{c: (self.named, i) for i, c in enumerate(values)}}

    @property
    def names(self) -> list[str]:
        return list(self.raw.columns) + list(self.pattern_columns)

    def __len__(self) -> int:
        return len(self.raw)

    def matrix(self, rows: np.ndarray, columns: list[str] | None = None) -> np.ndarray:
        """float32 [len(rows), len(columns)] (all features when `columns` is None)."""
        columns = self.names if columns is None else columns
        raw_pos = {c: i for i, c in enumerate(self.raw.columns)}
        unknown = [c for c in columns if c not in raw_pos and c not in self._where]
        if unknown:
            raise BlazingError(f"unknown feature columns: {unknown[:5]}")
        raw_dst = [j for j, c in enumerate(columns) if c in raw_pos]
        raw_src = [raw_pos[columns[j]] for j in raw_dst]
        blocks = []     # (source matrix, destination columns, source columns)
        for source in (self.mined, self.named):
            dst = [j for j, c in enumerate(columns) if c in self._where and self._where[c][0] is source]
            if dst:
                blocks.append((source, dst, np.array([self._where[columns[j]][1] for j in dst], np.int64)))
        out = np.empty((len(rows), len(columns)), np.float32)
        for a in range(0, len(rows), BATCH_ROWS):
            chunk = rows[a:a + BATCH_ROWS]
            if raw_dst:
                out[a:a + len(chunk), raw_dst] = self._raw_values[chunk][:, raw_src]
            for source, dst, src in blocks:
                out[a:a + len(chunk), dst] = source[chunk][:, src]
        return out


def split_named(compiled, mined: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, frozenset]:
    """(counts as FEATURE_DTYPE, named-emit values as float32, the named columns) of a mined matrix. A
    pattern set with named emits is mined into one float32 matrix; kept whole, it would double the memory
    of every count column for the whole of training."""
    named = [c for p in compiled.programs for c in p.columns[len(p.bins):]]   # a pattern's bins, then its emits
    if not named:
        return mined, None, frozenset()
    is_named = np.isin(np.array(compiled.columns, object), np.array(named, object))
    counts = np.minimum(mined[:, ~is_named], np.iinfo(FEATURE_DTYPE).max).astype(FEATURE_DTYPE)
    return counts, np.ascontiguousarray(mined[:, is_named], np.float32), frozenset(named)


def build_features(table: pa.Table, accounts, patterns, backend="numba", threads=None, mode="closing",
                   max_work: int = DEFAULT_MAX_WORK) -> FeatureTable:
    """Raw and mined features of every row of `table`. A trigger whose path search takes more than `max_work`
    steps gets saturated counts (`runtime.mine_graph`); a model records the bound it was trained with."""
    graph = TemporalGraph.from_table(table, accounts)
    raw = raw_features(table, graph)
    mined, named, named_cols = np.zeros((table.num_rows, 0), FEATURE_DTYPE), None, frozenset()
    cols, seconds = [], 0.0
    if patterns:
        t0 = time.perf_counter()
        compiled = compile_patterns(patterns, mode=mode)
        with bar("mining", total=len(compiled.programs), unit="pattern") as advance:
            mined = mine_graph(graph, compiled, backend=backend, threads=threads, progress=advance,
                               dtype=FEATURE_DTYPE, max_work=max_work)
        mined, named, named_cols = split_named(compiled, mined)
        cols, seconds = list(compiled.columns), time.perf_counter() - t0
    labels = table.column("label").to_numpy() if "label" in table.column_names else None
    return FeatureTable(raw, mined, labels, table.column("ts").to_numpy(), cols, seconds, graph, named, named_cols)


def predict_rows(scorer, ft: FeatureTable, rows: np.ndarray, columns: list[str] | None = None) -> np.ndarray:
    """Scores for `rows`, a block at a time."""
    parts = [scorer.predict_proba(ft.matrix(rows[a:a + BATCH_ROWS], columns))
             for a in range(0, len(rows), BATCH_ROWS)]
    return np.concatenate(parts) if parts else np.zeros(0)

