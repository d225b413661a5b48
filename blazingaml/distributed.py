"""The Dask engine: mine or score a transaction file too large for one machine on a `distributed` cluster.

Transactions are cut into time partitions (`time_partitions`): a core of whole minutes, so
timestamp ties are never split, and halos that hold every window reaching the core
(`time_partitions.Halo`: the largest pattern window, and for a lagged window the window before
the last transaction preceding the core). A worker reads its partition straight from the
Parquet file (only the row groups whose `ts` statistics meet it), builds that slice's graph,
runs the same compiled kernels as the single-process engine and writes only its core rows, so
halo rows never appear twice.

Parts (`part-NNNNN.parquet`, time order) are staged beside the output under a key of the run and
linked into the output directory, which appears whole when every partition is done
(`io.atomic.atomic_directory`). A worker lost mid-run costs only its partitions: Dask runs them
again elsewhere, and parts are written atomically, so the output is complete and identical. A
run interrupted before its commit leaves its finished parts; the same run again reuses them.

The client never holds transactions: it reads the file's metadata, gathers one row count per
minute (a few hundred kilobytes for a year), plans the partitions and collects a few numbers
per partition. Partition size follows a memory budget per worker (`bytes_per_row`).
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import re
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .distributed_input import TransactionFiles, load_key_table, normalised_files, parquet_file, transaction_files
from .errors import BlazingError, SchemaError
from .time_partitions import MINUTE, Halo, TimePartition, bytes_per_row, plan_partitions

HISTOGRAM_ROWS = 4_000_000   # rows of `ts` one histogram task reads
DEFAULT_WORKERS = 2          # `--scheduler local` without a count


def _ts_column(meta) -> int:
    return meta.schema.to_arrow_schema().get_field_index("ts")


def _overlapping_groups(meta, lo: int, hi: int) -> list[int]:
    """Row groups that may hold a `ts` in [lo, hi) (all those without statistics)."""
    col, groups = _ts_column(meta), []
    for g in range(meta.num_row_groups):
        stats = meta.row_group(g).column(col).statistics
        if stats is None or not stats.has_min_max or (stats.max >= lo and stats.min < hi):
            groups.append(g)
    return groups


def minute_counts(inputs: TransactionFiles, index: int, groups: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Rows per minute of `ts` in row groups `groups` of the `index`-th input file (a worker
    task: reads one column)."""
    with parquet_file(inputs, index) as pf:
        ts = pf.read_row_groups(groups, columns=["ts"]).column("ts").to_numpy()
    return np.unique(ts - ts % MINUTE, return_counts=True)


def read_rows(path, lo: int, hi: int, accounts):
    """The rows with `ts` in [lo, hi), in file order, read on a worker from the row groups whose
    `ts` statistics meet the range and checked (`path`: a Parquet file, or the
    `TransactionFiles` of many)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from .io.transactions import check_table

    inputs = transaction_files(path)
    pieces = []
    for index in range(len(inputs.files)):
        with parquet_file(inputs, index) as pf:
            groups = _overlapping_groups(pf.metadata, lo, hi)
            pieces.append(pf.read_row_groups(groups) if groups else pf.schema_arrow.empty_table())
    table = pa.concat_tables(pieces)
    ts = table.column("ts")
    table = table.filter(pc.and_(pc.greater_equal(ts, lo), pc.less(ts, hi)))
    try:
        check_table(Path(inputs.source), table, accounts)
    except SchemaError as exc:   # its row number counts the rows this range holds
        raise SchemaError(f"{exc} (row numbered among the rows with ts in [{lo}, {hi}))", exc.hint) from None
    return table


def read_partition(path, part: TimePartition, accounts):
    """(the partition's rows with their halos, in file order; mask of its core rows), read on a
    worker (`read_rows`)."""
    table = read_rows(path, part.read_start, part.read_stop, accounts)
    ts = table.column("ts").to_numpy()
    return table, (ts >= part.start) & (ts < part.stop)


def write_part(table, out_dir: str, part: TimePartition, **options) -> None:
    """Write a partition's output atomically (`options`: pyarrow's writer options): a retried
    partition replaces, never doubles, the file of an earlier attempt."""
    import pyarrow.parquet as pq

    target = Path(out_dir) / part.part_name
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    pq.write_table(table, tmp, **options)
    os.replace(tmp, target)


def mine_partition(path, part: TimePartition, accounts, patterns, out_dir: str, mode: str, backend: str,
                   threads: int | None, max_work: int, on_work_limit: str) -> dict:
    """Mine one partition on a worker; write its core rows' features (`features.mine_table`)."""
    from .features import FEATURE_PARQUET, mine_table

    t0 = time.perf_counter()
    table, core = read_partition(path, part, accounts)
    mined = mine_table(table, accounts, patterns, backend=backend, mode=mode, threads=threads,
                       max_work=max_work, on_work_limit=on_work_limit)
    write_part(mined.table.filter(core), out_dir, part, **FEATURE_PARQUET)
    return {"index": part.index, "rows": int(core.sum()), "halo_rows": int((~core).sum()),
            "mine_seconds": mined.seconds, "seconds": time.perf_counter() - t0}


