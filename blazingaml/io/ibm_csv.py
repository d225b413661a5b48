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
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ..errors import BadRowError, SchemaError
from .atomic import atomic_files, atomic_path
from .columns import arrow_column, column_numpy
from .row_order import DEFAULT_MAX_DISORDER, RowOrder, describe_gap
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
_PLAUSIBLE_AMOUNT_RE = r"^0*[0-9]{1,15}(\.[0-9]+)?$"   # below fastcsv.MAX_AMOUNT = 1e15
NO_SUCH_DATE = "no such calendar date"
HUGE_AMOUNT = "amount of 1e15 or more"
NOT_UTF8 = "not UTF-8 text"
OUT_OF_ORDER = "out of time order"
# Hints for reasons that need more than "fix the row".
REASON_HINTS = {
    NO_SUCH_DATE: "the day does not exist in that month (e.g. 2022/02/30); check how the file was exported",
    HUGE_AMOUNT: "no real payment is that large: a lost decimal point or a unit mix-up?",
    NOT_UTF8: "the file looks Latin-1/Windows-1252 encoded: save it as UTF-8 "
              "(for example: iconv -f LATIN1 -t UTF-8 IN > OUT)",
    OUT_OF_ORDER: "are two exports joined in the wrong order, or a year mistyped? sort the file by time, "
                  "or allow more disorder with --max-disorder",
}
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
    repeated_rows: int = 0                            # rows repeating an earlier row exactly (kept)
    first_repeat: tuple[int, int] | None = None       # (line, the earlier line it repeats)
    outputs: list[Path] = field(default_factory=list)


_UTF8_BOM = b"\xef\xbb\xbf"
_OTHER_BOMS = {b"\xff\xfe": "UTF-16 (little-endian)", b"\xfe\xff": "UTF-16 (big-endian)"}


def _read_header(path: Path) -> tuple[bytes, int]:
    """(the header line's bytes, byte-order mark included, number of columns: 10 or 11)."""
    with open(path, "rb") as fh:
        first = fh.readline()
    for bom, encoding in _OTHER_BOMS.items():
        if first.startswith(bom):
            raise SchemaError(f"{path}:1: the file is {encoding} text (it starts with a byte-order mark); "
                              "IBM AML files are UTF-8",
                              hint="save it as UTF-8 (for example: iconv -f UTF-16 -t UTF-8 IN > OUT)")
    if not first.strip():
        raise SchemaError(f"{path}: the file is empty; expected the IBM AML header line",
                          hint="Trans.csv starts with: " + ",".join(TRANS_HEADER))
    # Excel writes a UTF-8 byte-order mark and may quote the header's names: both are read as is.
    text = first[len(_UTF8_BOM):] if first.startswith(_UTF8_BOM) else first
    names = [n[1:-1] if len(n) > 1 and n[0] == n[-1] == '"' else n
             for n in text.decode("utf-8", "replace").rstrip("\r\n").split(",")]
    if tuple(names) == TRANS_HEADER:
        return first, 11
    if tuple(names) == TRANS_HEADER[:-1]:
        return first, 10
    raise SchemaError(f"{path}:1: not an IBM AML transactions header: " + _header_difference(names),
                      hint="expected exactly: " + ",".join(TRANS_HEADER))


