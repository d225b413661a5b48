"""Throughput of `GraphFeaturePreprocessor.transform`, ours vs snapml's, and vertex statistics over a world.

1. The same synthetic stream and params for both: GFP's AML configuration with vertex statistics on
   (paper windows, statistics on timestamp and amount), 2 threads each. The graph is filled with
   `fit` on the first half of the stream; the second half is fed to `transform` in batches of 128
   and 2,048. One warm-up batch per run (kernel loading) is not timed. Ours and snapml's alternate,
   batch size by batch size, so both see the same machine load. Throughput is given per wall-clock
   second and per CPU second of the process (all its threads): on a shared machine the second
   depends less on what else runs. Then, ours alone, CPU time per 1,000 edges by part of `transform`
   (account numbering, graph append, vertex statistics, pattern kernels, the rest: input checks and
   output), at both batch sizes.
2. With `--world DIR` (a generated world holding *_Trans.csv): our vertex statistics (paper
   configuration: timestamp and amount, 24 h graph window, 480 h moments window) over every
   transaction, fed in time order in batches of 65,536; the CSV read is timed apart.
Usage: python bench/bench_gfp_dropin.py [--edges N] [--accounts N] [--world DIR]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
from common import machine, save

from blazingaml.gfp import AML_PAPER_PARAMS


def stream(m: int, accounts: int, days: int = 10) -> np.ndarray:
    rng = np.random.default_rng(0)
    ts = 1_662_000_000 + np.sort(rng.integers(0, days * 86400, m))
    return np.column_stack([np.arange(1, m + 1), rng.integers(0, accounts, m), rng.integers(0, accounts, m), ts,
                            np.round(rng.uniform(10, 5000, m), 2)]).astype(np.float64)


def warmed(cls, x: np.ndarray, batch: int):
    """A preprocessor of class `cls` in the AML configuration, fitted on the first half of `x` and
    given one untimed batch; returns it and the edges left to time."""
    half = len(x) // 2
    gfp = cls()
    gfp.set_params(AML_PAPER_PARAMS)
    gfp.fit(x[:half])
    gfp.transform(x[half:half + batch])
    return gfp, x[half + batch:]


def throughput(cls, x: np.ndarray, batch: int) -> tuple[float, float]:
    """(edges per wall-clock second, edges per CPU second of the process, all its threads)."""
    gfp, rest = warmed(cls, x, batch)
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(0, len(rest), batch):
        gfp.transform(rest[i:i + batch])
    return len(rest) / (time.perf_counter() - t0), len(rest) / (time.process_time() - c0)


def parts(x: np.ndarray, batch: int) -> dict:
    """Our `transform`'s CPU time per 1,000 edges, by part: each part's entry point timed where
    `transform` calls it, in CPU time of the thread that runs it (the statistics run beside the
    graph); "output" is the rest of the process's CPU time (checks, output, any other thread)."""
    from blazingaml.gfp import GraphFeaturePreprocessor
    from blazingaml.gfp.stream_graph import AccountNumbers, StreamGraph
    from blazingaml.gfp.vertex_stats import VertexStatsStream

    spent = dict.fromkeys(("accounts", "graph append", "vertex statistics", "pattern kernels"), 0.0)
    originals = [(AccountNumbers, "number", "accounts"), (StreamGraph, "append", "graph append"),
                 (VertexStatsStream, "append", "vertex statistics"), (StreamGraph, "mine", "pattern kernels")]

    def timed(fn, part):
        def call(*args, **kwargs):
            c0 = time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[part] += time.thread_time() - c0
        return call

    gfp, rest = warmed(GraphFeaturePreprocessor, x, batch)
    saved = [(cls, name, getattr(cls, name)) for cls, name, _ in originals]
    for cls, name, part in originals:
        setattr(cls, name, timed(getattr(cls, name), part))
    try:
        c0 = time.process_time()
        for i in range(0, len(rest), batch):
            gfp.transform(rest[i:i + batch])
        total = time.process_time() - c0
    finally:
        for cls, name, fn in saved:
            setattr(cls, name, fn)
    spent["output"] = total - sum(spent.values())
    return {part: round(1000 * seconds / len(rest) * 1000, 2) for part, seconds in spent.items()}


