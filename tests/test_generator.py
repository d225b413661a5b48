"""Generator: exact formats, determinism, calibration statistics, embedding real attempts."""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow.parquet as pq

from blazingaml.generator import generate
from blazingaml.io.patterns_txt import read_patterns
from blazingaml.io.vocab import TYPOLOGIES

from .conftest import DEV_PATTERNS


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_seed_same_bytes(tmp_path):
    a = generate(tmp_path / "a", scale=0.002, seed=3)
    b = generate(tmp_path / "b", scale=0.002, seed=3)
    c = generate(tmp_path / "c", scale=0.002, seed=4)
    assert _digest(a.trans) == _digest(b.trans) and _digest(a.patterns) == _digest(b.patterns)
    assert _digest(a.trans) != _digest(c.trans)


def test_calibration_statistics(tmp_path):
    """Stated tolerances, at scale 0.05 (below ~0.02 the floor of 8 attempts, one per typology,
    pushes the illicit rate up): size within 1%, illicit rate within 25% of HI-Small's 0.102%,
    pattern share of laundering rows 45-80% (HI-Small: 62%)."""
    from blazingaml.io.ibm_csv import convert_trans_csv

    files = generate(tmp_path, scale=0.05, seed=11)
    convert_trans_csv(files.trans, tmp_path / "tx.parquet")
    table = pq.read_table(tmp_path / "tx.parquet")
    n = table.num_rows
    assert abs(n - 5_078_345 * 0.05) / (5_078_345 * 0.05) < 0.01
    rate = table["label"].to_numpy().mean()
    assert 0.00102 * 0.75 < rate < 0.00102 * 1.25
    attempts = read_patterns(files.patterns)
    assert {a.typology for a in attempts} == set(TYPOLOGIES)
    pattern_rows = sum(len(a.rows) for a in attempts)
    share = pattern_rows / table["label"].to_numpy().sum()
    assert 0.45 < share < 0.80
    src, dst = table["src"].to_numpy(), table["dst"].to_numpy()
    assert 0.05 < (src == dst).mean() < 0.15  # self-transfers
    deg = np.bincount(dst)
    assert deg.max() > 20 * deg.mean()  # hub accounts


def test_typology_shapes(tmp_path):
    files = generate(tmp_path, scale=0.05, seed=1)
    for a in read_patterns(files.patterns):
        rows = a.rows
        senders = [(r[1], r[2]) for r in rows]
        receivers = [(r[3], r[4]) for r in rows]
        assert all(r[9] == "ACH" and r[10] == "1" and r[6] == r[8] for r in rows)
        if a.typology == "FAN-OUT":
            assert len(set(senders)) == 1 and len(set(receivers)) == len(rows) <= 16
            assert a.qualifier == f"Max {len(rows)}-degree Fan-Out"
        elif a.typology == "FAN-IN":
            assert len(set(receivers)) == 1 and len(set(senders)) == len(rows) <= 16
        elif a.typology == "CYCLE":
            assert 2 <= len(rows) <= 12 and senders[0] == receivers[-1]
            assert all(receivers[i] == senders[i + 1] for i in range(len(rows) - 1))
            assert [r[0] for r in rows] == sorted(r[0] for r in rows)
        elif a.typology == "RANDOM":
            assert 1 <= len(rows) <= 11 and len(set(senders + receivers)) == len(rows) + 1
        elif a.typology == "SCATTER-GATHER":
            assert len(rows) % 2 == 0 and len(rows) <= 32
            mids = set(receivers) & set(senders)
            assert len(mids) == len(rows) // 2
        elif a.typology == "STACK":
            assert len(rows) % 2 == 0 and len(rows) <= 30
        elif a.typology == "BIPARTITE":
            assert len(set(senders)) == len(set(receivers)) == len(rows) <= 15


def test_embedding_real_attempts(embedded_world):
    files, parquet = embedded_world
    real = read_patterns(DEV_PATTERNS)
    out = read_patterns(files.patterns)
    real_rows = {",".join(r) for a in real for r in a.rows}
    trans_lines = set(files.trans.read_text().splitlines())
    assert real_rows <= trans_lines  # inserted unchanged
    assert [(a.typology, a.qualifier, a.rows) for a in out[-len(real):]] == \
        [(a.typology, a.qualifier, a.rows) for a in real]
    # the world covers the attempts' period and their accounts trade normally too
    table = pq.read_table(parquet)
    import datetime as dt
    last_real = max(dt.datetime.strptime(r[0], "%Y/%m/%d %H:%M").replace(tzinfo=dt.timezone.utc).timestamp()
                    for a in real for r in a.rows)
    assert table["ts"].to_numpy().max() >= last_real
    first_real = real[0].rows[0]
    import pyarrow.compute as pc
    from blazingaml.io.ibm_csv import accounts_path_for
    accounts = pq.read_table(accounts_path_for(parquet))
    keys = pc.binary_join_element_wise(accounts["bank"], accounts["account_id"], ":").to_pylist()
    hub = keys.index(f"{first_real[1]}:{first_real[2]}")
    mask = (table["src"].to_numpy() == hub) | (table["dst"].to_numpy() == hub)
    labels = table["label"].to_numpy()[mask]
    assert (labels == 0).any() and (labels == 1).any()