def _header_difference(names: list[str]) -> str:
    """What is wrong with a header: missing or unexpected names, or which columns are swapped."""
    expected = list(TRANS_HEADER) if len(names) != 10 else list(TRANS_HEADER[:-1])
    missing = [n for n in dict.fromkeys(expected) if n not in names]
    extra = [n for n in names if n not in expected]
    detail = []
    if missing:
        detail.append("missing " + ", ".join(repr(m) for m in missing))
    if extra:
        detail.append("unexpected " + ", ".join(repr(x) for x in extra))
    if detail:
        return "; ".join(detail)
    if sorted(names) == sorted(expected):
        moved = [i for i, (a, b) in enumerate(zip(names, expected)) if a != b]
        return "columns out of order: " + ", ".join(
            f"column {i + 1} is {names[i]!r}, expected {expected[i]!r}" for i in moved)
    return f"columns in the wrong order or count ({len(names)} found)"


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
    ts = shaped = _fast_timestamps(table["timestamp"])
    if ts is None:
        shaped = pc.strptime(table["timestamp"], format=TIMESTAMP_FORMAT, unit="s", error_is_null=True)
        ts = calendar_dates_only(table["timestamp"], shaped)
    parsed = _parse_clean_block(table, ts, has_label)
    if parsed is not None:
        return None, None, parsed
    n = table.num_rows
    reasons = np.full(n, "", dtype=object)
    columns = np.full(n, "", dtype=object)
    for name in INTERNAL_NAMES[: 11 if has_label else 10]:
        col = table[name]
        _reason_mask(pc.greater(pc.utf8_length(col), 0), "missing value", reasons, name, columns)
    _reason_mask(pc.is_valid(shaped), f"timestamp not in {TIMESTAMP_FORMAT} format", reasons, "timestamp", columns)
    _reason_mask(pc.is_valid(ts), NO_SUCH_DATE, reasons, "timestamp", columns)
    for name in ("amount_received", "amount_paid"):
        col = table[name]
        _reason_mask(pc.invert(pc.starts_with(col, "-")), "negative amount", reasons, name, columns)
        lowered = pc.utf8_lower(col)
        finite = pc.invert(pc.or_(pc.match_substring(lowered, "nan"), pc.match_substring(lowered, "inf")))
        _reason_mask(finite, "amount is not a finite number", reasons, name, columns)
        _reason_mask(pc.match_substring_regex(col, _AMOUNT_RE), "amount is not a number", reasons, name, columns)
        _reason_mask(pc.match_substring_regex(col, _PLAUSIBLE_AMOUNT_RE), HUGE_AMOUNT, reasons, name, columns)
    for name in ("recv_currency", "pay_currency"):
        _reason_mask(pc.is_in(table[name], value_set=pa.array(CURRENCIES)),
                     "unknown currency", reasons, name, columns)
    _reason_mask(pc.is_in(table["payment_format"], value_set=pa.array(PAYMENT_FORMATS)),
                 "unknown payment format", reasons, "payment_format", columns)
    if has_label:
        _reason_mask(pc.is_in(table["is_laundering"], value_set=pa.array(["0", "1"])),
                     "label must be 0 or 1", reasons, "is_laundering", columns)
    return reasons, columns, None


def calendar_dates_only(text, ts) -> pa.Array:
    """`ts` with nulls where the text names a day its month does not have: Arrow's strptime reads
    2022/02/30 as 2022-03-02, so the day written must be the day parsed."""
    written = pc.extract_regex(text, r"^[0-9]+/[0-9]+/(?P<day>[0-9]+) ")
    day = pc.cast(pc.struct_field(written, "day"), pa.int64())
    same = pc.and_kleene(pc.is_valid(ts), pc.equal(day, pc.day(ts)))
    return pc.if_else(pc.fill_null(same, False), ts, pa.scalar(None, ts.type))


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
    from . import fastcsv  # Numba: imported when a CSV is parsed, not by every command
    return pa.array(out) if fastcsv.parse_timestamps(raw, n, out) else None


