"""Dask engine vs the single-process engine: mining the pattern library on one world.

    python bench/bench_dask.py --scale 0.02 [--partition-days 2] [--library gfp typologies]
    python bench/bench_dask.py --input tx.parquet --library gfp/fan.pattern gfp/cycles.pattern

Runs, each on a fresh world file and with kernels already in the cache: the single-process
engine (numba, all cores), then `mine_distributed` on a LocalCluster of 1 worker (all cores) and
of 2 workers (one thread each). Partitions hold `--partition-days` of core plus the halo (the
largest window: 8 days for the typology library, 1 day for gfp). Records each partition's rows, halo rows and
seconds, the halo cost, and a projection for HI-Large (180M transactions over 97 days) on N
machines from the measured rate per read row, with the memory per worker it needs.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, machine, save  # noqa: E402

HI_LARGE_ROWS, HI_LARGE_DAYS = 180_000_000, 97


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=0.02)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--partition-days", type=float, default=2.0, help="core days per partition")
    ap.add_argument("--library", nargs="+", default=["gfp", "typologies"],
                    help="folders or files of patterns/ to mine")
    ap.add_argument("--input", help="a normalised Parquet file to mine instead of a generated world")
    ap.add_argument("--no-warm-up", action="store_true",
                    help="time first runs (kernels must be in the cache already): halves the time on big inputs")
    ap.add_argument("--work", default=str(ROOT / "data" / "generated" / "bench-dask"))
    args = ap.parse_args()

    import numpy as np
    import pyarrow.parquet as pq
    from distributed import Client, LocalCluster

    from blazingaml.distributed import mine_distributed
    from blazingaml.dsl.parser import load_patterns
    from blazingaml.features import mine_table
    from blazingaml.generator import generate
    from blazingaml.io.ibm_csv import convert_trans_csv
    from blazingaml.io.transactions import load_transactions
    from blazingaml.time_partitions import bytes_per_row

    work = Path(args.work)
    tx = Path(args.input) if args.input else work / "tx.parquet"
    if not tx.exists():
        files = generate(work, scale=args.scale, seed=args.seed)
        convert_trans_csv(files.trans, tx)
    patterns = load_patterns([ROOT / "patterns" / name for name in args.library])
    window = max(p.window_seconds for p in patterns)
    table, accounts = load_transactions(tx)
    ts = table["ts"].to_numpy()
    days = (ts.max() - ts.min()) / 86_400
    if not args.no_warm_up:
        mine_table(table, accounts, patterns)                  # warm: kernels compiled and cached
    t0 = time.perf_counter()
    single = mine_table(table, accounts, patterns)
    single_seconds = time.perf_counter() - t0
    columns = single.table.num_columns - 1
    # the busiest stretch of core + halo sets the budget (the first day of a world is busier)
    order = np.sort(ts)
    span = int(args.partition_days * 86_400) + window + 2 * 60
    max_rows = int((np.searchsorted(order, order + span, "right") - np.arange(len(order))).max())
    results = {"machine": machine(), "library": args.library, "warm_up": not args.no_warm_up, "rows": table.num_rows, "days": round(days, 2),
               "columns": columns, "window_days": window / 86_400, "partition_days": args.partition_days, "max_rows": max_rows,
               "single_process": {"seconds": round(single_seconds, 2),
                                  "rows_per_second": round(table.num_rows / single_seconds)}}
    del table, single
    for workers, threads in [(1, 2), (2, 1)]:
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as c, \
                Client(c) as client:
            if not args.no_warm_up:
                mine_distributed(client, tx, patterns, work / "warm", threads=threads, max_rows=max_rows)
            run = mine_distributed(client, tx, patterns, work / "feats", threads=threads, max_rows=max_rows)
        read = run.rows + run.halo_rows
        worker_seconds = sum(r["seconds"] for r in run.results)
        results[f"dask_{workers}_workers"] = {
            "seconds": round(run.seconds, 2), "rows_per_second": round(run.rows / run.seconds),
            "partitions": len(run.partitions), "halo_rows": run.halo_rows,
            "halo_share_of_read_rows": round(run.halo_rows / read, 3),
            "worker_seconds_per_million_read_rows": round(worker_seconds / read * 1e6, 2),
            "per_partition": [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()}
                              for r in run.results]}
        assert pq.read_table(work / "feats").num_rows == run.rows
    # Projection: HI-Large cut into partitions of the same core length; every partition reads its
    # core and an 8-day halo at HI-Large's rate; each machine mines partitions at the measured
    # per-read-row cost of one single-threaded worker, times its cores.
    measured = results["dask_2_workers"]["worker_seconds_per_million_read_rows"] / 1e6
    large_per_day = HI_LARGE_ROWS / HI_LARGE_DAYS
    read_rows = HI_LARGE_ROWS * (args.partition_days + window / 86_400) / args.partition_days
    results["hi_large_projection"] = {
        "assumes": "uniform rate per day; cost per read row as measured here, per core; 2 cores per machine",
        "partition_rows_with_halo": round(large_per_day * (args.partition_days + window / 86_400)),
        "memory_per_worker_gib": round(large_per_day * (args.partition_days + window / 86_400)
                                       * bytes_per_row(columns) / 2**30, 1),
        "read_rows": round(read_rows),
        "hours_on_n_machines": {n: round(read_rows * measured / (2 * n) / 3600, 2) for n in (1, 4, 16, 64)}}
    print(save("dask-" + "-".join(n.replace("/", "_") for n in args.library), results))
    print({k: v for k, v in results.items() if k not in ("dask_1_workers", "dask_2_workers")})
    for k in ("dask_1_workers", "dask_2_workers"):
        print(k, {a: b for a, b in results[k].items() if a != "per_partition"})


if __name__ == "__main__":
    main()
