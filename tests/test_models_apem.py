"""APEM-style multi-task scorer: learns the funnel, keeps it monotone, saves without pickle, reloads exactly."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the apem scorer needs the [mtl] extra (torch==2.13.0)")

from blazingaml.errors import ModelError  # noqa: E402
from blazingaml.models import load_model, make_scorer, save_model  # noqa: E402
from blazingaml.models.apem import field_of_column  # noqa: E402
from blazingaml.models.apem_network import chained_loss, funnel_log_probs, log1mexp  # noqa: E402

from .scorer_data import pr_auc, scorer_data  # noqa: E402

SETTINGS = {"epochs": 3, "batch_rows": 256, "learning_rate": 3e-3}   # ~120 Adam steps on 10k rows


@pytest.fixture(scope="module")
def data(dense_world):
    files, parquet = dense_world
    return scorer_data(str(parquet), str(files.patterns))


@pytest.fixture(scope="module")
def trained(data):
    return make_scorer("apem", threads=1, **SETTINGS).fit(data.X_fit, data.y_fit, data.names, data.weight_fit,
                                                          data.typology_fit)


def test_apem_beats_a_constant_predictor(trained, data):
    base = data.y_test.mean()
    assert pr_auc(data.y_test, trained.predict_proba(data.X_test)) > 4 * base


def test_funnel_is_monotone_on_every_row(trained, data):
    funnel = trained.predict_funnel(np.concatenate([data.X_fit, data.X_test]))
    laundering, in_pattern, typology = funnel["laundering"], funnel["in_pattern"], funnel["typology"]
    assert np.all(typology <= in_pattern[:, None]) and np.all(in_pattern <= laundering)
    assert np.all(typology.sum(axis=1) <= in_pattern * (1 + 1e-9))
    assert np.allclose(funnel["typology_given_pattern"].sum(axis=1), 1.0)
    assert 0 <= laundering.min() and laundering.max() <= 1


def test_typology_head_learns_the_attempt_types(trained, data):
    """On rows of attempts, the true typology is likelier under the model than under the class prior."""
    in_attempt = data.typology_fit >= 0
    truth = data.typology_fit[in_attempt]
    given = trained.predict_funnel(data.X_fit[in_attempt])["typology_given_pattern"]
    prior = np.bincount(truth, minlength=8) / len(truth)
    model_ll = np.log(given[np.arange(len(truth)), truth]).mean()
    prior_ll = np.log(prior[truth]).mean()
    assert model_ll > prior_ll + 0.2


def test_positive_weighting_is_undone():
    """Where the features carry no signal the model can only learn the base rate; the loss weights
    positives by pos_weight = 20 (which alone would put the output near 0.5), and predictions map
    that back to the base rate."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6000, 3)).astype(np.float32)
    y = (rng.random(6000) < 0.05).astype(np.int64)
    scorer = make_scorer("apem", threads=1, epochs=3, batch_rows=256, learning_rate=3e-3, pos_weight=20.0)
    scorer.fit(X, y, ["a", "b", "c"], typology=np.where(y == 1, 0, -1))
    p = scorer.predict_proba(X)
    assert abs(p.mean() - y.mean()) < 0.02 and p.max() < 0.2


def test_round_trip_without_pickle(trained, data, tmp_path):
    save_model(tmp_path, trained, {"threshold": 0.5, "features": data.names, "patterns": {}, "pattern_sources": {}})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["apem.json", "apem.npz", "model.json"]
    with np.load(tmp_path / "apem.npz", allow_pickle=False) as arrays:   # refuses object arrays
        assert all(arrays[k].dtype.kind in "fiub" for k in arrays.files)
    loaded, meta = load_model(tmp_path)
    assert meta["scorer"]["kind"] == "apem"
    before, after = trained.predict_funnel(data.X_test), loaded.predict_funnel(data.X_test)
    for key in before:
        assert np.array_equal(before[key], after[key]), key


def test_training_is_deterministic_given_a_seed(data):
    rows = slice(0, 3000)

    def fit(seed):
        scorer = make_scorer("apem", threads=1, seed=seed, epochs=1, batch_rows=512)
        scorer.fit(data.X_fit[rows], data.y_fit[rows], data.names, data.weight_fit[rows], data.typology_fit[rows])
        return scorer.predict_proba(data.X_test[:2000])

    first = fit(3)
    torch.manual_seed(12345)    # the process-wide generator must not matter
    assert np.array_equal(first, fit(3))
    assert not np.array_equal(first, fit(4))


def test_typology_labels_are_required(data):
    scorer = make_scorer("apem", threads=1, **SETTINGS)
    with pytest.raises(ModelError, match="needs each row's typology"):
        scorer.fit(data.X_fit[:100], data.y_fit[:100], data.names)
    with pytest.raises(ModelError, match="codes in -1..7"):
        scorer.fit(data.X_fit[:100], data.y_fit[:100], data.names, typology=np.full(100, 8))


def test_pattern_bins_form_one_field():
    assert field_of_column(["log_amount_paid", "fan_in.2", "fan_in.3", "hour", "fan_out.2", "fan_in.4"]) == \
        [0, 1, 1, 2, 3, 1]


def test_chained_probabilities_and_loss_are_exact_and_finite():
    torch.manual_seed(0)
    logits = (torch.randn(500) * 12, torch.randn(500) * 12, torch.randn(500, 8) * 12)
    log_l, log_p, log_t = funnel_log_probs(logits)
    expect_l = torch.sigmoid(logits[0].double())
    expect_p = expect_l * torch.sigmoid(logits[1].double())
    expect_t = expect_p[:, None] * torch.softmax(logits[2].double(), dim=1)
    assert torch.allclose(log_l.exp().double(), expect_l, rtol=1e-5, atol=1e-12)
    assert torch.allclose(log_p.exp().double(), expect_p, rtol=1e-5, atol=1e-12)
    assert torch.allclose(log_t.exp().double(), expect_t, rtol=1e-4, atol=1e-12)
    # log(1 - p) from log p, against float64, from p = 1e-30 to p = 1 - 1e-6
    log_p64 = torch.log(torch.tensor([1e-30, 1e-8, 0.3, 0.5, 0.7, 0.999, 1 - 1e-6], dtype=torch.float64))
    assert torch.allclose(log1mexp(log_p64), torch.log1p(-log_p64.exp()), rtol=1e-9)
    # extreme logits give a finite loss and finite gradients
    extreme = [t.clone().mul_(10).requires_grad_() for t in logits]
    target = (torch.rand(500) < 0.5).float()
    loss = chained_loss(extreme, target, target * (torch.rand(500) < 0.5), torch.zeros(500, 8), torch.ones(500), 30.0)
    loss.backward()
    assert torch.isfinite(loss) and all(torch.isfinite(t.grad).all() for t in extreme)
