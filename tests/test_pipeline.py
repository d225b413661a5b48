"""End to end: train -> score (with history and --explain) -> evaluate, on small generated data."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from blazingaml.errors import ModelError
from blazingaml.io.ibm_csv import accounts_path_for
from blazingaml.io.patterns_txt import join_attempts, read_patterns
from blazingaml.io.transactions import load_transactions

from .conftest import ROOT, cli, write_time_periods

GFP = str(ROOT / "patterns" / "gfp")
TYPOLOGIES = str(ROOT / "patterns" / "typologies")


@pytest.fixture(scope="module")
def split_world(embedded_world, tmp_path_factory):
    """The embedded world cut in two by time: an older file (history) and a newer one to score."""
    files, parquet = embedded_world
    out = tmp_path_factory.mktemp("split")
    rows = load_transactions(parquet)[0].num_rows
    cut = int(rows * 0.85)
    write_time_periods(parquet, out, {"old": (0, cut), "new": (cut, rows)})
    return files, parquet, out


@pytest.fixture(scope="module")
def model(split_world, tmp_path_factory):
    files, parquet, out = split_world
    model_dir = tmp_path_factory.mktemp("model")
    r = cli("train", "--input", str(out / "old.parquet"), "--patterns", GFP, TYPOLOGIES, "--out", str(model_dir),
            "--quiet")
    assert r.returncode == 0, r.stderr
    return model_dir


def test_a_model_mines_with_the_work_bound_it_was_trained_with(split_world, tmp_path):
    """`train --max-work` is recorded in model.json and scoring mines with it: with a bound that stops
    the cycle searches, the features scored are the bounded ones (saturated counts), not the exact ones."""
    from blazingaml.models import load_model
    from blazingaml.pipeline import build_features, model_patterns, score_rows

    files, parquet, out = split_world
    model_dir = tmp_path / "model"
    r = cli("train", "--input", str(out / "old.parquet"), "--patterns", str(ROOT / "patterns" / "gfp" / "cycles.pattern"),
            "--max-work", "1", "--out", str(model_dir), "--quiet")
    assert r.returncode == 0, r.stderr
    scorer, meta = load_model(model_dir)
    assert meta["max_work"] == 1
    table, accounts = load_transactions(out / "new.parquet")
    patterns = model_patterns(meta)
    ft, _, _ = score_rows(scorer, meta, table, accounts, patterns, np.arange(table.num_rows))
    bounded = build_features(table, accounts, patterns, max_work=1)
    exact = build_features(table, accounts, patterns)
    assert np.array_equal(ft.mined, bounded.mined)
    assert not np.array_equal(bounded.mined, exact.mined)      # the bound binds on this data


def test_max_work_must_be_a_positive_number_of_steps(tmp_path):
    for bad in ("0", "-5", "lots"):
        r = cli("evaluate", "--transactions", str(tmp_path / "none.parquet"), "--report", str(tmp_path / "r"),
                "--max-work", bad)
        assert r.returncode == 2 and "whole number of steps" in r.stderr and "Traceback" not in r.stderr


def test_cli_work_bound_default_is_the_runtime_default():
    import argparse

    from blazingaml.cli_patterns import add_max_work
    from blazingaml.runtime import DEFAULT_MAX_WORK

    p = argparse.ArgumentParser()
    add_max_work(p)
    assert p.parse_args([]).max_work == DEFAULT_MAX_WORK
    assert p.parse_args(["--max-work", "10,000"]).max_work == 10_000


def test_model_directory_round_trip(model):
    meta = json.loads((model / "model.json").read_text())
    assert meta["scorer"]["kind"] == "gbt" and 0 < meta["threshold"] < 1
    assert "fan_in.2" in meta["features"] and "log_amount_paid" in meta["features"]
    assert set(meta["patterns"]) >= {"fan_in", "scatter_gather", "aml_cycle"}
    assert (model / "booster.txt").read_text().startswith("tree")
    assert not list(model.glob("*.pkl")) and not list(model.glob("*.pickle"))
    from blazingaml.models import load_model

    scorer, meta2 = load_model(model)
    assert meta2 == meta


def test_score_with_history_and_explain(model, split_world, tmp_path):
    files, parquet, out = split_world
    scored = tmp_path / "scored.parquet"
    r = cli("score", "--model", str(model), "--input", str(out / "new.parquet"), "--history", str(out / "old.parquet"),
            "--output", str(scored), "--explain", "--quiet")
    assert r.returncode == 0, r.stderr
    table = pq.read_table(scored)
    new = pq.read_table(out / "new.parquet")
    assert table.num_rows == new.num_rows
    assert table.column_names == new.column_names + ["from_bank", "from_account", "to_bank", "to_account",
                                                     "score", "alert"]
    assert table["tx_id"].equals(new["tx_id"])
    alerts = table["alert"].to_numpy()
    lines = [json.loads(x) for x in scored.with_suffix(".alerts.jsonl").read_text().splitlines()]
    assert len(lines) == alerts.sum() > 0
    # explanations against the generator's ground truth: instances of an alerted attempt
    # transaction name transactions, and at least one alert's instances hit its own attempt
    tx = pq.read_table(files.trans.parent / "tx.parquet").to_pandas()
    acc = pq.read_table(accounts_path_for(files.trans.parent / "tx.parquet")).to_pandas()
    joined = join_attempts(tx, acc, read_patterns(files.patterns))
    attempt_of = dict(zip(tx["tx_id"], joined["attempt_id"]))
    offset = int(pq.read_table(out / "old.parquet")["tx_id"].to_numpy().max()) + 1
    hits = 0
    names = {(b, a) for b, a in zip(acc["bank"], acc["account_id"])}
    key_of = dict(zip(acc["account"], zip(acc["bank"], acc["account_id"])))
    new_tx = new.to_pandas()
    # the scores name each row's accounts as the input did
    assert list(zip(table["from_bank"].to_pylist(), table["from_account"].to_pylist())) == \
        [key_of[a] for a in new_tx["src"]]
    assert list(zip(table["to_bank"].to_pylist(), table["to_account"].to_pylist())) == \
        [key_of[a] for a in new_tx["dst"]]
    for alert in lines:
        original = alert["tx_id"] - offset
        assert new["tx_id"].to_numpy()[alert["row"]] == original
        for inst in alert["instances"]:
            assert inst["transactions"] and inst["pattern"]
            closing = [t for t in inst["transactions"] if t["tx_id"] == alert["tx_id"]]
            assert len(closing) == 1   # the closing edge, its accounts named as the input named them
            row = new_tx.iloc[alert["row"]]
            assert (closing[0]["from"]["bank"], closing[0]["from"]["account"]) == key_of[row["src"]]
            assert (closing[0]["to"]["bank"], closing[0]["to"]["account"]) == key_of[row["dst"]]
            assert all((a["bank"], a["account"]) in names for a in inst["accounts"])
            members = {attempt_of.get(t["tx_id"] - offset if t["tx_id"] >= offset else t["tx_id"], -1)
                       for t in inst["transactions"]}
            if attempt_of.get(original, -1) >= 0 and attempt_of[original] in members and len(inst["transactions"]) > 1:
                hits += 1
    assert hits > 0


def test_score_rejects_other_patterns(model, split_world, tmp_path):
    _, _, out = split_world
    r = cli("score", "--model", str(model), "--input", str(out / "new.parquet"), "--patterns", GFP,
            "--output", str(tmp_path / "x.parquet"))
    assert r.returncode == 1 and "differ from those the model was trained with" in r.stderr
    assert "Traceback" not in r.stderr
    r = cli("score", "--model", str(tmp_path), "--input", str(out / "new.parquet"), "--output", str(tmp_path / "x.parquet"))
    assert r.returncode == 1 and "not a model directory" in r.stderr


def test_schema_mismatch_is_a_clear_error(model, split_world):
    from blazingaml.dsl.parser import load_patterns
    from blazingaml.pipeline import score

    _, _, out = split_world
    table, accounts = load_transactions(out / "new.parquet")
    with pytest.raises(ModelError, match="lacks columns"):
        score(model, table.drop(["payment_format"]), accounts, load_patterns([GFP, TYPOLOGIES]))


def test_evaluate_json_and_report(embedded_world, tmp_path):
    files, parquet = embedded_world
    r = cli("evaluate", "--transactions", str(parquet), "--patterns-file", str(files.patterns), "--patterns", GFP,
            "--report", str(tmp_path / "report"), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)  # stdout holds only the JSON object
    assert out["protocol"] == "paper" and list(out["models"]) == ["gbt"]
    result = out["models"]["gbt"]
    assert set(result) >= {"f1", "precision", "recall", "pr_auc", "confusion", "ablation", "typology_recall",
                           "settings", "train_seconds", "score_rows_per_second", "seconds"}
    assert [a["features"] for a in result["ablation"]] == ["raw", "+fan", "+degree", "+cycle", "+scatter-gather",
                                                         "+vertex statistics"]
    assert set(result["confusion"]) == {"tp", "fp", "fn", "tn"} and sum(result["confusion"].values()) > 0
    assert result["typology_recall"] and all(0 <= v <= 1 for v in result["typology_recall"].values())
    for f in ("report.md", "report.html", "pr_curve.png", "score_histogram.png", "feature_importance.png",
              "typology_recall.png"):
        assert (tmp_path / "report" / f).stat().st_size > 0


def test_ibm_protocol(embedded_world, tmp_path):
    from blazingaml.dsl.parser import load_patterns
    from blazingaml.pipeline import day_split, evaluate

    files, parquet = embedded_world
    table, accounts = load_transactions(parquet)
    [ev] = evaluate(table, accounts, load_patterns([str(ROOT / "patterns" / "gfp" / "fan.pattern")]), protocol="ibm",
                    ablation=False)
    c = ev.metrics["confusion"]
    ts = table.column("ts").to_numpy()
    *before, test = day_split(ts, table.column("tx_id").to_numpy(), [0.6, 0.2, 0.2])   # test: the last whole days
    day = (ts - ts.min()) // 86400
    assert sum(c.values()) == len(test) and day[test].min() > day[np.concatenate(before)].max()
    assert 0 <= ev.metrics["threshold"] <= 1


def test_history_scores_equal_scoring_the_whole_period(model, split_world):
    """Scoring the newer file with the older one as history gives each new row exactly the score it
    gets when the two periods are scored as one file: same windows, same accounts, same banks."""
    from blazingaml.dsl.parser import load_patterns
    from blazingaml.pipeline import score

    _, parquet, out = split_world
    patterns = load_patterns([GFP, TYPOLOGIES])
    full, full_acc = load_transactions(parquet)
    new, new_acc = load_transactions(out / "new.parquet")
    old, old_acc = load_transactions(out / "old.parquet")
    with_history, _ = score(model, new, new_acc, patterns, history=[(old, old_acc)])
    whole, _ = score(model, full, full_acc, patterns)
    by_tx = dict(zip(whole["tx_id"].to_numpy(), whole["score"].to_numpy()))
    expected = np.array([by_tx[t] for t in new["tx_id"].to_numpy()])
    assert np.array_equal(with_history["score"].to_numpy(), expected)


def test_training_rows_keep_every_positive_and_weight_the_sample():
    from blazingaml.pipeline import training_rows

    labels = np.zeros(10_000, np.int8)
    labels[::97] = 1
    rows = np.arange(2_000, 10_000)
    same, none = training_rows(labels, rows, max_rows=8_000)
    assert none is None and np.array_equal(same, rows)
    chosen, weight = training_rows(labels, rows, max_rows=1_000, seed=1)
    assert len(chosen) == 1_000 and np.all(np.diff(chosen) > 0) and set(chosen) <= set(rows)
    positives = rows[labels[rows] == 1]
    assert set(positives) <= set(chosen)
    negatives = len(rows) - len(positives)
    # weights restore the legitimate total, so probabilities keep their scale
    assert np.isclose(weight[labels[chosen] == 0].sum(), negatives)
    assert np.all(weight[labels[chosen] == 1] == 1.0)


def test_feature_matrix_blocks_match_the_columns():
    import pandas as pd

    from blazingaml.pipeline import BATCH_ROWS, FeatureTable

    m = BATCH_ROWS + 17
    rng = np.random.default_rng(0)
    raw = pd.DataFrame({"a": rng.normal(size=m), "b": rng.integers(0, 5, m).astype(np.int16)})
    mined = rng.integers(0, 60_000, (m, 3)).astype(np.uint16)
    ft = FeatureTable(raw, mined, None, np.arange(m), ["p.1", "p.2", "q.1"])
    rows = np.array([m - 1, 0, BATCH_ROWS, 5])
    got = ft.matrix(rows, ["q.1", "a", "p.1"])
    assert got.dtype == np.float32
    expected = np.stack([mined[rows, 2], raw["a"].to_numpy()[rows], mined[rows, 0]], axis=1).astype(np.float32)
    assert np.array_equal(got, expected)
    assert ft.matrix(np.arange(m)).shape == (m, 5)


def test_named_emit_values_are_kept_apart_from_the_counts(small_world):
    """Vertex statistics (named emits) make the mined matrix float32; the feature table keeps the counts
    as uint16 and only the named values as float32, and hands scorers the same values in the same order."""
    from blazingaml.dsl.parser import load_patterns
    from blazingaml.pipeline import build_features
    from blazingaml.runtime import compile_patterns, mine_graph

    table, accounts = load_transactions(small_world[1])
    patterns = load_patterns([ROOT / "patterns" / "gfp" / "vertex_stats.pattern", ROOT / "patterns" / "gfp" / "fan.pattern"])
    ft = build_features(table, accounts, patterns)
    whole = mine_graph(ft.graph, compile_patterns(patterns), dtype=np.uint16)
    assert whole.dtype == np.float32 and ft.mined.dtype == np.uint16 and ft.named.dtype == np.float32
    assert ft.mined.shape[1] + ft.named.shape[1] == whole.shape[1] and ft.named.shape[1] > 0
    rows = np.arange(len(ft))
    assert np.array_equal(ft.matrix(rows, ft.pattern_columns), whole)


def test_history_look_back_reaches_a_lagged_window_past_a_gap(tmp_path):
    """The first transaction after a gap longer than the vertex statistics' 480h lagged window sees
    480h before the last transaction before the gap: scoring the new period with the old one as
    history equals scoring the whole period, while history no window reaches is left out (a
    look-back of 480h before the first new transaction would leave out all of it)."""
    import pyarrow as pa

    from blazingaml.dsl.parser import load_patterns
    from blazingaml.features import mine_table
    from blazingaml.io.ibm_csv import ACCOUNT_SCHEMA
    from blazingaml.pipeline import score, train
    from blazingaml.pipeline.score import _within_look_back

    from .gap_world import FIRST_AFTER_GAP, gap_transactions

    table, times = gap_transactions()
    accounts = pa.table([pa.array(np.arange(30, dtype=np.int32)), pa.array([f"B{a % 3}" for a in range(30)]),
                         pa.array([f"A{a}" for a in range(30)])], schema=ACCOUNT_SCHEMA)
    patterns = load_patterns([ROOT / "patterns" / "gfp" / "vertex_stats.pattern"])
    degree = mine_table(table, accounts, patterns, threads=1).table["vertex_stats.src_out_degree"].to_numpy()
    table = table.append_column("label", pa.array((degree >= 2).astype(np.int8)))   # a model that reads the degree
    model = tmp_path / "model"
    train(table, accounts, patterns, out=model, threads=1)
    new = table["ts"].to_numpy() >= times["resumed"]
    old_rows, new_rows = table.filter(pa.array(~new)), table.filter(pa.array(new))
    whole, _ = score(model, table, accounts, patterns, threads=1)
    with_history, _ = score(model, new_rows, accounts, patterns, history=[(old_rows, accounts)], threads=1)
    without, _ = score(model, new_rows, accounts, patterns, threads=1)
    first = new_rows["tx_id"].to_pylist().index(FIRST_AFTER_GAP)
    assert without["score"][first] != whole["score"][FIRST_AFTER_GAP]     # the look-back matters to the model
    assert np.array_equal(with_history["score"].to_numpy(), whole["score"].to_numpy()[new])

    kept, kept_new = _within_look_back(table, new, patterns)
    assert kept_new.sum() == new.sum()
    reach = times["last_before_gap"] - 480 * 3600
    assert kept["ts"].to_numpy()[~kept_new].min() >= reach > table["ts"].to_numpy().min()