def score_partition(path, part: TimePartition, accounts, patterns, out_dir: str, model_dir: str,
                    backend: str, threads: int | None, explain: bool = False, history=None) -> dict:
    """Score one partition's core rows on a worker (its halo is their look-back, with the
    `history` rows of its read range joined when given: `distributed_history`); write them with
    `score` and `alert` as `pipeline.score` does, and with `explain` each alert's pattern
    instances (`pipeline.explain_alerts`: they lie inside the alert's window, which the halo
    holds) to `_alerts-NNNNN.jsonl` first, `row` counting the rows of the part."""
    import json

    import pyarrow as pa

    from .io.atomic import write_text_atomic
    from .models import load_model
    from .pipeline import score_rows, with_account_names
    from .pipeline.score import alert_explanations

    t0 = time.perf_counter()
    table, core = read_partition(path, part, accounts)
    mined, scored, mined_accounts = table, core, accounts
    if history is not None:
        mined, is_input = history.join(table, part.read_start, part.read_stop)
        scored, mined_accounts = np.zeros(mined.num_rows, bool), history.accounts
        scored[is_input] = core
    scorer, meta = load_model(model_dir)
    ft, p, alert = score_rows(scorer, meta, mined, mined_accounts, patterns, np.flatnonzero(scored), backend, threads)
    if explain:
        explanations = alert_explanations(scorer, ft, mined, scored, alert, patterns, p, mined_accounts)
        write_text_atomic(Path(out_dir) / alerts_name(part), "".join(json.dumps(x) + "\n" for x in explanations))
    named = with_account_names(table.filter(core), accounts)
    write_part(named.append_column("score", pa.array(p)).append_column("alert", pa.array(alert)), out_dir, part)
    return {"index": part.index, "rows": int(core.sum()), "halo_rows": int((~scored).sum()),
            "seconds": time.perf_counter() - t0}


@dataclass
class DistributedRun:
    """What a distributed run did: its plan and each partition's numbers."""

    partitions: list
    results: list
    seconds: float

    @property
    def rows(self) -> int:
        return sum(r["rows"] for r in self.results)

    @property
    def halo_rows(self) -> int:
        return sum(r["halo_rows"] for r in self.results)

    @property
    def reused(self) -> int:
        """Partitions an interrupted earlier run had finished."""
        return sum(1 for r in self.results if r.get("reused"))


def part_names(directory: Path) -> list[str]:
    """The entries a distributed run writes in its output directory (for `ensure_replaceable`):
    parts, and the explanations of a scoring run's alerts (their `_` hides them from Parquet readers)."""
    return [n for n in os.listdir(directory) if re.fullmatch(r"part-\d{5}\.parquet|_alerts-\d{5}\.jsonl", n)]


def alerts_name(part: TimePartition) -> str:
    return f"_alerts-{part.index:05d}.jsonl"


def mine_distributed(client, path, patterns, output, mode: str = "closing", backend: str = "numba",
                     threads: int | None = None, max_work: int = 2_000_000, on_work_limit: str = "flag",
                     memory_per_worker: int | None = None, max_rows: int | None = None,
                     columns: dict | None = None) -> DistributedRun:
    """Mine `patterns` on the normalised Parquet input `path` (a file, or many: `run_partitions`)
    with the Dask cluster of `client`;
    write the features as a directory of Parquet parts at `output`.

    The rows are those of the single-process engine (`features.mine_table`), one per transaction,
    with the same columns and values; parts follow time, rows inside a part the input order.
    Partitions hold at most `max_rows` transactions with their halos (default: what
    `memory_per_worker` bytes hold, by default half the smallest worker's memory limit)."""
    from .runtime import compile_patterns

    n_columns = len(compile_patterns(patterns, mode=mode).columns)   # checks mode and patterns on the client
    return run_partitions(client, path, output, Halo.of(patterns, mode),
                          max_rows or budget_rows(client, memory_per_worker, n_columns),
                          mine_partition, patterns, mode, backend, threads, max_work, on_work_limit, columns=columns)


