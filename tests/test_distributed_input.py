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
