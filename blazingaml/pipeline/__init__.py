"""Detection pipeline, one module per step: feature tables, training, batch scoring, explanations, evaluation.

The names users and the CLI need are re-exported here (`from blazingaml.pipeline import train, score`)."""

from .evaluate import GFP_GROUPS, PROTOCOLS, Evaluation, comparison_json, evaluate, evaluation_json, f1_at
from .explain import explain_alerts
from .feature_table import (BATCH_ROWS, FEATURE_DTYPE, RAW_FEATURES, FeatureTable, build_features, pattern_hashes,
                            predict_rows, raw_features)
from .prequential import Prequential, prequential, prequential_json
from .score import ACCOUNT_NAME_COLUMNS, score, score_rows, with_account_names
from .train import (MAX_TRAIN_ROWS, attempt_labels, best_threshold, check_attempts, check_compatible, day_split,
                    model_patterns, time_split, train, training_rows)

__all__ = ["ACCOUNT_NAME_COLUMNS", "BATCH_ROWS", "FEATURE_DTYPE", "GFP_GROUPS", "MAX_TRAIN_ROWS", "PROTOCOLS",
           "RAW_FEATURES", "Evaluation", "FeatureTable", "attempt_labels", "best_threshold", "build_features",
           "check_attempts", "check_compatible", "comparison_json", "day_split", "evaluate", "evaluation_json",
           "explain_alerts", "f1_at", "model_patterns", "pattern_hashes", "predict_rows", "Prequential", "prequential",
           "prequential_json", "raw_features", "score",
           "score_rows", "time_split", "train", "training_rows", "with_account_names"]
