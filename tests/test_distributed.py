"""The Dask engine equals the single-process engine, on a real `distributed.LocalCluster`."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blazingaml.distributed import mine_distributed
from blazingaml.time_partitions import MINUTE, Halo, TimePartition, plan_partitions
from blazingaml.errors import BlazingError

from .gap_world import FIRST_AFTER_GAP, gap_transactions

distributed = pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parents[1]
VERTEX_STATS = ROOT / "patterns" / "gfp" / "vertex_stats.pattern"
# The GFP patterns but the vertex statistics, whose 480h lagged window holds the whole small world
# (every partition would read it all); the library test adds them with GFP's AML window (24h),
# test_lagged_windows_reach_back_past_gaps mines them as they stand.
GFP = sorted(set((ROOT / "patterns" / "gfp").glob("*.pattern")) - {VERTEX_STATS})
LIBRARY = GFP + [ROOT / "patterns" / "typologies"]
ROW_GROUP = 1500   # small row groups: partitions read a few of them, chosen by their ts statistics


@pytest.fixture(scope="module")
def cluster():
    """Two worker processes, one thread each (the machine has two cores)."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c, \
            distributed.Client(c) as client:
        yield client


@pytest.fixture(scope="module")
def world(small_world, tmp_path_factory):
    """The small world's transactions in shuffled row groups of ROW_GROUP rows, so that row-group
    pruning, file order and time order all differ; timestamps are whole minutes (ties abound)."""
    from blazingaml.io.ibm_csv import accounts_path_for
    from blazingaml.io.transactions import load_transactions

    table, accounts = load_transactions(small_world[1])
    rng = np.random.default_rng(3)
    order = np.argsort(table["ts"].to_numpy(), kind="stable")
    blocks = [order[a:a + ROW_GROUP] for a in range(0, len(order), ROW_GROUP)]
    rows = np.concatenate([rng.permutation(blocks[i]) for i in rng.permutation(len(blocks))])
    path = tmp_path_factory.mktemp("dask") / "tx.parquet"
    pq.write_table(table.take(pa.array(rows)), path, row_group_size=ROW_GROUP)
    pq.write_table(accounts, accounts_path_for(path))
    return path


def single_process(path, patterns, mode="closing") -> pa.Table:
    from blazingaml.features import mine_table
    from blazingaml.io.transactions import load_transactions

    return mine_table(*load_transactions(path), patterns, mode=mode, threads=1).table


def assert_same_rows(path, expected: pa.Table, output: Path, partitions: int) -> None:
    parts = sorted(output.glob("part-*.parquet"))
    assert len(parts) == partitions
    written = sorted(n for n in os.listdir(output) if not n.startswith("_alerts-"))   # (explanations: scoring)
    assert written == [p.name for p in parts]                          # nothing else: no worker's temporaries
    got = pa.concat_tables([pq.read_table(p) for p in parts])
    assert got.num_rows == expected.num_rows                          # halo rows never twice
    assert len(np.unique(got["tx_id"].to_numpy())) == got.num_rows
    assert got.column_names == expected.column_names
    got, expected = got.sort_by("tx_id"), expected.sort_by("tx_id")
    for name in expected.column_names:
        if name.startswith("vertex_stats."):
            # Window aggregates: running sums whose rounding depends on where a graph's sweep
            # starts (a partition's is later), so equal to rounding, and a mathematical 0, such as
            # the skew of two amounts, may come out as 1e-16 (docs/distributed.md)
            np.testing.assert_allclose(got[name].to_numpy(), expected[name].to_numpy(), rtol=1e-6, atol=1e-9,
                                       err_msg=name)
        else:
            assert got[name].equals(expected[name]), name
    source = pq.read_table(path, columns=["tx_id", "ts"]).sort_by("tx_id")
    ids, ts = source["tx_id"].to_numpy(), source["ts"].to_numpy()
    times = [ts[np.searchsorted(ids, pq.read_table(p, columns=["tx_id"])["tx_id"].to_numpy())] for p in parts]
    for before, after in zip(times, times[1:]):                        # parts follow time
        assert before.max() < after.min()


def vertex_stats(hours: int = 480):
    """`patterns/gfp/vertex_stats.pattern` with its lagged window `hours` long."""
    import dataclasses

    from blazingaml.dsl.parser import load_patterns

    return [dataclasses.replace(p, window_seconds=hours * 3600) for p in load_patterns([VERTEX_STATS])]


