"""Run every CPU benchmark in sequence (results land in bench/out/*.json; RESULTS.md is written by hand
from them, with the machine noted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
STEPS = [
    ["bench_data.py", "--scale", "1.0"],
    ["bench_mining.py", "--scale", "0.05"],
    ["bench_mining.py", "--scale", "1.0", "--ours-only"],
    ["bench_detection.py", "--scale", "0.2"],
    ["bench_scorers.py", "--scale", "0.25", "--threads", "1"],
    ["bench_pattern_precision.py", "--scale", "0.2"],
    ["bench_calibration.py", "--preset", "hi-small-like", "--scale", "1.0"],
    ["bench_calibration.py", "--preset", "li-small-like", "--scale", "1.0"],
]

if __name__ == "__main__":
    for step in STEPS:
        print("==>", " ".join(step), flush=True)
        subprocess.run([sys.executable, *step], cwd=HERE, check=True)
