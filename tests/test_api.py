"""The Python API: pandas in, DataFrames out, the same numbers as the command line."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

import blazingaml.api as bz
from blazingaml.dsl.errors import PatternError
from blazingaml.errors import BlazingError

from .conftest import ROOT

GFP = ROOT / "patterns" / "gfp"


@pytest.fixture(scope="module")
def frame(small_world):
    """The small world's Trans.csv as pandas reads it."""
    files, _ = small_world
    return pd.read_csv(files.trans, dtype={"From Bank": str, "To Bank": str, "Account": str, "Account.1": str})


def test_compile_patterns_picks_names():
    patterns = bz.compile_patterns(GFP, only=["fan_out", "fan_in"])
    assert [p.name for p in patterns] == ["fan_in", "fan_out"]
    with pytest.raises(PatternError, match="no pattern named nope"):
        bz.compile_patterns(GFP, only=["nope"])


def test_transformer_in_a_sklearn_pipeline(frame, small_world):
    _, parquet = small_world
    pipe = Pipeline([("features", bz.PatternFeatures(patterns=str(GFP / "fan.pattern"), threads=2)),
                     ("model", LogisticRegression(max_iter=200))])
    y = frame["Is Laundering"].to_numpy()
    pipe.fit(frame, y)
    p = pipe.predict_proba(frame)[:, 1]
    assert p.shape == (len(frame),) and np.isfinite(p).all()
    features = pipe.named_steps["features"]
    X = features.transform(frame)
    assert list(X.columns) == list(features.get_feature_names_out())
    # the pattern columns are the counts `mine` gives, on any form of the same data
    mined = bz.mine(parquet, features.patterns_, threads=2)
    pattern_columns = [c for c in X.columns if c.startswith("fan_")]
    assert len(pattern_columns) > 2 and X[pattern_columns].to_numpy().any()
    np.testing.assert_array_equal(X[pattern_columns].to_numpy(), mined[pattern_columns].to_numpy())
    assert X["log_amount_paid"].to_numpy() == pytest.approx(np.log1p(frame["Amount Paid"].to_numpy()), rel=1e-6)
    # clones are unfitted and refit alike (scikit-learn's parameter protocol)
    again = clone(pipe).fit(frame, y)
    np.testing.assert_array_equal(again.predict_proba(frame), pipe.predict_proba(frame))
    with pytest.raises(BlazingError, match="not fitted"):
        clone(features).transform(frame)


def test_train_and_score_round_trip(frame, small_world, tmp_path):
    files, _ = small_world
    patterns = bz.compile_patterns(GFP, only=["fan_in", "fan_out"])
    meta = bz.train(frame, patterns, out=tmp_path / "model", threads=2)
    assert meta["patterns"].keys() == {"fan_in", "fan_out"}
    scored = bz.score(tmp_path / "model", frame, explain=True, threads=2)
    assert len(scored) == len(frame)
    assert scored[["from_bank", "from_account", "to_bank", "to_account"]].to_numpy().tolist() == \
        frame[["From Bank", "Account", "To Bank", "Account.1"]].to_numpy().tolist()
    assert scored["alert"].sum() > 0
    assert scored["explanation"].notna().to_numpy().tolist() == scored["alert"].tolist()
    # the command line, on the CSV, with the model the API trained: the same scores
    out = tmp_path / "scored.parquet"
    r = subprocess.run([sys.executable, "-m", "blazingaml.cli", "score", "--model", str(tmp_path / "model"),
                        "--input", str(files.trans), "--output", str(out), "--threads", "2", "--quiet"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    np.testing.assert_array_equal(pq.read_table(out)["score"].to_numpy(), scored["score"].to_numpy())


def test_unmapped_tables_and_wrong_types_are_clear_errors(frame):
    with pytest.raises(BlazingError, match="neither the IBM columns"):
        bz.read_transactions(frame.rename(columns={"Timestamp": "time"}))
    table, _ = bz.read_transactions(frame.rename(columns={"Timestamp": "time"}),
                                    columns={"ts": "time", "src": "Account", "dst": "Account.1", "amount": "Amount Paid"})
    assert table.num_rows == len(frame)
    with pytest.raises(BlazingError, match="not list"):
        bz.read_transactions([1, 2, 3])