def _parse_clean_block(table: pa.Table, ts, has_label: bool) -> dict | None:
    """Parse every typed column in one pass; None if any value is bad (then reasons are computed)."""
    if ts.null_count:
        return None
    for name in ("from_bank", "from_account", "to_bank", "to_account"):
        if table[name].null_count or pc.min(pc.utf8_length(table[name])).as_py() == 0:
            return None
    from . import fastcsv

    parsed = {"ts": ts}
    for name in ("amount_received", "amount_paid"):
        try:
            values = pc.cast(table[name], pa.float64()).to_numpy()
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
        if not np.isfinite(values).all() or (values < 0).any() or (values >= fastcsv.MAX_AMOUNT).any():
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

    Iterate it to get normalised `pyarrow.Table` blocks; afterwards `accounts` holds the key table,
    `rejected` the set-aside rows (line, reason, text) when ``on_bad_rows="skip"``, and `order` the
    time-order state (`row_order.RowOrder`; `convert_trans_csv` counts repeated rows with it).
    """

    def __init__(self, path: str | os.PathLike, on_bad_rows: str = "stop", block_bytes: int = DEFAULT_BLOCK_BYTES,
                 progress=None, fast_path: bool = True, max_disorder: int | None = DEFAULT_MAX_DISORDER):
        if on_bad_rows not in ("stop", "skip"):
            raise ValueError("on_bad_rows must be 'stop' or 'skip'")
        self.path = Path(path)
        if not self.path.is_file():
            raise SchemaError(f"{self.path}: no such file" if not self.path.exists() else f"{self.path}: not a file")
        self.on_bad_rows = on_bad_rows
        self.block_bytes = block_bytes
        self.progress = progress
        self.fast_path = fast_path   # False: every block through the Arrow path (for tests and debugging)
        header, self.ncols = _read_header(self.path)
        self.header_bytes = len(header)
        self.has_labels = self.ncols == 11
        from .accounts import AccountIndex  # Numba: imported when a CSV is parsed

        self.accounts = AccountIndex()
        self.order = RowOrder(max_disorder)
        self.rejected: list[tuple[int, str, str]] = []
        self.rows_read = 0
        self.size = self.path.stat().st_size
        names = list(INTERNAL_NAMES[: self.ncols])
        self._names = names
        self.schema = NORMALISED_SCHEMA.append(pa.field("label", pa.int8())) if self.has_labels else NORMALISED_SCHEMA

    def _undecodable(self, first_line: int, block: np.ndarray):
        """Entries for the block's lines that are not UTF-8, and the block without them (with the
        line number of each line it keeps)."""
        lines = np.arange(first_line, first_line + int(np.count_nonzero(block == 10)), dtype=np.int64)
        if not (block >= 128).any():
            return [], block, lines
        data = block.tobytes()
        try:
            data.decode("utf-8")
            return [], block, lines
        except UnicodeDecodeError:
            pass
        entries, kept, keep = [], [], np.ones(len(lines), bool)
        for offset, raw in enumerate(data.split(b"\n")[:-1]):
            try:
                raw.decode("utf-8")
                kept.append(raw)
            except UnicodeDecodeError as exc:
                keep[offset] = False
                k = min(raw[:exc.start].count(b","), self.ncols - 1)
                field_bytes = raw.rstrip(b"\r").split(b",")[k]
                entries.append((int(lines[offset]), DISPLAY_NAMES[INTERNAL_NAMES[k]], field_bytes.decode("latin-1"),
                                f"{NOT_UTF8} (byte 0x{raw[exc.start]:02X}, shown here as Latin-1)",
                                raw.rstrip(b"\r").decode("utf-8", "surrogateescape")))
        rest = b"".join(line + b"\n" for line in kept)
        return entries, np.frombuffer(rest, np.uint8), lines[keep]

    def _parse_block(self, first_line: int, block: np.ndarray):
        """(string table, line number of each row, entries for lines that are not rows)."""
        structural, block, line_numbers = self._undecodable(first_line, block)
        if len(block) == 0:
            return pa.table({n: pa.array([], pa.string()) for n in self._names}), line_numbers, structural
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
        lines = line_numbers[: table.num_rows]
        if invalid:
            # Rare path: recover exact line numbers by splitting the block in Python.
            raw = block.tobytes().rstrip(b"\n").split(b"\n")
            good_lines = []
            for offset, text in enumerate(raw):
                decoded = text.decode("utf-8", "replace").rstrip("\r")
                if decoded == "" or decoded.count(",") == self.ncols - 1:  # pyarrow keeps empty lines as rows
                    good_lines.append(line_numbers[offset])
                else:
                    fields = decoded.count(",") + 1 if decoded else 0
                    structural.append((int(line_numbers[offset]), "(row)", decoded,
                                       f"expected {self.ncols} fields, found {fields}", decoded))
            lines = np.asarray(good_lines[: table.num_rows], dtype=np.int64)
        return table, lines, structural

    def _reject_or_raise(self, entries: list[tuple[int, str, str, str, str]]):
        """entries: (line, column, value, reason, text), sorted by line."""
        if not entries:
            return
        if self.on_bad_rows == "stop":
            line, column, value, reason, _ = entries[0]
            hint = next((h for r, h in REASON_HINTS.items() if reason.startswith(r)), None)
            raise BadRowError(self.path, line, column, value, reason, hint)
        self.rejected.extend((line, reason if column == "(row)" else f"{column}: {reason}", text)
                             for line, column, value, reason, text in entries)

    def _scan(self, block: np.ndarray):
        """The one-pass fast path over a block (see `fastcsv`); None when it needs the full parser."""
        if not self.fast_path:
            return None
        from . import fastcsv

        rows, ok, ts, keys, amount_received, amount_paid, codes = fastcsv.scan_block(
            block, self.has_labels, fastcsv.CURRENCY_BYTES, fastcsv.CURRENCY_OFFSETS, fastcsv.FORMAT_BYTES,
            fastcsv.FORMAT_OFFSETS)
        return (rows, ts, keys, amount_received, amount_paid, codes) if ok else None

    def _fast_table(self, first_line: int, block: np.ndarray, scanned) -> pa.Table:
        rows, ts, keys, amount_received, amount_paid, codes = scanned
        self.rows_read += rows
        src, dst = self.accounts.lookup_ranges(block, keys)
        # arrow_column, not pa.array: pa.array on a NumPy array imports pandas (0.3 s of a short command)
        arrays = [arrow_column(a) for a in (
            np.arange(first_line - 2, first_line - 2 + rows, dtype=np.int64), ts, src, dst, amount_paid,
            amount_received, codes[:, 1], codes[:, 0], codes[:, 2])]
        if self.has_labels:
            arrays.append(arrow_column(codes[:, 3]))
        return pa.table(arrays, schema=self.schema)

    def _full_table(self, first_line: int, block: np.ndarray) -> pa.Table:
        """The Arrow path: exact lines, columns and reasons for every bad row."""
        table, lines, structural = self._parse_block(first_line, block)
        self.rows_read += table.num_rows + len(structural)
        reasons, columns, parsed = _validate(table, self.has_labels)
        entries = list(structural)
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
        if table.num_rows == 0:
            return self.schema.empty_table()
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
        return pa.table(arrays, schema=self.schema)

    def _in_time_order(self, table: pa.Table, first_line: int, block: np.ndarray) -> pa.Table:
        """Rows too far out of time order stop the run (or are set aside); the rest are recorded."""
        ts = column_numpy(table.column("ts"))
        lines = column_numpy(table.column("tx_id")) + 2
        bad, latest, latest_line = self.order.out_of_order(ts, lines)
        if bad.any():
            ends = np.flatnonzero(block == 10)
            entries = []
            for i in np.flatnonzero(bad):
                offset = int(lines[i]) - first_line
                text = block[ends[offset - 1] + 1 if offset else 0:ends[offset]].tobytes().rstrip(b"\r")
                entries.append((int(lines[i]), DISPLAY_NAMES["timestamp"], _format_ts(int(ts[i])),
                                f"{OUT_OF_ORDER}: {describe_gap(latest[i] - ts[i])} earlier than line "
                                f"{int(latest_line[i])} ({_format_ts(int(latest[i]))}); at most "
                                f"{describe_gap(self.order.max_disorder)} of disorder is allowed",
                                text.decode("utf-8", "surrogateescape")))
            self._reject_or_raise(entries)
            table = table.filter(pa.array(~bad))
        self.order.advance(column_numpy(table.column("ts")), column_numpy(table.column("tx_id")) + 2)
        return table

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
                table = self._fast_table(first_line, block, scanned)
            else:
                table = self._full_table(first_line, block)
            table = self._in_time_order(table, first_line, block)
            if self.progress is not None:
                self.progress(len(block))
            if table.num_rows:
                yield table
        if self.rows_read == 0:
            raise SchemaError(f"{self.path}: no transactions after the header line",
                              hint="there is nothing to convert; check that the export finished")


def _format_ts(seconds: int) -> str:
    return time.strftime("%Y/%m/%d %H:%M", time.gmtime(seconds))


def accounts_path_for(parquet_path: str | os.PathLike) -> Path:
    """Where the account key table of a normalised Parquet file lives."""
    p = Path(parquet_path)
    return p.with_name(p.stem + ".accounts.parquet")


def rejects_path_for(parquet_path: str | os.PathLike) -> Path:
    p = Path(parquet_path)
    return p.with_name(p.stem + ".rejected.csv")


ACCOUNTS_DIGEST_KEY = b"blazingaml.accounts_sha256"


def accounts_digest(accounts: pa.Table) -> str:
    """SHA-256 of an account key table's keys, in order: ties a Parquet file to its key table."""
    import hashlib

    digest = hashlib.sha256()
    for name in ("bank", "account_id"):
        values = accounts.column(name).combine_chunks().cast(pa.large_string())
        n = len(values)
        offsets = np.frombuffer(values.buffers()[1], np.int64, count=n + 1, offset=values.offset * 8)
        digest.update((offsets - offsets[0]).tobytes())
        if n and values.buffers()[2] is not None:
            digest.update(memoryview(values.buffers()[2])[offsets[0]:offsets[-1]])
    return digest.hexdigest()


