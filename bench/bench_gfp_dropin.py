"""Throughput of `GraphFeaturePreprocessor.transform`: ours vs snapml's, the same stream and params.

GFP's AML configuration with vertex statistics on (paper windows, stats on timestamp and amount), 2
threads each. The graph is filled with `fit` on the first half of the stream; the second half is fed
to `transform` in batches of 128 and 2,048. One warm-up batch per run (kernel loading) is not timed.
Usage: python bench/bench_gfp_dropin.py [--edges N] [--accounts N]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from common import machine, save

from blazingaml.gfp import AML_PAPER_PARAMS



def stream(m: int, accounts: int, days: int = 10) -> np.ndarray:
    rng = np.random.default_rng(0)
    ts = 1_662_000_000 + np.sort(rng.integers(0, days * 86400, m))
    return np.column_stack([np.arange(1, m + 1), rng.integers(0, accounts, m), rng.integers(0, accounts, m), ts,
                            np.round(rng.uniform(10, 5000, m), 2)]).astype(np.float64)


def throughput(cls, x: np.ndarray, batch: int) -> float:
    half = len(x) // 2
    gfp = cls()
    gfp.set_params(AML_PAPER_PARAMS)
    gfp.fit(x[:half])
    gfp.transform(x[half:half + batch])
    rest = x[half + batch:]
    t0 = time.perf_counter()
    for i in range(0, len(rest), batch):
        gfp.transform(rest[i:i + batch])
    return len(rest) / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--edges", type=int, default=100_000)
    ap.add_argument("--accounts", type=int, default=20_000)
    args = ap.parse_args()
    import snapml

    from blazingaml.gfp import GraphFeaturePreprocessor

    x = stream(args.edges, args.accounts)
    rows = []
    for batch in (128, 2048):
        ours = throughput(GraphFeaturePreprocessor, x, batch)
        theirs = throughput(snapml.GraphFeaturePreprocessor, x, batch)
        rows.append({"batch": batch, "ours_tx_s": ours, "snapml_tx_s": theirs, "ratio": ours / theirs})
        print(f"batch {batch:5d}: ours {ours:10.0f} tx/s   snapml {theirs:10.0f} tx/s   ratio {ours / theirs:.2f}")
    save("gfp_dropin", {"machine": machine(), "edges": args.edges, "accounts": args.accounts, "rows": rows})


if __name__ == "__main__":
    main()
