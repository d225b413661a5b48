"""Runtime behaviour: work bound, kernel disk cache, mine CLI output format."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pyarrow.parquet as pq
import pytest

from blazingaml.dsl.parser import parse_text
from blazingaml.errors import WorkLimitError
from blazingaml.graph import TemporalGraph
from blazingaml.runtime import compile_patterns, mine_graph

from .conftest import ROOT

EXPLODES = parse_text("""
pattern many_paths
    window 1d
    trigger a -> b
    path p = b ~> a via out hops 1..12
    emit length(p)
""")


def clique(n):
    src, dst = zip(*[(i, j) for i in range(n) for j in range(n) if i != j])
    return TemporalGraph.from_arrays(src, dst, np.full(len(src), 1_662_000_000))


@pytest.mark.parametrize("backend", ["numba", "reference"])
def test_work_bound_stops_with_a_clear_message(backend):
    with pytest.raises(WorkLimitError, match="many_paths") as err:
        mine_graph(clique(9), compile_patterns(EXPLODES), backend=backend, max_work=10_000, on_work_limit="error")
    assert "--max-work" in err.value.hint


def clique_and_tail(k=8, tail=6):
    """A k-clique on one timestamp (every trigger's path search explodes), then a chain of
    `tail` later transactions whose cycles are small (none of them explodes)."""
    src, dst = map(list, zip(*[(i, j) for i in range(k) for j in range(k) if i != j]))
    ts = [1_662_000_000] * len(src)
    for i in range(tail):  # k -> k+1 -> ... -> k+tail-1 -> k: one cycle closed by the last edge
        src.append(k + i)
        dst.append(k + (i + 1) % tail)
        ts.append(1_662_000_600 + 60 * i)
    return TemporalGraph.from_arrays(src, dst, ts)


@pytest.mark.parametrize("mode", ["closing", "participation"])
def test_work_bound_flags_triggers_and_loses_nothing_else(mode):
    """By default a trigger over the bound is flagged, not fatal: its bins saturate, the run
    goes on, and every other trigger's counts are exact; all backends flag the same triggers."""
    from blazingaml.kernel_results import WorkReport

    from .differential import host_features

    graph = clique_and_tail()
    compiled = compile_patterns(EXPLODES, mode=mode)
    exact = mine_graph(graph, compiled, "reference", max_work=10**9)
    cap = np.iinfo(np.int32).max
    results, flagged = {}, {}
    for backend in ("numba", "reference"):
        work = WorkReport()
        results[backend] = mine_graph(graph, compiled, backend, max_work=2_000, work=work)
        flagged[backend] = work.flags("many_paths", graph.m)
        first = int(np.flatnonzero(flagged[backend])[0])
        assert f"{flagged[backend].sum()} trigger(s), first at tx_id {first}" in work.summary(2_000)
    results["host"] = host_features(graph, compiled, 2_000)
    flagged["host"] = (results["host"] == cap).all(axis=1)
    for backend, got in results.items():
        assert np.array_equal(flagged[backend], flagged["reference"]), backend
        assert np.array_equal((got == cap).all(axis=1), flagged[backend])
        if mode == "closing":  # participation: a stopped trigger's partial credits are not defined
            assert np.array_equal(got[~flagged[backend]], exact[~flagged[backend]]), backend
    assert 0 < flagged["reference"][:56].sum() and not flagged["reference"][56:].any()
    assert exact[-1].sum() == 1 and results["numba"][-1].sum() == 1


def test_mine_cli_flags_work_limited_triggers(tmp_path):
    import pyarrow as pa

    graph = clique_and_tail()
    table = pa.table({"tx_id": np.arange(graph.m), "ts": graph.ts[np.argsort(graph.row)],
                      "src": graph.src[np.argsort(graph.row)], "dst": graph.dst[np.argsort(graph.row)],
                      "amount_paid": np.ones(graph.m), "amount_received": np.ones(graph.m),
                      "pay_currency": np.zeros(graph.m, np.int8), "recv_currency": np.zeros(graph.m, np.int8),
                      "payment_format": np.zeros(graph.m, np.int8)})
    pq.write_table(table, tmp_path / "tx.parquet")
    pattern = tmp_path / "p.pattern"
    pattern.write_text("pattern many_paths\n    window 1d\n    trigger a -> b\n"
                       "    path p = b ~> a via out hops 1..12\n    emit length(p)\n")
    cmd = [sys.executable, "-m", "blazingaml.cli", "mine", "--patterns", str(pattern), "--input",
           str(tmp_path / "tx.parquet"), "--output", str(tmp_path / "f.parquet"), "--max-work", "2000"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    flags = pq.read_table(tmp_path / "f.parquet")["many_paths.work_limited"].to_numpy()
    assert flags.any() and not flags[56:].any()
    first = int(np.flatnonzero(flags)[0])
    assert f"many_paths: {flags.sum()} trigger(s), first at tx_id {first}" in " ".join(r.stderr.split())
    r = subprocess.run(cmd + ["--on-work-limit", "error"], capture_output=True, text=True)
    assert r.returncode == 1 and "Traceback" not in r.stderr and "many_paths" in r.stderr   # an input error


def test_second_process_compiles_nothing(tmp_path):
    """Kernels are cached on disk by IR hash: a fresh process loads machine code, no compile."""
    script = textwrap.dedent(f"""
        import json, numpy as np
        from blazingaml.dsl.parser import load_patterns
        from blazingaml.graph import TemporalGraph
        from blazingaml.runtime import compile_patterns, mine_graph
        from blazingaml.backends.numba_codegen import load_kernel
        c = compile_patterns(load_patterns([r"{ROOT / 'patterns' / 'gfp' / 'fan.pattern'}"]))
        g = TemporalGraph.from_arrays([0, 1], [1, 0], [1662000000, 1662000060])
        mine_graph(g, c)
        fn, _ = load_kernel(c.kernels[0], "closing")
        print(json.dumps({{"hits": sum(fn.stats.cache_hits.values()), "misses": sum(fn.stats.cache_misses.values())}}))
    """)
    env = {"BLAZINGAML_CACHE": str(tmp_path), "PATH": "/usr/bin:/bin"}
    first = json.loads(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                                      check=True).stdout)
    second = json.loads(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                                       check=True).stdout)
    assert first["misses"] >= 1
    assert second["misses"] == 0 and second["hits"] >= 1


