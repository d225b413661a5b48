"""Load transactions as the user has them: an IBM Trans.csv, normalised Parquet (`blazingaml
convert`), a Parquet file in the IBM schema (as pandas writes a Trans.csv), or any Parquet file or
in-memory table with a column mapping (`user_tables`).

A normalised Parquet file is checked at the door, since kernels index arrays with its values: the
normalised columns with their types, account indexes inside the key table, currency and format
codes inside the vocabularies, finite non-negative amounts, labels 0/1; and its key table must be
the one it was converted with (`ibm_csv.ACCOUNTS_DIGEST_KEY`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import SchemaError
from .columns import column_numpy
from .ibm_csv import ACCOUNT_SCHEMA, ACCOUNTS_DIGEST_KEY, NORMALISED_SCHEMA, accounts_digest, accounts_path_for, \
    read_trans_csv
from .user_tables import ibm_mapping, normalise_table
from .vocab import CURRENCIES, PAYMENT_FORMATS

REQUIRED = [f.name for f in NORMALISED_SCHEMA]
_CONVERT_HINT = "convert IBM CSVs with 'blazingaml convert FILE.csv --out FILE.parquet'"
_FORMS_HINT = ("give an IBM Trans.csv, a Parquet file with the IBM columns or written by 'blazingaml convert', "
               "or map your own columns with --columns ts=... src=... dst=... amount=...")
_CODE_RANGES = {"pay_currency": len(CURRENCIES), "recv_currency": len(CURRENCIES),
                "payment_format": len(PAYMENT_FORMATS), "label": 2}


def load_transactions(path: str | os.PathLike, on_bad_rows: str = "stop", columns: dict[str, str] | None = None
                      ) -> tuple[pa.Table, pa.Table | None]:
    """Return (normalised transaction table, account key table or None).

    `.csv` files are read with the IBM Trans.csv reader. A `.parquet` file is read through
    `columns` ({field: column}, see `user_tables`) when given; otherwise it must hold the
    normalised columns (with the key table beside them when present) or the IBM columns.
    """
    path = Path(path)
    if not path.exists():
        raise SchemaError(f"{path}: no such file")
    if path.suffix.lower() == ".csv":
        if columns:
            raise SchemaError(f"{path}: --columns maps Parquet columns; a CSV is read as an IBM Trans.csv",
                              hint="write your CSV to Parquet (pandas: read_csv(...).to_parquet(...)) to map it")
        return read_trans_csv(path, on_bad_rows=on_bad_rows)
    if path.suffix.lower() != ".parquet":
        raise SchemaError(f"{path}: unknown file type '{path.suffix}'", hint=_FORMS_HINT)
    table = _read_parquet(path)
    if columns or not set(REQUIRED) <= set(table.column_names):
        return user_transactions(table, columns, str(path))
    accounts = load_accounts_for(path)
    check_table(path, table, accounts)
    return table, accounts


def check_table(path: Path, table: pa.Table, accounts: pa.Table | None) -> None:
    """Stop with a SchemaError when `table` (all or part of the Parquet file `path`) lacks the
    normalised columns or holds a value the kernels cannot index with."""
    _check_columns(path, table)
    _check_values(path, table, accounts)


def load_accounts_for(path: Path) -> pa.Table | None:
    """The account key table beside a normalised Parquet file, checked to be the one it was
    converted with; None when the file was written without one."""
    accounts = None
    acc_path = accounts_path_for(path)
    recorded = (pq.read_metadata(path).metadata or {}).get(ACCOUNTS_DIGEST_KEY)
    if acc_path.exists():
        accounts = _read_parquet(acc_path)
        if accounts.schema.names != ACCOUNT_SCHEMA.names:
            raise SchemaError(f"{acc_path}: not an account key table",
                              hint=f"its columns should be {', '.join(ACCOUNT_SCHEMA.names)}")
        if recorded is not None and recorded.decode() != accounts_digest(accounts):
            raise SchemaError(f"{acc_path}: this key table does not belong to {path.name} (it lists other accounts "
                              f"than the ones {path.name} was converted with)",
                              hint="keep the two files of one conversion together, or convert the CSV again")
    elif recorded is not None:
        raise SchemaError(f"{path}: its account key table {acc_path.name} is missing",
                          hint="keep the two files of one conversion together, or convert the CSV again")
    return accounts


def user_transactions(table: pa.Table, columns: dict[str, str] | None, source: str) -> tuple[pa.Table, pa.Table]:
    """(normalised transactions, key table) of a user's table: through `columns`, or, without
    them, its IBM columns."""
    mapping = columns or ibm_mapping(table)
    if mapping is None:
        missing = [c for c in REQUIRED if c not in table.column_names]
        raise SchemaError(f"{source}: neither the IBM columns (Timestamp, From Bank, Account, To Bank, Account.1, "
                          f"Amount Received, ...) nor the normalised ones (missing {', '.join(missing)}); "
                          f"its columns are: {', '.join(table.column_names)}", hint=_FORMS_HINT)
    return normalise_table(table, mapping, source)


def _read_parquet(path: Path) -> pa.Table:
    """The whole file, without its key-value metadata (as `pq.read_table` returns it). A single
    file is read through `ParquetFile`, which spares importing `pyarrow.dataset` (0.3-0.4 s of a
    short command's start-up); a directory of files still goes through the dataset reader."""
    try:
        if path.is_dir():
            return pq.read_table(path)
        return pq.ParquetFile(path).read().replace_schema_metadata(None)
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise SchemaError(f"{path}: not a readable Parquet file ({exc})",
                          hint="a truncated or damaged file: write it again (blazingaml's own outputs are never "
                               "left half-written)") from None


def _check_columns(path: Path, table: pa.Table) -> None:
    expected = {f.name: f.type for f in NORMALISED_SCHEMA.append(pa.field("label", pa.int8()))}
    for name in table.column_names:
        if name in expected and table.schema.field(name).type != expected[name]:
            raise SchemaError(f"{path}: column '{name}' has type {table.schema.field(name).type}, "
                              f"expected {expected[name]}", hint=_CONVERT_HINT)


def _first_bad(path: Path, table: pa.Table, name: str, bad: np.ndarray, what: str) -> None:
    if bad.any():
        row = int(np.argmax(bad))
        value = table.column(name)[row].as_py()
        raise SchemaError(f"{path}: row {row}, column '{name}': {what}: {value!r} "
                          f"({int(bad.sum()):,} such rows)", hint=_CONVERT_HINT)


def _check_values(path: Path, table: pa.Table, accounts: pa.Table | None) -> None:
    for name in REQUIRED + ["label"]:
        if name in table.column_names and table.column(name).null_count:
            _first_bad(path, table, name, ~table.column(name).is_valid().to_numpy(zero_copy_only=False), "missing")
    n_accounts = accounts.num_rows if accounts is not None else np.iinfo(np.int32).max
    for name in ("src", "dst"):
        values = column_numpy(table.column(name))
        _first_bad(path, table, name, (values < 0) | (values >= n_accounts),
                   "account index outside the key table" if accounts is not None else "negative account index")
    for name in ("amount_paid", "amount_received"):
        values = column_numpy(table.column(name))
        _first_bad(path, table, name, ~np.isfinite(values) | (values < 0), "not a finite, non-negative amount")
    for name, size in _CODE_RANGES.items():
        if name in table.column_names:
            values = column_numpy(table.column(name))
            _first_bad(path, table, name, (values < 0) | (values >= size), f"not a code below {size}")
