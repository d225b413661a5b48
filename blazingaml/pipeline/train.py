"""Training: time splits, sampled and weighted training rows, thresholds on validation, model metadata."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from .. import __version__
from ..errors import BlazingError, ModelError
from ..models import make_scorer, save_model
from ..runtime import DEFAULT_MAX_WORK
from .feature_table import RAW_FEATURES, build_features, pattern_hashes, predict_rows

MAX_TRAIN_ROWS = 1_000_000     # beyond this, legitimate training rows are sampled (and weighted)


def training_rows(labels: np.ndarray, rows: np.ndarray, max_rows: int = MAX_TRAIN_ROWS, seed: int = 0):
    """Rows to fit on and their weights: all of them when there are at most `max_rows`; otherwise
    every laundering row and a uniform sample of the legitimate ones, each weighted by the inverse
    sampling rate, so predicted probabilities (and the 0.5 threshold) keep their meaning. The rows
    keep the order of `rows`."""
    if len(rows) <= max_rows:
        return rows, None
    y = labels[rows]
    neg_at = np.flatnonzero(y == 0)
    keep = max(max_rows - int((y == 1).sum()), 1)
    rng = np.random.default_rng(seed)
    sampled = rng.choice(len(neg_at), size=min(keep, len(neg_at)), replace=False)
    chosen = y == 1
    chosen[neg_at[sampled]] = True
    # rows stay in the order given (time order from `time_split`): the streaming scorer learns in it
    weight = np.where(y[chosen] == 1, 1.0, len(neg_at) / len(sampled))
    return rows[chosen], weight


def time_split(ts: np.ndarray, tx_id: np.ndarray | None, fractions) -> list[np.ndarray]:
    """Row indices of consecutive periods by (time, input order), e.g. [0.8, 0.2]."""
    order = np.lexsort((np.arange(len(ts)) if tx_id is None else tx_id, ts))
    cuts = np.cumsum([int(round(f * len(ts))) for f in fractions[:-1]])
    return np.split(order, cuts)


DAY = 86_400


def day_split(ts: np.ndarray, tx_id: np.ndarray | None, fractions) -> list[np.ndarray]:
    """Row indices of consecutive periods of whole days, as Multi-GNN's data loading cuts AMLworld:
    days counted from the first transaction, and of all ways to cut them into len(fractions)
    non-empty runs, the one whose largest relative error |share - fraction| / fraction is least
    (64/19/17 for 60/20/20 on HI-Small). Rows in (time, input order) within each period."""
    from itertools import combinations

    order = np.lexsort((np.arange(len(ts)) if tx_id is None else tx_id, ts))
    day = (ts[order] - (ts.min() if len(ts) else 0)) // DAY
    per_day = np.bincount(day, minlength=int(day.max(initial=0)) + 1)
    total, target = per_day.sum(), np.asarray(fractions, float)
    before = np.concatenate([[0], np.cumsum(per_day)])     # rows before day d
    best = None
    for cut in combinations(range(1, len(per_day)), len(fractions) - 1):
        sizes = np.diff(before[[0, *cut, len(per_day)]])
        error = float(np.max(np.abs(sizes / total - target) / target))
        if sizes.all() and (best is None or error < best[0]):
            best = (error, cut)
    if best is None:
        raise BlazingError(f"a split into {len(fractions)} periods of whole days needs transactions on at least "
                           f"{len(fractions)} days; the data has them on {int((per_day > 0).sum())}",
                           hint="use --protocol paper, which splits by transaction count")
    return np.split(order, before[list(best[1])])


def best_threshold(y, p) -> float:
    from sklearn.metrics import precision_recall_curve

    if y.sum() == 0:
        return 0.5
    prec, rec, thr = precision_recall_curve(y, p)
    f1 = np.where(prec + rec > 0, 2 * prec * rec / np.maximum(prec + rec, 1e-12), 0)[:-1]
    return float(thr[int(np.argmax(f1))]) if len(thr) else 0.5


def attempt_labels(table: pa.Table, accounts, attempts) -> tuple[np.ndarray, np.ndarray]:
    """Each transaction's attempt id and typology code (TYPOLOGIES order) from a Patterns.txt's
    attempts; -1 for transactions in no attempt."""
    from ..io.patterns_txt import join_attempts

    joined = join_attempts(table.select(["ts", "src", "dst", "amount_paid", "amount_received", "pay_currency",
                                         "recv_currency", "payment_format"]).to_pandas(),
                           accounts.to_pandas(), attempts)
    return joined["attempt_id"].to_numpy(), joined["typology"].to_numpy().astype(np.int64)


def check_attempts(scorer, attempts) -> None:
    """A scorer that learns typologies cannot be trained without the laundering attempts."""
    if scorer.needs_typology and attempts is None:
        raise BlazingError(f"the {scorer.kind} model learns typologies and needs the laundering attempts",
                           hint="add --patterns-file <Patterns.txt> (the attempts of the training data)")


def train(table, accounts, patterns, model_kind="gbt", out=None, threads=None, backend="numba", seed=0,
          attempts=None, max_work: int = DEFAULT_MAX_WORK) -> dict:
    """Fit on the first 80% by time, choose the F1-best threshold on the last 20%, save.

    `attempts` (a parsed Patterns.txt) gives the typology labels a multi-task scorer needs; `max_work`
    bounds each trigger's path search (saturated counts beyond it), and the model records it so that
    scoring mines the same features."""
    if "label" not in table.column_names:
        raise BlazingError("training needs labels: the input has no 'Is Laundering' column")
    scorer = make_scorer(model_kind, threads=threads or 2, seed=seed)
    check_attempts(scorer, attempts)
    ft = build_features(table, accounts, patterns, backend=backend, threads=threads, max_work=max_work)
    fit_idx, val_idx = time_split(ft.ts, table.column("tx_id").to_numpy(), [0.8, 0.2])
    rows, weight = training_rows(ft.labels, fit_idx, seed=seed)
    typology = attempt_labels(table, accounts, attempts)[1][rows] if scorer.needs_typology else None
    scorer.fit(ft.matrix(rows), ft.labels[rows], ft.names, weight, typology)
    threshold = best_threshold(ft.labels[val_idx], predict_rows(scorer, ft, val_idx))
    meta = model_metadata(patterns, ft.names, ft.pattern_columns, threshold, len(rows), len(fit_idx), len(val_idx),
                          max_work)
    if out is not None:
        save_model(out, scorer, meta)
    return meta


def model_metadata(patterns, features: list[str], pattern_columns: list[str], threshold: float, trained_rows: int,
                   training_period_rows: int, validation_rows: int, max_work: int = DEFAULT_MAX_WORK) -> dict:
    """model.json's content for a model fitted on `features` (whichever engine mined them)."""
    windows = {p.name: p.window_seconds for p in patterns}
    return {
        "features": features, "raw_features": RAW_FEATURES, "pattern_columns": pattern_columns,
        "patterns": pattern_hashes(patterns), "pattern_sources": {p.name: p.source for p in patterns},
        "windows": windows, "max_window_seconds": max(windows.values(), default=0), "threshold": threshold,
        "mode": "closing", "blazingaml": __version__, "trained_rows": int(trained_rows),
        "training_period_rows": int(training_period_rows),
        "validation_rows": int(validation_rows), "max_work": int(max_work),
    }


def model_patterns(meta: dict, paths=None) -> list:
    """The patterns a model was trained with, read from `paths` (default: the files it recorded);
    other patterns of the same files are left out (a model may use a few of a file's patterns)."""
    from ..dsl.parser import load_patterns

    paths = paths or sorted(set(meta["pattern_sources"].values()))
    return [p for p in load_patterns(paths) if p.name in meta["patterns"]]


def check_compatible(meta: dict, patterns) -> None:
    hashes = pattern_hashes(patterns)
    if hashes != meta.get("patterns"):
        missing = sorted(set(meta.get("patterns", {})) - set(hashes))
        extra = sorted(set(hashes) - set(meta.get("patterns", {})))
        changed = sorted(n for n in set(hashes) & set(meta.get("patterns", {})) if hashes[n] != meta["patterns"][n])
        parts = [f"missing {missing}" if missing else "", f"unexpected {extra}" if extra else "",
                 f"changed {changed}" if changed else ""]
        raise ModelError("the patterns differ from those the model was trained with: " +
                         "; ".join(p for p in parts if p),
                         hint="score with the pattern files the model was trained on (model.json lists them)")


