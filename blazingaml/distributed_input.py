"""Inputs of the Dask engine: one normalised Parquet file, or many (a directory or a glob), local or behind an fsspec URL.

Every worker opens the files itself (through fsspec for a URL such as `s3://bucket/tx/` or
`file:///data/tx/`), so no transaction passes through the client. The files of one input share
one account key table (their `src`/`dst` index it): beside a file `tx.parquet` it is
`tx.accounts.parquet`, as `blazingaml convert` writes it; beside a directory `tx/` (or the
directory holding a glob's files) it is `tx.accounts.parquet`. Files are read in the order of
their sorted paths; timestamp ties across files keep that order, as in their concatenation.
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
        files = fs.glob(f"{text.rstrip('/')}/**/*.parquet") if fs is not None else \
            globbing.glob(os.path.join(text, "**", "*.parquet"), recursive=True)
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
        raise SchemaError(f"{source}: holds no Parquet files", hint="give a .parquet file, a directory of them, "
                                                                    "or a glob such as 'tx/*.parquet'")
    for f in files:
        if not f.lower().endswith(".parquet"):
            raise SchemaError(f"{f}: the dask engine reads normalised Parquet",
                              hint=f"convert IBM CSVs first: blazingaml convert {PurePosixPath(f).name} "
                                   f"--out FILE.parquet")
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
