"""Issue 3 benchmarks: per-pattern mining speed (1 and 2 threads), compile times, memory, and the
same graph side by side with snapml (fastest batching, and the batch-size-1 parity mode with an
equality check). Ratios are measured in one run on one machine.

    python bench/bench_mining.py [--scale 0.05] [--parity-edges 20000] [--snap-timeout 300]

Issue 13: the whole GFP set in ONE call on both sides, as a user computes it, on any converted
transactions file (e.g. the 1M-edge power-law graph, or a scale-1 world):

    python bench/bench_mining.py --one-call tx.parquet [--no-snapml]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from common import OUT, machine, run_child, save

GROUPS = {"fan": ["fan_in", "fan_out"], "degree": ["degree_in", "degree_out"], "scatter-gather": ["scatter_gather"],
          "temp-cycle": ["temporal_cycle"], "lc-cycle": ["simple_cycle"]}
SNAP_KEYS = {"fan": "fan", "degree": "degree", "scatter-gather": "scatter-gather", "temp-cycle": "temp-cycle",
             "lc-cycle": "lc-cycle"}
WINDOWS = {"fan": 86400, "degree": 86400, "scatter-gather": 21600, "temp-cycle": 86400, "lc-cycle": 86400}

OURS = """
import json, time, numba
import pyarrow.parquet as pq
from blazingaml.dsl.parser import load_patterns
from blazingaml.graph import TemporalGraph
from blazingaml.io.ibm_csv import accounts_path_for
from blazingaml.runtime import compile_patterns, mine_graph
t = pq.read_table({parquet!r}); a = pq.read_table(str(accounts_path_for({parquet!r})))
g = TemporalGraph.from_table(t, a)
pats = {{p.name: p for p in load_patterns([{lib!r}])}}
out = {{}}
for group, names in {groups!r}.items():
    c = compile_patterns([pats[n] for n in names])
    s = time.perf_counter(); mine_graph(g, c, threads=1); first = time.perf_counter() - s
    row = {{"first_call_seconds": first}}
    for threads in (1, 2):
        runs = []
        for _ in range(2):
            s = time.perf_counter(); mine_graph(g, c, threads=threads); runs.append(time.perf_counter() - s)
        row[f"seconds_{{threads}}t"] = min(runs)
        row[f"edges_per_second_{{threads}}t"] = g.m / min(runs)
    out[group] = row
print(json.dumps({{"edges": g.m, "groups": out}}))
"""

COLD = """
import json, time
s = time.perf_counter()
from blazingaml.dsl.parser import load_patterns
from blazingaml.graph import TemporalGraph
from blazingaml.runtime import compile_patterns, mine_graph
c = compile_patterns(load_patterns([{lib!r}]))
g = TemporalGraph.from_arrays([0, 1, 2], [1, 2, 0], [1662000000, 1662000060, 1662000120])
mine_graph(g, c)
print(json.dumps({{"seconds": time.perf_counter() - s}}))
"""


def snap_params(group, threads):
    p = {"num_threads": threads, "time_window": -1, "vertex_stats": False, "fan": False, "degree": False,
         "scatter-gather": False, "temp-cycle": False, "lc-cycle": False}
    key = SNAP_KEYS[group]
    p[key] = True
    p[f"{key}_tw"] = WINDOWS[group]
    p[f"{key}_bins"] = list(range(2, 11)) if group == "lc-cycle" else list(range(2, 31))
    if group == "lc-cycle":
        p["lc-cycle_len"] = 10
    return p


SNAP = """
import json, time, numpy as np
from snapml import GraphFeaturePreprocessor
d = np.load({npz!r})
X = np.ascontiguousarray(np.stack([d["id"], d["src"], d["dst"], d["ts"]], 1).astype(np.float64))
g = GraphFeaturePreprocessor(); g.set_params({params!r})
s = time.perf_counter()
batch = {batch}
rows = []
for i in range(0, len(X), batch):
    rows.append(g.transform(X[i:i + batch])[:, 4:])