def convert_trans_csv(path, out, on_bad_rows: str = "stop", block_bytes: int = DEFAULT_BLOCK_BYTES,
                      progress=None, max_disorder: int | None = DEFAULT_MAX_DISORDER) -> ConvertSummary:
    """Convert a Trans.csv into normalised Parquet plus its account key table, atomically.

    The set-aside rows (if any) and the key table are committed first, the Parquet file last: it
    records the digest of its key table, so a pair left mismatched by a run killed between the two
    renames is detected when it is read. A rejects file from an earlier run is removed when this
    run rejects nothing."""
    reader = TransactionReader(path, on_bad_rows=on_bad_rows, block_bytes=block_bytes, progress=progress,
                               max_disorder=max_disorder)
    out = Path(out)
    acc_out = accounts_path_for(out)
    summary = ConvertSummary(has_labels=reader.has_labels)
    with atomic_files(acc_out, out) as (acc_tmp, tmp):
        with pq.ParquetWriter(tmp, reader.schema, compression="snappy", use_dictionary=False) as writer:
            def write(batch):
                writer.write_table(batch)
                reader.order.count_repeats(batch)

            # Parquet encoding and the repeated-row count (both release the GIL) overlap with
            # parsing the next block.
            with ThreadPoolExecutor(max_workers=1) as pool:
                pending = None
                for batch in reader:
                    if pending is not None:
                        pending.result()
                    pending = pool.submit(write, batch)
                    summary.rows_kept += batch.num_rows
                if pending is not None:
                    pending.result()
            accounts = reader.accounts.table()
            writer.add_key_value_metadata({ACCOUNTS_DIGEST_KEY: accounts_digest(accounts)})
        pq.write_table(accounts, acc_tmp)
        if reader.rejected:
            summary.rejects_path = write_rejects(rejects_path_for(out), reader.rejected)
    if not reader.rejected:
        rejects_path_for(out).unlink(missing_ok=True)
    summary.rows_read = reader.rows_read
    summary.rows_rejected = len(reader.rejected)
    summary.accounts = len(reader.accounts)
    summary.repeated_rows, summary.first_repeat = reader.order.repeated_rows, reader.order.first_repeat
    summary.outputs = [out, acc_out]
    return summary


def write_rejects(target: Path, rejected) -> Path:
    """Write set-aside rows as CSV: line, reason, and the original text verbatim (bytes that are
    not UTF-8 included: they travel as surrogate escapes and are written back unchanged)."""
    import csv

    with atomic_path(target) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8", errors="surrogateescape") as fh:
            w = csv.writer(fh)
            w.writerow(["line", "reason", "text"])
            for line, reason, text in rejected:
                w.writerow([line, reason, text])
    return target


def read_trans_csv(path, on_bad_rows: str = "stop", max_disorder: int | None = DEFAULT_MAX_DISORDER
                   ) -> tuple[pa.Table, pa.Table]:
    """Read a Trans.csv fully into memory: (normalised transactions, account key table)."""
    reader = TransactionReader(path, on_bad_rows=on_bad_rows, max_disorder=max_disorder)
    parts = list(reader)
    table = pa.concat_tables(parts).combine_chunks() if parts else reader.schema.empty_table()
    return table, reader.accounts.table()
