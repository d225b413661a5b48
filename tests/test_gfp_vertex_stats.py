"""gfp.vertex_stats equals a naive oracle (live edges listed one by one, two-pass moments) and snapml.

The semantics the oracle spells out were read off snapml 1.17 on small streams (see the module doc of
blazingaml.gfp.vertex_stats); `test_pinned_semantics` keeps the hand-checked cases. snapml computes
moments from raw power sums, so on epoch-sized timestamps its variance of the timestamp column is
noise (two edges a minute apart get variance 0); it is compared with snapml where its arithmetic
holds, and with the oracle everywhere.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blazingaml.gfp import hash_table
from blazingaml.gfp.vertex_stats import PER_COLUMN, SNAPML_MIN_RELATIVE_VAR, VertexStatsStream, vertex_stats

from .strategies import BASE_TS

snapml = pytest.importorskip("snapml")


def oracle(src, dst, ts, vals, graph_window, stats_window, min_relative_var=0.0):
    """Blocks for every edge, fed one at a time to an empty graph, computed from explicit edge lists."""
    m, c = vals.shape
    out = np.zeros((m, 4, 3 + PER_COLUMN * c))
    graph_front = stats_front = 0
    for k in range(m):
        live = range(graph_front, k + 1)
        moments = range(max(graph_front, stats_front), k + 1)
        for b, (acct, direction) in enumerate(((src[k], 0), (src[k], 1), (dst[k], 0), (dst[k], 1))):
            owner, other = (src, dst) if direction == 0 else (dst, src)
            mine = [j for j in live if owner[j] == acct]
            if not mine:
                continue
            fan = len({other[j] for j in mine})
            out[k, b, :3] = fan, len(mine), len(mine) / fan
            for col in range(c):
                x = vals[mine, col]
                y = vals[[j for j in moments if owner[j] == acct], col]
                base = 3 + PER_COLUMN * col
                out[k, b, base + 2:base + 5] = x.min(), x.max(), np.median(x)
                if len(y):
                    dev = y - y.mean()
                    m2, m3, m4 = (dev ** 2).mean(), (dev ** 3).mean(), (dev ** 4).mean()
                    out[k, b, base:base + 2] = y.mean(), y.sum()
                    if m2 > 0 and m2 >= min_relative_var * y.mean() ** 2:
                        out[k, b, base + 5:base + 8] = m2, m3 / m2 ** 1.5, m4 / m2 ** 2
        while graph_front <= k and ts[graph_front] < ts[k] - graph_window:
            graph_front += 1
        while stats_front <= k and ts[stats_front] < ts[k] - stats_window:
            stats_front += 1
    return out


def assert_blocks_equal(expected, got, unitless_tol=1e-6):
    """Counts and first-order values to 1e-9 relative; skew and kurtosis (dimensionless) to
    `unitless_tol`: snapml's own are that far from exact (kurtosis of two values, exactly 1, comes out
    1.0000023 from its power sums), so against snapml they are compared to 1e-5."""
    shape = expected.shape
    expected, got = expected.reshape(-1, shape[-1]), got.reshape(-1, shape[-1])
    unitless = np.zeros(shape[-1], bool)
    for col in range((shape[-1] - 3) // PER_COLUMN):
        unitless[3 + PER_COLUMN * col + 6:3 + PER_COLUMN * col + 8] = True
    np.testing.assert_allclose(got[:, ~unitless], expected[:, ~unitless], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(got[:, unitless], expected[:, unitless], rtol=unitless_tol, atol=unitless_tol)


@st.composite
def streams(draw):
    m = draw(st.integers(1, 40))
    n = draw(st.integers(1, 6))
    ids = st.lists(st.integers(0, n - 1), min_size=m, max_size=m)
    src, dst = np.array(draw(ids)), np.array(draw(ids))
    ts = BASE_TS + 60 * np.sort(np.array(draw(st.lists(st.integers(0, 30), min_size=m, max_size=m))))
    amounts = np.array(draw(st.lists(st.sampled_from([1.0, 2.5, 7.0, 100.0, 1e4]), min_size=m, max_size=m)))
    windows = draw(st.sampled_from([60, 300, 600, 3000])), draw(st.sampled_from([60, 300, 600, 3000]))
    return src, dst, ts.astype(np.float64), np.column_stack([ts, amounts]), windows


@settings(max_examples=100, deadline=None)
@given(s=streams(), split=st.integers(0, 100))
def test_equal_to_oracle_and_resumable(s, split):
    """Epoch timestamps as a column, ties, parallel edges, self-loops; and a stream cut in two (the
    history replayed from the fronts the first part left) gives the same blocks as one piece."""
    src, dst, ts, vals, (gw, sw) = s
    expected = oracle(src, dst, ts, vals, gw, sw)
    whole, _, _ = vertex_stats(src, dst, ts, vals, gw, sw)
    assert_blocks_equal(expected, whole)
    cut = split * len(ts) // 100
    first, graph_front, stats_front = vertex_stats(src[:cut], dst[:cut], ts[:cut], vals[:cut], gw, sw)
    keep = slice(graph_front, None)
    rest, _, _ = vertex_stats(src[keep], dst[keep], ts[keep], vals[keep], gw, sw,
                              stats_front=stats_front - graph_front, history=cut - graph_front)
    assert_blocks_equal(expected, np.concatenate([first, rest]))


def snap_blocks(x, params):
    gfp = snapml.GraphFeaturePreprocessor()
    gfp.set_params({"num_threads": 1, "fan": False, "vertex_stats": True,
                    "vertex_stats_feats": list(range(11)), **params})
    return np.vstack([gfp.transform(np.ascontiguousarray(x[i:i + 1])) for i in range(len(x))])[:, x.shape[1]:]


@pytest.mark.parametrize("graph_window,stats_window", [(3000, 3000), (20000, 2000), (2000, 20000)])
def test_equal_to_snapml(graph_window, stats_window):
    """Timestamps small enough for snapml's raw power sums, so every statistic is comparable."""
    rng = np.random.default_rng(graph_window + stats_window)
    m, n = 400, 15
    ts = 1000 + 10 * np.sort(rng.integers(0, 2000, m))
    x = np.column_stack([np.arange(1, m + 1), rng.integers(0, n, m), rng.integers(0, n, m), ts,
                         rng.integers(1, 5000, m) / 100]).astype(np.float64)
    expected = snap_blocks(x, {"time_window": graph_window, "vertex_stats_tw": stats_window, "vertex_stats_cols": [3, 4]})
    got, _, _ = vertex_stats(x[:, 1], x[:, 2], ts, x[:, 3:5], graph_window, stats_window,
                             min_relative_var=SNAPML_MIN_RELATIVE_VAR)
    assert_blocks_equal(expected.reshape(got.shape), got, unitless_tol=1e-5)
    assert_blocks_equal(oracle(x[:, 1], x[:, 2], ts, x[:, 3:5], graph_window, stats_window, SNAPML_MIN_RELATIVE_VAR), got)


