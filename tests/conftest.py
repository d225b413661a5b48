"""Shared fixtures: small generated worlds (cached per session) and the shipped real sample."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# LightGBM's OpenMP threads busy-wait between rounds by default; on a shared, oversubscribed
# machine that makes a 16k-row fit take a minute instead of seconds. Read when libgomp loads, so
# set before anything imports lightgbm (this process and the CLI processes tests start).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "ibm-aml-sample"
DEV_PATTERNS = SAMPLE / "HI-Small_Patterns.dev.txt"


@pytest.fixture(scope="session")
def small_world(tmp_path_factory):
    """A generated HI-Small-like world at scale 0.004 (~20k transactions), its Parquet form too."""
    from blazingaml.generator import generate
    from blazingaml.io.ibm_csv import convert_trans_csv

    out = tmp_path_factory.mktemp("world")
    files = generate(out, scale=0.004, seed=11)
    convert_trans_csv(files.trans, out / "tx.parquet")
    return files, out / "tx.parquet"


@pytest.fixture(scope="session")
def embedded_world(tmp_path_factory):
    """A small generated world with the real dev attempts embedded."""
    from blazingaml.generator import generate
    from blazingaml.io.ibm_csv import convert_trans_csv

    out = tmp_path_factory.mktemp("embedded")
    files = generate(out, scale=0.01, seed=5, embed_patterns=DEV_PATTERNS)
    convert_trans_csv(files.trans, out / "tx.parquet")
    return files, out / "tx.parquet"


@pytest.fixture(scope="session")
def dense_world(tmp_path_factory):
    """A small world with 30 times HI-Small's laundering rate and real dev attempts embedded: enough
    laundering rows (about 1,500, most real attempts) for the scorers to learn from in a test."""
    from blazingaml.generator import generate, load_preset
    from blazingaml.io.ibm_csv import convert_trans_csv

    out = tmp_path_factory.mktemp("dense")
    preset = {**load_preset("hi-small-like"), "illicit_rate": 0.03}
    files = generate(out, preset=preset, scale=0.01, seed=5, embed_patterns=DEV_PATTERNS)
    convert_trans_csv(files.trans, out / "tx.parquet")
    return files, out / "tx.parquet"


def write_time_periods(parquet, out: Path, periods: dict[str, tuple[int, int]]) -> None:
    """Write `out/<name>.parquet` (with its account key table) holding the transactions ranked
    [start, stop) by time, in their original order, for each name of `periods`."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from blazingaml.io.ibm_csv import accounts_path_for
    from blazingaml.io.transactions import load_transactions

    table, accounts = load_transactions(parquet)
    order = np.argsort(table["ts"].to_numpy(), kind="stable")
    for name, (start, stop) in periods.items():
        pq.write_table(table.take(pa.array(np.sort(order[start:stop]))), out / f"{name}.parquet")
        pq.write_table(accounts, accounts_path_for(out / f"{name}.parquet"))


def gpu_available() -> bool:
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def pytest_collection_modifyitems(config, items):
    """`gpu`-marked tests run only where CuPy sees a CUDA device; `slow` ones only when asked for
    (`pytest -m slow`), so that the default run stays fast."""
    if "slow" not in (config.getoption("markexpr") or ""):
        skip_slow = pytest.mark.skip(reason="a long run: select it with -m slow")
        for item in items:
            if "slow" in item.keywords:
                item.add_marker(skip_slow)
    if gpu_available():
        return
    skip = pytest.mark.skip(reason="no CUDA device (CuPy missing or no GPU)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


def cli(*args) -> subprocess.CompletedProcess:
    """Run `blazingaml ARGS` in a fresh process (as a user would), capturing its output."""
    return subprocess.run([sys.executable, "-m", "blazingaml.cli", *args], capture_output=True, text=True)
