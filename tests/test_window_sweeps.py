"""Window aggregates: the sliding sweeps (backends/window_sweeps.py), read by the generated Numba
source and CUDA C, equal the reference interpreter's naive computation, in every window mode and
account role, and stay accurate where raw power sums would not."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings

from blazingaml.dsl.parser import parse_text
from blazingaml.graph import TemporalGraph
from blazingaml.runtime import compile_patterns, mine_graph, run_numba, settle

from .differential import host_features
from .strategies import BASE_TS, build, differing_patterns, temporal_graphs

STATS = ("count", "distinct", "sum", "mean", "min", "max", "median", "var", "std", "skew", "kurtosis")


def every_aggregate(name: str, window: str, owner: str, direction: str, where: str = "") -> str:
    emits = "\n".join(f"    emit {s} = {s}(w)" if s in ("count", "distinct") else
                      f"    emit {s} = {s}(w.amount_paid - w.amount_received / 3)" for s in STATS)
    # `near` is scanned inside the kernel, so the kernel's own window (lagged or not) is tested too
    return (f"pattern {name}\n    window {window}\n    trigger a -> b\n"
            f"    stage w = edges x in {owner}.{direction} as f{where}\n"
            f"    stage near = nodes y in {owner}.{direction}\n{emits}\n    emit ts_var = var(w.ts)\n"
            f"    emit near = size(near)\n")


PATTERNS = parse_text("\n".join([
    every_aggregate("recv_in", "6h", "b", "in"),
    every_aggregate("send_in", "1d exclusive", "a", "in", " where x != a"),
    every_aggregate("send_out", "90m lagged", "a", "out", ' where f.format == "ACH" or x.bank == a.bank'),
    every_aggregate("recv_out", "2d lagged", "b", "out"),
]))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(g=temporal_graphs(max_nodes=6, max_edges=40, slots=30, hubs=True))
def test_sweeps_equal_the_reference(g):
    graph = build(g)
    expected = mine_graph(graph, compile_patterns(PATTERNS, optimise=False), "reference")
    compiled = compile_patterns(PATTERNS)
    got = settle(graph, compiled, *run_numba(graph, compiled, jit=False), 10**6)
    assert not differing_patterns(expected, got, compiled.columns)
    cuda = host_features(graph, compiled, 10**6)   # the generated CUDA C, on the host shim
    assert not differing_patterns(expected, cuda, compiled.columns)


def one_account(ts, amounts, window: str) -> np.ndarray:
    """Every aggregate of account 0's out-edges (each edge to a new account), per edge."""
    m = len(ts)
    text = every_aggregate("one", window, "a", "out").replace("w.amount_paid - w.amount_received / 3", "w.amount_paid")
    graph = TemporalGraph.from_arrays(np.zeros(m, int), np.arange(1, m + 1), ts, amount_paid=amounts)
    compiled = compile_patterns(parse_text(text))
    return settle(graph, compiled, *run_numba(graph, compiled, jit=False), 10**6).astype(np.float64), compiled


def two_pass(values: np.ndarray) -> tuple[float, float, float]:
    dev = values - values.mean()
    m2 = np.mean(dev ** 2)
    return m2, np.mean(dev ** 3) / m2 ** 1.5, np.mean(dev ** 4) / m2 ** 2


def test_moments_keep_their_digits_on_large_offsets():
    """Values 1e9 apart from their spread (an epoch timestamp as an amount): raw power sums
    would leave no digit of the variance; the shifted, re-anchored sums keep 1e-6 of it (float32)."""
    rng = np.random.default_rng(3)
    m = 400
    ts = BASE_TS + np.arange(m) * 600
    amounts = 1.7e9 + rng.integers(0, 1000, m) + rng.random(m)
    out, compiled = one_account(ts, amounts, "2h")   # windows of 13 edges, turned over 30 times
    cols = {c.split(".")[1]: j for j, c in enumerate(compiled.columns)}
    for k in range(12, m):
        window = amounts[k - 12:k + 1]
        var, skew, kurt = two_pass(window)
        assert out[k, cols["count"]] == 13
        np.testing.assert_allclose(out[k, [cols["var"], cols["skew"], cols["kurtosis"]]], [var, skew, kurt], rtol=1e-5,
                                   atol=1e-6)
        np.testing.assert_allclose(out[k, [cols["median"], cols["min"], cols["max"]]],
                                   [np.median(window), window.min(), window.max()], rtol=1e-7)


def test_an_outlier_leaving_does_not_leave_rounding_behind():
    """A 1e12 amount among amounts near 1: after it leaves, the moments are those of the rest."""
    m = 60
    ts = BASE_TS + np.arange(m) * 60
    amounts = 1.0 + (np.arange(m) % 7) / 10
    amounts[5] = 1e12
    out, compiled = one_account(ts, amounts, "10m")   # 11 edges per window
    cols = {c.split(".")[1]: j for j, c in enumerate(compiled.columns)}
    for k in range(16, m):   # windows after the outlier left
        var, skew, kurt = two_pass(amounts[k - 10:k + 1])
        np.testing.assert_allclose(out[k, [cols["var"], cols["skew"], cols["kurtosis"]]], [var, skew, kurt], rtol=1e-5,
                                   atol=1e-6)


def test_equal_values_have_no_spread():
    """A window of equal values has variance, skew and kurtosis exactly 0 (not rounding noise)."""
    ts = BASE_TS + np.arange(30) * 60
    out, compiled = one_account(ts, np.full(30, 0.1), "5m")
    for stat in ("var", "std", "skew", "kurtosis"):
        assert (out[:, compiled.columns.index(f"one.{stat}")] == 0).all()
    assert np.allclose(out[:, compiled.columns.index("one.mean")], 0.1)
