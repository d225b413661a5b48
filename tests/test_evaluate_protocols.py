"""evaluate's protocols: whole-day splits, successive halving on validation only, every scorer in one
report, and transfer to a world whose attempts the model never saw."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blazingaml.errors import BlazingError
from blazingaml.io.patterns_txt import read_patterns, split_attempts, write_patterns
from blazingaml.io.transactions import load_transactions
from blazingaml.pipeline import day_split

from .conftest import DEV_PATTERNS, ROOT, cli

FAN = str(ROOT / "patterns" / "gfp" / "fan.pattern")
DAY = 86_400


def brute_force_day_cut(per_day: list[int], fractions: list[float]) -> float:
    """The least largest relative error over every cut of the days into len(fractions) non-empty runs."""
    total = sum(per_day)
    best = float("inf")
    for cut in itertools.combinations(range(1, len(per_day)), len(fractions) - 1):
        bounds = [0, *cut, len(per_day)]
        sizes = [sum(per_day[a:b]) for a, b in zip(bounds, bounds[1:])]
        if all(sizes):
            best = min(best, max(abs(n / total - f) / f for n, f in zip(sizes, fractions)))
    return best


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 50), min_size=4, max_size=12).filter(lambda d: sum(d[1:-1]) > 0), st.integers(0, 2**40), st.integers(0, 2**32 - 1))
def test_day_split_cuts_whole_days_with_the_least_largest_error(per_day, start, seed):
    """Days count from the first transaction (Multi-GNN's t0), whatever its time of day."""
    rng = np.random.default_rng(seed)
    per_day = [1] + per_day[1:-1] + [1]        # the first and last day hold transactions
    ts = np.concatenate([start + d * DAY + (np.zeros(1, np.int64) if d == 0 else rng.integers(0, DAY, n)) for d, n in
                         enumerate(per_day)])
    ts = rng.permutation(ts)
    parts = day_split(ts, None, [0.6, 0.2, 0.2])
    assert sorted(np.concatenate(parts).tolist()) == list(range(len(ts)))   # every row once
    day = (ts - ts.min()) // DAY
    for earlier, later in zip(parts, parts[1:]):
        assert len(earlier) and len(later) and day[earlier].max() < day[later].min()   # whole days, in order
    for part in parts:
        assert np.all(np.diff(ts[part]) >= 0)                                     # time order within a period
    counts = np.bincount(day, minlength=len(per_day))
    shares = np.array([len(p) for p in parts]) / len(ts)
    error = np.max(np.abs(shares - [0.6, 0.2, 0.2]) / [0.6, 0.2, 0.2])
    assert error == pytest.approx(brute_force_day_cut(counts.tolist(), [0.6, 0.2, 0.2]))


def test_day_split_needs_three_days_with_transactions():
    with pytest.raises(BlazingError, match="whole days"):
        day_split(np.array([0, 10, 2 * DAY, 2 * DAY + 5]), None, [0.6, 0.2, 0.2])


def test_successive_halving_keeps_the_best_half_and_doubles_their_rows():
    from blazingaml.pipeline.tuning import FIRST_SHARE, successive_halving

    calls = []

    def fit_score(settings, rows):      # a validation score that prefers learning rates near 0.05
        calls.append((settings["learning_rate"], len(rows)))
        return -abs(np.log(settings["learning_rate"] / 0.05))

    best, trace = successive_halving("gbt", fit_score, 1000, configurations=8, seed=3)
    assert [t["rung"] for t in trace] == [0] * 8 + [1] * 4 + [2] * 2
    assert [n for _, n in calls] == [100] * 8 + [200] * 4 + [400] * 2
    assert trace[0]["share"] == FIRST_SHARE
    drawn = [t["settings"] for t in trace if t["rung"] == 0]
    assert best == max(drawn, key=lambda s: -abs(np.log(s["learning_rate"] / 0.05)))
    survivors = [t["settings"] for t in trace if t["rung"] == 1]
    ranked = sorted(drawn, key=lambda s: abs(np.log(s["learning_rate"] / 0.05)))
    assert survivors == ranked[:4]          # best first


def test_attempt_halves_are_disjoint_and_balanced_per_typology():
    attempts = read_patterns(DEV_PATTERNS)
    first, second = split_attempts(attempts)
    assert len(first) + len(second) == len(attempts)
    key = lambda a: (a.typology, tuple(map(tuple, a.rows)))   # noqa: E731
    assert {key(a) for a in first}.isdisjoint({key(a) for a in second})
    for typology in {a.typology for a in attempts}:
        n1 = sum(a.typology == typology for a in first)
        n2 = sum(a.typology == typology for a in second)
        assert n1 - n2 in (0, 1)
    assert [a.attempt_id for a in second] == list(range(len(second)))


def test_tuning_never_looks_at_the_test_period(dense_world):
    """Shuffling the test period's labels changes neither the chosen settings nor the threshold."""
    from blazingaml.dsl.parser import load_patterns
    from blazingaml.pipeline import evaluate

    files, parquet = dense_world
    table, accounts = load_transactions(parquet)
    attempts = read_patterns(files.patterns)
    patterns = load_patterns([FAN])
    test = day_split(table.column("ts").to_numpy(), table.column("tx_id").to_numpy(), [0.6, 0.2, 0.2])[2]
    labels = table.column("label").to_numpy().copy()
    labels[test] = np.random.default_rng(0).permutation(labels[test])
    shuffled = table.set_column(table.column_names.index("label"), "label", pa.array(labels))
    runs = [evaluate(t, accounts, patterns, attempts=attempts, protocol="ibm", ablation=False, tune=True,
                     tune_configurations=2)[0] for t in (table, shuffled)]
    assert runs[0].tuning and runs[0].settings in [t["settings"] for t in runs[0].tuning]
    assert runs[0].settings == runs[1].settings and runs[0].tuning == runs[1].tuning
    assert runs[0].metrics["threshold"] == runs[1].metrics["threshold"]
    assert runs[0].metrics["confusion"] != runs[1].metrics["confusion"]   # the test labels did change


def test_tuning_needs_a_validation_period(dense_world):
    files, parquet = dense_world
    r = cli("evaluate", "--transactions", str(parquet), "--patterns", FAN, "--tune", "--report", "unused")
    assert r.returncode == 1 and "validation period" in r.stderr and "--protocol ibm" in r.stderr


def test_every_installed_scorer_in_one_report(dense_world, tmp_path):
    from blazingaml.models import installed_scorers

    files, parquet = dense_world
    r = cli("evaluate", "--transactions", str(parquet), "--patterns-file", str(files.patterns), "--patterns", FAN,
            "--protocol", "ibm", "--model", "all", "--no-ablation", "--threads", "1", "--report",
            str(tmp_path / "report"), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert list(out["models"]) == installed_scorers() and {"gbt", "apem", "driftmoe"} <= set(out["models"])
    confusions = {k: sum(v["confusion"].values()) for k, v in out["models"].items()}
    assert len(set(confusions.values())) == 1          # the same test period for every scorer
    positives = out["models"]["gbt"]["confusion"]["tp"] + out["models"]["gbt"]["confusion"]["fn"]
    assert positives > 0
    for kind, result in out["models"].items():
        assert result["pr_auc"] > positives / confusions[kind], kind     # better than a constant score
    md = (tmp_path / "report" / "report.md").read_text()
    for kind in out["models"]:
        assert f"| {kind} | " in md
    saved = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert list(saved["models"]) == list(out["models"]) and "train_seconds" not in saved["models"]["gbt"]


def test_unknown_scorer_is_one_clear_error(dense_world):
    _, parquet = dense_world
    r = cli("evaluate", "--transactions", str(parquet), "--patterns", FAN, "--model", "gbt,forest",
            "--report", "unused")
    assert r.returncode == 1 and "forest" in r.stderr and "hint" in r.stderr and "Traceback" not in r.stderr


@pytest.fixture(scope="module")
def transfer_worlds(tmp_path_factory):
    """Two small worlds holding the two halves of the dev attempts, dense enough to learn from."""
    from blazingaml.generator import generate, load_preset
    from blazingaml.io.ibm_csv import convert_trans_csv

    root = tmp_path_factory.mktemp("transfer")
    preset = {**load_preset("hi-small-like"), "illicit_rate": 0.03}
    worlds = []
    for name, half, seed in zip("AB", split_attempts(read_patterns(DEV_PATTERNS)), (5, 6)):
        write_patterns(root / f"half{name}.txt", half)
        files = generate(root / name, preset=preset, scale=0.01, seed=seed, embed_patterns=root / f"half{name}.txt")
        convert_trans_csv(files.trans, root / name / "tx.parquet")
        worlds.append((files, root / name / "tx.parquet"))
    return worlds


def test_transfer_scores_every_transaction_and_attempt_of_the_other_world(transfer_worlds, tmp_path):
    from blazingaml.io.patterns_txt import join_attempts
    from blazingaml.io.vocab import TYPOLOGIES

    (files_a, world_a), (files_b, world_b) = transfer_worlds
    r = cli("evaluate", "--protocol", "transfer", "--transactions", str(world_a), "--patterns-file",
            str(files_a.patterns), "--test-transactions", str(world_b), "--test-patterns-file", str(files_b.patterns),
            "--patterns", FAN, "--no-ablation", "--report", str(tmp_path / "report"), "--json")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)["models"]["gbt"]
    table_b, accounts_b = load_transactions(world_b)
    assert sum(result["confusion"].values()) == table_b.num_rows
    joined = join_attempts(table_b.to_pandas(), accounts_b.to_pandas(), read_patterns(files_b.patterns))
    present = {TYPOLOGIES[t] for t in joined["typology"][joined["attempt_id"] >= 0]}
    assert set(result["typology_recall"]) == present     # every typology of B, from every one of its attempts
    assert "every attempt of the test world" in (tmp_path / "report" / "report.md").read_text()


def test_transfer_needs_the_other_world(dense_world):
    _, parquet = dense_world
    r = cli("evaluate", "--protocol", "transfer", "--transactions", str(parquet), "--patterns", FAN,
            "--report", "unused")
    assert r.returncode == 1 and "--test-transactions" in r.stderr
