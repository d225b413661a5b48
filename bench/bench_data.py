"""Issue 2 benchmarks: generator time and peak memory at scale 1, convert throughput, graph build rate.

    python bench/bench_data.py [--scale 1.0]
"""

from __future__ import annotations

import argparse
import json

from common import OUT, machine, run_child, save

GEN = """
import json, time
from blazingaml.generator import generate
t = time.perf_counter()
f = generate({out!r}, scale={scale}, seed=1)
print(json.dumps({{"seconds": time.perf_counter() - t, "transactions": f.transactions, "laundering": f.laundering,
                   "attempts": f.attempts}}))
"""
CONVERT = """
import json, time
from blazingaml.io.ibm_csv import convert_trans_csv
runs = []
for _ in range(3):  # the first run in a fresh process also pays imports and loading cached kernels
    t = time.perf_counter()
    s = convert_trans_csv({src!r}, {dst!r})
    runs.append(time.perf_counter() - t)
best = min(runs)
print(json.dumps({{"seconds": best, "first_run_seconds": runs[0], "rows": s.rows_kept,
                   "rows_per_second": s.rows_kept / best, "first_run_rows_per_second": s.rows_kept / runs[0]}}))
"""
GRAPH = """
import json, time
import pyarrow.parquet as pq
from blazingaml.graph import TemporalGraph
from blazingaml.io.ibm_csv import accounts_path_for
t = pq.read_table({dst!r}); a = pq.read_table(str(accounts_path_for({dst!r})))
TemporalGraph.from_table(t.slice(0, 1000), a)  # load the cached kernels
runs = []
for _ in range(3):
    s = time.perf_counter(); g = TemporalGraph.from_table(t, a); runs.append(time.perf_counter() - s)
print(json.dumps({{"seconds": min(runs), "edges": g.m, "edges_per_second": g.m / min(runs),
                   "runs_seconds": runs, "first_run_edges_per_second": g.m / runs[0]}}))
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=1.0)
    args = ap.parse_args()
    out = str(OUT / f"world-{args.scale}")
    gen = run_child(GEN.format(out=out, scale=args.scale))
    src = f"{out}/HI-Small-like_Trans.csv"
    dst = f"{out}/tx.parquet"
    conv = run_child(CONVERT.format(src=src, dst=dst))
    graph = run_child(GRAPH.format(dst=dst))
    result = {"machine": machine(), "scale": args.scale, "generate": gen, "convert": conv, "graph": graph}
    save(f"data-{args.scale}", result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
