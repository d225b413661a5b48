"""Evaluation: every chosen scorer on the same split, tuned and thresholded on validation, F1 / PR-AUC on test.

Protocols: `paper` (first 80% of transactions by time train, last 20% test, threshold 0.5),
`ibm` (whole days cut 60/20/20 as Multi-GNN does, threshold and tuning on validation), and
`transfer` (train on one world as `blazingaml train` does, score all of another world whose
attempts the model never saw). Per scorer: the feature ablation, recall per typology, training
time and scoring speed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import BlazingError
from ..io.vocab import TYPOLOGIES
from ..models import make_scorer
from ..progress import log
from ..runtime import DEFAULT_MAX_WORK
from .feature_table import RAW_FEATURES, FeatureTable, build_features, predict_rows
from .train import attempt_labels, best_threshold, check_attempts, day_split, time_split, training_rows
from .tuning import successive_halving

PROTOCOLS = ("paper", "ibm", "transfer")
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
    """One scorer's result on a split."""

    metrics: dict
    ablation: list
    typology_recall: dict
    typology_tx_recall: dict
    importance: dict
    curves: dict
    seconds: float
    rows: int
    protocol: str
    model: str = "gbt"
    settings: dict = field(default_factory=dict)     # the hyperparameters given to make_scorer ({}: defaults)
    tuning: list = field(default_factory=list)       # successive halving's trace, when tuned
    train_seconds: float = 0.0
    score_rows_per_second: float = 0.0


@dataclass
class Split:
    """Where a scorer fits (rows of `train`), thresholds (`val_rows` of `train`; None: 0.5) and is tested."""

    train: FeatureTable
    fit_rows: np.ndarray
    fit_weight: np.ndarray | None
    fit_typology: np.ndarray
    val_rows: np.ndarray | None
    test: FeatureTable
    test_rows: np.ndarray
    test_attempt: np.ndarray | None
    test_typology: np.ndarray | None


def evaluate(table, accounts, patterns, attempts=None, protocol="paper", models=("gbt",), threads=None,
             backend="numba", ablation=True, seed=0, tune=False, tune_configurations=8,
             test_world=None, max_work: int = DEFAULT_MAX_WORK) -> list[Evaluation]:
    """One `Evaluation` per scorer of `models`, all on the same split and features.

    `test_world` = (table, accounts, attempts) of the world the `transfer` protocol scores; with
    `tune`, each scorer's settings come from successive halving on the validation period; `max_work`
    bounds each trigger's path search in both worlds (build_features)."""
    t0 = time.perf_counter()
    if protocol not in PROTOCOLS:
        raise BlazingError(f"unknown protocol '{protocol}'", hint="choose " + ", ".join(PROTOCOLS))
    if (protocol == "transfer") != (test_world is not None):
        raise BlazingError("the transfer protocol needs a test world, and only it takes one",
                           hint="--protocol transfer --test-transactions B.parquet --test-patterns-file B_Patterns.txt")
    if tune and protocol == "paper":
        raise BlazingError("tuning needs a validation period, which the paper protocol has not",
                           hint="use --protocol ibm (or transfer) with --tune")
    for name, data in [("training", table)] + ([("test", test_world[0])] if test_world else []):
        if "label" not in data.column_names:
            raise BlazingError(f"evaluation needs labels: the {name} input has no 'Is Laundering' column")
    for kind in models:
        check_attempts(make_scorer(kind, threads=threads or 2, seed=seed), attempts)
    split = _split(table, accounts, patterns, attempts, protocol, test_world, backend, threads, seed, max_work)
    rows = table.num_rows + (test_world[0].num_rows if test_world else 0)
    out = []
    for kind in models:
        ev = _evaluate_scorer(kind, split, ablation, tune, tune_configurations, threads, seed)
        ev.rows, ev.protocol = rows, protocol
        ev.seconds = time.perf_counter() - t0
        out.append(ev)
    return out


def _features(table, accounts, patterns, backend, threads, max_work) -> FeatureTable:
    ft = build_features(table, accounts, patterns, backend=backend, threads=threads, max_work=max_work)
    log(f"features: {len(ft.names)} columns for {len(ft):,} transactions (pattern mining {ft.mining_seconds:.1f} s)")
    return ft


