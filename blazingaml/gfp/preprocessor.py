"""`GraphFeaturePreprocessor`: snapml's class of the same name, as a drop-in.

Same params dict (every key, snapml's defaults, unknown keys rejected with snapml's `KeyError`), same
methods, same input layout (`[edge id, source id, target id, timestamp, raw features...]`) and output
column order (the input, then fan-in, fan-out, degree-in, degree-out, scatter-gather, temporal-cycle and
lc-cycle histograms, then vertex statistics). The graph patterns are `patterns/gfp` compiled with the
params' windows and bins, mined on an appendable graph (`blazingaml.gfp.stream_graph`) for the batch's
edges only; vertex statistics are kept up to date edge by edge (`blazingaml.gfp.vertex_stats`), on a
worker thread beside the graph's work when `num_threads` allows (docs/gfp.md "Cost"). A `transform`
costs O(batch) plus the window degree of the accounts the batch touches, not O(window).

Where it differs from snapml, on purpose:
- Results are snapml's one-edge-at-a-time results whatever the batch size. snapml's own batched
  results vary with the batch size (every edge of a batch sees the whole batch).
- `fit_transform(X)` features X as a stream fed to an empty graph. snapml runs `fit(X)` then
  `transform(X)`, which inserts every edge twice.
- Any memory layout and dtype of the input is read as it is (Fortran order, strided views, ints).
- State is saved with `save(path)` and read back with `GraphFeaturePreprocessor.load(path)`: an
  `.npz` of plain arrays and the params as JSON, read without pickle.
- Edge ids are not looked at: every row is a new edge (snapml's own check lets repeated ids in).
- Variance, skew and kurtosis are computed stably (shifted sums), then zeroed where var < 1e-5 mean^2
  exactly as snapml does (so an epoch-timestamp column's moments are 0, as in snapml).
- Degree counts parallel edges separately; fan counts distinct counterparties; self-transfers count
  in the vertex statistics like any edge, and never in the pattern histograms.
- `max_no_edges` bounds the graph as snapml's does (after each edge the oldest leave until that many
  are left), for patterns and statistics; 0 is refused with snapml's message.
Not supported, each refused with a clear error: timestamps that go back in time (patterns need a
time-ordered stream), a `time_window` shorter than an enabled pattern's window.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import numpy as np

from ..dsl import ast as A
from ..errors import BlazingError
from . import vertex_stats as vs
from .stream_graph import AccountNumbers, StreamGraph, widen

BINS_2_30 = list(range(2, 31))
DEFAULT_PARAMS = {
    "num_threads": 12,
    "time_window": -1,
    "max_no_edges": -1,
    "vertex_stats": True,
    "vertex_stats_tw": 480 * 3600,
    "vertex_stats_cols": [3],
    "vertex_stats_feats": [0, 1, 2, 3, 4, 8, 9, 10],
    "fan": True, "fan_tw": 12 * 3600, "fan_bins": BINS_2_30,
    "degree": False, "degree_tw": 12 * 3600, "degree_bins": BINS_2_30,
    "scatter-gather": False, "scatter-gather_tw": 120 * 3600, "scatter-gather_bins": BINS_2_30,
    "temp-cycle": False, "temp-cycle_tw": 480 * 3600, "temp-cycle_bins": BINS_2_30,
    "lc-cycle": False, "lc-cycle_tw": 240 * 3600, "lc-cycle_len": 10, "lc-cycle_bins": list(range(2, 11)),
}
# GFP's published AML configuration ([GFP] §3, [ALT] App. D): 1-day windows, scatter-gather 6 h,
# vertex statistics on timestamp and amount over 480 h, every pattern on.
AML_PAPER_PARAMS = {
    **DEFAULT_PARAMS, "num_threads": 2, "vertex_stats_cols": [3, 4],
    "fan_tw": 24 * 3600, "degree": True, "degree_tw": 24 * 3600, "scatter-gather": True,
    "scatter-gather_tw": 6 * 3600, "temp-cycle": True, "temp-cycle_tw": 24 * 3600, "lc-cycle": True,
    "lc-cycle_tw": 24 * 3600,
}
# snapml's pattern names -> ours, in output order
PATTERNS = {
    "fan": ("fan_in", "fan_out"),
    "degree": ("degree_in", "degree_out"),
    "scatter-gather": ("scatter_gather",),
    "temp-cycle": ("temporal_cycle",),
    "lc-cycle": ("simple_cycle",),
}
GFP_PATTERNS = Path(__file__).resolve().parents[2] / "patterns" / "gfp"
_SAVED_ARRAYS = ("params", "log", "stats_front")
# Below this many rows, handing the statistics to the worker thread costs more than running them
# beside the graph saves (measured at batch 128 on 2 busy cores: 6.1 vs 5.1 CPU-us per edge, and
# slower wall-clock too; equal at 512 and above; bench/RESULTS.md).
STATISTICS_BESIDE = 512


class GraphFeaturePreprocessor:
    """Graph features of a transaction stream, with snapml's `GraphFeaturePreprocessor` interface."""

    def __init__(self):
        self.params = copy.deepcopy(DEFAULT_PARAMS)
        self._configure()

    # -- parameters -----------------------------------------------------------------------------
    def get_params(self, deep: bool = False) -> dict:
        """The params dict (a copy: change it through `set_params`)."""
        return copy.deepcopy(self.params)

    def set_params(self, params: dict) -> None:
        """Change params; unknown keys raise `KeyError` as in snapml. Clears the in-memory graph."""
        for key in params:
            if key not in self.params:
                raise KeyError("Unsupported key: " + key)
        merged = {**self.params, **copy.deepcopy(dict(params))}
        self._configure(merged)
        self.params = merged

    def __sklearn_clone__(self):
        clone = GraphFeaturePreprocessor()
        clone.set_params(self.get_params())
        return clone

    def _configure(self, params: dict | None = None) -> None:
        """Validate params, compile the enabled patterns, and clear the graph."""
        from ..dsl.parser import load_patterns
        from ..runtime import compile_patterns

        p = self.params if params is None else params
        enabled = [name for name in PATTERNS if p[name]]
        windows = [_whole(p, f"{name}_tw") for name in enabled]
        if p["time_window"] is not None and p["time_window"] >= 0:
            graph_window = _whole(p, "time_window")
            if windows and graph_window < max(windows):
                raise BlazingError(f"time_window {graph_window} is shorter than an enabled pattern's window",
                                   hint="leave time_window at -1 (the largest pattern window) or raise it")
        else:
            graph_window = max(windows, default=0)
        if graph_window <= 0:
            raise BlazingError("Time window size must be greater than zero.",
                               hint="enable a pattern or set time_window")
        max_edges = _whole(p, "max_no_edges")
        if max_edges == 0:
            raise BlazingError("Max number of edges cannot be zero.", hint="-1 (the default) leaves the graph unbounded")
        max_edges = max(max_edges, 0)
        self._stats_cols = sorted({int(c) for c in p["vertex_stats_cols"]}) if p["vertex_stats"] else []
        feats = {int(f) for f in p["vertex_stats_feats"]}
        if not feats <= set(range(11)):
            raise BlazingError(f"vertex_stats_feats {sorted(feats)}: codes are 0..10", hint=", ".join(
                f"{i}:{n}" for i, n in enumerate(vs.NAMES)))
        # block positions to output: fan, degree, ratio, then per column its statistics (codes 3..10)
        self._stats_keep = [f for f in (vs.FAN, vs.DEGREE, vs.RATIO) if f in feats] + [
            3 + vs.PER_COLUMN * c + (f - 3) for c in range(len(self._stats_cols)) for f in range(3, 11) if f in feats]
        self._order_stats = bool(feats & {5, 6, 7})
        self._stats_window = _whole(p, "vertex_stats_tw") if p["vertex_stats"] else graph_window
        self._graph_window = graph_window
        patterns = {pat.name: pat for pat in load_patterns([GFP_PATTERNS])}
        chosen = []
        for name in enabled:
            for ours in PATTERNS[name]:
                bins = tuple(int(b) for b in p[f"{name}_bins"])
                if not bins or any(b2 <= b1 for b1, b2 in zip(bins, bins[1:])):
                    raise BlazingError(f"{name}_bins {list(bins)} must be increasing and non-empty")
                pat = dataclasses.replace(patterns[ours], window_seconds=_whole(p, f"{name}_tw"), bins=bins)
                if name == "lc-cycle":
                    pat = _with_cycle_length(pat, _whole(p, "lc-cycle_len"))
                chosen.append(pat)
        key = tuple((name, _whole(p, f"{name}_tw"), tuple(p[f"{name}_bins"])) for name in enabled) + (
            _whole(p, "lc-cycle_len") if p["lc-cycle"] else 0,)
        self._graph = StreamGraph(compile_patterns(chosen), key, max(windows), max_edges) if chosen else None
        self._accounts = AccountNumbers()
        # the graph window's rows and per-account statistics (fan and degree are kept even when
        # vertex statistics are off: the saved state is this window)
        self._stats = vs.VertexStatsStream(len(self._stats_cols), graph_window, self._stats_window, self._order_stats,
                                           vs.SNAPML_MIN_RELATIVE_VAR, max_edges or None,
                                           keep=self._stats_keep if p["vertex_stats"] else [])

    # -- the stream -----------------------------------------------------------------------------
    def fit(self, features, y=None) -> None:
        """Clear the graph, then insert the edges of `features` (no features computed)."""
        self._configure()
        self.partial_fit(features)

    def partial_fit(self, features) -> None:
        """Insert the edges of `features` into the graph (no features computed)."""
        self._insert(self._batch(features))

    def transform(self, features_in) -> np.ndarray:
        """Insert the edges of `features_in` one at a time and return them with their graph features."""
        x = np.asarray(features_in, dtype=np.float64)
        batch = self._batch(x)
        accounts = self._accounts.number(batch[:, :2])
        patterns = len(self._graph.compiled.columns) if self._graph is not None else 0
        out = np.empty((len(x), x.shape[1] + patterns + 4 * len(self._stats.keep)))

        def statistics():
            out[:, :x.shape[1]] = x
            self._stats.append(batch, accounts, out=out[:, x.shape[1] + patterns:])

        threads = max(1, int(self.params["num_threads"]))
        # With 2 threads or more and a batch of STATISTICS_BESIDE rows or more, the statistics run
        # on a thread of their own beside the graph's append and kernels (both release the GIL); a
        # thread that waits sleeps, so a busy machine loses no CPU to spinning. The kernels get
        # the other threads.
        beside = None
        if threads > 1 and self._graph is not None and len(x) >= STATISTICS_BESIDE:
            beside = _statistics_thread().submit(statistics)
        try:
            if beside is None:
                statistics()
            if self._graph is not None and len(batch):
                first = self._graph.append(accounts[:, 0], accounts[:, 1], batch[:, 2])
                counts = self._graph.mine(first, x[:, 0], threads - (beside is not None))
                widen(counts, out[:, x.shape[1]:x.shape[1] + patterns])
        finally:
            if beside is not None:
                beside.result()
        return out

    def fit_transform(self, features_in, y=None) -> np.ndarray:
        """Features of `features_in` fed as a stream to an empty graph (see the module doc)."""
        self._configure()
        return self.transform(features_in)

    def _insert(self, batch: np.ndarray, history: bool = False) -> None:
        """Append a batch (log rows) to the pattern graph and the statistics, keeping no features."""
        accounts = self._accounts.number(batch[:, :2])
        if self._graph is not None and len(batch):
            self._graph.append(accounts[:, 0], accounts[:, 1], batch[:, 2])
        self._stats.append(batch, accounts, history)

    def _batch(self, features) -> np.ndarray:
        """The log rows (src, dst, ts, stats columns) of an input array, checked."""
        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] < 4:
            raise BlazingError(f"input of shape {x.shape}: expected a 2-D edge list",
                               hint="columns: edge id, source id, target id, timestamp, raw features...")
        if self._stats_cols and self._stats_cols[-1] >= x.shape[1]:
            raise BlazingError(f"vertex_stats_cols {self._stats_cols} name a column past the input's {x.shape[1]}")
        if not np.isfinite(x[:, 1:4]).all():
            raise BlazingError("source, target and timestamp columns must be finite numbers")
        ts = x[:, 3]
        if (ts != np.floor(ts)).any():
            raise BlazingError("timestamps must be whole numbers", hint="use integer seconds (or another whole unit)")
        last = self._stats.rows[self._stats.m - 1, 2] if self._stats.m else -np.inf
        if len(ts) and ((ts[1:] < ts[:-1]).any() or ts[0] < last):
            raise BlazingError("timestamps go back in time", hint="feed edges in non-decreasing timestamp order")
        return np.column_stack([x[:, 1:4], x[:, self._stats_cols]])

    # -- state ----------------------------------------------------------------------------------
    def save(self, path) -> None:
        """Write params and graph to `path` (.npz, no pickle), atomically."""
        from ..io.atomic import atomic_path

        log, stats_front = self._stats.window_rows()
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, params=np.array(json.dumps(self.params)), log=log, stats_front=np.array(stats_front, np.int64))

    @classmethod
    def load(cls, path) -> "GraphFeaturePreprocessor":
        """Read what `save` wrote."""
        with np.load(path, allow_pickle=False) as saved:
            if sorted(saved.files) != sorted(_SAVED_ARRAYS):
                raise BlazingError(f"{path}: not a saved GraphFeaturePreprocessor")
            gfp = cls()
            gfp.set_params(json.loads(str(saved["params"])))
            gfp._stats.fronts[1] = int(saved["stats_front"])
            gfp._insert(saved["log"].astype(np.float64), history=True)   # graph, accounts and statistics, rebuilt
        return gfp


