"""blazingaml.gfp.GraphFeaturePreprocessor against snapml's, fed one edge per transform call.

Streams use distinct timestamps: snapml's simple-cycle tie handling depends on unrelated edges (see
test_gfp_parity). Windows and bins are GFP's published AML ones, the kernels those of patterns/gfp.
"""

from __future__ import annotations

import numpy as np
import pytest

from blazingaml.errors import BlazingError
from blazingaml.gfp import AML_PAPER_PARAMS, GraphFeaturePreprocessor

from .strategies import BASE_TS

snapml = pytest.importorskip("snapml")

HOUR = 3600
BINS = list(range(2, 31))
PAPER = AML_PAPER_PARAMS   # GFP's AML configuration, fed to snapml and to ours alike


def stream(m, n, seed, days=3):
    """[edge id, source, target, timestamp, amount, one more raw feature], time-ordered."""
    rng = np.random.default_rng(seed)
    ts = BASE_TS + np.sort(rng.choice(days * 24 * 60, m, replace=False)) * 60
    amount = np.round(rng.uniform(10, 5000, m), 2)   # snapml's raw power sums hold 1e-6 on these
    return np.column_stack([np.arange(1, m + 1), rng.integers(0, n, m) * 7 + 3, rng.integers(0, n, m) * 7 + 3, ts,
                            amount, rng.integers(0, 5, m)]).astype(np.float64)


def snap_one_at_a_time(x, params, history=None):
    gfp = snapml.GraphFeaturePreprocessor()
    gfp.set_params(params)
    if history is not None:
        for row in history:
            gfp.transform(row[None, :])
    return np.vstack([gfp.transform(np.ascontiguousarray(x[i:i + 1])) for i in range(len(x))])


def ours_in_batches(x, params, batch):
    gfp = GraphFeaturePreprocessor()
    gfp.set_params(params)
    return np.vstack([gfp.transform(x[i:i + batch]) for i in range(0, len(x), batch)])


def assert_features_equal(expected, got):
    """Counts exactly (they are small integers), values to 1e-5: snapml's variances from raw power sums
    are up to ~2e-6 off the exact ones ours match (test_gfp_vertex_stats compares with a two-pass oracle)."""
    assert expected.shape == got.shape
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@pytest.fixture(scope="module")
def paper_stream():
    x = stream(2100, 1500, seed=5)
    return x, snap_one_at_a_time(x, PAPER)


@pytest.mark.parametrize("batch", [2048, 128])
def test_paper_configuration_any_batch(paper_stream, batch):
    x, expected = paper_stream
    got = ours_in_batches(x, PAPER, batch)
    assert_features_equal(expected, got)
    assert expected[:, 6:6 + 6 * 29].sum() > 0   # patterns were found, not only zeros compared


@pytest.fixture(scope="module")
def dense_stream():
    """80 accounts: scatter-gathers, temporal and length-constrained cycles (the sparse stream has none)."""
    x = stream(600, 80, seed=5)
    return x, snap_one_at_a_time(x, PAPER)


@pytest.mark.parametrize("batch", [600, 128, 7, 1])
def test_dense_stream_any_batch(dense_stream, batch):
    x, expected = dense_stream
    assert_features_equal(expected, ours_in_batches(x, PAPER, batch))
    sums = [expected[:, 6 + 29 * i:6 + 29 * (i + 1)].sum() for i in range(6)] + [expected[:, 6 + 174:6 + 183].sum()]
    assert min(sums) > 0   # every pattern was found


@pytest.mark.parametrize("batch", [7, 1])
def test_paper_configuration_small_batches(paper_stream, batch):
    x, expected = paper_stream
    prefix = 120
    assert_features_equal(expected[:prefix], ours_in_batches(x[:prefix], PAPER, batch))


def test_default_configuration(paper_stream):
    """snapml's defaults (fan over 12 h, vertex statistics of the timestamp over 480 h)."""
    x = paper_stream[0][:300]
    assert_features_equal(snap_one_at_a_time(x, {"num_threads": 2}), ours_in_batches(x, {"num_threads": 2}, 64))


def test_params_are_snapmls():
    ours, theirs = GraphFeaturePreprocessor(), snapml.GraphFeaturePreprocessor()
    assert ours.get_params() == theirs.get_params()
    with pytest.raises(KeyError, match="Unsupported key: fan_window"):
        ours.set_params({"fan_window": 3600})
    with pytest.raises(BlazingError, match="lc-cycle_len"):
        ours.set_params({"lc-cycle": True, "lc-cycle_len": 1})
    assert ours.get_params() == theirs.get_params()   # a refused change changes nothing


