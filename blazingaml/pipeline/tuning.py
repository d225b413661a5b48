"""Hyperparameter search on the validation period: successive halving over each scorer's main settings.

As the GFP paper tuned its gradient-boosted trees (successive halving, η = 2, r0 = 0.1): draw
`configurations` settings at random from the scorer's space, fit each on a share r0 of the
training rows, keep the best 1/η by validation PR-AUC, give the survivors η times the rows, and
repeat until one is left (the last rungs use every training row). Only the training and validation
periods are touched; the caller fits the winner once more on all training rows and thresholds it on
validation. PR-AUC rather than F1 ranks the configurations: it needs no threshold, and F1 at a
threshold picked on the same few hundred laundering rows it is measured on moves by chance.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import BlazingError
from ..progress import log

# Per scorer: setting -> ("log", low, high) | ("int", low, high) | ("uniform", low, high) | ("choice", values).
SEARCH_SPACES = {
    "gbt": {"learning_rate": ("log", 0.01, 0.2), "num_leaves": ("int", 15, 255), "rounds": ("int", 100, 600),
            "min_child_samples": ("int", 5, 100), "feature_fraction": ("uniform", 0.5, 1.0),
            "lambda_l2": ("log", 0.01, 10.0)},
    "xgboost": {"eta": ("log", 0.01, 0.3), "max_depth": ("int", 4, 12), "rounds": ("int", 100, 500),
                "min_child_weight": ("log", 0.5, 20.0), "colsample_bytree": ("uniform", 0.5, 1.0)},
    "apem": {"learning_rate": ("log", 3e-4, 3e-3), "dim": ("choice", [8, 16, 32]), "epochs": ("int", 2, 6),
             "patterns": ("choice", [2, 4, 8])},
    "driftmoe": {"experts": ("choice", [4, 8, 12]), "grace_period": ("int", 50, 400),
                 "negative_rate": ("log", 0.01, 0.2), "temperature": ("uniform", 0.5, 1.5),
                 "learning_rate": ("log", 5e-4, 5e-3)},
}
ETA = 2            # survivors per rung: 1 / ETA; rows per configuration: ETA times the rung before
FIRST_SHARE = 0.1  # share of the training rows each configuration gets on the first rung (GFP's r0)


def draw_settings(kind: str, rng: np.random.Generator) -> dict:
    """One random configuration from the scorer's search space (plain Python values, JSON-ready)."""
    out = {}
    for name, (how, *spec) in SEARCH_SPACES[kind].items():
        if how == "log":
            out[name] = float(math.exp(rng.uniform(math.log(spec[0]), math.log(spec[1]))))
        elif how == "int":
            out[name] = int(rng.integers(spec[0], spec[1] + 1))
        elif how == "uniform":
            out[name] = float(rng.uniform(spec[0], spec[1]))
        else:
            out[name] = spec[0][int(rng.integers(len(spec[0])))]
    if kind == "driftmoe":   # the paper's 3 learners per row, never more than there are experts
        out["top_k"] = min(3, out["experts"])
    return out


def successive_halving(kind: str, fit_score, n_rows: int, configurations: int = 8, seed: int = 0):
    """The best configuration and the trace of every rung.

    `fit_score(settings, rows)` fits a scorer of `kind` with `settings` on the training rows at
    positions `rows` (sorted, so time order is kept) and returns its validation PR-AUC. Each rung's
    rows are a uniform sample of the training rows, the same sample for every configuration of the
    rung, so the comparison within a rung is fair."""
    if kind not in SEARCH_SPACES:
        raise BlazingError(f"no search space for scorer '{kind}'")
    if configurations < 1:
        raise BlazingError(f"--tune-configurations must be at least 1, got {configurations}")
    rng = np.random.default_rng(seed)
    candidates = [draw_settings(kind, rng) for _ in range(configurations)]
    trace, rung = [], 0
    while len(candidates) > 1:   # ceil(log_ETA(configurations)) rungs; the caller's final fit is the last
        share = min(1.0, FIRST_SHARE * ETA ** rung)
        rows = np.sort(rng.choice(n_rows, size=max(1, int(round(share * n_rows))), replace=False))
        scored = []
        for settings in candidates:
            score = float(fit_score(settings, rows))
            scored.append((score, settings))
            trace.append({"rung": rung, "share": share, "settings": settings, "validation_pr_auc": score})
            log(f"tuning {kind}: rung {rung + 1}, {share:.0%} of the training rows, "
                f"validation PR-AUC {score:.4f} for {settings}")
        scored.sort(key=lambda s: -s[0])     # stable: ties keep the order drawn
        candidates = [s for _, s in scored[:math.ceil(len(scored) / ETA)]]
        rung += 1
    return candidates[0], trace
