"""The drifting world (generator/drift.py) and the prequential protocol run on it."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pyarrow as pa
import pytest

from blazingaml.io.patterns_txt import read_patterns
from blazingaml.io.transactions import load_transactions
from blazingaml.io.vocab import TIMESTAMP_FORMAT

from .conftest import DEV_PATTERNS, ROOT, cli

FAN = str(ROOT / "patterns" / "gfp" / "fan.pattern")
DAY = 86_400


def _ts(text: str) -> int:
    return int(dt.datetime.strptime(text, TIMESTAMP_FORMAT).replace(tzinfo=dt.timezone.utc).timestamp())


def test_moved_attempts_keep_their_shape_and_land_inside_the_period():
    from blazingaml.generator.drift import CHAIN_LIKE, moved_attempts

    real = read_patterns(DEV_PATTERNS)
    start, days = _ts("2030/01/10 00:00"), 4
    moved = moved_attempts(real, CHAIN_LIKE, start, days, budget=300)
    assert moved and sum(len(a.rows) for a in moved) <= 300
    assert {a.typology for a in moved} == set(CHAIN_LIKE)
    by_rows = {tuple(tuple(r[1:]) for r in a.rows): a for a in real}
    for a in moved:
        original = by_rows[tuple(tuple(r[1:]) for r in a.rows)]       # accounts, amounts, formats unchanged
        shifts = {_ts(m[0]) - _ts(o[0]) for m, o in zip(a.rows, original.rows)}
        assert len(shifts) == 1 and shifts.pop() % DAY == 0           # moved by whole days, as a whole
        times = [_ts(r[0]) for r in a.rows]
        assert start <= min(times) and max(times) < start + (days - 1) * DAY


@pytest.fixture(scope="module")
def drift_world(tmp_path_factory):
    from blazingaml.generator.drift import generate_drift
    from blazingaml.io.ibm_csv import convert_trans_csv

    out = tmp_path_factory.mktemp("drift")
    files = generate_drift(out, DEV_PATTERNS, scale=0.004, seed=3)
    convert_trans_csv(files.trans, out / "tx.parquet")
    return files, out / "tx.parquet"


def test_drift_world_keeps_its_people_and_changes_how_they_launder(drift_world):
    from blazingaml.generator.drift import DRIFT_PERIODS

    files, parquet = drift_world
    table, accounts = load_transactions(parquet)
    ts = table.column("ts").to_numpy()
    period = (ts - ts.min()) // (4 * DAY)
    assert period.max() == 2 and not list((files.trans.parent).glob(".Drift-periods"))
    src = table.column("src").to_numpy()
    first, last = set(src[period == 0]), set(src[period == 2])
    assert len(first & last) > 0.5 * len(first)          # the same accounts pay in the first and the last period
    label = table.column("label").to_numpy()
    rates = [label[period == p].mean() for p in range(3)]
    wanted = [p["preset"]["illicit_rate"] for p in DRIFT_PERIODS]
    assert np.argsort(rates).tolist() == np.argsort(wanted).tolist()


def _prequential(table, accounts, patterns, **kw):
    from blazingaml.pipeline import prequential

    return prequential(table, accounts, patterns, models=("gbt", "driftmoe"), window_days=1.0, train_days=3.0,
                       label_delay_days=0.5, threads=1, **kw)


def test_prequential_learns_only_from_labels_that_have_arrived(drift_world):
    """Shuffling every label that has not arrived when window W starts changes nothing that window
    W's scorers were given: their thresholds, and the results of the windows that ended before."""
    from blazingaml.dsl.parser import load_patterns

    _, parquet = drift_world
    table, accounts = load_transactions(parquet)
    patterns = load_patterns([FAN])
    before = _prequential(table, accounts, patterns)
    assert [w["window"] for w in before.windows] == list(range(4, 12))    # 12 days, 3.5 days of warm-up
    target = before.windows[3]
    ts, labels = table.column("ts").to_numpy(), table.column("label").to_numpy().copy()
    late = ts + DAY // 2 > target["start"]
    labels[late] = np.random.default_rng(1).permutation(labels[late])
    shuffled = table.set_column(table.column_names.index("label"), "label", pa.array(labels))
    after = _prequential(shuffled, accounts, patterns)
    for kind in ("gbt", "driftmoe"):
        assert after.windows[3]["models"][kind]["threshold"] == target["models"][kind]["threshold"], kind
        for w_before, w_after in zip(before.windows[:2], after.windows[:2]):
            assert w_after["models"][kind] == w_before["models"][kind], kind
    assert after.windows[5]["models"]["gbt"] != before.windows[5]["models"]["gbt"]   # later labels did matter


def test_prequential_from_the_command_line(drift_world, tmp_path):
    files, parquet = drift_world
    r = cli("evaluate", "--protocol", "prequential", "--transactions", str(parquet), "--patterns-file",
            str(files.patterns), "--patterns", FAN, "--train-days", "4", "--threads", "1", "--report",
            str(tmp_path / "report"), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["models"] == ["gbt", "driftmoe"] and len(out["windows"]) == 8
    assert sum(w["laundering"] for w in out["windows"]) > 0
    assert any(w.get("typologies") for w in out["windows"])
    md = (tmp_path / "report" / "report.md").read_text()
    assert "| gbt F1 | gbt PR-AUC | driftmoe F1 | driftmoe PR-AUC |" in md and "| mean |" in md
    assert (tmp_path / "report" / "prequential.png").stat().st_size > 0
    r = cli("evaluate", "--protocol", "prequential", "--transactions", str(parquet), "--patterns", FAN,
            "--model", "apem", "--report", str(tmp_path / "r2"))
    assert r.returncode == 1 and "apem" in r.stderr and "Traceback" not in r.stderr