def test_example_flow_with_only_the_import_changed(paper_stream):
    """snapml's published AML flow: a params dict, `fit` on the history, `transform` per batch."""
    x = paper_stream[0]
    train, test = x[:1500], x[1500:]

    def flow(GraphFeaturePreprocessor):
        params = {
            "num_threads": 4, "time_window": 24 * HOUR,
            "vertex_stats": True, "vertex_stats_cols": [3, 4], "vertex_stats_feats": [0, 1, 2, 3, 4, 8, 9, 10],
            "fan": True, "fan_tw": 24 * HOUR, "fan_bins": BINS,
            "degree": True, "degree_tw": 24 * HOUR, "degree_bins": BINS,
            "scatter-gather": True, "scatter-gather_tw": 6 * HOUR, "scatter-gather_bins": BINS,
            "temp-cycle": True, "temp-cycle_tw": 24 * HOUR, "temp-cycle_bins": BINS,
            "lc-cycle": True, "lc-cycle_tw": 24 * HOUR, "lc-cycle_len": 10, "lc-cycle_bins": list(range(2, 11)),
        }
        gp = GraphFeaturePreprocessor()
        gp.set_params(params)
        gp.fit(train.astype("float64"))
        batches = [gp.transform(test[i:i + 128].astype("float64")) for i in range(0, len(test), 128)]
        return params, np.vstack(batches)

    params, got = flow(GraphFeaturePreprocessor)
    assert got.shape == (len(test), x.shape[1] + 6 * 29 + 9 + 4 * (3 + 2 * 5))
    assert_features_equal(snap_one_at_a_time(test, params, history=train), got)


def test_any_memory_layout_and_saved_state(tmp_path, paper_stream):
    x = paper_stream[0][:400]
    expected = ours_in_batches(x, PAPER, 400)
    for layout in (np.asfortranarray(x), np.repeat(x, 2, axis=1)[:, ::2], x.astype(np.float32).astype(np.float64)):
        assert_features_equal(expected, ours_in_batches(layout, PAPER, 400))
    gfp = GraphFeaturePreprocessor()
    gfp.set_params(PAPER)
    first = gfp.transform(x[:250])
    gfp.save(tmp_path / "gfp.npz")
    resumed = GraphFeaturePreprocessor.load(tmp_path / "gfp.npz")
    assert resumed.get_params() == gfp.get_params()
    assert_features_equal(expected, np.vstack([first, resumed.transform(x[250:])]))


def test_partial_fit_and_fit_transform(paper_stream):
    x = paper_stream[0][:300]
    expected = ours_in_batches(x, PAPER, 300)
    gfp = GraphFeaturePreprocessor()
    gfp.set_params(PAPER)
    gfp.partial_fit(x[:100])
    assert_features_equal(expected[100:], gfp.transform(x[100:]))
    assert_features_equal(expected, gfp.fit_transform(x))     # a fresh stream, not x inserted twice


def test_out_of_order_timestamps_are_refused():
    x = stream(20, 5, seed=1)
    gfp = GraphFeaturePreprocessor()
    gfp.transform(x[10:])
    with pytest.raises(BlazingError, match="back in time"):
        gfp.transform(x[:10])


def test_moments_window_shorter_than_the_graph(paper_stream):
    """The moments window (2 h) evicts inside a graph window (24 h), across batch boundaries."""
    x = paper_stream[0][:500]
    params = {**PAPER, "vertex_stats_tw": 2 * HOUR}
    assert_features_equal(snap_one_at_a_time(x, params), ours_in_batches(x, params, 50))


@pytest.mark.parametrize("batch", [128, 7])
def test_max_no_edges(dense_stream, batch):
    """snapml's bound on the graph: after each edge, the oldest edges leave until max_no_edges are
    left (an edge sees itself and the max_no_edges before it), for patterns and statistics alike."""
    x = dense_stream[0]
    params = {**PAPER, "max_no_edges": 60}
    expected = snap_one_at_a_time(x, params)
    patterns = slice(x.shape[1], x.shape[1] + 6 * 29 + 9)
    assert (expected[:, patterns] != snap_one_at_a_time(x, PAPER)[:, patterns]).any()   # the bound binds on patterns
    assert_features_equal(expected, ours_in_batches(x, params, batch))
    with pytest.raises(BlazingError, match="cannot be zero"):
        GraphFeaturePreprocessor().set_params({"max_no_edges": 0})


def test_max_no_edges_with_parallel_edges():
    """12 accounts: many parallel edges, so the first window edge to a neighbour is often one the
    bound has already evicted (the neighbour-sorted view must forget it too)."""
    x = stream(300, 12, seed=5)
    params = {**PAPER, "max_no_edges": 40}
    assert_features_equal(snap_one_at_a_time(x, params), ours_in_batches(x, params, 128))