def _split(table, accounts, patterns, attempts, protocol, test_world, backend, threads, seed, max_work) -> Split:
    ft = _features(table, accounts, patterns, backend, threads, max_work)
    tx_id = table.column("tx_id").to_numpy()
    if protocol == "paper":
        (train_idx, test_idx), val_idx = time_split(ft.ts, tx_id, [0.8, 0.2]), None
    elif protocol == "ibm":
        train_idx, val_idx, test_idx = day_split(ft.ts, tx_id, [0.6, 0.2, 0.2])
    else:   # transfer: as `blazingaml train` fits and thresholds; every row of the other world is tested
        train_idx, val_idx = time_split(ft.ts, tx_id, [0.8, 0.2])
    fit_rows, weight = training_rows(ft.labels, train_idx, seed=seed)
    if len(fit_rows) < len(train_idx):
        log(f"training on {len(fit_rows):,} of {len(train_idx):,} training-period transactions: every laundering "
            f"one and a weighted uniform sample of the rest")
    typology = attempt_labels(table, accounts, attempts)[1] if attempts is not None else np.full(len(ft), -1)
    test_ft, test_attempts = ft, attempts
    if test_world is not None:
        test_table, test_accounts, test_attempts = test_world
        test_ft = _features(test_table, test_accounts, patterns, backend, threads, max_work)
        test_idx = np.lexsort((test_table.column("tx_id").to_numpy(), test_ft.ts))
        test_labels = attempt_labels(test_table, test_accounts, test_attempts) if test_attempts is not None else None
    else:
        test_labels = attempt_labels(table, accounts, attempts) if attempts is not None else None
    attempt_id, test_typology = (test_labels[0][test_idx], test_labels[1][test_idx]) if test_labels else (None, None)
    return Split(ft, fit_rows, weight, typology[fit_rows], val_idx, test_ft, test_idx, attempt_id, test_typology)


def _ablation_steps(pattern_columns: list[str]) -> list[tuple[str, list[str]]]:
    cols = list(RAW_FEATURES)
    steps = [("raw", list(cols))]
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
    return steps


def _evaluate_scorer(kind, split: Split, ablation, tune, tune_configurations, threads, seed) -> Evaluation:
    from sklearn.metrics import average_precision_score

    ft, y = split.train, split.train.labels

    def fit(columns, settings, rows=None):
        rows = np.arange(len(split.fit_rows)) if rows is None else rows
        scorer = make_scorer(kind, threads=threads or 2, seed=seed, **settings)
        weight = None if split.fit_weight is None else split.fit_weight[rows]
        scorer.fit(ft.matrix(split.fit_rows[rows], columns), y[split.fit_rows[rows]], columns, weight,
                   split.fit_typology[rows] if scorer.needs_typology else None)
        return scorer

    def validation_pr_auc(settings, rows):
        scorer = fit(ft.names, settings, rows)
        yv = y[split.val_rows]
        return average_precision_score(yv, predict_rows(scorer, ft, split.val_rows)) if yv.sum() else 0.0

    def threshold_of(scorer, columns):
        if split.val_rows is None:
            return 0.5
        return best_threshold(y[split.val_rows], predict_rows(scorer, ft, split.val_rows, columns))

    settings, trace = {}, []
    if tune:
        settings, trace = successive_halving(kind, validation_pr_auc, len(split.fit_rows), tune_configurations, seed)
        log(f"tuning {kind}: chose {settings}")
    timing = {}

    def fit_eval(columns):
        t_fit = time.perf_counter()
        scorer = fit(columns, settings)
        timing.setdefault("train_seconds", time.perf_counter() - t_fit)     # the first fit: all columns
        threshold = threshold_of(scorer, columns)
        t_score = time.perf_counter()
        p = predict_rows(scorer, split.test, split.test_rows, columns)      # the test period, once per fit
        timing.setdefault("score_rate", len(p) / max(time.perf_counter() - t_score, 1e-9))
        return scorer, threshold, p

    test_attempts = None if split.test_attempt is None else (split.test_attempt, split.test_typology)
    ev = assess(fit_eval, ft.names, ft.pattern_columns, split.test.labels[split.test_rows], test_attempts, ablation,
                time.perf_counter(), 0, "")
    ev.model, ev.settings, ev.tuning = kind, settings, trace
    ev.train_seconds, ev.score_rows_per_second = timing["train_seconds"], timing["score_rate"]
    return ev


