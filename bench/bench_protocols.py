"""evaluate's protocols on generated worlds: scorers compared and tuned, transfer, prequential drift.

    python bench/bench_protocols.py --scale 0.05 [--steps compare,transfer,prequential] [--model gbt]
                                    [--patterns patterns/gfp] [--max-work 10000]

Generates (once, under bench/out/protocols-SCALE/) two HI-Small-like worlds holding the two halves
of the real dev attempts (`split_attempts`) and a drifting world (`generate_drift`), then runs
`blazingaml evaluate --json` in a child process for each step and records the command, its wall
time, the load average and the result in bench/out/protocols-SCALE-STEP.json:

* compare: world A, ibm protocol, every installed scorer, --tune (4 configurations each);
* transfer: train on world A, test on every transaction of world B, every installed scorer;
* prequential: the drift world, gbt against driftmoe, 1-day windows, 3 training days, labels after 1 day.
"""

from __future__ import annotations

import argparse
import os
import sys

from common import OUT, ROOT, machine, run_json_command, save

DEV = ROOT / "data" / "ibm-aml-sample" / "HI-Small_Patterns.dev.txt"


def worlds(scale: float, seed: int):
    from blazingaml.generator import generate
    from blazingaml.generator.drift import generate_drift
    from blazingaml.io.ibm_csv import convert_trans_csv
    from blazingaml.io.patterns_txt import read_patterns, split_attempts, write_patterns

    root = OUT / f"protocols-{scale}"
    made = {}
    for name, half in zip("AB", split_attempts(read_patterns(DEV))):
        world = root / name
        if not (world / "tx.parquet").exists():
            world.mkdir(parents=True, exist_ok=True)
            write_patterns(world / "half.txt", half)
            files = generate(world, scale=scale, seed=seed + (name == "B"), embed_patterns=world / "half.txt")
            convert_trans_csv(files.trans, world / "tx.parquet")
        made[name] = (world / "tx.parquet", next(world.glob("HI-Small-like_Patterns.txt")))
    world = root / "drift"
    if not (world / "tx.parquet").exists():
        files = generate_drift(world, DEV, scale=scale, seed=seed)
        convert_trans_csv(files.trans, world / "tx.parquet")
    made["drift"] = (world / "tx.parquet", world / "Drift_Patterns.txt")
    return root, made


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--steps", default="compare,transfer,prequential")
    ap.add_argument("--patterns", nargs="+", default=[str(ROOT / "patterns")])
    ap.add_argument("--model", default="all", help="the scorers of compare and transfer (evaluate's --model)")
    ap.add_argument("--max-work", help="each trigger's path-search bound, passed to evaluate's --max-work (default: "
                                       "evaluate's); the calibrated worlds' cycle searches need about 10,000 from "
                                       "scale 0.2 on")
    args = ap.parse_args()
    root, w = worlds(args.scale, args.seed)
    (a, a_patterns), (b, b_patterns), (drift, drift_patterns) = w["A"], w["B"], w["drift"]
    steps = {
        "compare": ["--transactions", a, "--patterns-file", a_patterns, "--protocol", "ibm", "--model", args.model,
                    "--tune", "--tune-configurations", "4", "--no-ablation"],
        "transfer": ["--protocol", "transfer", "--transactions", a, "--patterns-file", a_patterns,
                     "--test-transactions", b, "--test-patterns-file", b_patterns, "--model", args.model,
                     "--no-ablation"],
        "prequential": ["--protocol", "prequential", "--transactions", drift, "--patterns-file", drift_patterns,
                        "--label-delay-days", "1"],
    }
    for step in args.steps.split(","):
        cmd = [sys.executable, "-m", "blazingaml.cli", "evaluate", *map(str, steps[step]), "--patterns",
               *args.patterns, *(["--max-work", args.max_work] if args.max_work else []), "--threads", "1",
               "--report", str(root / f"report-{step}"), "--json", "--quiet"]
        load_before = os.getloadavg()
        evaluation, wall = run_json_command(cmd)
        if evaluation is None:
            return 1
        result = {"machine": machine(), "scale": args.scale, "command": " ".join(cmd[1:]),
                  "wall_seconds": round(wall, 1), "load_average_before": load_before,
                  "load_average_after": os.getloadavg(), "result": evaluation}
        save(f"protocols-{args.scale}-{step}", result)
        print(f"{step}: {wall:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