def score_distributed(client, model_dir, path, patterns, output, backend: str = "numba", threads: int | None = None,
                      memory_per_worker: int | None = None, max_rows: int | None = None,
                      columns: dict | None = None, explain: bool = False, history=()) -> DistributedRun:
    """Score every transaction of the input `path` (a file, or many) with the model in
    `model_dir`, each partition on a worker with its halo as look-back, reaching into the
    `history` sources (paths, as `--history` gives them: `distributed_history`) where it lies
    before the input; the rows are those of `pipeline.score` (input columns, `score`, `alert`),
    written as a directory of Parquet parts at `output`; with `explain`, each part's alerts
    explained beside it (`score_partition`)."""
    from .models import load_model
    from .pipeline import check_compatible

    _, meta = load_model(model_dir)
    check_compatible(meta, patterns)
    return run_partitions(client, path, output, Halo.of(patterns),
                          max_rows or budget_rows(client, memory_per_worker, len(meta["features"])),
                          score_partition, patterns, str(Path(model_dir).resolve()), backend, threads, explain,
                          identity=_directory_digest(Path(model_dir)), columns=columns, history=history)


def run_partitions(client, path, output, halo: Halo, max_rows: int, task, patterns,
                   *task_args, identity: str = "", columns: dict | None = None, history=()) -> DistributedRun:
    """Plan time partitions of the input `path` (a file, a directory or glob of files, or an
    fsspec URL of those: `distributed_input`; normalised Parquet as it is, other inputs and
    those read through the `columns` mapping normalised on the workers first) from its
    per-minute counts (gathered by the workers) and the patterns' `halo`, and run `task(files,
    partition, accounts, patterns, out_dir, *task_args)` for each on the cluster; the output
    directory appears when every partition is written.

    Parts are staged in `.OUTPUT.<run key>.parts` beside the output, the key naming the input
    files (paths, sizes, modification times), the patterns' meaning, the task and its arguments,
    `identity` and the plan: a run interrupted before its commit (the client killed, say) leaves
    its finished parts there, and the same run started again mines only the others. With
    `history` sources (`score_distributed`), the task also gets their `History`."""
    from .distributed_history import joined_history

    t0 = time.perf_counter()
    output = Path(output)
    with contextlib.ExitStack() as stack:
        inputs = stack.enter_context(normalised_files(client, path, columns,
                                                      output.with_name(f".{output.name}.normalised")))
        joined = None
        if history:
            joined = joined_history(client, history, inputs, columns, stack,
                                    lambda k: output.with_name(f".{output.name}.history-{k}.normalised"))
        return _run_partitions(client, inputs, output, halo, max_rows, task, patterns, task_args, identity, t0,
                               joined)


def minute_histogram(client, inputs: TransactionFiles) -> tuple[np.ndarray, np.ndarray]:
    """(the starts of the minutes holding transactions, their row counts) of `inputs`, counted
    on the workers a batch of row groups each."""
    from .io.transactions import check_table

    batches = []
    for index, f in enumerate(inputs.files):
        with parquet_file(inputs, index) as pf:
            check_table(Path(f), pf.schema_arrow.empty_table(), None)
            batches += [(index, groups) for groups in _row_group_batches(pf.metadata)]
    if not batches:
        raise SchemaError(f"{inputs.source}: holds no transactions")
    histograms = client.gather(client.map(minute_counts, [inputs] * len(batches), *zip(*batches), pure=False))
    minutes, inverse = np.unique(np.concatenate([m for m, _ in histograms]), return_inverse=True)
    return minutes, np.bincount(inverse, weights=np.concatenate([c for _, c in histograms])).astype(np.int64)


