"""The Dask engine reads many Parquet files (a directory, a glob, an fsspec URL) as their concatenation."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from blazingaml.errors import SchemaError
from tests.test_distributed import ROOT, ROW_GROUP, assert_same_rows, cluster, single_process, world  # noqa: F401

pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def dataset(world, tmp_path_factory):
    """The world's rows in three files of unequal size under day-like subdirectories (as a
    partitioned dataset lays them out), in the world file's order, its key table beside the directory."""
    from blazingaml.io.ibm_csv import accounts_path_for

    table = pq.read_table(world)
    root = tmp_path_factory.mktemp("dataset") / "tx"
    cuts = [0, table.num_rows // 5, table.num_rows // 2, table.num_rows]
    for i, (a, b) in enumerate(zip(cuts, cuts[1:])):
        (root / f"day={i}").mkdir(parents=True)
        pq.write_table(table.slice(a, b - a), root / f"day={i}" / "part.parquet", row_group_size=ROW_GROUP)
    pq.write_table(pq.read_table(accounts_path_for(world)), root.with_name("tx.accounts.parquet"))
    return root


@pytest.mark.parametrize("form", ["directory", "file URL", "glob"])
def test_many_files_mine_like_their_concatenation(cluster, world, dataset, form, tmp_path):
    from blazingaml.distributed import mine_distributed
    from blazingaml.dsl.parser import load_patterns

    source = {"directory": str(dataset), "file URL": f"file://{dataset}",
              "glob": str(dataset / "day=*" / "*.parquet")}[form]
    patterns = load_patterns([ROOT / "patterns" / "gfp" / "fan.pattern"])
    run = mine_distributed(cluster, source, patterns, tmp_path / "feats", threads=1, max_rows=9_000)
    assert len(run.partitions) >= 3
    assert_same_rows(world, single_process(world, patterns), tmp_path / "feats", len(run.partitions))


def test_a_model_trains_on_a_directory_as_on_its_file(cluster, world, dataset, tmp_path):
    from blazingaml.distributed_learning import train_distributed
    from blazingaml.dsl.parser import load_patterns

    patterns = load_patterns([ROOT / "patterns" / "gfp" / "fan.pattern"])
    one = train_distributed(cluster, world, patterns, tmp_path / "file", threads=1, max_rows=9_000)
    many = train_distributed(cluster, dataset, patterns, tmp_path / "dir", threads=1, max_rows=9_000)
    assert one == many
    assert (tmp_path / "file" / "booster.txt").read_text() == (tmp_path / "dir" / "booster.txt").read_text()


def test_files_need_their_own_key_table(cluster, dataset, tmp_path):
    from blazingaml.distributed import mine_distributed
    from blazingaml.dsl.parser import load_patterns
    from blazingaml.io.ibm_csv import ACCOUNT_SCHEMA

    patterns = load_patterns([ROOT / "patterns" / "gfp" / "fan.pattern"])
    copy = tmp_path / "tx"
    for f in dataset.rglob("*.parquet"):
        (copy / f.parent.name).mkdir(parents=True)
        pq.write_table(pq.read_table(f), copy / f.parent.name / f.name)
    with pytest.raises(SchemaError, match="no such file|key table"):
        mine_distributed(cluster, tmp_path / "nothing", patterns, tmp_path / "feats", threads=1)
    accounts = pq.read_table(dataset.with_name("tx.accounts.parquet"))
    n = accounts.num_rows
    small = pa.table([pa.array(np.arange(n // 2, dtype=np.int32)), accounts["bank"].slice(0, n // 2),
                      accounts["account_id"].slice(0, n // 2)], schema=ACCOUNT_SCHEMA)
    pq.write_table(small, tmp_path / "tx.accounts.parquet")    # another conversion's table: fewer accounts
    with pytest.raises(SchemaError, match="account index outside the key table"):
        mine_distributed(cluster, copy, patterns, tmp_path / "feats", threads=1, max_rows=9_000)
    assert not (tmp_path / "feats").exists()


@pytest.fixture(scope="module")
def csv_files(small_world, tmp_path_factory):
    """The world's Trans.csv cut into three CSV files (each with the header) in a directory."""
    lines = small_world[0].trans.read_text().splitlines(keepends=True)
    root = tmp_path_factory.mktemp("csvs") / "trans"
    root.mkdir()
    body = lines[1:]
    cuts = [0, len(body) // 3, 2 * len(body) // 3, len(body)]
    for i, (a, b) in enumerate(zip(cuts, cuts[1:])):
        (root / f"trans-{i}.csv").write_text(lines[0] + "".join(body[a:b]))
    return root


def test_many_csv_files_mine_like_the_whole_csv(cluster, small_world, csv_files, tmp_path):
    """IBM Trans.csv files are normalised on the workers: accounts numbered as one process numbers
    the whole file, tx_ids counted across files."""
    from blazingaml.distributed import mine_distributed
    from blazingaml.dsl.parser import load_patterns
    from blazingaml.features import mine_table
    from blazingaml.io.transactions import load_transactions

    patterns = load_patterns([ROOT / "patterns" / "gfp" / "cycles.pattern"])
    expected = mine_table(*load_transactions(small_world[0].trans), patterns, threads=1).table
    run = mine_distributed(cluster, csv_files, patterns, tmp_path / "feats", threads=1, max_rows=9_000)
    assert len(run.partitions) >= 3
    got = pq.read_table(tmp_path / "feats").sort_by("tx_id")
    assert got.equals(expected.sort_by("tx_id"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["feats"]        # the normalised files are gone


def test_cli_trains_and_scores_mapped_parquet_files_on_dask(cluster, world, tmp_path):
    """--columns on the dask engine: user column names, accounts as text, in two files."""
    from blazingaml.cli import main
    from blazingaml.io.ibm_csv import accounts_path_for

    table, accounts = pq.read_table(world), pq.read_table(accounts_path_for(world))
    name = np.char.add(accounts["bank"].to_numpy(zero_copy_only=False).astype(str), "/")
    name = np.char.add(name, accounts["account_id"].to_numpy(zero_copy_only=False).astype(str))
    user = pa.table({"when": table["ts"], "sender": pa.array(name[table["src"].to_numpy()]),
                     "receiver": pa.array(name[table["dst"].to_numpy()]), "amount": table["amount_paid"],
                     "fraud": table["label"]})
    (tmp_path / "in").mkdir()
    half = user.num_rows // 2
    pq.write_table(user.slice(0, half), tmp_path / "in" / "a.parquet")
    pq.write_table(user.slice(half), tmp_path / "in" / "b.parquet")
    pq.write_table(user, tmp_path / "whole.parquet")
    mapping = ["--columns", "ts=when", "src=sender", "dst=receiver", "amount=amount", "label=fraud"]
    fan = ["--patterns", str(ROOT / "patterns" / "gfp" / "fan.pattern"), "--threads", "1"]
    dask = ["--engine", "dask", "--scheduler", cluster.scheduler.address, "--memory-per-worker", "20MiB"]
    assert main(["train", "--input", str(tmp_path / "in"), "--out", str(tmp_path / "m-dask"), *fan, *mapping,
                 *dask]) == 0
    assert main(["train", "--input", str(tmp_path / "whole.parquet"), "--out", str(tmp_path / "m-one"), *fan,
                 *mapping]) == 0
    assert (tmp_path / "m-dask" / "booster.txt").read_text() == (tmp_path / "m-one" / "booster.txt").read_text()
    assert main(["score", "--model", str(tmp_path / "m-dask"), "--input", str(tmp_path / "in"), "--output",
                 str(tmp_path / "s-dask"), "--threads", "1", *mapping, *dask]) == 0
    assert main(["score", "--model", str(tmp_path / "m-one"), "--input", str(tmp_path / "whole.parquet"),
                 "--output", str(tmp_path / "s-one.parquet"), "--threads", "1", *mapping]) == 0
    got, expected = pq.read_table(tmp_path / "s-dask"), pq.read_table(tmp_path / "s-one.parquet")
    assert got.sort_by("tx_id").equals(expected.sort_by("tx_id"))
    assert 0 < got["alert"].to_numpy().sum()