def world_vertex_stats(world: Path, batch: int = 65_536) -> dict:
    """Our vertex statistics over every transaction of a generated world, in the paper configuration."""
    from blazingaml.gfp.stream_graph import AccountNumbers
    from blazingaml.gfp.vertex_stats import SNAPML_MIN_RELATIVE_VAR, VertexStatsStream
    from blazingaml.io.ibm_csv import read_trans_csv

    (csv,) = sorted(world.glob("*_Trans.csv"))
    t0 = time.perf_counter()
    table, _ = read_trans_csv(csv)
    col = lambda name: table.column(name).to_numpy()  # noqa: E731
    order = np.lexsort((np.arange(table.num_rows), col("ts")))   # time order, ties in file order
    rows = np.column_stack([col("src"), col("dst"), col("ts"), col("ts"), col("amount_paid")]).astype(np.float64)[order]
    read_s = time.perf_counter() - t0
    p = AML_PAPER_PARAMS
    stats = VertexStatsStream(2, 24 * 3600, p["vertex_stats_tw"], order_stats=False,
                              min_relative_var=SNAPML_MIN_RELATIVE_VAR)
    accounts = AccountNumbers()
    t0 = time.perf_counter()
    for i in range(0, len(rows), batch):
        part = rows[i:i + batch]
        stats.append(part, accounts.number(part[:, :2]))
    mine_s = time.perf_counter() - t0
    return {"world": str(world), "transactions": int(len(rows)), "read_seconds": round(read_s, 1),
            "vertex_stats_seconds": round(mine_s, 1), "tx_per_s": round(len(rows) / mine_s)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--edges", type=int, default=100_000)
    ap.add_argument("--accounts", type=int, default=20_000)
    ap.add_argument("--world", type=Path, help="a generated world's directory (holding *_Trans.csv)")
    args = ap.parse_args()
    import snapml

    from blazingaml.gfp import GraphFeaturePreprocessor

    x = stream(args.edges, args.accounts)
    rows = []
    load = os.getloadavg()
    for batch in (128, 2048):
        (ours, ours_cpu), (theirs, theirs_cpu) = (throughput(cls, x, batch) for cls in
                                                  (GraphFeaturePreprocessor, snapml.GraphFeaturePreprocessor))
        rows.append({"batch": batch, "ours_tx_s": ours, "snapml_tx_s": theirs, "ratio": ours / theirs,
                     "ours_tx_per_cpu_s": ours_cpu, "snapml_tx_per_cpu_s": theirs_cpu,
                     "cpu_ratio": ours_cpu / theirs_cpu})
        print(f"batch {batch:5d}: ours {ours:8.0f} tx/s   snapml {theirs:8.0f} tx/s   ratio {ours / theirs:5.2f}   "
              f"per CPU second: ours {ours_cpu:8.0f}  snapml {theirs_cpu:8.0f}  ratio {ours_cpu / theirs_cpu:5.2f}")
    result = {"machine": machine(), "edges": args.edges, "accounts": args.accounts, "rows": rows,
              "load_average_before": load, "load_average_after": os.getloadavg()}
    result["cpu_ms_per_1000_edges"] = {batch: parts(x, batch) for batch in (128, 2048)}
    for batch, spent in result["cpu_ms_per_1000_edges"].items():
        print(f"batch {batch:5d}, ours, CPU ms per 1,000 edges:", "  ".join(f"{k} {v}" for k, v in spent.items()))
    if args.world:
        result["world_vertex_stats"] = world_vertex_stats(args.world)
        print(result["world_vertex_stats"])
    result["load_average_end"] = os.getloadavg()
    print("load averages (1, 5, 15 min): before", load, "after throughput", result["load_average_after"],
          "end", result["load_average_end"])
    save("gfp_dropin", result)


if __name__ == "__main__":
    main()