def _typology_recall(att: np.ndarray | None, typ: np.ndarray | None, pred: np.ndarray) -> tuple[dict, dict]:
    """Per typology, the share of its attempts with an alert on a tested transaction, and the share of
    its tested transactions alerted (`att`, `typ`: the tested rows' attempt ids and typology codes)."""
    attempts, recall = {}, {}
    if att is None:
        return attempts, recall
    for code, name in enumerate(TYPOLOGIES):
        mask = (typ == code) & (att >= 0)
        if not mask.any():
            continue
        hit = [pred[mask & (att == a)].any() for a in np.unique(att[mask])]
        attempts[name] = float(np.mean(hit))
        recall[name] = float(pred[mask].mean())
    return attempts, recall


def assess(fit_eval, all_cols: list[str], pattern_columns: list[str], yt: np.ndarray, test_attempts, ablation: bool,
           started: float, rows: int, protocol: str) -> Evaluation:
    """One scorer's evaluation from engine-neutral pieces (the Dask engine's `evaluate`):
    `fit_eval(columns)` fits on the training period with those feature columns and returns
    (scorer, threshold, test scores); `yt` are the test labels, `test_attempts` the test rows'
    (attempt id, typology code) or None; `started` the evaluation's `time.perf_counter()` start."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    scorer, threshold, p = fit_eval(all_cols)
    metrics = f1_at(yt, p, threshold)
    metrics["threshold"] = threshold
    metrics["pr_auc"] = float(average_precision_score(yt, p)) if yt.sum() else 0.0
    prec, rec, _ = precision_recall_curve(yt, p) if yt.sum() else (np.array([1.0]), np.array([0.0]), None)
    ablation_rows = []
    for label, cols in (_ablation_steps(pattern_columns) if ablation else []):
        if len(cols) == len(all_cols):
            f1 = metrics["f1"]
        else:
            _, thr, pp = fit_eval(cols)
            f1 = f1_at(yt, pp, thr)["f1"]
        ablation_rows.append({"features": label, "f1": f1})
    att, typ = test_attempts if test_attempts is not None else (None, None)
    typ_recall, typ_tx_recall = _typology_recall(att, typ, p >= threshold)
    importance = scorer.importance(all_cols) if hasattr(scorer, "importance") else {}
    return Evaluation(metrics, ablation_rows, typ_recall, typ_tx_recall, importance,
                      {"precision": prec.tolist(), "recall": rec.tolist(), "scores": p.tolist(), "labels": yt.tolist()},
                      time.perf_counter() - started, rows, protocol, model=scorer.kind)


def evaluation_json(ev: Evaluation) -> dict:
    m = ev.metrics
    return {"model": ev.model, "f1": m["f1"], "precision": m["precision"], "recall": m["recall"],
            "pr_auc": m["pr_auc"], "confusion": m["confusion"], "threshold": m["threshold"], "settings": ev.settings,
            "tuning": ev.tuning, "ablation": ev.ablation, "typology_recall": ev.typology_recall,
            "typology_tx_recall": ev.typology_tx_recall, "rows": ev.rows, "protocol": ev.protocol,
            "train_seconds": round(ev.train_seconds, 2), "score_rows_per_second": round(ev.score_rows_per_second),
            "seconds": round(ev.seconds, 2)}


def comparison_json(evaluations: list[Evaluation]) -> dict:
    """Every scorer's results as one object: protocol, rows and one entry per scorer, in order."""
    first = evaluations[0]
    return {"protocol": first.protocol, "rows": first.rows,
            "models": {ev.model: {k: v for k, v in evaluation_json(ev).items() if k not in ("protocol", "rows")}
                       for ev in evaluations}}
