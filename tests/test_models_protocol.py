"""The scorer registry: optional libraries load lazily with a clear message, model files are never
unpickled, and `train --model apem|driftmoe` works from the command line."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest

from blazingaml.errors import BackendUnavailable, ModelError
from blazingaml.io.model_files import write_model_directory
from blazingaml.models import load_model, make_scorer
from blazingaml.models.storage import load_arrays, save_arrays

from .conftest import cli, write_time_periods
from .scorer_data import PATTERNS


def test_importing_the_pipeline_loads_neither_torch_nor_river():
    code = ("import sys, blazingaml.cli, blazingaml.pipeline, blazingaml.models; "
            "print(sorted(m for m in ('torch', 'river') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("kind, module, extra", [("apem", "torch", "mtl"), ("driftmoe", "river", "stream")])
def test_a_missing_extra_names_its_pip_extra(kind, module, extra, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, module, None)       # import of `module` now fails, as when not installed
    with pytest.raises(BackendUnavailable) as info:
        make_scorer(kind)
    assert f"'{module}'" in str(info.value) and f"blazingaml[{extra}]" in info.value.hint
    write_model_directory(tmp_path, lambda d: (d / ("apem.npz" if kind == "apem" else "driftmoe.json")).write_text(""),
                          {"scorer": {"kind": kind}, "features": ["amount"], "patterns": {}, "pattern_sources": {},
                           "threshold": 0.5})
    with pytest.raises(BackendUnavailable, match=module):
        load_model(tmp_path)


def test_model_arrays_refuse_pickled_objects(tmp_path):
    with pytest.raises(ValueError, match="Python objects"):
        save_arrays(tmp_path / "a.npz", {"x": np.array([{"a": 1}], dtype=object)})
    np.savez(tmp_path / "evil.npz", x=np.array([{"a": 1}], dtype=object))   # a pickle inside an npz
    with pytest.raises(ModelError, match="cannot read model arrays"):
        load_arrays(tmp_path / "evil.npz")
    save_arrays(tmp_path / "ok.npz", {"w": np.arange(3.0)})
    assert load_arrays(tmp_path / "ok.npz")["w"].tolist() == [0.0, 1.0, 2.0]


@pytest.fixture(scope="module")
def periods(dense_world, tmp_path_factory):
    """The first 24,000 transactions by time (to train on: a few hundred laundering rows; the first
    8,000 held too few for the multi-task scorer to alert on anything) and the next 2,000 (to score)."""
    out = tmp_path_factory.mktemp("periods")
    write_time_periods(dense_world[1], out, {"early": (0, 24_000), "late": (24_000, 26_000)})
    return out


def test_apem_without_attempts_stops_before_mining(periods, tmp_path):
    if importlib.util.find_spec("torch") is None:
        pytest.skip("the apem scorer needs the [mtl] extra (torch==2.13.0)")
    r = cli("train", "--input", str(periods / "early.parquet"), "--model", "apem", "--out", str(tmp_path / "m"),
            "--quiet")
    assert r.returncode != 0 and "needs the laundering attempts" in r.stderr and "--patterns-file" in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "m").exists()


@pytest.mark.parametrize("kind, module, files", [("apem", "torch", ["apem.json", "apem.npz"]),
                                                 ("driftmoe", "river", ["driftmoe.json", "driftmoe.npz"])])
def test_train_and_score_from_the_command_line(kind, module, files, periods, dense_world, tmp_path):
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"the {kind} scorer needs {module}")
    world, _ = dense_world
    model = tmp_path / "model"
    r = cli("train", "--input", str(periods / "early.parquet"), "--patterns", *PATTERNS, "--model", kind,
            "--patterns-file", str(world.patterns), "--out", str(model), "--threads", "1", "--quiet")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in model.iterdir()) == sorted(files + ["model.json"])
    meta = json.loads((model / "model.json").read_text())
    assert meta["scorer"]["kind"] == kind and 0 <= meta["threshold"] <= 1
    scored = tmp_path / "scored.parquet"
    r = cli("score", "--model", str(model), "--input", str(periods / "late.parquet"), "--output", str(scored),
            "--explain", "--quiet")
    assert r.returncode == 0, r.stderr
    out = pq.read_table(scored)
    scores = out["score"].to_numpy()
    assert out.num_rows == 2_000 and "alert" in out.column_names and 0 <= scores.min() and scores.max() <= 1
    alerts = [json.loads(line) for line in scored.with_suffix(".alerts.jsonl").read_text().splitlines()]
    assert len(alerts) == out["alert"].to_numpy().sum() > 0
    for alert in alerts:   # the multi-task scorer also names the typology it sees
        assert ("typology" in alert) == (kind == "apem")
        if kind == "apem":
            assert abs(sum(alert["typology"].values()) - 1) < 1e-3 and 0 <= alert["in_attempt"] <= alert["score"] + 1e-6
