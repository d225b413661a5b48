"""Training and evaluation on the Dask engine equal the single-process engine's, on a real LocalCluster."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.test_distributed import LIBRARY, ROOT, cluster, world  # noqa: F401  (module fixtures)

pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def gfp():
    from blazingaml.dsl.parser import load_patterns

    return load_patterns([ROOT / "patterns" / "gfp" / "fan.pattern", ROOT / "patterns" / "gfp" / "cycles.pattern"])


def test_the_training_sample_is_the_single_process_sample(cluster, world, gfp, tmp_path):
    """Sampled legitimate rows (a budget far below the period's rows): same rows, order, features
    and weights as `training_rows` over the single-process feature table."""
    from blazingaml.distributed_learning import mined_features
    from blazingaml.io.transactions import load_transactions
    from blazingaml.pipeline import build_features, time_split, training_rows

    table, accounts = load_transactions(world)
    ft = build_features(table, accounts, gfp, threads=1)
    fit_idx, _ = time_split(ft.ts, table["tx_id"].to_numpy(), [0.8, 0.2])
    rows, weight = training_rows(ft.labels, fit_idx, max_rows=3_000, seed=7)
    assert weight is not None and len(rows) == 3_000
    with mined_features(cluster, world, gfp, tmp_path / "model", threads=1, max_rows=9_000) as parts:
        assert len(parts.files) >= 3 and parts.names == ft.names
        fit, _ = parts.periods([0.8, 0.2])
        X, y, got_weight, typology = parts.training_sample(fit, 3_000, 7, False)
        tx_ids = parts.column_values(fit, ["tx_id"])["tx_id"]
    assert typology is None
    np.testing.assert_array_equal(tx_ids, table["tx_id"].to_numpy()[fit_idx])
    np.testing.assert_array_equal(y, ft.labels[rows])
    np.testing.assert_array_equal(X, ft.matrix(rows))
    np.testing.assert_array_equal(got_weight, weight)
    assert not list(tmp_path.iterdir())                       # the feature parts are gone


def test_a_model_trained_on_dask_is_the_single_process_model(cluster, world, gfp, tmp_path):
    from blazingaml.distributed import score_distributed
    from blazingaml.distributed_learning import train_distributed
    from blazingaml.io.transactions import load_transactions
    from blazingaml.pipeline import score, train

    table, accounts = load_transactions(world)
    single = train(table, accounts, gfp, out=tmp_path / "one", threads=1)
    meta = train_distributed(cluster, world, gfp, tmp_path / "dask", threads=1, max_rows=9_000)
    assert meta == single and 0 < meta["threshold"] < 1
    assert (tmp_path / "dask" / "booster.txt").read_text() == (tmp_path / "one" / "booster.txt").read_text()
    one, dask = (json.loads((tmp_path / d / "model.json").read_text()) for d in ("one", "dask"))
    assert one == dask
    expected = score(tmp_path / "one", table, accounts, gfp, threads=1)[0]
    score_distributed(cluster, tmp_path / "dask", world, gfp, tmp_path / "scored", threads=1, max_rows=9_000)
    got = pq.read_table(tmp_path / "scored").sort_by("tx_id")
    assert got.equals(expected.sort_by("tx_id"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dask", "one", "scored"]


def test_evaluation_on_dask_is_the_single_process_evaluation(cluster, world, gfp, small_world, tmp_path):
    """The ibm protocol: thresholds on validation predictions made on the workers, recall per typology."""
    from blazingaml.distributed_learning import evaluate_distributed
    from blazingaml.io.patterns_txt import read_patterns
    from blazingaml.io.transactions import load_transactions
    from blazingaml.pipeline import evaluate, evaluation_json

    attempts = read_patterns(small_world[0].patterns)
    [single] = evaluate(*load_transactions(world), gfp, attempts=attempts, protocol="ibm", threads=1)
    got = evaluate_distributed(cluster, world, gfp, tmp_path / "report", attempts=attempts, protocol="ibm",
                               threads=1, max_rows=9_000)
    timings = ("seconds", "train_seconds", "score_rows_per_second")
    strip = lambda ev: {k: v for k, v in evaluation_json(ev).items() if k not in timings}   # noqa: E731
    assert strip(got) == strip(single)
    assert got.curves == single.curves and got.importance == single.importance
    assert got.typology_tx_recall == single.typology_tx_recall and len(got.ablation) >= 2
