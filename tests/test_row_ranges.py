"""Bounded-memory mining: mined range by range of input rows, the features equal one whole run's."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from blazingaml.dsl.parser import load_patterns
from blazingaml.errors import BlazingError
from blazingaml.features import RANGE_ROWS_MIN, mine_table, mine_to_parquet
from blazingaml.graph import TemporalGraph
from blazingaml.io.transactions import user_transactions
from blazingaml.kernel_results import WorkReport
from blazingaml.runtime import compile_patterns, mine_graph

from .conftest import ROOT, cli

GFP = load_patterns([str(ROOT / "patterns" / "gfp")])
COLUMNS = {"ts": "ts", "src": "src", "dst": "dst", "amount": "amount"}


def tied_hub_world(m: int, seed: int = 3):
    """Transactions in shuffled input order over few distinct minutes (long timestamp ties),
    a third of them touching one hub account (hub triggers), with dense small cycles."""
    rng = np.random.default_rng(seed)
    src = rng.integers(0, 40, m)
    dst = rng.integers(0, 40, m)
    hub = rng.random(m) < 0.33
    src[hub & (rng.random(m) < 0.5)] = 0
    dst[hub & (src != 0)] = 0
    ts = 1_662_000_000 + 60 * rng.integers(0, 30, m)
    return pa.table({"ts": ts, "src": src, "dst": dst, "amount": np.ones(m)})


def normalised(raw: pa.Table):
    """(transactions, accounts, graph) as the commands read `raw`."""
    table, accounts = user_transactions(raw, COLUMNS, "test")
    return table, accounts, TemporalGraph.from_table(table, accounts)


@pytest.mark.parametrize("step", [1, 5, 37, 400])
def test_row_ranges_equal_the_whole_matrix(step):
    """Ranges of every size, cutting through timestamp ties and the hub's triggers (input order is
    shuffled, so a range of rows holds triggers from all over the time line); the work bound
    flags hub triggers, and their flags land on the same rows."""
    *_, graph = normalised(tied_hub_world(800))
    compiled = compile_patterns(GFP).for_graph(graph)
    whole_work = WorkReport()
    whole = mine_graph(graph, compiled, max_work=3_000, work=whole_work)
    assert whole_work.rows, "the bound must stop some hub triggers, or this test checks no flags"
    work, prepared, parts = WorkReport(), {}, []
    for first in range(0, graph.m, step):
        rows = (first, min(graph.m, first + step))
        parts.append(mine_graph(graph, compiled, max_work=3_000, work=work, rows=rows, prepared=prepared))
    assert np.array_equal(np.concatenate(parts), whole)
    assert work.rows.keys() == whole_work.rows.keys()
    for name, rows in whole_work.rows.items():
        assert np.array_equal(work.rows[name], rows)
    assert work.path_steps == whole_work.path_steps


def test_row_ranges_need_numba_closing():
    *_, graph = normalised(tied_hub_world(50))
    with pytest.raises(BlazingError, match="range of rows"):
        mine_graph(graph, compile_patterns(GFP), backend="reference", rows=(0, 10))
    with pytest.raises(BlazingError, match="range of rows"):
        mine_graph(graph, compile_patterns(GFP, mode="participation"), rows=(0, 10))


def test_parquet_written_in_ranges_equals_one_table(tmp_path):
    """A budget far below the graph's needs: ranges of RANGE_ROWS_MIN rows, written as row groups;
    the file's rows and columns are mine_table's."""
    table, accounts, _ = normalised(tied_hub_world(3 * RANGE_ROWS_MIN + 17))
    whole = mine_table(table, accounts, GFP, max_work=3_000).table
    out = tmp_path / "f.parquet"
    mine_to_parquet(out, table, accounts, GFP, memory=1, max_work=3_000)
    written = pq.ParquetFile(out)
    assert written.metadata.num_row_groups == 4
    assert written.read().equals(whole)


def test_mine_cli_memory_budget(tmp_path):
    """`mine --memory` gives the same file contents as the default budget."""
    src = tmp_path / "tx.parquet"
    pq.write_table(tied_hub_world(2 * RANGE_ROWS_MIN + 3), src)
    args = ["mine", "--patterns", str(ROOT / "patterns" / "gfp" / "fan.pattern"), "--input", str(src),
            "--columns", "ts=ts", "src=src", "dst=dst", "amount=amount"]
    small = cli(*args, "--output", str(tmp_path / "small.parquet"), "--memory", "1KB")
    assert small.returncode == 0, small.stderr
    assert "ranges of 1,024 rows" in small.stderr
    default = cli(*args, "--output", str(tmp_path / "default.parquet"))
    assert default.returncode == 0, default.stderr
    assert pq.ParquetFile(tmp_path / "small.parquet").metadata.num_row_groups == 3
    assert pq.read_table(tmp_path / "small.parquet").equals(pq.read_table(tmp_path / "default.parquet"))
