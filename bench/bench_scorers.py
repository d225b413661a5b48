"""Scorer training and scoring speed on a 1M-row training set (issue 14), with PR-AUC as a sanity check.

One generated world with the real dev attempts embedded, the full pattern library mined once; the
first 80% by time (capped at 1M rows by the pipeline's `training_rows`) trains each scorer with its
default settings, the last 20% is scored. Quality here is on today's generator, not the calibrated
world the issue's final measurements need.

    python bench/bench_scorers.py [--scale 0.25] [--scorers gbt apem driftmoe] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import time

from common import OUT, ROOT, machine, save


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=0.25)
    ap.add_argument("--scorers", nargs="+", default=["gbt", "apem", "driftmoe"])
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    from sklearn.metrics import average_precision_score

    from blazingaml.dsl.parser import load_patterns
    from blazingaml.generator import generate
    from blazingaml.io.ibm_csv import convert_trans_csv
    from blazingaml.io.patterns_txt import read_patterns
    from blazingaml.io.transactions import load_transactions
    from blazingaml.models import make_scorer
    from blazingaml.pipeline import attempt_labels, build_features, predict_rows, time_split, training_rows

    world = OUT / f"scorers-{args.scale}"
    if not (world / "tx.parquet").exists():
        files = generate(world, scale=args.scale, seed=3,
                         embed_patterns=ROOT / "data" / "ibm-aml-sample" / "HI-Small_Patterns.dev.txt")
        convert_trans_csv(files.trans, world / "tx.parquet")
    patterns_file = next(world.glob("*_Patterns.txt"))
    table, accounts = load_transactions(world / "tx.parquet")
    ft = build_features(table, accounts, load_patterns([ROOT / "patterns"]), threads=args.threads)
    _, typology = attempt_labels(table, accounts, read_patterns(patterns_file))
    fit_idx, test_idx = time_split(ft.ts, table["tx_id"].to_numpy(), [0.8, 0.2])
    rows, weight = training_rows(ft.labels, fit_idx)
    X = ft.matrix(rows)
    result = {"machine": machine(), "scale": args.scale, "transactions": table.num_rows,
              "features": len(ft.names), "training_rows": len(rows), "test_rows": len(test_idx),
              "test_laundering_rate": float(ft.labels[test_idx].mean()), "threads": args.threads, "scorers": {}}
    for kind in args.scorers:
        scorer = make_scorer(kind, threads=args.threads)
        t0 = time.perf_counter()
        scorer.fit(X, ft.labels[rows], ft.names, weight, typology[rows])
        fit_seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        p = predict_rows(scorer, ft, test_idx)
        predict_seconds = time.perf_counter() - t0
        epochs = getattr(scorer, "settings", {}).get("epochs", 1)
        result["scorers"][kind] = {
            "fit_seconds": round(fit_seconds, 1), "fit_rows_per_second": round(len(rows) * epochs / fit_seconds),
            "epochs": epochs, "predict_rows_per_second": round(len(test_idx) / predict_seconds),
            "pr_auc": round(float(average_precision_score(ft.labels[test_idx], p)), 4), "describe": scorer.describe()}
        print(kind, json.dumps(result["scorers"][kind]), flush=True)
    save(f"scorers-{args.scale}", result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
