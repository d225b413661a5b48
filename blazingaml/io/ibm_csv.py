"""Read IBM AML `*_Trans.csv` files into the normalised transaction table.

The file is read in line-aligned byte blocks (bounded memory, so HI-Large converts on a laptop);
each block is parsed by pyarrow with every column as a string and then validated column by
column with vectorised kernels. Every data row has an exact 1-based line number, so a bad row is
reported as `file:line: column 'X': reason: 'value'`, or, with ``on_bad_rows="skip"``, written
verbatim with its reason to a side file so that nothing is lost.

Normalised schema (DESIGN.md §2): ``tx_id`` (int64, the row's position among the file's data rows),
``ts`` (int64 seconds since the Unix epoch), ``src``/``dst`` (int32 dense account index),
``amount_paid``/``amount_received`` (float64), ``pay_currency``/``recv_currency``/``payment_format``
(int8 codes from :mod:`blazingaml.io.vocab`), ``label`` (int8, only when the file has it).
Accounts are identified by (bank, account) and listed in a separate key table.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ..errors import BadRowError, SchemaError
from . import fastcsv
from .accounts import AccountIndex
from .atomic import atomic_path
from .vocab import CURRENCIES, PAYMENT_FORMATS, TIMESTAMP_FORMAT, TRANS_HEADER

INTERNAL_NAMES = (
    "timestamp", "from_bank", "from_account", "to_bank", "to_account", "amount_received",
    "recv_currency", "amount_paid", "pay_currency", "payment_format", "is_laundering",
)
# Column names as a user knows them, for error messages (the two "Account" columns told apart).
DISPLAY_NAMES = dict(zip(INTERNAL_NAMES, (
    "Timestamp", "From Bank", "Account (from)", "To Bank", "Account (to)", "Amount Received",
    "Receiving Currency", "Amount Paid", "Payment Currency", "Payment Format", "Is Laundering",
)))

NORMALISED_SCHEMA = pa.schema([
    ("tx_id", pa.int64()), ("ts", pa.int64()), ("src", pa.int32()), ("dst", pa.int32()),
    ("amount_paid", pa.float64()), ("amount_received", pa.float64()),
    ("pay_currency", pa.int8()), ("recv_currency", pa.int8()), ("payment_format", pa.int8()),
])
ACCOUNT_SCHEMA = pa.schema([("account", pa.int32()), ("bank", pa.string()), ("account_id", pa.string())])

_AMOUNT_RE = r"^[0-9]+(\.[0-9]+)?$"
DEFAULT_BLOCK_BYTES = 64 << 20


@dataclass
class ConvertSummary:
    """What a conversion read, kept and set aside."""

    rows_read: int = 0
    rows_kept: int = 0
    rows_rejected: int = 0
    accounts: int = 0
    has_labels: bool = False
    rejects_path: Path | None = None
    outputs: list[Path] = field(default_factory=list)


def _read_header(path: Path) -> tuple[bytes, int]:
    with open(path, "rb") as fh:
        first = fh.readline()
    if not first.strip():
        raise SchemaError(f"{path}: the file is empty; expected the IBM AML header line",
                          hint="Trans.csv starts with: " + ",".join(TRANS_HEADER))
    names = first.decode("utf-8", "replace").rstrip("\r\n").split(",")
    if tuple(names) == TRANS_HEADER:
        return first, 11
    if tuple(names) == TRANS_HEADER[:-1]:
        return first, 10
    expected = list(TRANS_HEADER)
    missing = [n for n in dict.fromkeys(expected) if n not in names]
    extra = [n for n in names if n not in expected]
    detail = []
    if missing:
        detail.append("missing " + ", ".join(repr(m) for m in missing))
    if extra:
        detail.append("unexpected " + ", ".join(repr(x) for x in extra))
    if not detail:
        detail.append(f"columns in the wrong order or count ({len(names)} found)")
    raise SchemaError(
        f"{path}:1: not an IBM AML transactions header: " + "; ".join(detail),
        hint="expected exactly: " + ",".join(TRANS_HEADER),
    )


def _blocks(path: Path, start: int, block_bytes: int):
    """Yield (first_line_number, block) with blocks cut at line ends: read-only uint8 views of a
    memory map of the file (no copies; the OS pages the file in and out, so memory stays bounded
    whatever the file size). A last line without a newline gets one (in a small copy)."""
    size = path.stat().st_size
    if size <= start:
        return
    data = np.memmap(path, dtype=np.uint8, mode="r")
    line = 2
    pos = start
    while pos < size:
        stop = min(pos + block_bytes, size)
        if stop < size:
            nl = stop - 1
            while nl >= pos and data[nl] != 10:   # back to the last line end in the block
                nl -= 1
            if nl < pos:   # a line longer than the block: extend to its end
                rest = np.flatnonzero(data[stop:] == 10)
                nl = stop + int(rest[0]) if len(rest) else size - 1
            stop = nl + 1
        block = data[pos:stop]
        if block[-1] != 10:
            block = np.concatenate([block, np.array([10], np.uint8)])
        yield line, block
        line += int(np.count_nonzero(block == 10))
        pos = stop


def _reason_mask(valid: pa.Array, reason: str, reasons: np.ndarray, column: str, columns: np.ndarray):
    bad = np.asarray(pc.invert(pc.fill_null(valid, False)).to_numpy(zero_copy_only=False), dtype=bool)
    fresh = bad & (reasons == "")
    reasons[fresh] = reason
    columns[fresh] = column
    return bad


def _validate(table: pa.Table, has_label: bool):
    """Return (reasons, columns, parsed): reasons is None and `parsed` holds the typed columns
    when every row is fine; otherwise `parsed` is None and the bad rows have reasons.

    A cheap pass checks the whole block; only blocks with a problem pay for per-row reasons.
    """
    ts = _fast_timestamps(table["timestamp"])
    if ts is None:
        ts = pc.strptime(table["timestamp"], format=TIMESTAMP_FORMAT, unit="s", error_is_null=True)
    parsed = _parse_clean_block(table, ts, has_label)
    if parsed is not None:
        return None, None, parsed
    n = table.num_rows
    reasons = np.full(n, "", dtype=object)
    columns = np.full(n, "", dtype=object)
    for name in INTERNAL_NAMES[: 11 if has_label else 10]:
        col = table[name]
        _reason_mask(pc.greater(pc.utf8_length(col), 0), "missing value", reasons, name, columns)
    _reason_mask(pc.is_valid(ts), f"timestamp not in {TIMESTAMP_FORMAT} format", reasons, "timestamp", columns)
    for name in ("amount_received", "amount_paid"):
        col = table[name]
        _reason_mask(pc.invert(pc.starts_with(col, "-")), "negative amount", reasons, name, columns)
        lowered = pc.utf8_lower(col)
        finite = pc.invert(pc.or_(pc.match_substring(lowered, "nan"), pc.match_substring(lowered, "inf")))
        _reason_mask(finite, "amount is not a finite number", reasons, name, columns)
        _reason_mask(pc.match_substring_regex(col, _AMOUNT_RE), "amount is not a number", reasons, name, columns)
    for name in ("recv_currency", "pay_currency"):
        _reason_mask(pc.is_in(table[name], value_set=pa.array(CURRENCIES)),
                     "unknown currency", reasons, name, columns)
    _reason_mask(pc.is_in(table["payment_format"], value_set=pa.array(PAYMENT_FORMATS)),
                 "unknown payment format", reasons, "payment_format", columns)
    if has_label:
        _reason_mask(pc.is_in(table["is_laundering"], value_set=pa.array(["0", "1"])),
                     "label must be 0 or 1", reasons, "is_laundering", columns)
    return reasons, columns, None


def _fast_timestamps(col) -> pa.Array | None:
    """Parse 'YYYY/MM/DD HH:MM' straight from the string buffer; None if any value is irregular."""
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    n = len(arr)
    if n == 0 or arr.null_count or arr.type != pa.string():
        return None
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32, count=n + 1, offset=arr.offset * 4)
    if offsets[-1] - offsets[0] != 16 * n or not np.all(np.diff(offsets) == 16):
        return None
    raw = np.frombuffer(arr.buffers()[2], dtype=np.uint8, count=16 * n, offset=int(offsets[0]))
    out = np.empty(n, np.int64)
    return pa.array(out) if fastcsv.parse_timestamps(raw, n, out) else None


def _parse_clean_block(table: pa.Table, ts, has_label: bool) -> dict | None:
    """Parse every typed column in one pass; None if any value is bad (then reasons are computed)."""
    if ts.null_count:
        return None
    for name in ("from_bank", "from_account", "to_bank", "to_account"):
        if table[name].null_count or pc.min(pc.utf8_length(table[name])).as_py() == 0:
            return None
    parsed = {"ts": ts}
    for name in ("amount_received", "amount_paid"):
        try:
            values = pc.cast(table[name], pa.float64()).to_numpy()
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
        if not np.isfinite(values).all() or (values < 0).any():
            return None
        parsed[name] = values
    checks = [("recv_currency", CURRENCIES), ("pay_currency", CURRENCIES), ("payment_format", PAYMENT_FORMATS)]
    if has_label:
        checks.append(("is_laundering", ("0", "1")))
    for name, vocab in checks:
        codes = pc.index_in(table[name], value_set=pa.array(vocab))
        if codes.null_count:
            return None
        parsed[name] = codes.to_numpy(zero_copy_only=False).astype(np.int8)
    return parsed


class TransactionReader:
    """Stream a Trans.csv as validated, normalised record batches.

    Iterate it to get normalised `pyarrow.Table` blocks; afterwards `accounts` holds the key table
    and `rejected` the set-aside rows (line, reason, text) when ``on_bad_rows="skip"``.
    """

    def __init__(self, path: str | os.PathLike, on_bad_rows: str = "stop", block_bytes: int = DEFAULT_BLOCK_BYTES,
                 progress=None, fast_path: bool = True):
        if on_bad_rows not in ("stop", "skip"):
            raise ValueError("on_bad_rows must be 'stop' or 'skip'")
        self.path = Path(path)
        if not self.path.exists():
            raise SchemaError(f"{self.path}: no such file")
        self.on_bad_rows = on_bad_rows
        self.block_bytes = block_bytes
        self.progress = progress
        self.fast_path = fast_path   # False: every block through the Arrow path (for tests and debugging)
        header, self.ncols = _read_header(self.path)
        self.header_bytes = len(header)
        self.has_labels = self.ncols == 11
        self.accounts = AccountIndex()
        self.rejected: list[tuple[int, str, str]] = []
        self.rows_read = 0
        self.size = self.path.stat().st_size
        names = list(INTERNAL_NAMES[: self.ncols])
        self._names = names
        self.schema = NORMALISED_SCHEMA.append(pa.field("label", pa.int8())) if self.has_labels else NORMALISED_SCHEMA

    def _parse_block(self, first_line: int, block: np.ndarray):
        invalid: list[str] = []

        def on_invalid(row):
            invalid.append(row.text)
            return "skip"

        table = pacsv.read_csv(
            pa.BufferReader(pa.py_buffer(block)),
            read_options=pacsv.ReadOptions(column_names=self._names, use_threads=True),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in self._names},
                strings_can_be_null=False, quoted_strings_can_be_null=False,
            ),
        )
        lines = np.arange(first_line, first_line + table.num_rows, dtype=np.int64)
        structural: list[tuple[int, str, str]] = []
        if invalid:
            # Rare path: recover exact line numbers by splitting the block in Python.
            raw = block.tobytes().rstrip(b"\n").split(b"\n")
            good_lines = []
            for offset, text in enumerate(raw):
                decoded = text.decode("utf-8", "replace").rstrip("\r")
                if decoded == "" or decoded.count(",") == self.ncols - 1:  # pyarrow keeps empty lines as rows
                    good_lines.append(first_line + offset)
                else:
                    fields = decoded.count(",") + 1 if decoded else 0
                    structural.append((first_line + offset, f"expected {self.ncols} fields, found {fields}", decoded))
            lines = np.asarray(good_lines[: table.num_rows], dtype=np.int64)
        return table, lines, structural

    def _reject_or_raise(self, entries: list[tuple[int, str, str, str, str]]):
        """entries: (line, column, value, reason, text), sorted by line."""
        if not entries:
            return
        if self.on_bad_rows == "stop":
            line, column, value, reason, _ = entries[0]
            raise BadRowError(self.path, line, column, value, reason)
        self.rejected.extend((line, reason if column == "(row)" else f"{column}: {reason}", text)
                             for line, column, value, reason, text in entries)

    def _scan(self, block: np.ndarray):
        """The one-pass fast path over a block (see `fastcsv`); None when it needs the full parser."""
        if not self.fast_path:
            return None
        rows, ok, ts, keys, amount_received, amount_paid, codes = fastcsv.scan_block(
            block, self.has_labels, fastcsv.CURRENCY_BYTES, fastcsv.CURRENCY_OFFSETS, fastcsv.FORMAT_BYTES,
            fastcsv.FORMAT_OFFSETS)
        return (rows, ts, keys, amount_received, amount_paid, codes) if ok else None

    def _fast_table(self, first_line: int, block: np.ndarray, scanned) -> pa.Table:
        rows, ts, keys, amount_received, amount_paid, codes = scanned
        self.rows_read += rows
        src, dst = self.accounts.lookup_ranges(block, keys)
        arrays = [
            pa.array(np.arange(first_line - 2, first_line - 2 + rows, dtype=np.int64)), pa.array(ts),
            pa.array(src), pa.array(dst), pa.array(amount_paid), pa.array(amount_received),
            pa.array(codes[:, 1].copy()), pa.array(codes[:, 0].copy()), pa.array(codes[:, 2].copy()),
        ]
        if self.has_labels:
            arrays.append(pa.array(codes[:, 3].copy()))
        return pa.table(arrays, schema=self.schema)

    def _scanned_blocks(self):
        """(first line, block, fast scan or None), reading and scanning the next block in a worker
        thread while the caller interns accounts of this one (both release the GIL)."""
        blocks = _blocks(self.path, self.header_bytes, self.block_bytes)

        def load():
            item = next(blocks, None)
            return None if item is None else (*item, self._scan(item[1]))

        with ThreadPoolExecutor(max_workers=1) as pool:
            ahead = pool.submit(load)
            while True:
                item = ahead.result()
                if item is None:
                    return
                ahead = pool.submit(load)
                yield item

    def __iter__(self):
        for first_line, block, scanned in self._scanned_blocks():
            if scanned is not None:
                fast = self._fast_table(first_line, block, scanned)
                if self.progress is not None:
                    self.progress(len(block))
                if fast.num_rows:
                    yield fast
                continue
            table, lines, structural = self._parse_block(first_line, block)
            self.rows_read += table.num_rows + len(structural)
            reasons, columns, parsed = _validate(table, self.has_labels)
            entries = [(line, "(row)", text, reason, text) for line, reason, text in structural]
            if reasons is not None:
                bad = reasons != ""
                raw = {n: table[n] for n in self._names}
                for i in np.flatnonzero(bad):
                    col = columns[i]
                    text = ",".join(raw[n][int(i)].as_py() or "" for n in self._names)
                    entries.append((int(lines[i]), DISPLAY_NAMES[col], raw[col][int(i)].as_py() or "", reasons[i], text))
            entries.sort(key=lambda e: e[0])
            self._reject_or_raise(entries)
            if reasons is not None:
                # Only reached in skip mode: the good rows of a block with bad ones are re-parsed.
                table = table.filter(pa.array(~bad))
                lines = lines[~bad]
                _, _, parsed = _validate(table, self.has_labels)
            if self.progress is not None:
                self.progress(len(block))
            if table.num_rows == 0:
                continue
            # ids follow first appearance in row order (sender, then receiver), whatever the block size
            src, dst = self.accounts.lookup_pairs(table["from_bank"], table["from_account"], table["to_bank"],
                                                  table["to_account"])
            arrays = [
                pa.array(lines - 2),  # tx_id: the row's position among the file's data lines
                parsed["ts"] if parsed["ts"].type == pa.int64() else pc.cast(parsed["ts"], pa.int64()),
                pa.array(src), pa.array(dst),
                pa.array(parsed["amount_paid"]), pa.array(parsed["amount_received"]),
                pa.array(parsed["pay_currency"]), pa.array(parsed["recv_currency"]),
                pa.array(parsed["payment_format"]),
            ]
            if self.has_labels:
                arrays.append(pa.array(parsed["is_laundering"]))
            yield pa.table(arrays, schema=self.schema)


def accounts_path_for(parquet_path: str | os.PathLike) -> Path:
    """Where the account key table of a normalised Parquet file lives."""
    p = Path(parquet_path)
    return p.with_name(p.stem + ".accounts.parquet")


def rejects_path_for(parquet_path: str | os.PathLike) -> Path:
    p = Path(parquet_path)
    return p.with_name(p.stem + ".rejected.csv")


def convert_trans_csv(path, out, on_bad_rows: str = "stop", block_bytes: int = DEFAULT_BLOCK_BYTES,
                      progress=None) -> ConvertSummary:
    """Convert a Trans.csv into normalised Parquet plus its account key table, atomically."""
    reader = TransactionReader(path, on_bad_rows=on_bad_rows, block_bytes=block_bytes, progress=progress)
    out = Path(out)
    summary = ConvertSummary(has_labels=reader.has_labels)
    with atomic_path(out) as tmp:
        with pq.ParquetWriter(tmp, reader.schema, compression="snappy", use_dictionary=False) as writer:
            # Parquet encoding (Arrow releases the GIL) overlaps with parsing the next block.
            with ThreadPoolExecutor(max_workers=1) as pool:
                pending = None
                for batch in reader:
                    if pending is not None:
                        pending.result()
                    pending = pool.submit(writer.write_table, batch)
                    summary.rows_kept += batch.num_rows
                if pending is not None:
                    pending.result()
        acc_out = accounts_path_for(out)
        with atomic_path(acc_out) as acc_tmp:
            pq.write_table(reader.accounts.table(), acc_tmp)
    summary.rows_read = reader.rows_read
    summary.rows_rejected = len(reader.rejected)
    summary.accounts = len(reader.accounts)
    summary.outputs = [out, acc_out]
    if reader.rejected:
        summary.rejects_path = write_rejects(rejects_path_for(out), reader.rejected)
    return summary


def write_rejects(target: Path, rejected) -> Path:
    """Write set-aside rows as CSV: line, reason, and the original text verbatim."""
    import csv

    with atomic_path(target) as tmp:
        with open(tmp, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["line", "reason", "text"])
            for line, reason, text in rejected:
                w.writerow([line, reason, text])
    return target


def read_trans_csv(path, on_bad_rows: str = "stop") -> tuple[pa.Table, pa.Table]:
    """Read a Trans.csv fully into memory: (normalised transactions, account key table)."""
    reader = TransactionReader(path, on_bad_rows=on_bad_rows)
    parts = list(reader)
    table = pa.concat_tables(parts).combine_chunks() if parts else reader.schema.empty_table()
    return table, reader.accounts.table()
