"""DriftMoE-style streaming scorer: learns, predicts before it learns, honours the label delay,
stores its trees as JSON that predict exactly like river's, and reloads exactly."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("river", reason="the driftmoe scorer needs the [stream] extra (river)")

from blazingaml.errors import ModelError  # noqa: E402
from blazingaml.models import load_model, make_scorer, save_model  # noqa: E402
from blazingaml.models.driftmoe import correctness_mask  # noqa: E402
from blazingaml.models.hoeffding import TreeArrays, tree_from_dict, tree_to_dict  # noqa: E402
from blazingaml.models.router import Router  # noqa: E402

from .scorer_data import TYPOLOGIES, pr_auc, scorer_data  # noqa: E402

STREAM = slice(0, 4000)
SMALL = {"experts": 4, "top_k": 2, "block_rows": 256, "negative_rate": 0.2, "grace_period": 50}


@pytest.fixture(scope="module")
def data(dense_world):
    """Raw and typology-library columns only: river learns one row at a time, at a cost that grows
    with the number of features, and these tests are about the stream, not the feature set."""
    from blazingaml.dsl.parser import load_patterns

    files, parquet = dense_world
    return scorer_data(str(parquet), str(files.patterns)).only_patterns({p.name for p in load_patterns([TYPOLOGIES])})


@pytest.fixture(scope="module")
def trained(data):
    return make_scorer("driftmoe").fit(data.X_fit, data.y_fit, data.names, data.weight_fit)


def test_driftmoe_beats_a_constant_predictor(trained, data):
    assert pr_auc(data.y_test, trained.predict_proba(data.X_test)) > 4 * data.y_test.mean()
    assert max(len(tree_to_dict(e)["nodes"]) for e in trained.experts) > 1   # the experts grew


def test_prequential_scores_beat_a_constant_predictor(data):
    stream = slice(0, 8000)
    scorer = make_scorer("driftmoe", **SMALL)
    scores = scorer.prequential(data.X_stream[stream], data.y_stream[stream], data.ts_stream[stream], data.names)
    later = slice(2000, None)   # once the experts have seen some laundering
    y = data.y_stream[stream][later]
    assert pr_auc(y, scores[later]) > 3 * y.mean()


@pytest.mark.parametrize("delay", [0, 6 * 3600])
def test_prequential_predicts_before_the_label_arrives(data, delay):
    """Changing one label changes no score given before ts + delay, and some score after it."""
    X, y, ts = data.X_stream[STREAM], data.y_stream[STREAM].copy(), data.ts_stream[STREAM]
    settings = dict(SMALL, label_delay_seconds=delay)
    before = make_scorer("driftmoe", **settings).prequential(X, y, ts, data.names)
    row = 5 * SMALL["block_rows"]      # the first row of a block: predicted at the time its label arrives
    y[row] = 1 - y[row]
    after = make_scorer("driftmoe", **settings).prequential(X, y, ts, data.names)
    unseen = ts < ts[row] + delay
    unseen[:row + 1] = True            # the row itself and everything before it
    changed = np.flatnonzero(before != after)
    assert len(changed) and not unseen[changed].any()
    # with a delay, the first changed score comes from the first block that starts after ts + delay
    first_block = changed.min() // SMALL["block_rows"] * SMALL["block_rows"]
    assert ts[first_block] >= ts[row] + delay


def test_round_trip_predicts_the_same_and_keeps_learning(data, tmp_path):
    scorer = make_scorer("driftmoe", **SMALL)
    scorer.prequential(data.X_stream[STREAM], data.y_stream[STREAM], data.ts_stream[STREAM], data.names)
    save_model(tmp_path, scorer, {"threshold": 0.5, "features": data.names, "patterns": {}, "pattern_sources": {}})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["driftmoe.json", "driftmoe.npz", "model.json"]
    json.loads((tmp_path / "driftmoe.json").read_text())
    with np.load(tmp_path / "driftmoe.npz", allow_pickle=False) as arrays:
        assert all(arrays[k].dtype.kind in "fiub" for k in arrays.files)
    loaded, meta = load_model(tmp_path)
    assert meta["scorer"]["kind"] == "driftmoe"
    assert np.array_equal(scorer.predict_proba(data.X_test), loaded.predict_proba(data.X_test))
    # both continue the stream; the reloaded trees restart their split statistics, so they may diverge
    # later, but the first block is predicted identically and the reloaded model keeps learning
    more = slice(4000, 6000)
    args = data.X_stream[more], data.y_stream[more], data.ts_stream[more]
    steps, learned = loaded.router.steps, loaded.learned_weight.copy()
    original, reloaded = scorer.prequential(*args), loaded.prequential(*args)
    assert np.array_equal(original[:SMALL["block_rows"]], reloaded[:SMALL["block_rows"]])
    assert loaded.router.steps > steps and np.all(loaded.learned_weight > learned)


def test_training_is_deterministic_given_a_seed(data):
    def fit(seed):
        scorer = make_scorer("driftmoe", seed=seed, **SMALL)
        return scorer.fit(data.X_fit[:3000], data.y_fit[:3000], data.names).predict_proba(data.X_test)

    first = fit(1)
    assert np.array_equal(first, fit(1))
    assert not np.array_equal(first, fit(2))


def test_tree_arrays_predict_like_river_and_json_round_trips(data):
    from river import tree

    params = {"grace_period": 30, "delta": 1e-3, "leaf_prediction": "mc", "max_depth": 4}
    model = tree.HoeffdingTreeClassifier(**params)
    X = np.sign(data.X_fit) * np.log1p(np.abs(data.X_fit.astype(np.float64)))
    for row, label in zip(X.tolist(), data.y_fit.tolist()):   # enough rows to reach max_depth (inactive leaves)
        model.learn_one(dict(enumerate(row)), label, w=3.0 if label else 1.0)
    stored = tree_to_dict(model)
    assert len(stored["nodes"]) >= 7 and not all(n.get("active", True) for n in stored["nodes"])
    probe = np.concatenate([X[::10], np.sign(data.X_test[:500]) * np.log1p(np.abs(data.X_test[:500]))])
    expected = np.array([model.predict_proba_one(dict(enumerate(r))).get(1, 0.0) for r in probe.tolist()])
    assert np.array_equal(TreeArrays.from_dict(stored).predict_positive(probe), expected)
    rebuilt = tree_from_dict(json.loads(json.dumps(stored)), params)
    assert tree_to_dict(rebuilt) == stored
    assert all(rebuilt.predict_proba_one(dict(enumerate(r))).get(1, 0.0) == e for r, e in zip(probe.tolist(), expected))


def test_correctness_mask_for_rare_positives():
    positive = np.array([[0.9, 0.2, 0.6],    # laundering: experts 0 and 2 give it >= 0.5
                         [0.1, 0.3, 0.4],    # laundering, nobody right: the closest (2) is marked
                         [0.9, 0.2, 0.6],    # legitimate: only expert 1 is right
                         [0.7, 0.8, 0.9]])   # legitimate, nobody right: expert 0 is closest
    y = np.array([1, 1, 0, 0])
    assert correctness_mask(positive, y).tolist() == [[1, 0, 1], [0, 0, 1], [0, 1, 0], [1, 0, 0]]


def test_router_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    router = Router(5, 3, 4, 1e-3, rng)
    Z, mask, weight = rng.normal(size=(20, 5)), (rng.random((20, 3)) < 0.4).astype(float), rng.random(20) + 0.5
    _, grads = router.loss_and_gradients(Z, mask, weight)
    for name, param in router.params.items():
        for index in np.ndindex(param.shape):
            saved = param[index]
            param[index] = saved + 1e-6
            up, _ = router.loss_and_gradients(Z, mask, weight)
            param[index] = saved - 1e-6
            down, _ = router.loss_and_gradients(Z, mask, weight)
            param[index] = saved
            assert abs((up - down) / 2e-6 - grads[name][index]) < 1e-6, (name, index)


def test_stream_must_be_in_time_order(data):
    scorer = make_scorer("driftmoe", **SMALL)
    with pytest.raises(ModelError, match="time order"):
        rows = np.unique(data.ts_stream, return_index=True)[1][:10][::-1]   # ten distinct times, newest first
        scorer.prequential(data.X_stream[rows], data.y_stream[rows], data.ts_stream[rows], data.names)
    with pytest.raises(ModelError, match="top_k"):
        make_scorer("driftmoe", experts=2, top_k=3)
