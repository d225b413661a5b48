"""Normalise a transaction table as a user has it: the IBM columns, or any columns with a mapping.

A mapping names, for each field of a transaction, the user's column that holds it:

    ts                 when (a timestamp, an IBM "YYYY/MM/DD HH:MM" or ISO 8601 string, or integer
                       seconds since the Unix epoch)                                       required
    src, dst           the sending and receiving accounts (any type; read as text)         required
    amount             the amount, paid and received alike; or amount_paid and amount_received
    src_bank, dst_bank the accounts' banks (text); without them every account is in bank ""
    currency           one currency for both sides, or pay_currency and recv_currency (IBM names;
                       "US Dollar" when not given)
    payment_format     IBM payment format names ("ACH" when not given)
    label              1 for laundering, 0 otherwise (training and evaluation need it)

Accounts get dense ids in order of first appearance, sender before receiver, exactly as the CSV
reader assigns them, so a table holding the rows of a Trans.csv normalises to the same table.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import SchemaError
from .accounts import AccountIndex
from .ibm_csv import NORMALISED_SCHEMA, calendar_dates_only
from .vocab import CURRENCIES, PAYMENT_FORMATS, TIMESTAMP_FORMAT

FIELDS = ("ts", "src", "dst", "src_bank", "dst_bank", "amount", "amount_paid", "amount_received", "currency",
          "pay_currency", "recv_currency", "payment_format", "label")
DEFAULT_CURRENCY = "US Dollar"
DEFAULT_FORMAT = "ACH"
# Column names pandas gives an IBM Trans.csv (the second "Account" becomes "Account.1").
IBM_COLUMNS = {"ts": "Timestamp", "src_bank": "From Bank", "src": "Account", "dst_bank": "To Bank",
               "dst": "Account.1", "amount_received": "Amount Received", "recv_currency": "Receiving Currency",
               "amount_paid": "Amount Paid", "pay_currency": "Payment Currency", "payment_format": "Payment Format",
               "label": "Is Laundering"}
MAPPING_HINT = ("map your columns with --columns, e.g. --columns ts=time src=sender dst=receiver amount=amount "
                "(fields: " + ", ".join(FIELDS) + "; see docs/operations.md)")


def parse_column_mapping(items) -> dict[str, str]:
    """{field: column} from FIELD=COLUMN items (several may share one item, separated by commas)."""
    mapping: dict[str, str] = {}
    for item in items:
        for part in filter(None, (p.strip() for p in item.split(","))):
            field, sep, column = part.partition("=")
            field, column = field.strip(), column.strip()
            if not sep or not column:
                raise SchemaError(f"--columns: '{part}' is not FIELD=COLUMN", hint=MAPPING_HINT)
            if field not in FIELDS:
                raise SchemaError(f"--columns: unknown field '{field}'", hint="fields: " + ", ".join(FIELDS))
            if field in mapping:
                raise SchemaError(f"--columns: field '{field}' is given twice")
            mapping[field] = column
    check_mapping(mapping)
    return mapping


def check_mapping(mapping: dict[str, str]) -> None:
    """A mapping must name when, who and how much, each once."""
    unknown = sorted(set(mapping) - set(FIELDS))
    if unknown:
        raise SchemaError(f"column mapping: unknown fields {', '.join(unknown)}", hint="fields: " + ", ".join(FIELDS))
    missing = [f for f in ("ts", "src", "dst") if f not in mapping]
    has_sides = "amount_paid" in mapping and "amount_received" in mapping
    if "amount" not in mapping and not has_sides:
        missing.append("amount")
    if missing:
        raise SchemaError(f"column mapping: no column given for {', '.join(missing)}", hint=MAPPING_HINT)
    for both, sides in (("amount", ("amount_paid", "amount_received")), ("currency", ("pay_currency", "recv_currency"))):
        if both in mapping and any(s in mapping for s in sides):
            raise SchemaError(f"column mapping: give '{both}' or '{sides[0]}'/'{sides[1]}', not both")
    if ("src_bank" in mapping) != ("dst_bank" in mapping):
        raise SchemaError("column mapping: give both src_bank and dst_bank, or neither")


def ibm_mapping(table: pa.Table) -> dict[str, str] | None:
    """The mapping of a table in the IBM schema (label optional), or None if it is not one."""
    names = set(table.column_names)
    if all(c in names for f, c in IBM_COLUMNS.items() if f != "label"):
        return {f: c for f, c in IBM_COLUMNS.items() if c in names}
    return None


def normalise_table(table: pa.Table, mapping: dict[str, str], source: str, index: AccountIndex | None = None,
                    first_tx_id: int = 0) -> tuple[pa.Table, pa.Table]:
    """(normalised transactions, account key table) of a user table read through `mapping`.

    `index` holds the accounts of earlier tables of the same data (new ones are added to it) and
    `first_tx_id` is the number of their rows, so the pieces of one data set normalise to the
    pieces of its normalised whole."""
    reader = _reader(table, mapping, source)
    n = table.num_rows
    ts = reader.timestamps()
    index = AccountIndex() if index is None else index
    src_id, dst_id = index.lookup_pairs(*reader.endpoints())
    paid = reader.amounts("amount" if "amount" in mapping else "amount_paid")
    received = paid if "amount" in mapping else reader.amounts("amount_received")
    pay = reader.codes("currency" if "currency" in mapping else "pay_currency", CURRENCIES, DEFAULT_CURRENCY)
    recv = pay if "currency" in mapping else reader.codes("recv_currency", CURRENCIES, DEFAULT_CURRENCY)
    fmt = reader.codes("payment_format", PAYMENT_FORMATS, DEFAULT_FORMAT)
    arrays = [pa.array(np.arange(first_tx_id, first_tx_id + n, dtype=np.int64)), pa.array(ts), pa.array(src_id),
              pa.array(dst_id), pa.array(paid), pa.array(received), pa.array(pay), pa.array(recv), pa.array(fmt)]
    schema = NORMALISED_SCHEMA
    if "label" in mapping:
        arrays.append(pa.array(reader.labels()))
        schema = schema.append(pa.field("label", pa.int8()))
    return pa.table(arrays, schema=schema), index.table()


def account_keys(table: pa.Table, mapping: dict[str, str], source: str) -> pa.Table:
    """The key table of the accounts of a user table, in order of first appearance (sender
    before receiver), as `normalise_table` numbers them."""
    index = AccountIndex()
    index.lookup_pairs(*_reader(table, mapping, source).endpoints())
    return index.table()


def _reader(table: pa.Table, mapping: dict[str, str], source: str) -> "_Columns":
    check_mapping(mapping)
    absent = [f"{c!r} (for {f})" for f, c in mapping.items() if c not in table.column_names]
    if absent:
        raise SchemaError(f"{source}: no column {', '.join(absent)}; its columns are: "
                          + ", ".join(table.column_names), hint=MAPPING_HINT)
    return _Columns(table, mapping, source)


class _Columns:
    """Typed, validated columns of a user table; the first bad value stops with its row."""

    def __init__(self, table: pa.Table, mapping: dict[str, str], source: str):
        self.table, self.mapping, self.source = table, mapping, source

    def _column(self, field: str) -> pa.Array:
        col = self.table.column(self.mapping[field]).combine_chunks()
        if col.null_count:
            self._fail(field, ~np.asarray(col.is_valid().to_numpy(zero_copy_only=False)), "missing value")
        return col.dictionary_decode() if pa.types.is_dictionary(col.type) else col

    def _fail(self, field: str, bad: np.ndarray, what: str, hint: str | None = None):
        row = int(np.argmax(bad))
        name = self.mapping[field]
        value = self.table.column(name)[row].as_py()
        raise SchemaError(f"{self.source}: row {row}, column '{name}' ({field}): {what}: {value!r} "
                          f"({int(bad.sum()):,} such rows)", hint=hint)

    def text(self, field: str) -> pa.Array:
        col = self._column(field)
        if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type) or pa.types.is_integer(col.type)):
            self._fail(field, np.ones(len(col), bool), f"account and bank identifiers must be text or integers, "
                                                       f"not {col.type}")
        col = col.cast(pa.string())
        empty = np.asarray(pc.equal(pc.utf8_length(col), 0).to_numpy(zero_copy_only=False), dtype=bool)
        if empty.any():
            self._fail(field, empty, "empty identifier")
        return col

    def endpoints(self) -> tuple[pa.Array, pa.Array, pa.Array, pa.Array]:
        """(sender bank, sender, receiver bank, receiver) as text; banks "" when not mapped."""
        src, dst = self.text("src"), self.text("dst")
        if "src_bank" in self.mapping:
            return self.text("src_bank"), src, self.text("dst_bank"), dst
        no_bank = pa.repeat(pa.scalar("", pa.string()), self.table.num_rows)
        return no_bank, src, no_bank, dst

    def timestamps(self) -> np.ndarray:
        col = self._column("ts")
        if pa.types.is_integer(col.type):
            return col.cast(pa.int64()).to_numpy()
        if pa.types.is_timestamp(col.type) or pa.types.is_date(col.type):
            return col.cast(pa.timestamp("s"), safe=False).cast(pa.int64()).to_numpy()
        if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
            self._fail("ts", np.ones(len(col), bool), f"not a time (type {col.type})",
                       hint="give timestamps, IBM 'YYYY/MM/DD HH:MM' text, ISO 8601 text or epoch seconds")
        ibm = calendar_dates_only(col, pc.strptime(col, format=TIMESTAMP_FORMAT, unit="s", error_is_null=True))
        if not ibm.null_count:
            return ibm.cast(pa.int64()).to_numpy()
        try:
            return col.cast(pa.timestamp("s")).cast(pa.int64()).to_numpy()
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            self._fail("ts", ~np.asarray(ibm.is_valid().to_numpy(zero_copy_only=False)), "not a time",
                       hint="give IBM 'YYYY/MM/DD HH:MM' or ISO 8601 text (one format per column), timestamps "
                            "or epoch seconds")

    def amounts(self, field: str) -> np.ndarray:
        col = self._column(field)
        try:
            values = col.cast(pa.float64()).to_numpy()
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            self._fail(field, np.ones(len(col), bool), f"not a number column (type {col.type})")
        bad = ~np.isfinite(values) | (values < 0)
        if bad.any():
            self._fail(field, bad, "not a finite, non-negative amount")
        return values

    def codes(self, field: str, vocab: tuple[str, ...], default: str) -> np.ndarray:
        if field not in self.mapping:
            return np.full(self.table.num_rows, vocab.index(default), np.int8)
        col = self._column(field).cast(pa.string())
        codes = pc.index_in(col, value_set=pa.array(vocab))
        if codes.null_count:
            self._fail(field, ~np.asarray(codes.is_valid().to_numpy(zero_copy_only=False)), "unknown name",
                       hint="IBM names only: " + ", ".join(vocab))
        return codes.to_numpy(zero_copy_only=False).astype(np.int8)

    def labels(self) -> np.ndarray:
        col = self._column("label")
        try:
            values = col.cast(pa.int64()).to_numpy()
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            self._fail("label", np.ones(len(col), bool), f"labels must be 0/1 (type {col.type})")
        bad = (values != 0) & (values != 1)
        if bad.any():
            self._fail("label", bad, "labels must be 0 or 1")
        return values.astype(np.int8)
