"""Evaluation: fit on the training period, threshold on validation, F1 / PR-AUC on test, ablation, recall per typology."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..errors import BlazingError
from ..io.vocab import TYPOLOGIES
from ..models import make_scorer
from ..progress import log
from .feature_table import RAW_FEATURES, build_features, predict_rows
from .train import attempt_labels, best_threshold, check_attempts, time_split, training_rows

# Ablation groups of the paper (Table 2), then our typology library.
GFP_GROUPS = [("fan", ("fan_in", "fan_out")), ("degree", ("degree_in", "degree_out")),
              ("cycle", ("temporal_cycle", "simple_cycle")), ("scatter-gather", ("scatter_gather",)),
              ("vertex statistics", ("vertex_stats",))]

def f1_at(y, p, threshold) -> dict:
    pred = p >= threshold
    tp = int((pred & (y == 1)).sum())
    fp = int((pred & (y == 0)).sum())
    fn = int((~pred & (y == 1)).sum())
    tn = int((~pred & (y == 0)).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"f1": f1, "precision": precision, "recall": recall, "confusion": {"tp": tp, "fp": fp, "fn": fn, "tn": tn}}



@dataclass
class Evaluation:
    metrics: dict
    ablation: list
    typology_recall: dict
    typology_tx_recall: dict
    importance: dict
    curves: dict
    seconds: float
    rows: int
    protocol: str


def evaluate(table, accounts, patterns, attempts=None, protocol="paper", model_kind="gbt", threads=None,
             backend="numba", ablation=True, seed=0) -> Evaluation:
    t0 = time.perf_counter()
    if "label" not in table.column_names:
        raise BlazingError("evaluation needs labels: the input has no 'Is Laundering' column")
    check_attempts(make_scorer(model_kind, threads=threads or 2, seed=seed), attempts)
    ft = build_features(table, accounts, patterns, backend=backend, threads=threads)
    log(f"features: {len(ft.names)} columns for {len(ft):,} transactions "
        f"(pattern mining {ft.mining_seconds:.1f} s)")
    tx_id = table.column("tx_id").to_numpy()
    if protocol == "paper":
        train_idx, test_idx = time_split(ft.ts, tx_id, [0.8, 0.2])
        val_idx = None
    elif protocol == "ibm":
        train_idx, val_idx, test_idx = time_split(ft.ts, tx_id, [0.6, 0.2, 0.2])
    else:
        raise BlazingError(f"unknown protocol '{protocol}'", hint="choose paper or ibm")
    y = ft.labels
    fit_rows, weight = training_rows(y, train_idx, seed=seed)
    if len(fit_rows) < len(train_idx):
        log(f"training on {len(fit_rows):,} of {len(train_idx):,} training-period transactions: every laundering "
            f"one and a weighted uniform sample of the rest")
    attempt_id, typology = attempt_labels(table, accounts, attempts) if attempts is not None else (None, None)

    def fit_eval(columns):
        scorer = make_scorer(model_kind, threads=threads or 2, seed=seed)
        scorer.fit(ft.matrix(fit_rows, columns), y[fit_rows], columns, weight,
                   typology[fit_rows] if scorer.needs_typology else None)
        threshold = 0.5
        if val_idx is not None:
            threshold = best_threshold(y[val_idx], predict_rows(scorer, ft, val_idx, columns))
        return scorer, threshold, predict_rows(scorer, ft, test_idx, columns)

    test_attempts = (attempt_id[test_idx], typology[test_idx]) if attempts is not None else None
    return assess(fit_eval, ft.names, ft.pattern_columns, y[test_idx], test_attempts, ablation,
                  t0, table.num_rows, protocol)


def assess(fit_eval, all_cols: list[str], pattern_columns: list[str], yt: np.ndarray, test_attempts, ablation: bool,
           started: float, rows: int, protocol: str) -> Evaluation:
    """The evaluation of a protocol's test period, whichever engine mined the features:
    `fit_eval(columns)` fits on the training period with those feature columns and returns
    (scorer, threshold, test scores); `yt` are the test labels, `test_attempts` the test rows'
    (attempt id, typology code) or None; `started` the evaluation's `time.perf_counter()` start.
    Adds the ablation (refits on growing column groups), recall per typology and feature importance."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    scorer, threshold, p = fit_eval(all_cols)
    metrics = f1_at(yt, p, threshold)
    metrics["threshold"] = threshold
    metrics["pr_auc"] = float(average_precision_score(yt, p)) if yt.sum() else 0.0
    prec, rec, _ = precision_recall_curve(yt, p) if yt.sum() else (np.array([1.0]), np.array([0.0]), None)

    steps = []
    if ablation:
        cols = list(RAW_FEATURES)
        steps.append(("raw", list(cols)))
        used = set()
        for label, group in GFP_GROUPS:
            present = [c for c in pattern_columns if c.split(".")[0] in group]
            if present:
                cols += present
                used |= set(group)
                steps.append((f"+{label}", list(cols)))
        rest = [c for c in pattern_columns if c.split(".")[0] not in used]
        if rest:
            steps.append(("+typologies" if used else "+patterns", cols + rest))
    ablation_rows = []
    for label, cols in steps:
        if len(cols) == len(all_cols):
            f1 = metrics["f1"]
        else:
            _, thr, pp = fit_eval(cols)
            f1 = f1_at(yt, pp, thr)["f1"]
        ablation_rows.append({"features": label, "f1": f1})

    typ_recall, typ_tx_recall = {}, {}
    if test_attempts is not None:
        att, typ = test_attempts
        pred = p >= threshold
        for code, name in enumerate(TYPOLOGIES):
            mask = (typ == code) & (att >= 0)
            if not mask.any():
                continue
            ids = np.unique(att[mask])
            hit = [pred[mask & (att == a)].any() for a in ids]
            typ_recall[name] = float(np.mean(hit))
            typ_tx_recall[name] = float(pred[mask].mean())
    importance = {}
    if hasattr(scorer, "importance"):
        importance = scorer.importance(all_cols)
    return Evaluation(metrics, ablation_rows, typ_recall, typ_tx_recall, importance,
                      {"precision": prec.tolist(), "recall": rec.tolist(), "scores": p.tolist(), "labels": yt.tolist()},
                      time.perf_counter() - started, rows, protocol)


def evaluation_json(ev: Evaluation) -> dict:
    m = ev.metrics
    return {"f1": m["f1"], "precision": m["precision"], "recall": m["recall"], "pr_auc": m["pr_auc"],
            "confusion": m["confusion"], "threshold": m["threshold"], "ablation": ev.ablation,
            "typology_recall": ev.typology_recall, "rows": ev.rows, "seconds": round(ev.seconds, 2),
            "protocol": ev.protocol}
