"""Issue 13: the whole GFP set in one call on both sides, as a user computes it (run through
`bench_mining.py --one-call PARQUET`).

Ours: one `blazingaml mine --patterns patterns/gfp --only <the five groups>` command (start-up,
read, graph, kernels, write; warm kernel cache, the second of two runs), and in one process the
kernels of the whole set and of each group alone, 1 and 2 threads; both sides compute the same
five groups (snapml here without vertex statistics, so ours too: our `vertex_stats` kernels are
timed on their own, ours only). snapml: one GraphFeaturePreprocessor with every
pattern of GFP's AML configuration (`AML_PAPER_PARAMS`, vertex statistics off), batches of 2,048
edges, 2 threads; then each group alone. Fixed costs: `blazingaml info` on the file, `mine` of
its first 1,000 rows, the first graph build in a fresh process.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from common import OUT, ROOT, machine, run_child, save

LIB = str(ROOT / "patterns" / "gfp")
GROUPS = {"fan": ["fan_in", "fan_out"], "degree": ["degree_in", "degree_out"], "scatter-gather": ["scatter_gather"],
          "temp-cycle": ["temporal_cycle"], "lc-cycle": ["simple_cycle"]}
ONE_CALL = [name for names in GROUPS.values() for name in names]   # what snapml's one call computes

KERNELS = """
import json, time
import pyarrow.parquet as pq
from blazingaml.dsl.parser import load_patterns
from blazingaml.graph import TemporalGraph
from blazingaml.io.ibm_csv import accounts_path_for
from blazingaml.runtime import compile_patterns, mine_graph
t = pq.read_table({parquet!r}); a = pq.read_table(str(accounts_path_for({parquet!r})))
g = TemporalGraph.from_table(t, a)
pats = {{p.name: p for p in load_patterns([{lib!r}])}}
sets = {{"all (one call)": {one_call!r}, **{groups!r}, "vertex stats (ours only)": ["vertex_stats"]}}
out = {{}}
for label, names in sets.items():
    c = compile_patterns([pats[n] for n in names]).for_graph(g)
    mine_graph(g, c, threads=2)  # warm
    row = {{}}
    for threads in (1, 2):
        runs = []
        for _ in range(2):
            s = time.perf_counter(); mine_graph(g, c, threads=threads); runs.append(time.perf_counter() - s)
        row[f"seconds_{{threads}}t"] = round(min(runs), 3)
    out[label] = row
print(json.dumps({{"edges": g.m, "kernels": out}}))
"""

GRAPH_BUILD = """
import json, time
import pyarrow.parquet as pq
from blazingaml.graph import TemporalGraph
from blazingaml.io.ibm_csv import accounts_path_for
t = pq.read_table({parquet!r}); a = pq.read_table(str(accounts_path_for({parquet!r})))
s = time.perf_counter(); g = TemporalGraph.from_table(t, a); dt = time.perf_counter() - s
print(json.dumps({{"seconds": dt, "edges_per_second": g.m / dt}}))
"""

SNAP = """
import json, time, numpy as np
from snapml import GraphFeaturePreprocessor
d = np.load({npz!r})
X = np.ascontiguousarray(np.stack([d["id"], d["src"], d["dst"], d["ts"]], 1).astype(np.float64))
g = GraphFeaturePreprocessor(); g.set_params({params!r})
s = time.perf_counter()
for i in range(0, len(X), 2048):
    g.transform(X[i:i + 2048])
print(json.dumps({{"seconds": time.perf_counter() - s, "edges": len(X)}}))
"""


def snap_params(groups) -> dict:
    """GFP's AML configuration without vertex statistics, only `groups` on, 2 threads."""
    from blazingaml.gfp import AML_PAPER_PARAMS

    p = {**AML_PAPER_PARAMS, "num_threads": 2, "vertex_stats": False}
    for key in GROUPS:
        p[key] = key in groups
    return p


def command(*args) -> tuple[float, str]:
    """Wall seconds and stderr of `blazingaml ARGS` in a fresh process."""
    s = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "blazingaml.cli", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    return time.perf_counter() - s, proc.stderr


def whole_command(parquet: str, work: Path) -> dict:
    args = ["mine", "--patterns", LIB, "--only", ",".join(ONE_CALL), "--input", parquet, "--output",
            str(work / "f.parquet"), "--threads", "2"]
    command(*args)  # warm: kernels compiled for this graph's plan
    wall, log = command(*args)
    graph_s, mined_s = map(float, re.search(r"graph built in ([\d.]+) s, mined in ([\d.]+) s", log).groups())
    return {"wall_seconds": round(wall, 2), "graph_seconds": graph_s, "mined_seconds": mined_s}


def fixed_costs(parquet: str, work: Path) -> dict:
    import pyarrow.parquet as pq

    from blazingaml.io.ibm_csv import accounts_path_for

    tiny = work / "tiny.parquet"
    pq.write_table(pq.read_table(parquet).slice(0, 1000), tiny)
    shutil.copy(accounts_path_for(parquet), accounts_path_for(str(tiny)))
    mine_tiny = ["mine", "--patterns", LIB, "--input", str(tiny), "--output", str(work / "t.parquet")]
    command(*mine_tiny)
    command("info", parquet)
    return {"info_seconds": round(command("info", parquet)[0], 2),
            "mine_1000_rows_seconds": round(command(*mine_tiny)[0], 2),
            "graph_build_fresh_process": run_child(GRAPH_BUILD.format(parquet=parquet))}


def snapml_runs(parquet: str, timeout: float) -> dict:
    import pyarrow.parquet as pq

    t = pq.read_table(parquet, columns=["tx_id", "ts", "src", "dst"])
    ts = t["ts"].to_numpy()
    assert ts.dtype == np.int64 and 1e9 < ts.min() < 1e10, "snapml needs timestamps in seconds"
    order = np.lexsort((t["tx_id"].to_numpy(), ts))   # time order, ties in input order; ids from 1
    npz = OUT / "one-call-snap-input.npz"
    OUT.mkdir(parents=True, exist_ok=True)
    np.savez(npz, id=np.arange(1, len(order) + 1), src=t["src"].to_numpy()[order], dst=t["dst"].to_numpy()[order],
             ts=ts[order])
    runs = {}
    for label, groups in {"all (one call)": list(GROUPS), **{g: [g] for g in GROUPS}}.items():
        try:
            runs[label] = run_child(SNAP.format(npz=str(npz), params=snap_params(groups)), timeout=timeout)
        except Exception as exc:  # timeout: record it
            runs[label] = {"did_not_finish_within_seconds": timeout, "error": type(exc).__name__}
        print("snapml", label, runs[label], flush=True)
    return runs


def one_call(parquet: str, with_snapml: bool, timeout: float) -> dict:
    result = {"machine": machine(), "input": parquet, "load_before": Path("/proc/loadavg").read_text().split()[:3]}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        result["ours_command"] = whole_command(parquet, work)
        print("ours command", result["ours_command"], flush=True)
        result["ours_kernels"] = run_child(KERNELS.format(parquet=parquet, lib=LIB, groups=GROUPS, one_call=ONE_CALL))
        print("ours kernels", result["ours_kernels"], flush=True)
        result["fixed_costs"] = fixed_costs(parquet, work)
        print("fixed costs", result["fixed_costs"], flush=True)
    if with_snapml:
        result["snapml"] = snapml_runs(parquet, timeout)
    result["load_after"] = Path("/proc/loadavg").read_text().split()[:3]
    save(f"one-call-{Path(parquet).stem}", result)
    return result