def three_partition_budget(path, patterns, mode: str = "closing") -> int:
    """The largest partition budget (rows with halos) that cuts this world into three or more time
    partitions: the library's windows reach back days, so the budget depends on how the world's
    rows fall over time, not on a fixed number."""
    from blazingaml.errors import BlazingError
    from blazingaml.time_partitions import Halo, plan_partitions

    ts = pq.read_table(path, columns=["ts"])["ts"].to_numpy()
    minutes, counts = np.unique(ts - ts % 60, return_counts=True)
    halo = Halo.of(patterns, mode)
    for budget in range(len(ts), 0, -max(1, len(ts) // 200)):
        try:
            if len(plan_partitions(minutes, counts, halo, budget)) >= 3:
                return budget
        except BlazingError:   # a budget too small for some minute's halo
            break
    raise AssertionError("no budget cuts this world into three partitions")


def test_library_closing_mode_equals_single_process(cluster, world, tmp_path):
    from blazingaml.dsl.parser import load_patterns

    patterns = load_patterns(LIBRARY) + vertex_stats(24)
    expected = single_process(world, patterns)
    run = mine_distributed(cluster, world, patterns, tmp_path / "feats", threads=1,
                           max_rows=three_partition_budget(world, patterns))
    assert len(run.partitions) >= 3 and run.halo_rows > 0
    assert_same_rows(world, expected, tmp_path / "feats", len(run.partitions))
    assert run.rows == expected.num_rows
    for part in run.partitions[1:]:                                   # a boundary minute of each core is busy
        assert part.start % MINUTE == 0


def test_participation_mode_needs_and_gets_the_halo_after(cluster, world, tmp_path):
    from blazingaml.dsl.parser import load_patterns

    patterns = load_patterns([ROOT / "patterns" / "gfp" / "fan.pattern", ROOT / "patterns" / "gfp" / "cycles.pattern"])
    expected = single_process(world, patterns, mode="participation")
    run = mine_distributed(cluster, world, patterns, tmp_path / "feats", mode="participation", threads=1,
                           max_rows=9_000)
    assert len(run.partitions) >= 3
    assert all(p.read_stop > p.stop + 86_400 for p in run.partitions)
    assert_same_rows(world, expected, tmp_path / "feats", len(run.partitions))


@pytest.fixture(scope="module")
def gfp_model(world, tmp_path_factory):
    """A LightGBM model trained on the world with the gfp patterns, and its scores (one process)."""
    from blazingaml.dsl.parser import load_patterns
    from blazingaml.io.transactions import load_transactions
    from blazingaml.pipeline import score, train

    model = tmp_path_factory.mktemp("model")
    patterns = load_patterns(GFP)
    table, accounts = load_transactions(world)
    train(table, accounts, patterns, out=model, threads=1)
    return model, patterns, score(model, table, accounts, patterns, threads=1)[0]


def test_scores_equal_single_process_scores(cluster, world, gfp_model, tmp_path):
    from blazingaml.distributed import score_distributed

    model, patterns, expected = gfp_model
    run = score_distributed(cluster, model, world, patterns, tmp_path / "scored", threads=1, max_rows=9_000)
    assert len(run.partitions) >= 3
    assert_same_rows(world, expected, tmp_path / "scored", len(run.partitions))
    assert 0 < expected["alert"].to_numpy().sum()


@pytest.fixture(scope="module")
def split_world(world, tmp_path_factory):
    """The world cut by time into an older file, `old.parquet` (history; its accounts numbered
    backwards), and a newer one, `new.parquet` (a key table of just its own accounts), the rows of
    the minute at the cut shared between them; each beside its key table, in small row groups."""
    from blazingaml.io.ibm_csv import ACCOUNT_SCHEMA, accounts_path_for
    from blazingaml.io.transactions import load_transactions

    table, accounts = load_transactions(world)
    out = tmp_path_factory.mktemp("split")
    ts = table["ts"].to_numpy()
    minutes, rows = np.unique(ts, return_counts=True)      # the cut: the first minute of several rows from 70% on
    cut = minutes[(rows >= 2) & (minutes >= np.sort(ts)[int(len(ts) * 0.7)])][0]
    is_old = ts < cut
    is_old[np.flatnonzero(ts == cut)[::2]] = True                     # ties across the two files
    assert 0 < ((ts == cut) & is_old).sum() < (ts == cut).sum()
    old, new = table.filter(pa.array(is_old)), table.filter(pa.array(~is_old))
    keys = [accounts["bank"].to_numpy(zero_copy_only=False), accounts["account_id"].to_numpy(zero_copy_only=False)]

    def write(name, rows, numbering):            # numbering: old account index -> the file's
        kept = np.flatnonzero(numbering >= 0)
        at = np.argsort(numbering[kept])
        for column in ("src", "dst"):
            rows = rows.set_column(rows.column_names.index(column), column,
                                   pa.array(numbering[rows[column].to_numpy()].astype(np.int32)))
        pq.write_table(rows, out / name, row_group_size=ROW_GROUP)
        pq.write_table(pa.table([pa.array(numbering[kept][at], pa.int32()), pa.array(keys[0][kept][at]),
                                 pa.array(keys[1][kept][at])], schema=ACCOUNT_SCHEMA), accounts_path_for(out / name))

    n = accounts.num_rows
    write("old.parquet", old, np.arange(n)[::-1].copy())
    ends = np.stack([new["src"].to_numpy(), new["dst"].to_numpy()], 1).ravel()
    firsts = ends[np.sort(np.unique(ends, return_index=True)[1])]
    numbering = np.full(n, -1)
    numbering[firsts] = np.arange(len(firsts))
    write("new.parquet", new, numbering)
    return out / "old.parquet", out / "new.parquet"


def explained_parts(output: Path) -> dict:
    """tx_id -> explanation (without `row`) of every alert of a Dask scoring run's parts."""
    import json

    explained = [json.loads(line) for alerts in sorted(output.glob("_alerts-*.jsonl"))
                 for line in alerts.read_text().splitlines()]
    return {x["tx_id"]: {k: v for k, v in x.items() if k != "row"} for x in explained}


def test_history_scores_equal_the_process_engines(cluster, gfp_model, split_world, tmp_path):
    """`score --engine dask --history` equals the process engine's `score --history`, explanations
    too: partitions whose halos reach before the input read the history rows there, joined as the
    process engine joins them (tx_ids, so ties across the files; accounts by bank and account)."""
    from blazingaml.cli import main
    from blazingaml.io.transactions import load_transactions
    from blazingaml.pipeline import score

    model, patterns, _ = gfp_model
    old, new = split_world
    expected, explanations = score(model, *load_transactions(new), patterns, history=[load_transactions(old)],
                                   explain=True, threads=1)
    output = tmp_path / "scored"
    assert main(["score", "--model", str(model), "--input", str(new), "--history", str(old), "--output", str(output),
                 "--explain", "--threads", "1", "--engine", "dask", "--scheduler", cluster.scheduler.address,
                 "--memory-per-worker", "8MiB", "--quiet"]) == 0
    parts = sorted(output.glob("part-*.parquet"))
    assert len(parts) >= 2
    assert_same_rows(new, expected, output, len(parts))
    assert 0 < expected["alert"].to_numpy().sum()
    assert explained_parts(output) == {x["tx_id"]: {k: v for k, v in x.items() if k != "row"} for x in explanations}


def test_cli_scores_and_explains_on_dask(cluster, world, gfp_model, tmp_path, capsys):
    """Each part's alerts are explained as the process engine explains them (the halo holds their
    windows); `row` counts the rows of the part instead of the input's."""
    import json

    from blazingaml.cli import main
    from blazingaml.io.transactions import load_transactions
    from blazingaml.pipeline import score

    model, patterns, expected = gfp_model
    args = ["score", "--model", str(model), "--input", str(world), "--output", str(tmp_path / "scored.parquet"),
            "--threads", "1", "--engine", "dask", "--scheduler", cluster.scheduler.address]
    assert main(args + ["--memory-per-worker", "20MiB", "--explain"]) == 0
    assert pq.read_table(tmp_path / "scored.parquet").sort_by("tx_id").equals(expected.sort_by("tx_id"))
    parts = sorted((tmp_path / "scored.parquet").glob("part-*.parquet"))
    assert len(parts) > 1
    got = {}
    for part in parts:
        alerts = part.with_name(part.name.replace("part-", "_alerts-").replace(".parquet", ".jsonl"))
        explained = [json.loads(line) for line in alerts.read_text().splitlines()]
        tx_ids = pq.read_table(part, columns=["tx_id"])["tx_id"].to_numpy()
        assert [x["tx_id"] for x in explained] == tx_ids[pq.read_table(part)["alert"].to_numpy()].tolist()
        assert all(tx_ids[x["row"]] == x["tx_id"] for x in explained)
        got.update({x["tx_id"]: {k: v for k, v in x.items() if k != "row"} for x in explained})
    _, explanations = score(model, *load_transactions(world), patterns, explain=True, threads=1)
    assert got == {x["tx_id"]: {k: v for k, v in x.items() if k != "row"} for x in explanations}
    assert any(x["instances"] for x in got.values())


def test_a_worker_killed_mid_run_changes_nothing(cluster, world, tmp_path):
    from blazingaml.dsl.parser import load_patterns

    patterns = load_patterns(GFP)
    expected = single_process(world, patterns)
    output = tmp_path / "feats"
    done = {}
    runner = threading.Thread(target=lambda: done.update(run=mine_distributed(
        cluster, world, patterns, output, threads=1, max_rows=5_000)))
    runner.start()
    staged = []
    while not staged and runner.is_alive():      # the first part is committed: the run is under way
        staged = list(tmp_path.glob(".feats.*.parts/part-*.parquet"))
        time.sleep(0.05)
    busy = [w for w, keys in cluster.processing().items() if any("mine_partition" in k for k in keys)]
    assert busy, "no partition was running when the worker was to be killed"
    pid = cluster.run(os.getpid, workers=busy[:1])[busy[0]]
    os.kill(pid, signal.SIGKILL)
    runner.join(timeout=300)
    assert "run" in done
    partitions = len(done["run"].partitions)
    assert len(staged) < partitions
    assert_same_rows(world, expected, output, partitions)
    assert done["run"].reused == 0 and not list(tmp_path.glob(".feats.*"))


def test_a_run_after_a_killed_client_reuses_its_finished_parts(cluster, world, tmp_path):
    import subprocess
    import sys

    from blazingaml.dsl.parser import load_patterns

    fan = ROOT / "patterns" / "gfp" / "fan.pattern"
    output = tmp_path / "feats"
    client = subprocess.Popen([sys.executable, "-m", "blazingaml.cli", "mine", "--patterns", str(fan),
                               "--input", str(world), "--output", str(output), "--threads", "1", "--engine", "dask",
                               "--scheduler", cluster.scheduler.address, "--memory-per-worker", "4MiB"],
                              stdout=subprocess.DEVNULL, stderr=open(tmp_path / "client.log", "w"))
    staged = []
    while not staged and client.poll() is None:
        staged = list(tmp_path.glob(".feats.*.parts/part-*.parquet"))
        time.sleep(0.02)
    client.kill()
    client.wait()
    assert staged and not output.exists(), (tmp_path / "client.log").read_text()
    patterns = load_patterns([fan])
    run = mine_distributed(cluster, world, patterns, output, threads=1, memory_per_worker=4 << 20)
    assert 1 <= run.reused < len(run.partitions), (run.reused, len(run.partitions))
    assert_same_rows(world, single_process(world, patterns), output, len(run.partitions))
    assert not list(tmp_path.glob(".feats.*"))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 50), min_size=1, max_size=60), st.lists(st.integers(1, 30), min_size=60, max_size=60),
       st.integers(0, 40 * MINUTE), st.booleans(), st.integers(1, 400))
