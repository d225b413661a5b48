"""Path pruning (issue 11): work and time of the cycle patterns with the `path_pruning` pass off
and on, on the same graph in one process, and whether the outputs are identical.

    python bench/bench_paths.py --input data/generated/scale1/tx.parquet [--threads 2] [--max-work N]

Work is the number of path-search steps the kernels take (`WorkReport.path_steps`); triggers
over `--max-work` are flagged (counted here), so a run never aborts. Each configuration is timed
warm (kernel compiled by a first run on a tiny graph), best of `--repeat` runs.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from common import ROOT, machine, save

PATTERNS = ("temporal_cycle", "simple_cycle")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", required=True, help="a converted .parquet (with its .accounts.parquet)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-work", type=int, default=2_000_000)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()

    from blazingaml.dsl.parser import load_patterns
    from blazingaml.graph import TemporalGraph
    from blazingaml.io.transactions import load_transactions
    from blazingaml.kernel_results import WorkReport
    from blazingaml.runtime import compile_patterns, mine_graph

    table, accounts = load_transactions(args.input)
    graph = TemporalGraph.from_table(table, accounts)
    tiny = TemporalGraph.from_arrays([0, 1, 2], [1, 2, 0], [1662000000, 1662000060, 1662000120])
    library = {p.name: p for p in load_patterns([ROOT / "patterns" / "gfp" / "cycles.pattern"])}
    rows = []
    for name in PATTERNS:
        outputs = {}
        for label, disabled in (("without pruning", {"path_pruning"}), ("with pruning", set())):
            compiled = compile_patterns([library[name]], disabled=disabled)
            mine_graph(tiny, compiled, threads=args.threads)
            times = []
            for _ in range(args.repeat):
                work = WorkReport()
                t0 = time.perf_counter()
                outputs[label] = mine_graph(graph, compiled, threads=args.threads, max_work=args.max_work, work=work)
                times.append(time.perf_counter() - t0)
            flagged = sum(len(r) for r in work.rows.values())
            rows.append({"pattern": name, "config": label, "seconds": round(min(times), 3),
                         "path_steps": work.path_steps, "triggers_over_max_work": flagged,
                         "flagged_rows": work.rows.get(name, np.zeros(0, np.int64)).tolist()[:20]})
            print(rows[-1], flush=True)
        before, after = outputs["without pruning"], outputs["with pruning"]
        rows.append({"pattern": name, "identical_outputs": bool(np.array_equal(before, after)),
                     "rows_differing": int((before != after).any(axis=1).sum())})
        print(rows[-1], flush=True)
    path = save("paths", {"machine": machine(), "edges": graph.m, "threads": args.threads,
                          "max_work": args.max_work, "rows": rows})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
