"""What each typology pattern sees: its precision on all traffic and its recall per typology (issue 14).

A pattern "fires" on a transaction when any of its columns is non-zero. For every pattern of a library
(default `patterns/typologies`), on one generated world with its Patterns.txt:

  fired        transactions it fires on
  precision    the share of those that are laundering (legitimate look-alikes lower it)
  legit fired  legitimate transactions it fires on, per million legitimate transactions
  recall       per typology, the share of that typology's pattern rows it fires on, and the share of its
               attempts with at least one row fired on (the table shows the attempts: in closing mode a
               cycle fires only on the leg that closes it)

so a pattern that only restates the generator's assumptions shows up as high recall at a precision no
better than the laundering rate. Closing mode (a transaction's features are the windows it closes).

    python bench/bench_pattern_precision.py --scale 0.2              # generates hi-small-like, seed 1
    python bench/bench_pattern_precision.py --world DIR [--patterns patterns/typologies] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from common import OUT, ROOT, machine, save

sys.path.insert(0, str(ROOT))


def pattern_table(world: Path, pattern_dirs: list[Path], threads: int) -> dict:
    from blazingaml.dsl.parser import load_patterns
    from blazingaml.graph import TemporalGraph
    from blazingaml.io.ibm_csv import convert_trans_csv
    from blazingaml.io.patterns_txt import read_patterns
    from blazingaml.io.transactions import load_transactions
    from blazingaml.io.vocab import TYPOLOGIES
    from blazingaml.pipeline.train import attempt_labels
    from blazingaml.runtime import compile_patterns, mine_graph

    trans = next(world.glob("*_Trans.csv"))
    with tempfile.TemporaryDirectory() as tmp:
        convert_trans_csv(trans, Path(tmp) / "tx.parquet")
        table, accounts = load_transactions(Path(tmp) / "tx.parquet")
    graph = TemporalGraph.from_table(table, accounts)
    compiled = compile_patterns(load_patterns(pattern_dirs), mode="closing")
    t0 = time.perf_counter()
    mined = mine_graph(graph, compiled, threads=threads)
    seconds = time.perf_counter() - t0
    label = table.column("label").to_numpy() == 1
    attempt, typology = attempt_labels(table, accounts, read_patterns(next(world.glob("*_Patterns.txt"))))
    in_attempt = attempt >= 0
    n_attempts = int(attempt.max(initial=-1)) + 1
    attempt_typology = np.full(n_attempts, -1, np.int64)
    attempt_typology[attempt[in_attempt]] = typology[in_attempt]
    rows = {}
    names = [c.split(".")[0] for c in compiled.columns]
    for name in dict.fromkeys(names):
        fires = (mined[:, [j for j, n in enumerate(names) if n == name]] != 0).any(axis=1)
        fired = int(fires.sum())
        seen = np.zeros(n_attempts, bool)          # attempts with at least one leg fired on
        seen[attempt[fires & in_attempt]] = True
        rows[name] = {
            "fired": fired,
            "precision": float(label[fires].mean()) if fired else 0.0,
            "legit_fired_per_million": float(fires[~label].mean() * 1e6),
            "recall": {t: float(fires[typology == k].mean()) for k, t in enumerate(TYPOLOGIES)
                       if (typology == k).any()},
            "attempt_recall": {t: float(seen[attempt_typology == k].mean()) for k, t in enumerate(TYPOLOGIES)
                               if (attempt_typology == k).any()},
        }
    return {"transactions": int(len(label)), "laundering_rate": float(label.mean()),
            "mining_seconds": round(seconds, 1), "patterns": rows}


def markdown(result: dict) -> str:
    from blazingaml.io.vocab import TYPOLOGIES

    head = "| pattern | fired | precision | legit fired / M | " + " | ".join(TYPOLOGIES) + " |"
    lines = [head, "|---" + "|---:" * (3 + len(TYPOLOGIES)) + "|"]
    for name, r in result["patterns"].items():
        recall = " | ".join(f"{r['attempt_recall'][t]:.2f}" if t in r["attempt_recall"] else "–" for t in TYPOLOGIES)
        lines.append(f"| `{name}` | {r['fired']:,} | {r['precision']:.4f} | {r['legit_fired_per_million']:,.0f} | "
                     f"{recall} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--world", type=Path, help="directory with *_Trans.csv and *_Patterns.txt (default: generate one)")
    ap.add_argument("--preset", default="hi-small-like")
    ap.add_argument("--scale", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--patterns", type=Path, nargs="*", default=[ROOT / "patterns" / "typologies"])
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    if args.world is None:
        from blazingaml.generator import generate

        args.world = OUT / f"pattern-precision-{args.preset}-{args.scale}-{args.seed}"
        if next(args.world.glob("*_Trans.csv"), None) is None:
            generate(args.world, preset=args.preset, scale=args.scale, seed=args.seed)
    result = {"machine": machine(), "world": str(args.world), **pattern_table(args.world, args.patterns, args.threads)}
    save("pattern-precision", result)
    print(json.dumps({k: v for k, v in result.items() if k != "patterns"}))
    print(markdown(result))


if __name__ == "__main__":
    main()