def test_plan_covers_every_minute_once_within_budget(counts, gaps, window, participation, max_rows):
    minutes = 1_000_000 * MINUTE + np.cumsum(np.array(gaps[:len(counts)]) * MINUTE)
    counts = np.array(counts)
    try:
        parts = plan_partitions(minutes, counts, Halo(window, after=participation), max_rows)
    except BlazingError:
        return
    assert parts[0].start == minutes[0] and parts[-1].stop == minutes[-1] + MINUTE
    for a, b in zip(parts, parts[1:]):
        assert a.stop == b.start
    for p in parts:
        in_core = (minutes >= p.start) & (minutes < p.stop)
        assert p.rows == counts[in_core].sum() and in_core.any()
        assert p.read_start == p.start - window and p.read_stop == p.stop + (window + 1 if participation else 0)
        read = (minutes + MINUTE > p.read_start) & (minutes < p.read_stop)    # minutes meeting the read range
        assert counts[read].sum() == p.read_rows <= max_rows


def test_plan_refuses_a_budget_below_one_window():
    minutes = np.arange(10) * MINUTE
    with pytest.raises(BlazingError, match="memory budget"):
        plan_partitions(minutes, np.full(10, 5), Halo(5 * MINUTE), 20)


def test_a_window_reaching_back_exactly_to_the_halo_start(tmp_path):
    """A 24h cycle whose first edge lies exactly W before the core's first minute, closed by one
    of two edges tied on that minute: it counts only if the halo includes its start."""
    from blazingaml.distributed import mine_partition
    from blazingaml.dsl.parser import load_patterns
    from blazingaml.io.ibm_csv import NORMALISED_SCHEMA

    day, t0 = 86_400, 1_000_000 * MINUTE
    edges = [(t0 - MINUTE, 2, 3), (t0, 0, 1), (t0 + day, 1, 0), (t0 + day, 1, 2), (t0 + day + MINUTE, 2, 1)]
    columns = {"tx_id": np.arange(len(edges)), "ts": [t for t, _, _ in edges], "src": [s for _, s, _ in edges],
               "dst": [d for _, _, d in edges], "amount_paid": np.ones(len(edges)),
               "amount_received": np.ones(len(edges)), "pay_currency": np.zeros(len(edges)),
               "recv_currency": np.zeros(len(edges)), "payment_format": np.zeros(len(edges))}
    path = tmp_path / "tx.parquet"
    pq.write_table(pa.table({f.name: pa.array(columns[f.name], f.type) for f in NORMALISED_SCHEMA}), path)
    patterns = load_patterns([ROOT / "patterns" / "gfp" / "cycles.pattern"])
    expected = single_process(path, patterns).filter(pa.compute.greater_equal(pq.read_table(path)["ts"], t0 + day))
    assert expected["temporal_cycle.2"].to_pylist()[0] == 1           # the tie at the boundary closes the cycle
    part = TimePartition(0, t0 + day, t0 + day + 2 * MINUTE, t0, t0 + day + 2 * MINUTE, 3, 4)
    result = mine_partition(str(path), part, None, patterns, str(tmp_path), "closing", "numba", 1, 2_000_000, "flag")
    assert pq.read_table(tmp_path / part.part_name).equals(expected)
    assert result == {**result, "rows": 3, "halo_rows": 1}