dt = time.perf_counter() - s
np.save({res!r}, np.concatenate(rows).astype(np.int64))
print(json.dumps({{"seconds": dt, "edges": len(X)}}))
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=0.05)
    ap.add_argument("--parity-edges", type=int, default=20000)
    ap.add_argument("--snap-timeout", type=float, default=300)
    ap.add_argument("--ours-only", action="store_true", help="only our backend (needs bench_data.py's world)")
    ap.add_argument("--one-call", metavar="PARQUET", help="the whole GFP set in one call on both sides (issue 13)")
    ap.add_argument("--no-snapml", action="store_true", help="with --one-call: ours only")
    args = ap.parse_args()
    if args.one_call:
        from bench_one_call import one_call

        print(json.dumps(one_call(args.one_call, not args.no_snapml, args.snap_timeout), indent=1))
        return
    if args.ours_only:
        print(json.dumps(ours_only(args.scale), indent=1))
        return
    import pyarrow.parquet as pq

    lib = str(OUT.parent.parent / "patterns" / "gfp")
    world = OUT / f"world-{args.scale}"
    parquet = str(world / "tx.parquet")
    if not (world / "tx.parquet").exists():
        run_child(f"from blazingaml.generator import generate; from blazingaml.io.ibm_csv import convert_trans_csv;"
                  f"f = generate({str(world)!r}, scale={args.scale}, seed=1); convert_trans_csv(f.trans, {parquet!r});"
                  f"print('{{}}')")
    result = {"machine": machine(), "scale": args.scale}
    import tempfile

    with tempfile.TemporaryDirectory() as cache:
        result["cold_start_all_gfp"] = run_child(COLD.format(lib=lib), env={"BLAZINGAML_CACHE": cache})
        result["warm_start_all_gfp"] = run_child(COLD.format(lib=lib), env={"BLAZINGAML_CACHE": cache})
    result["ours"] = run_child(OURS.format(parquet=parquet, lib=lib, groups=GROUPS))
    print(json.dumps(result["ours"], indent=1), flush=True)

    # snapml input: time order, ties in input order, ids from 1 (0 is a sentinel for snapml)
    t = pq.read_table(parquet)
    order = np.lexsort((t["tx_id"].to_numpy(), t["ts"].to_numpy()))
    npz = OUT / f"snap-input-{args.scale}.npz"
    np.savez(npz, id=np.arange(1, len(order) + 1), src=t["src"].to_numpy()[order], dst=t["dst"].to_numpy()[order],
             ts=t["ts"].to_numpy()[order])
    result["snapml_batched"] = {}
    for group in GROUPS:
        try:
            r = run_child(SNAP.format(npz=str(npz), params=snap_params(group, 2), batch=2048,
                                      res=str(OUT / "snap-res.npy")), timeout=args.snap_timeout)
        except Exception as exc:  # timeout: record it
            r = {"did_not_finish_within_seconds": args.snap_timeout, "error": type(exc).__name__}
        result["snapml_batched"][group] = r
        print(group, r, flush=True)

    # parity mode on a prefix: batch size 1, compared value by value with ours
    k = args.parity_edges
    small = OUT / f"snap-input-{args.scale}-{k}.npz"
    d = np.load(npz)
    np.savez(small, **{key: d[key][:k] for key in d.files})
    result["parity"] = {"edges": k, "groups": {}}
    from blazingaml.dsl.parser import load_patterns
    from blazingaml.graph import TemporalGraph
    from blazingaml.runtime import compile_patterns, mine_graph

    pats = {p.name: p for p in load_patterns([lib])}
    g = TemporalGraph.from_arrays(d["src"][:k], d["dst"][:k], d["ts"][:k], tx_id=np.arange(k))
    for group, names in GROUPS.items():
        res = OUT / "snap-parity.npy"
        try:
            r = run_child(SNAP.format(npz=str(small), params=snap_params(group, 2), batch=1, res=str(res)),
                          timeout=args.snap_timeout)
        except Exception as exc:
            result["parity"]["groups"][group] = {"did_not_finish_within_seconds": args.snap_timeout,
                                                 "error": type(exc).__name__}
            continue
        c = compile_patterns([pats[n] for n in names])
        mine_graph(g, c)
        s = time.perf_counter()
        ours = mine_graph(g, c, threads=2)
        ours_s = time.perf_counter() - s
        snap = np.load(res)
        r["ours_seconds"] = ours_s
        r["identical"] = bool(np.array_equal(snap, ours))
        r["differing_rows"] = int((snap != ours).any(axis=1).sum())
        result["parity"]["groups"][group] = r
        print("parity", group, r, flush=True)
    save(f"mining-{args.scale}", result)


def ours_only(scale: float) -> dict:
    """Our per-pattern speed on a bigger graph (no snapml), e.g. scale 1 from bench_data.py."""
    lib = str(OUT.parent.parent / "patterns" / "gfp")
    parquet = str(OUT / f"world-{scale}" / "tx.parquet")
    result = {"machine": machine(), "scale": scale, "ours": run_child(OURS.format(parquet=parquet, lib=lib,
                                                                                  groups=GROUPS))}
    save(f"mining-ours-{scale}", result)
    return result


if __name__ == "__main__":
    main()
