"""The prequential protocol: score time windows in order, learning only from labels that have arrived.

The stream is cut into windows of `window_days` from its first transaction. A transaction's label
arrives `label_delay_days` after it. Before each window (after a warm-up of `train_days`):

* the streaming scorer (driftmoe) has learned, in time order, every label that arrived; it
  scores the stream once (`DriftMoEScorer.prequential`: each block predicted before it is learned);
* every other scorer is retrained from scratch on a sliding window, the labels that arrived in the
  last `train_days`: fitted on their first 80% by time, thresholded on the last 20%, as `train`
  does, then scores the window.

The streaming scorer's threshold for a window is the F1-best one on its own earlier scores of the
same sliding window of arrived labels (scores made before those rows were learned, so out of
sample). Per window and scorer: F1, precision, recall and PR-AUC.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import BlazingError
from ..models import make_scorer
from ..progress import log
from ..runtime import DEFAULT_MAX_WORK
from .evaluate import f1_at
from .feature_table import build_features, predict_rows
from .train import DAY, best_threshold, time_split, training_rows

STREAMING = ("driftmoe",)


@dataclass
class Prequential:
    """Per-window results of the prequential protocol."""

    windows: list            # {"window", "start", "stop", "rows", "laundering", "typologies", "models": {kind: metrics}}
    models: list
    rows: int
    window_days: float
    train_days: float
    label_delay_days: float
    seconds: float = 0.0
    protocol: str = "prequential"
    mean: dict = field(default_factory=dict)   # per scorer: mean F1 and PR-AUC over the windows


def prequential(table, accounts, patterns, attempts=None, models=("gbt", "driftmoe"), window_days=1.0,
                train_days=3.0, label_delay_days=0.0, threads=None, backend="numba", seed=0,
                max_work: int = DEFAULT_MAX_WORK) -> Prequential:
    """Run the prequential protocol (module docstring) on a labelled, time-stamped stream (`max_work`:
    each trigger's path-search bound, as in build_features)."""
    from sklearn.metrics import average_precision_score

    t0 = time.perf_counter()
    if "label" not in table.column_names:
        raise BlazingError("evaluation needs labels: the input has no 'Is Laundering' column")
    if window_days <= 0 or train_days <= 0 or label_delay_days < 0:
        raise BlazingError("--window-days and --train-days must be positive, --label-delay-days at least 0")
    for kind in models:
        if make_scorer(kind, seed=seed).needs_typology:
            raise BlazingError(f"the prequential protocol does not run the {kind} scorer (it learns typologies "
                               f"from attempts, which a stream does not label)", hint="compare gbt, xgboost and driftmoe")
    ft = build_features(table, accounts, patterns, backend=backend, threads=threads, max_work=max_work)
    log(f"features: {len(ft.names)} columns for {len(ft):,} transactions (pattern mining {ft.mining_seconds:.1f} s)")
    order = np.lexsort((table.column("tx_id").to_numpy(), ft.ts))
    ts, y = ft.ts[order], ft.labels[order]
    width, delay, history = window_days * DAY, int(label_delay_days * DAY), train_days * DAY
    window = ((ts - ts[0]) // width).astype(np.int64)
    first = math.ceil(train_days / window_days + label_delay_days / window_days)
    if window[-1] < first:
        raise BlazingError(f"the stream spans {(ts[-1] - ts[0]) / DAY:.1f} days: no window is left after the "
                           f"{train_days:g} training days and the {label_delay_days:g}-day label delay",
                           hint="use a longer stream, or smaller --train-days / --label-delay-days")
    typology = None
    if attempts is not None:
        from .train import attempt_labels

        typology = attempt_labels(table, accounts, attempts)[1][order]

    streamed = {}
    for kind in models:
        if kind in STREAMING:
            log(f"{kind}: learning the stream in time order (label delay {label_delay_days:g} days)")
            scorer = make_scorer(kind, seed=seed, label_delay_seconds=delay)
            streamed[kind] = scorer.prequential(ft.matrix(order), y, ts, ft.names)

    windows = []
    for w in range(first, int(window[-1]) + 1):
        rows = np.flatnonzero(window == w)
        if not len(rows):
            continue
        start = ts[0] + w * width
        known = np.flatnonzero((ts + delay <= start) & (ts + delay > start - history))   # arrived labels
        entry = {"window": w, "start": int(start), "stop": int(start + width), "rows": int(len(rows)),
                 "laundering": int(y[rows].sum()), "models": {}}
        if typology is not None:
            from ..io.vocab import TYPOLOGIES

            codes = typology[rows][y[rows] == 1]
            entry["typologies"] = {TYPOLOGIES[c]: int((codes == c).sum()) for c in range(len(TYPOLOGIES))
                                   if (codes == c).any()}
        for kind in models:
            if kind in streamed:
                threshold = best_threshold(y[known], streamed[kind][known])
                p = streamed[kind][rows]
            else:
                p, threshold = _sliding_window(kind, ft, order, known, rows, threads, seed)
            metrics = f1_at(y[rows], p, threshold)
            metrics["threshold"] = threshold
            metrics["pr_auc"] = float(average_precision_score(y[rows], p)) if y[rows].any() else None
            entry["models"][kind] = metrics
        windows.append(entry)
        log(f"window {w} ({len(rows):,} transactions, {entry['laundering']} laundering): " +
            ", ".join(f"{k} F1 {m['f1']:.3f}" for k, m in entry["models"].items()))
    mean = {kind: {"f1": float(np.mean([e["models"][kind]["f1"] for e in windows])),
                   "pr_auc": float(np.mean([e["models"][kind]["pr_auc"] for e in windows
                                            if e["models"][kind]["pr_auc"] is not None] or [0.0]))}
            for kind in models}
    return Prequential(windows, list(models), table.num_rows, window_days, train_days, label_delay_days,
                       time.perf_counter() - t0, mean=mean)


def _sliding_window(kind, ft, order, known, rows, threads, seed) -> tuple[np.ndarray, float]:
    """A scorer trained on the arrived labels `known` (positions in `order`) as `train` trains:
    first 80% by time fitted, threshold on the last 20%; its scores of `rows` and that threshold."""
    fit_at, val_at = time_split(ft.ts[order[known]], None, [0.8, 0.2])
    fit_rows, weight = training_rows(ft.labels, order[known][np.sort(fit_at)], seed=seed)
    scorer = make_scorer(kind, threads=threads or 2, seed=seed)
    scorer.fit(ft.matrix(fit_rows), ft.labels[fit_rows], ft.names, weight)
    val_rows = order[known][np.sort(val_at)]
    threshold = best_threshold(ft.labels[val_rows], predict_rows(scorer, ft, val_rows))
    return predict_rows(scorer, ft, order[rows]), threshold


def prequential_json(result: Prequential) -> dict:
    return {"protocol": result.protocol, "rows": result.rows, "window_days": result.window_days,
            "train_days": result.train_days, "label_delay_days": result.label_delay_days, "models": result.models,
            "mean": result.mean, "windows": result.windows, "seconds": round(result.seconds, 2)}
