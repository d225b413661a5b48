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
import subprocess
import sys
import time

from common import OUT, ROOT, machine, save


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
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        print(done.stderr[-4000:], file=sys.stderr)
        return 1
    peak_gib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    result = {"machine": machine(), "scale": args.scale, "command": " ".join(cmd[1:]), "wall_seconds": round(wall, 1),
              "peak_rss_gib": round(peak_gib, 2), "evaluation": json.loads(done.stdout)}
    save(f"evaluate-{args.scale}", result)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
