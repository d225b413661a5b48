"""Load transactions from normalised Parquet or from an IBM Trans.csv, whichever the user has."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import SchemaError
from .ibm_csv import ACCOUNT_SCHEMA, NORMALISED_SCHEMA, accounts_path_for, read_trans_csv

REQUIRED = [f.name for f in NORMALISED_SCHEMA]


def load_transactions(path: str | os.PathLike, on_bad_rows: str = "stop") -> tuple[pa.Table, pa.Table | None]:
    """Return (normalised transaction table, account key table or None).

    `.csv` files are read with the IBM Trans.csv reader; `.parquet` files must hold the normalised
    columns (as written by `blazingaml convert`), with the key table beside them when present.
    """
    path = Path(path)
    if not path.exists():
        raise SchemaError(f"{path}: no such file")
    if path.suffix.lower() == ".csv":
        return read_trans_csv(path, on_bad_rows=on_bad_rows)
    if path.suffix.lower() != ".parquet":
        raise SchemaError(f"{path}: unknown file type '{path.suffix}'",
                          hint="give an IBM *_Trans.csv or a .parquet written by 'blazingaml convert'")
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise SchemaError(f"{path}: not a readable Parquet file ({exc})") from exc
    missing = [c for c in REQUIRED if c not in table.column_names]
    if missing:
        raise SchemaError(f"{path}: missing columns {', '.join(missing)}",
                          hint="convert IBM CSVs with 'blazingaml convert FILE.csv --out FILE.parquet'")
    accounts = None
    acc_path = accounts_path_for(path)
    if acc_path.exists():
        accounts = pq.read_table(acc_path)
        if accounts.schema.names != ACCOUNT_SCHEMA.names:
            raise SchemaError(f"{acc_path}: not an account key table")
    return table, accounts
