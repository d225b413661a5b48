"""Inputs of the Dask engine: one file or many (a directory or a glob), local or behind an fsspec URL.

Every worker opens the files itself (through fsspec for a URL such as `s3://bucket/tx/` or
`file:///data/tx/`), so no transaction passes through the client. Files are read in the order of
their sorted paths: the input is their concatenation (timestamp ties across files keep that order).

Normalised Parquet files (`blazingaml convert`) share one account key table (their `src`/`dst`
index it): beside a file `tx.parquet` it is `tx.accounts.parquet`; beside a directory `tx/` (or
the directory holding a glob's files) it is `tx.accounts.parquet`. Other inputs (IBM Trans.csv
files, Parquet files in the IBM schema or read through a `--columns` mapping) are normalised on
the workers first (`normalised_files`): each worker lists its file's accounts in order of first
appearance, the client numbers them in file order (one key table, as one process numbers the
concatenation), then each worker writes its file normalised, with global accounts and `tx_id`s.
"""

from __future__ import annotations

import contextlib
import glob as globbing
from dataclasses import dataclass
from pathlib import PurePosixPath

from .errors import SchemaError


@dataclass(frozen=True)
class TransactionFiles:
    """The Parquet files of an input (sorted paths on `filesystem`), its key table's path, and a
    digest of what they hold now (paths, sizes, modification times), for resuming runs."""

    source: str
    files: tuple[str, ...]
    accounts: str
    filesystem: object = None     # an fsspec filesystem, or None for local paths
    identity: str = ""

    def open(self, path: str):
        """A binary file object of `path` (a member of `files` or the key table)."""
        return self.filesystem.open(path, "rb") if self.filesystem is not None else open(path, "rb")

    def exists(self, path: str) -> bool:
        import os

        return self.filesystem.exists(path) if self.filesystem is not None else os.path.exists(path)


def transaction_files(source) -> TransactionFiles:
    """The files of `source`: a Parquet file, a directory (its `*.parquet` files, at any depth,
    as a partitioned dataset lays them out), or a glob; each may be an fsspec URL."""
    import hashlib
    import os

    if isinstance(source, TransactionFiles):
        return source
    text = str(source)
    filesystem = None
    if "://" in text:
        try:
            import fsspec
        except ImportError:
            raise SchemaError(f"{text}: reading URLs needs the 'fsspec' package",
                              hint="pip install fsspec (and the package of your store, e.g. s3fs)") from None
        filesystem, text = fsspec.core.url_to_fs(text)
    fs = filesystem
    is_dir = fs.isdir(text) if fs is not None else os.path.isdir(text)
    if is_dir:
        files = [f for pattern in ("*.parquet", "*.csv") for f in (
            fs.glob(f"{text.rstrip('/')}/**/{pattern}") if fs is not None else
            globbing.glob(os.path.join(text, "**", pattern), recursive=True))]
        holder = text.rstrip("/")
    elif globbing.has_magic(text):
        files = fs.glob(text) if fs is not None else globbing.glob(text)
        holder = str(PurePosixPath(text).parent)
        while globbing.has_magic(holder):
            holder = str(PurePosixPath(holder).parent)
    else:
        exists = fs.exists(text) if fs is not None else os.path.exists(text)
        if not exists:
            raise SchemaError(f"{source}: no such file")
        files, holder = [text], None
    files = sorted(str(f) for f in files if not str(f).endswith(".accounts.parquet"))
    if not files:
        raise SchemaError(f"{source}: holds no Parquet or CSV files",
                          hint="give a .parquet or .csv file, a directory of them, or a glob such as 'tx/*.parquet'")
    for f in files:
        if not f.lower().endswith((".parquet", ".csv")):
            raise SchemaError(f"{f}: the dask engine reads Parquet files or IBM Trans.csv files",
                              hint="give .parquet or .csv files, a directory of them, or a glob")
    if holder is None:
        accounts = str(PurePosixPath(files[0]).with_name(PurePosixPath(files[0]).stem + ".accounts.parquet"))
    else:
        accounts = str(PurePosixPath(holder).with_name(PurePosixPath(holder).name + ".accounts.parquet"))
    if fs is None:
        files = [os.path.abspath(f) for f in files]
        accounts = os.path.abspath(accounts)
        stamps = [(f, os.stat(f).st_size, os.stat(f).st_mtime_ns) for f in files]
    else:
        stamps = [(f, fs.ukey(f)) for f in files]
    identity = hashlib.sha256(repr((type(fs).__name__, stamps)).encode()).hexdigest()
    return TransactionFiles(str(source), tuple(files), accounts, filesystem, identity)


def load_key_table(inputs: TransactionFiles):
    """The account key table of `inputs`, checked against the digest each file recorded
    (`ibm_csv.ACCOUNTS_DIGEST_KEY`); None when there is none and no file expects one."""
    import pyarrow.parquet as pq

    from .io.ibm_csv import ACCOUNT_SCHEMA, ACCOUNTS_DIGEST_KEY, accounts_digest

    recorded = set()
    for f in inputs.files:
        with inputs.open(f) as fh:
            digest = (pq.read_metadata(fh).metadata or {}).get(ACCOUNTS_DIGEST_KEY)
        recorded.add(digest.decode() if digest is not None else None)
    if not inputs.exists(inputs.accounts):
        if recorded - {None}:
            raise SchemaError(f"{inputs.source}: its account key table {inputs.accounts} is missing",
                              hint="keep the key table beside the files it was converted with")
        return None
    try:
        with inputs.open(inputs.accounts) as fh:
            accounts = pq.read_table(fh)
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise SchemaError(f"{inputs.accounts}: not a readable Parquet file ({exc})") from None
    if accounts.schema.names != ACCOUNT_SCHEMA.names:
        raise SchemaError(f"{inputs.accounts}: not an account key table",
                          hint=f"its columns should be {', '.join(ACCOUNT_SCHEMA.names)}")
    if recorded - {None, accounts_digest(accounts)}:
        raise SchemaError(f"{inputs.accounts}: this key table does not belong to {inputs.source} (it lists other "
                          f"accounts than the ones its files were converted with)",
                          hint="keep the files of one conversion together with their key table")
    return accounts