def _run_partitions(client, inputs: TransactionFiles, output: Path, halo: Halo, max_rows, task, patterns,
                    task_args, identity, t0, history=None) -> DistributedRun:
    import pyarrow.parquet as pq

    from .io.atomic import atomic_directory
    from .ir.lower import lower

    minutes, counts = minute_histogram(client, inputs)
    accounts = load_key_table(inputs)
    if history is None:
        parts = plan_partitions(minutes, counts, halo, max_rows)
    else:   # planned over history and input together; only cores holding input rows run
        every = [(minutes, counts)] + [minute_histogram(client, h) for h in history.sources]
        joined, inverse = np.unique(np.concatenate([m for m, _ in every]), return_inverse=True)
        planned = plan_partitions(joined, np.bincount(inverse, weights=np.concatenate([c for _, c in every]))
                                  .astype(np.int64), halo, max_rows)
        scored = [p for p in planned if np.any((minutes >= p.start) & (minutes < p.stop))]
        parts = [replace(p, index=k) for k, p in enumerate(scored)]

    key = hashlib.sha256(repr((inputs.identity, [lower(p).digest() for p in patterns], task.__name__, task_args,
                               identity, history.identity if history else (), parts)).encode()).hexdigest()[:16]
    staging = output.with_name(f".{output.name}.{key}.parts")
    staging.mkdir(parents=True, exist_ok=True)
    done = {n for n in part_names(staging) if n.endswith(".parquet")}
    todo = [part for part in parts if part.part_name not in done]
    shared_accounts, shared_patterns, shared_history = client.scatter([accounts, list(patterns), history],
                                                                      broadcast=True)
    extra = {"history": shared_history} if history else {}
    futures = [client.submit(task, inputs, part, shared_accounts, shared_patterns, str(staging), *task_args,
                             **extra, pure=False) for part in todo]
    results = client.gather(futures)
    results += [{"index": part.index, "rows": pq.read_metadata(staging / part.part_name).num_rows, "halo_rows": 0,
                 "seconds": 0.0, "reused": True} for part in parts if part.part_name in done]
    with atomic_directory(output, part_names) as tmp:
        for part in parts:
            for name in (part.part_name, alerts_name(part)):
                if (staging / name).exists():
                    os.link(staging / name, Path(tmp) / name)
    # with any temporaries of a worker killed while writing, and the parts of interrupted runs of
    # other plans, which the new output makes moot
    for leftover in output.parent.glob(f".{glob.escape(output.name)}.*.parts"):
        shutil.rmtree(leftover, ignore_errors=True)
    return DistributedRun(parts, sorted(results, key=lambda r: r["index"]), time.perf_counter() - t0)


def _directory_digest(directory: Path) -> str:
    digest = hashlib.sha256()
    for f in sorted(directory.iterdir()):
        if f.is_file():
            digest.update(f.name.encode() + b"\0" + f.read_bytes())
    return digest.hexdigest()


def budget_rows(client, memory_per_worker: int | None, n_columns: int) -> int:
    """Rows a partition (core and halos) may hold: `memory_per_worker` (default half the smallest
    worker's memory limit) over `bytes_per_row` of `n_columns` feature columns."""
    budget = memory_per_worker or _smallest_worker_memory(client) // 2
    return max(1, budget // bytes_per_row(n_columns))


def _row_group_batches(meta) -> list[list[int]]:
    """Row groups in consecutive batches of about HISTOGRAM_ROWS rows (empty groups left out)."""
    batches, current, rows = [], [], 0
    for g in range(meta.num_row_groups):
        n = meta.row_group(g).num_rows
        if n == 0:
            continue
        current.append(g)
        rows += n
        if rows >= HISTOGRAM_ROWS:
            batches.append(current)
            current, rows = [], 0
    return batches + ([current] if current else [])


def _smallest_worker_memory(client) -> int:
    limits = [w.get("memory_limit") or 0 for w in client.scheduler_info()["workers"].values()]
    known = [m for m in limits if m > 0]
    return min(known) if known else 4 << 30


@contextlib.contextmanager
def connect(scheduler: str = "local"):
    """A `distributed.Client`: `local[:N]` starts a LocalCluster of N worker processes on this
    machine (default 2), anything else is the address of a running scheduler."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise BlazingError("the dask engine needs the 'distributed' package",
                           hint="pip install 'blazingaml[dist]'") from None
    local = re.fullmatch(r"local(?::(\d+))?", scheduler)
    if local is None:
        with Client(scheduler, timeout="30s") as client:
            yield client
        return
    workers = int(local.group(1) or DEFAULT_WORKERS)
    if workers < 1:
        raise BlazingError(f"--scheduler {scheduler}: a local cluster needs at least one worker")
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        yield client


_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([KMGT]i?B|B)?", re.IGNORECASE)
_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def memory_size(text: str) -> int:
    """Bytes of a size such as `4GiB`, `512MB` or `1000000` (argparse type)."""
    import argparse

    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"'{text}' is not a size (examples: 4GiB, 512MB)")
    return int(float(match.group(1)) * _UNITS[(match.group(2) or "b").lower()])