def test_cli_mines_on_a_running_scheduler(cluster, world, tmp_path, capsys):
    from blazingaml.cli import main

    address = cluster.scheduler.address
    args = ["mine", "--patterns", str(ROOT / "patterns" / "gfp" / "fan.pattern"), "--input", str(world),
            "--threads", "1", "--engine", "dask", "--scheduler", address, "--memory-per-worker", "4MiB"]
    assert main(args + ["--output", str(tmp_path / "dask.parquet")]) == 0
    assert main(args[:-6] + ["--output", str(tmp_path / "one.parquet")]) == 0
    got = pq.read_table(tmp_path / "dask.parquet")
    assert len(list((tmp_path / "dask.parquet").glob("part-*"))) > 1
    assert got.sort_by("tx_id").equals(pq.read_table(tmp_path / "one.parquet").sort_by("tx_id"))


def test_cli_refuses_what_the_dask_engine_cannot_do(cluster, small_world, tmp_path, capsys):
    from blazingaml.cli import main

    text = tmp_path / "tx.txt"
    text.write_text(small_world[0].trans.read_text())
    assert main(["mine", "--patterns", str(ROOT / "patterns" / "gfp" / "fan.pattern"), "--input", str(text),
                 "--output", str(tmp_path / "f.parquet"), "--engine", "dask",
                 "--scheduler", cluster.scheduler.address]) == 1
    assert "the dask engine reads Parquet files or IBM Trans.csv files" in capsys.readouterr().err
    assert main(["mine", "--patterns", str(ROOT / "patterns" / "gfp" / "fan.pattern"), "--input", str(small_world[1]),
                 "--output", str(tmp_path / "f.parquet"), "--engine", "dask", "--scheduler", "local:0"]) == 1
    assert "at least one worker" in capsys.readouterr().err
    assert main(["mine", "--patterns", str(ROOT / "patterns" / "gfp" / "fan.pattern"), "--input", str(small_world[1]),
                 "--output", str(tmp_path / "f.parquet"), "--scheduler", "local:2"]) == 1
    assert "apply to the dask engine" in capsys.readouterr().err
    assert not (tmp_path / "f.parquet").exists()


