"""`blazingaml evaluate` end to end on a generated world: wall time and peak memory.

    python bench/bench_evaluate.py --scale 1.0

Generates (once) a HI-Small-like world with the real dev attempts embedded, converts it, then
runs `blazingaml evaluate --json` (paper protocol, full library, ablation, per-typology recall) in
a child process and records its wall time, peak RSS and the metrics in bench/out/evaluate-SCALE.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys

from common import OUT, ROOT, machine, run_json_command, save


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args()
    from blazingaml.generator import generate
    from blazingaml.io.ibm_csv import convert_trans_csv

    world = OUT / f"evaluate-{args.scale}"
    parquet = world / "tx.parquet"
    dev = ROOT / "data" / "ibm-aml-sample" / "HI-Small_Patterns.dev.txt"
    if not parquet.exists():
        files = generate(world, scale=args.scale, seed=args.seed, embed_patterns=dev)
        convert_trans_csv(files.trans, parquet)
    patterns_file = next(world.glob("*_Patterns.txt"))
    cmd = [sys.executable, "-m", "blazingaml.cli", "evaluate", "--transactions", str(parquet),
           "--patterns-file", str(patterns_file), "--report", str(world / "report"), "--json", "--quiet"]
    evaluation, wall = run_json_command(cmd)
    if evaluation is None:
        return 1
    peak_gib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    result = {"machine": machine(), "scale": args.scale, "command": " ".join(cmd[1:]), "wall_seconds": round(wall, 1),
              "peak_rss_gib": round(peak_gib, 2), "evaluation": evaluation}
    save(f"evaluate-{args.scale}", result)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