_STATISTICS_THREAD: dict = {}   # process id -> its executor


def _statistics_thread():
    """The one worker thread of this process (created on first use, shared) that computes vertex
    statistics beside the pattern graph's work. Per process id: a child forked after the parent
    started its thread has the executor but not the thread, and would wait for it forever."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    pid = os.getpid()
    if pid not in _STATISTICS_THREAD:
        _STATISTICS_THREAD.clear()
        _STATISTICS_THREAD[pid] = ThreadPoolExecutor(1, thread_name_prefix="gfp-statistics")
    return _STATISTICS_THREAD[pid]


def _whole(params: dict, key: str) -> int:
    value = params[key]
    if isinstance(value, bool) or not float(value).is_integer():
        raise BlazingError(f"{key} = {value!r}: expected a whole number")
    return int(value)


def _with_cycle_length(pattern: A.Pattern, length: int) -> A.Pattern:
    """simple_cycle with its return path allowed up to `length - 1` hops (cycles up to `length` edges)."""
    if length < 2:
        raise BlazingError(f"lc-cycle_len {length}: cycles have at least 2 edges")
    cases = tuple(dataclasses.replace(case, stmts=tuple(
        dataclasses.replace(s, max_hops=length - 1) if isinstance(s, A.PathStage) else s for s in case.stmts))
        for case in pattern.cases)
    return dataclasses.replace(pattern, cases=cases)