def test_a_bad_value_stops_the_run_with_one_clear_error(cluster, world, tmp_path):
    from blazingaml.dsl.parser import load_patterns
    from blazingaml.errors import SchemaError
    from blazingaml.io.ibm_csv import accounts_path_for

    table = pq.read_table(world)
    amounts = table["amount_paid"].to_numpy().copy()
    amounts[table.num_rows // 2] = -1.0
    bad = tmp_path / "bad.parquet"
    pq.write_table(table.set_column(table.column_names.index("amount_paid"), "amount_paid", pa.array(amounts)), bad,
                   row_group_size=ROW_GROUP)
    pq.write_table(pq.read_table(accounts_path_for(world)), accounts_path_for(bad))
    with pytest.raises(SchemaError, match="amount_paid.*not a finite, non-negative amount.*row numbered among") as err:
        mine_distributed(cluster, bad, load_patterns([ROOT / "patterns" / "gfp" / "fan.pattern"]),
                         tmp_path / "feats", threads=1, max_rows=9_000)
    assert err.value.hint and not (tmp_path / "feats").exists()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 20), min_size=1, max_size=40), st.lists(st.integers(1, 400), min_size=40, max_size=40),
       st.integers(0, 60 * MINUTE), st.integers(1, 60 * MINUTE), st.booleans(), st.integers(1, 200))
