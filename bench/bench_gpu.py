"""GPU (CuPy backend) against Numba on all CPU cores, pattern by pattern, on one world.

Run by bench/gpu_check.sh on a machine with a GPU:

    python bench/bench_gpu.py --input WORLD/tx.parquet [--out DIR]

Each pattern of patterns/gfp and patterns/typologies is compiled on its own, warmed up on the
first 5,000 transactions (so neither side's compile time is counted), then mined on the whole
world by both backends; the outputs must be identical. GPU times are end to end: graph upload,
kernels, and the features' copy back. Prints a Markdown table and writes it (and JSON) to --out.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from common import machine  # noqa: E402

GROUPS = ("gfp", "typologies")


def timed(fn):
    t0 = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - t0


def one_pattern(graph, warm_graph, pattern, max_work: int) -> dict:
    from blazingaml.errors import WorkLimitError
    from blazingaml.runtime import compile_patterns, mine_graph

    compiled = compile_patterns([pattern])
    row = {"pattern": pattern.name}
    try:
        _, row["numba_compile_s"] = timed(lambda: mine_graph(warm_graph, compiled, "numba", max_work=max_work))
        _, row["gpu_compile_s"] = timed(lambda: mine_graph(warm_graph, compiled, "cupy", max_work=max_work))
        cpu, row["numba_s"] = timed(lambda: mine_graph(graph, compiled, "numba", max_work=max_work))
        gpu, row["gpu_s"] = timed(lambda: mine_graph(graph, compiled, "cupy", max_work=max_work))
    except WorkLimitError as exc:
        row["error"] = str(exc)
        return row
    row["identical"] = bool(np.array_equal(cpu, gpu))
    row["numba_edges_per_s"] = graph.m / row["numba_s"]
    row["gpu_edges_per_s"] = graph.m / row["gpu_s"]
    row["speedup"] = row["numba_s"] / row["gpu_s"]
    return row


def table(rows: list[dict]) -> str:
    lines = ["| group | pattern | Numba edges/s | GPU edges/s | GPU / Numba | identical |",
             "| --- | --- | ---: | ---: | ---: | --- |"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['group']} | {r['pattern']} | — | — | — | {r['error']} |")
            continue
        lines.append(f"| {r['group']} | {r['pattern']} | {r['numba_edges_per_s'] / 1e6:.2f} M | "
                     f"{r['gpu_edges_per_s'] / 1e6:.2f} M | {r['speedup']:.1f}x | {'yes' if r['identical'] else 'NO'} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", required=True, help="converted transactions (.parquet)")
    ap.add_argument("--out", help="directory for gpu_check.md and gpu_check.json")
    ap.add_argument("--max-work", type=int, default=2_000_000)
    args = ap.parse_args()

    import numba

    from blazingaml.backends.cupy.runner import device_name
    from blazingaml.dsl.parser import load_patterns
    from blazingaml.graph import TemporalGraph
    from blazingaml.io.transactions import load_transactions

    table_, accounts = load_transactions(args.input)
    graph, graph_s = timed(lambda: TemporalGraph.from_table(table_, accounts))
    warm_graph = TemporalGraph.from_table(table_.slice(0, 5000), accounts)
    print(f"graph: {graph.m:,} edges, {graph.n:,} accounts, built in {graph_s:.1f} s", file=sys.stderr)
    rows = []
    for group in GROUPS:
        for pattern in load_patterns([ROOT / "patterns" / group]):
            row = {"group": group, **one_pattern(graph, warm_graph, pattern, args.max_work)}
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    head = (f"GPU: {device_name()}; CPU: {machine()}; Numba threads: {numba.get_num_threads()}; "
            f"{graph.m:,} transactions ({Path(args.input).name})")
    text = head + "\n\n" + table(rows) + "\n"
    print(text)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "gpu_check.md").write_text(text)
        (out / "gpu_check.json").write_text(json.dumps({"header": head, "rows": rows}, indent=1))
    ok = all(r.get("identical") for r in rows)
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