def test_mine_cli_output_format(small_world, tmp_path):
    files, parquet = small_world
    out = tmp_path / "features.parquet"
    r = subprocess.run([sys.executable, "-m", "blazingaml.cli", "mine", "--patterns", str(ROOT / "patterns" / "gfp"),
                        "--input", str(files.trans), "--output", str(out), "--quiet"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    table = pq.read_table(out)
    tx = pq.read_table(parquet)
    assert table.column_names[0] == "tx_id" and table["tx_id"].equals(tx["tx_id"])
    assert "fan_out.2" in table.column_names and "fan_out.30+" in table.column_names
    assert "simple_cycle.10+" in table.column_names and "scatter_gather.29" in table.column_names
    # counts are int32; vertex_stats' named emits are float32 columns
    assert all(str(t) == ("float" if n.startswith("vertex_stats.") else "int32")
               for n, t in zip(table.column_names[1:], table.schema.types[1:]) if not n.endswith(".work_limited"))
    assert "vertex_stats.dst_in_amount_kurtosis" in table.column_names
    assert [n for n in table.column_names if n.endswith(".work_limited")] == \
        ["temporal_cycle.work_limited", "simple_cycle.work_limited"]
    assert sum(table[c].to_numpy().sum() for c in table.column_names[1:]) > 0
    # the reference backend agrees with numba (on a slice: the oracle is slow on hub accounts)
    part = tx.slice(0, 3000)
    pq.write_table(part, tmp_path / "part.parquet")
    outs = {}
    for backend in ("reference", "numba"):
        outs[backend] = tmp_path / f"{backend}.parquet"
        r = subprocess.run([sys.executable, "-m", "blazingaml.cli", "mine", "--patterns",
                            str(ROOT / "patterns" / "gfp" / "fan.pattern"), "--input", str(tmp_path / "part.parquet"),
                            "--output", str(outs[backend]), "--backend", backend, "--quiet"],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    assert pq.read_table(outs["reference"]).equals(pq.read_table(outs["numba"]))


def test_check_cli_reports_mistake_without_traceback(tmp_path):
    bad = tmp_path / "bad.pattern"
    bad.write_text("pattern p\n    window 6h\n    trigger a -> b\n    stage s = nodes x in q.out\n    emit 1\n")
    r = subprocess.run([sys.executable, "-m", "blazingaml.cli", "check", str(bad)], capture_output=True, text=True)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert f"{bad}:4:" in r.stderr and "undefined node `q`" in r.stderr and "^" in r.stderr


MANY_PATHS = parse_text("""
pattern long_ways_back
    window 1d
    bins 1..5
    trigger a -> b
    path p = b ~> a via out hops 1..5
    emit length(p)
""")


@pytest.mark.parametrize("mode", ["closing", "participation"])
@pytest.mark.parametrize("backend", ["numba", "reference"])
def test_small_feature_dtypes_saturate(backend, mode):
    """uint8/uint16 feature matrices hold min(count, max of the type), never a wrapped-around count."""
    compiled = compile_patterns(MANY_PATHS, mode=mode)
    exact = mine_graph(clique(9), compiled, backend=backend)
    assert exact.dtype == np.int32 and exact.max() > 255    # 840 paths of length 5 per trigger
    small = mine_graph(clique(9), compiled, backend=backend, dtype=np.uint8)
    assert small.dtype == np.uint8
    assert np.array_equal(small, np.minimum(exact, 255))
    assert np.array_equal(mine_graph(clique(9), compiled, backend=backend, dtype=np.uint16), exact)


def _blazingaml(*args):
    return subprocess.run([sys.executable, "-m", "blazingaml.cli", *args], capture_output=True, text=True)


def test_plan_shows_costs_from_the_input_graph(small_world):
    _, parquet = small_world
    target = str(ROOT / "patterns" / "gfp" / "scatter_gather.pattern")
    default = _blazingaml("compile", target, "--emit", "plan")
    graph = _blazingaml("compile", target, "--emit", "plan", "--input", str(parquet))
    assert default.returncode == 0 and graph.returncode == 0, graph.stderr
    assert "cost model: default statistics" in default.stdout
    assert f"cost model: statistics of {parquet}:" in graph.stdout and "transactions between" in graph.stdout
    work = [line for line in graph.stdout.splitlines() if "estimated work per trigger" in line]
    assert work and work != [line for line in default.stdout.splitlines() if "estimated work per trigger" in line]
    assert "estimated cost of a membership test" in graph.stdout