def test_plan_holds_every_lagged_window_that_reaches_a_core(counts, gaps, window, lagged, participation, max_rows):
    """Against the definition, minute by minute (a minute's transactions may sit anywhere in it):
    the halo before holds the window of the core's first transaction, reaching back from the
    last transaction before the core; the halo after holds every later trigger whose lagged
    window can reach the core."""
    minutes = 1_000_000 * MINUTE + np.cumsum(np.array(gaps[:len(counts)]) * MINUTE)
    window = max(window, lagged)
    counts = np.array(counts)
    try:
        parts = plan_partitions(minutes, counts, Halo(window, lagged, participation), max_rows)
    except BlazingError:
        return
    for p in parts:
        before = minutes[minutes < p.start]
        # every transaction of the previous busy minute is at or after its start
        assert p.read_start == (min(p.start - window, before[-1] - lagged) if before.size else p.start - window)
        if participation:
            assert p.read_stop >= p.stop + window + 1
            later = np.flatnonzero(minutes >= p.stop)
            # a later minute whose previous busy minute starts before stop + lagged may hold a
            # trigger whose window reaches the core: read it whole
            assert all(minutes[k] + MINUTE <= p.read_stop for k in later if minutes[k - 1] < p.stop + lagged)
        read = (minutes + MINUTE > p.read_start) & (minutes < p.read_stop)
        assert counts[read].sum() == p.read_rows <= max_rows


def gap_world(path: Path) -> dict:
    """`gap_transactions` written to `path` in shuffled row groups; the times of note."""
    table, times = gap_transactions()
    order = np.random.default_rng(7).permutation(table.num_rows)             # file order is not time order
    pq.write_table(table.take(pa.array(order)), path, row_group_size=100)
    return times


@pytest.mark.parametrize("mode, max_rows", [("closing", 260), ("participation", 460)])
def test_lagged_windows_reach_back_past_gaps(cluster, tmp_path, mode, max_rows):
    """`vertex_stats.pattern` as it stands (480h, lagged) on the Dask engine equals one process.
    Closing: the partition whose core starts after the 25-day gap reads back 480h before the last
    transaction before it, several partitions back (a halo of 480h before its core would hold
    nothing, and account 0's first send would go missing from its statistics). Participation: a
    partition ending more than 480h before the gap's end reads the trigger after it, whose window
    reaches back into that partition's core."""
    path = tmp_path / "tx.parquet"
    times = gap_world(path)
    patterns, w = vertex_stats(), 480 * 3600
    expected = single_process(path, patterns, mode)
    table = pq.read_table(path)
    first_after_gap = pa.compute.equal(table["tx_id"], FIRST_AFTER_GAP)    # the tie at `resumed` first in edge order
    assert expected.filter(first_after_gap)["vertex_stats.src_out_degree"].to_pylist() == [2]
    run = mine_distributed(cluster, path, patterns, tmp_path / "feats", mode=mode, threads=1, max_rows=max_rows)
    if mode == "closing":
        after_gap = [p for p in run.partitions if p.start == times["resumed"]]
        assert after_gap, "no partition's core starts after the gap: the test would not test the lagged halo"
        part = after_gap[0]
        assert part.read_start <= times["last_before_gap"] - w < part.start - w
        assert sum(1 for p in run.partitions if part.read_start < p.stop <= part.start) >= 3   # several partitions back
    else:
        assert any(p.stop + w + 1 <= times["resumed"] < p.read_stop for p in run.partitions)
    assert_same_rows(path, expected, tmp_path / "feats", len(run.partitions))
