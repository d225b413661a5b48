"""Features of the embedded test world, split by time, for the scorer tests (computed once per run)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np

from .conftest import ROOT

TYPOLOGIES = str(ROOT / "patterns" / "typologies")
PATTERNS = [str(ROOT / "patterns" / "gfp"), TYPOLOGIES]  # as test_pipeline, so its compiled kernels are reused
FIT_ROWS = 10_000   # every laundering row of the first 80% and a weighted sample of the rest


@dataclass
class ScorerData:
    names: list
    X_fit: np.ndarray          # training rows in time order
    y_fit: np.ndarray
    typology_fit: np.ndarray
    weight_fit: np.ndarray
    X_test: np.ndarray         # the last 20% by time
    y_test: np.ndarray
    typology_test: np.ndarray
    X_stream: np.ndarray       # every row in time order, for the prequential tests
    y_stream: np.ndarray
    ts_stream: np.ndarray

    def only_patterns(self, pattern_names: set) -> "ScorerData":
        """The same rows with the raw columns and those of the named patterns only."""
        keep = [i for i, n in enumerate(self.names) if "." not in n or n.split(".")[0] in pattern_names]
        return replace(self, names=[self.names[i] for i in keep], X_fit=self.X_fit[:, keep],
                       X_test=self.X_test[:, keep], X_stream=self.X_stream[:, keep])


@functools.lru_cache(maxsize=None)
def scorer_data(parquet: str, patterns_file: str) -> ScorerData:
    from blazingaml.dsl.parser import load_patterns
    from blazingaml.io.patterns_txt import read_patterns
    from blazingaml.io.transactions import load_transactions
    from blazingaml.pipeline import attempt_labels, build_features, time_split, training_rows

    table, accounts = load_transactions(parquet)
    ft = build_features(table, accounts, load_patterns(PATTERNS))
    _, typology = attempt_labels(table, accounts, read_patterns(patterns_file))
    fit_idx, test_idx = time_split(ft.ts, table.column("tx_id").to_numpy(), [0.8, 0.2])
    rows, weight = training_rows(ft.labels, fit_idx, max_rows=FIT_ROWS, seed=0)
    stream = np.concatenate([fit_idx, test_idx])
    return ScorerData(ft.names, ft.matrix(rows), ft.labels[rows], typology[rows], weight,
                      ft.matrix(test_idx), ft.labels[test_idx], typology[test_idx],
                      ft.matrix(stream), ft.labels[stream], ft.ts[stream])


def pr_auc(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(y, p))