def test_pinned_semantics():
    """Hand-checked against snapml: the edge counts in its own blocks; the window lags one edge
    (edge 1 at t=1000 still counts for the first edge at t=1101 with a 100 s window, not for the
    second); parallel edges count in degree, not fan; population moments; median of an even count."""
    e = np.array([(1, 2, 1000, 10.), (1, 3, 1010, 20.), (1, 2, 1020, 40.), (1, 4, 1100, 70.), (1, 2, 1101, 5.),
                  (5, 1, 1101, 3.)])
    blocks, _, _ = vertex_stats(e[:, 0].astype(int), e[:, 1].astype(int), e[:, 2], e[:, 3:], 100, 100)
    source_out = blocks[:, 0, :]
    assert list(source_out[4, :3]) == [3, 5, 5 / 3]        # edge 1 still in: it left after this edge
    assert list(blocks[5, 2, :3]) == [3, 4, 4 / 3]          # account 1's out-edges, edge 1 gone
    avg, total, lo, hi, median, var, skew, kurt = source_out[2, 3:]
    assert avg == pytest.approx(70 / 3) and (total, lo, hi, median) == (70, 10, 40, 20)
    assert var == pytest.approx(1400 / 9) and skew == pytest.approx(0.3818017742) and kurt == pytest.approx(1.5)
    assert source_out[3, 3 + 4] == 30                       # median of 10, 20, 40, 70


def test_stable_where_snapml_is_not():
    """Two edges a minute apart at an epoch timestamp: variance 900. snapml says 0."""
    ts = np.array([BASE_TS, BASE_TS + 60], np.float64)
    blocks, _, _ = vertex_stats(np.array([0, 0]), np.array([1, 2]), ts, ts[:, None], 3600, 3600)
    assert blocks[1, 0, 3 + 5] == 900
    x = np.column_stack([[1, 2], [0, 0], [1, 2], ts]).astype(np.float64)
    snap = snap_blocks(x, {"time_window": 3600, "vertex_stats_tw": 3600, "vertex_stats_cols": [3]})
    assert snap[1, 3 + 5] != 900


def test_batches_across_log_relayouts():
    """VertexStatsStream fed in batches, its log dropping the evicted front and renumbering edges
    several times, gives the blocks of the whole stream inserted at once (which never re-lays out)."""
    rng = np.random.default_rng(3)
    m, n = 6000, 40
    src, dst = rng.integers(0, n, m), rng.integers(0, n, m)
    ts = BASE_TS + 60 * np.sort(rng.integers(0, 3000, m))
    vals = np.column_stack([ts, rng.uniform(1, 100, m)])
    whole, graph_front, stats_front = vertex_stats(src, dst, ts, vals, 1800, 600)
    stream = VertexStatsStream(2, 1800, 600)
    rows = np.column_stack([src, dst, ts, vals])
    accounts = np.column_stack([src, dst])
    parts = [stream.append(rows[i:i + 250], accounts[i:i + 250]) for i in range(0, m, 250)]
    assert stream.m < m / 4                     # the front was dropped, edge numbers restarted
    assert_blocks_equal(whole, np.concatenate(parts))
    assert (m - stream.m + stream.fronts).tolist() == [graph_front, stats_front]


@settings(max_examples=200, deadline=None)
@given(ops=st.lists(st.tuples(st.booleans(), st.integers(0, 40)), max_size=400),
       spread=st.sampled_from([1, 64, 2**32 + 7, 2**52 + 1]))
def test_hash_table_counts_like_a_dict(ops, spread):
    """The fan counts' open-addressing table against a dict: keys added and removed in any order
    (removals shift probe runs back, across the table's end too), the table grown and shrunk."""
    table, counts = hash_table.empty(), {}
    for add, key in ops:
        key *= spread
        if add or key not in counts:
            table = hash_table.with_room(table, len(counts) + 1)
            assert hash_table.increment(table, key) == counts.get(key, 0)
            counts[key] = counts.get(key, 0) + 1
        else:
            counts[key] -= 1
            assert hash_table.decrement(table, key) == counts[key]
            if not counts[key]:
                del counts[key]
        table = hash_table.with_room(table, len(counts))
    assert {int(k): int(v) for k, v in table if k != hash_table.EMPTY} == counts
    assert all(hash_table.get_or_add(table, k, -5) == v for k, v in counts.items())