@contextlib.contextmanager
def parquet_file(inputs: TransactionFiles, index: int):
    """`pyarrow.parquet.ParquetFile` of the `index`-th file, opened for the block."""
    import pyarrow.parquet as pq

    with inputs.open(inputs.files[index]) as fh:
        yield pq.ParquetFile(fh)


def read_user_file(inputs: TransactionFiles, index: int):
    """The `index`-th file as the user wrote it: an IBM Trans.csv (keys as text, as written), or
    a Parquet table."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from .io.user_tables import IBM_COLUMNS

    path = inputs.files[index]
    with inputs.open(path) as fh:
        if not path.lower().endswith(".csv"):
            return pq.read_table(fh)
        text = [IBM_COLUMNS[f] for f in ("src_bank", "src", "dst_bank", "dst", "ts")]
        return pacsv.read_csv(fh, read_options=pacsv.ReadOptions(column_names=list(IBM_COLUMNS.values()),
                                                                skip_rows=1),
                              convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in text}))


def _mapping_of(table, columns, source: str) -> dict:
    from .io.transactions import user_transactions
    from .io.user_tables import ibm_mapping

    mapping = columns or ibm_mapping(table)
    if mapping is None:
        user_transactions(table, None, source)    # raises its error naming the columns found
    return mapping


def file_accounts(inputs: TransactionFiles, index: int, columns) -> tuple:
    """(key table of the accounts of the `index`-th file in order of first appearance, its rows):
    a worker task."""
    from .io.user_tables import account_keys

    table = read_user_file(inputs, index)
    return account_keys(table, _mapping_of(table, columns, inputs.files[index]), inputs.files[index]), table.num_rows


def normalise_file(inputs: TransactionFiles, index: int, columns, accounts, first_tx_id: int, out_dir: str) -> None:
    """Write the `index`-th file normalised with the input's account numbering (`accounts`, an
    `AccountIndex` holding every account) and tx_ids from `first_tx_id`: a worker task."""
    import os

    import pyarrow.parquet as pq

    from .io.user_tables import normalise_table

    table = read_user_file(inputs, index)
    normalised, _ = normalise_table(table, _mapping_of(table, columns, inputs.files[index]), inputs.files[index],
                                    index=accounts, first_tx_id=first_tx_id)
    target = os.path.join(out_dir, f"part-{index:05d}.parquet")
    pq.write_table(normalised, target + ".tmp")
    os.replace(target + ".tmp", target)


def is_normalised(inputs: TransactionFiles, columns) -> bool:
    """Whether the input's files are normalised Parquet (read as they are) rather than files to
    normalise first (CSV, the IBM schema, or a `columns` mapping)."""
    import pyarrow.parquet as pq

    from .io.transactions import REQUIRED

    if columns or any(f.lower().endswith(".csv") for f in inputs.files):
        return False
    with inputs.open(inputs.files[0]) as fh:
        return set(REQUIRED) <= set(pq.read_schema(fh).names)


@contextlib.contextmanager
def normalised_files(client, source, columns, staging):
    """The `TransactionFiles` of `source` in normalised form: itself when it is normalised
    Parquet, otherwise its files normalised on the workers into the directory `staging` (with
    their key table beside it), removed afterwards. Its identity is the source's, so a run that
    resumes finds the parts it staged."""
    import dataclasses
    import hashlib
    import shutil
    from pathlib import Path

    import numpy as np
    import pyarrow.parquet as pq

    from .io.accounts import AccountIndex

    inputs = transaction_files(source)
    if is_normalised(inputs, columns):
        yield inputs
        return
    staging = Path(staging)
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        n = len(inputs.files)
        listed = client.gather(client.map(file_accounts, [inputs] * n, range(n), [columns] * n, pure=False))
        accounts = AccountIndex()
        for keys, _ in listed:       # in file order: first appearance in the concatenation
            accounts.lookup_pairs(keys["bank"], keys["account_id"], keys["bank"], keys["account_id"])
        first_tx_ids = np.concatenate([[0], np.cumsum([rows for _, rows in listed])])[:-1].tolist()
        [shared] = client.scatter([accounts], broadcast=True, hash=False)
        client.gather(client.map(normalise_file, [inputs] * n, range(n), [columns] * n, [shared] * n,
                                 first_tx_ids, [str(staging)] * n, pure=False))
        normalised = transaction_files(staging)
        pq.write_table(accounts.table(), normalised.accounts)
        identity = hashlib.sha256(repr((inputs.identity, columns)).encode()).hexdigest()
        yield dataclasses.replace(normalised, source=inputs.source, identity=identity)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        Path(f"{staging}.accounts.parquet").unlink(missing_ok=True)
