"""Read and write IBM AML `*_Patterns.txt` files (ground-truth laundering attempts).

Grammar (byte-exact, LF line endings)::

    BEGIN LAUNDERING ATTEMPT - <TYPE>[:  <qualifier>]
    <row in the 11-column Trans.csv layout, no header>   (one or more)
    END LAUNDERING ATTEMPT - <TYPE>
    <empty line>

`join_attempts` matches the rows to a transaction table, so every transaction gets the
`attempt_id` and `typology` of the attempt it belongs to (or -1).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import SchemaError
from .atomic import write_text_atomic
from .vocab import CURRENCIES, PAYMENT_FORMATS, TIMESTAMP_FORMAT, TYPOLOGIES

_BEGIN = re.compile(r"^BEGIN LAUNDERING ATTEMPT - ([A-Z-]+)(?::  (.+))?$")
_END = re.compile(r"^END LAUNDERING ATTEMPT - ([A-Z-]+)$")


@dataclass
class Attempt:
    """One laundering attempt: its typology, optional qualifier and its transaction rows (raw fields)."""

    attempt_id: int
    typology: str
    qualifier: str | None
    rows: list[list[str]] = field(default_factory=list)

    def header(self) -> str:
        head = f"BEGIN LAUNDERING ATTEMPT - {self.typology}"
        return head + (f":  {self.qualifier}" if self.qualifier else "")


def _row_problem(fields: list[str]) -> str | None:
    """What is wrong with a pattern row's values, or None."""
    import datetime as dt

    try:
        dt.datetime.strptime(fields[0], TIMESTAMP_FORMAT)
    except ValueError:
        return f"timestamp {fields[0]!r} is not a date in the form YYYY/MM/DD HH:MM"
    for value in (fields[5], fields[7]):
        try:
            amount = float(value)
        except ValueError:
            return f"amount {value!r} is not a number"
        if not 0 <= amount < float("inf"):
            return f"amount {value!r} is not a finite, non-negative number"
    if fields[6] not in CURRENCIES or fields[8] not in CURRENCIES:
        return "unknown currency " + repr(fields[6] if fields[6] not in CURRENCIES else fields[8])
    if fields[9] not in PAYMENT_FORMATS:
        return f"unknown payment format {fields[9]!r}"
    return None


_GRAMMAR = ("every attempt is a line 'BEGIN LAUNDERING ATTEMPT - TYPE', its rows in the Trans.csv layout, "
            "a line 'END LAUNDERING ATTEMPT - TYPE' and an empty line")


def parse_patterns(text: str, source: str = "<patterns>") -> list[Attempt]:
    """Parse Patterns.txt text; raise SchemaError with file:line on any deviation from the grammar."""
    attempts: list[Attempt] = []
    current: Attempt | None = None
    begun = 0   # line of the current attempt's BEGIN

    def fail(lineno: int, message: str, hint: str = _GRAMMAR):
        raise SchemaError(f"{source}:{lineno}: {message}", hint=hint)

    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for lineno, line in enumerate(lines, start=1):
        if current is None:
            if line == "":
                continue
            if _END.match(line):
                fail(lineno, f"END without a BEGIN: {line!r}")
            m = _BEGIN.match(line)
            if not m:
                fail(lineno, f"expected 'BEGIN LAUNDERING ATTEMPT - <TYPE>', found {line!r}")
            if m.group(1) not in TYPOLOGIES:
                fail(lineno, f"unknown typology {m.group(1)!r}", hint="known: " + ", ".join(TYPOLOGIES))
            current, begun = Attempt(len(attempts), m.group(1), m.group(2)), lineno
            continue
        if _BEGIN.match(line) or line == "":
            what = "BEGIN" if line else "an empty line"
            fail(lineno, f"{what} inside the attempt begun at line {begun}, which has no END line",
                 hint=f"add 'END LAUNDERING ATTEMPT - {current.typology}' before line {lineno}")
        m = _END.match(line)
        if m:
            if m.group(1) != current.typology:
                fail(lineno, f"END {m.group(1)} closes BEGIN {current.typology} (line {begun})")
            if not current.rows:
                fail(lineno, f"attempt {current.typology} has no transactions")
            attempts.append(current)
            current = None
            continue
        fields = line.split(",")
        if len(fields) != 11:
            fail(lineno, f"expected 11 fields in a pattern row, found {len(fields)}: {line!r}")
        problem = _row_problem(fields)
        if problem:
            fail(lineno, f"{problem} in {line!r}", hint="pattern rows follow the Trans.csv layout and values")
        current.rows.append(fields)
    if current is not None:
        fail(begun, "the file ends inside the attempt begun here (missing END line)",
             hint="the file may be truncated")
    return attempts


def read_patterns(path: str | os.PathLike) -> list[Attempt]:
    """Read a Patterns.txt file."""
    path = Path(path)
    if not path.is_file():
        raise SchemaError(f"{path}: no such file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[:exc.start].count(b"\n") + 1
        raise SchemaError(f"{path}:{line}: not UTF-8 text (byte 0x{exc.object[exc.start]:02X})",
                          hint="save the file as UTF-8") from None
    return parse_patterns(text, str(path))


def format_patterns(attempts: list[Attempt]) -> str:
    """Render attempts in the exact Patterns.txt format (empty line after every block)."""
    out = []
    for a in attempts:
        out.append(a.header())
        out.extend(",".join(r) for r in a.rows)
        out.append(f"END LAUNDERING ATTEMPT - {a.typology}")
        out.append("")
    return "\n".join(out) + "\n"


def write_patterns(path: str | os.PathLike, attempts: list[Attempt]) -> None:
    write_text_atomic(path, format_patterns(attempts))


def split_attempts(attempts: list[Attempt]) -> tuple[list[Attempt], list[Attempt]]:
    """Two disjoint halves for the transfer protocol: within each typology, attempts go to the
    halves in turn (file order), so both hold every typology in about equal numbers. Each half
    keeps file order and numbers its attempts from 0."""
    halves: tuple[list[Attempt], list[Attempt]] = ([], [])
    seen: dict[str, int] = {}
    for a in attempts:
        turn = seen.get(a.typology, 0)
        seen[a.typology] = turn + 1
        halves[turn % 2].append(a)
    return tuple([Attempt(i, a.typology, a.qualifier, a.rows) for i, a in enumerate(half)] for half in halves)


def attempts_frame(attempts: list[Attempt]) -> pd.DataFrame:
    """One row per pattern transaction, with its attempt id and typology code."""
    rows = [(a.attempt_id, TYPOLOGIES.index(a.typology), *r) for a in attempts for r in a.rows]
    cols = ["attempt_id", "typology", "timestamp", "from_bank", "from_account", "to_bank", "to_account",
            "amount_received", "recv_currency", "amount_paid", "pay_currency", "payment_format", "is_laundering"]
    return pd.DataFrame(rows, columns=cols)


def join_attempts(tx: pd.DataFrame, accounts: pd.DataFrame, attempts: list[Attempt]) -> pd.DataFrame:
    """Return a frame aligned with `tx` holding `attempt_id` and `typology` (-1 where none).

    Rows are matched on every field (time, both accounts, both amounts, currencies, format). When
    the same transaction appears k times in the table and m times in the patterns, the first
    min(k, m) copies in table order are matched, so duplicates are neither lost nor double-counted.
    Returns also the number of pattern rows that matched no transaction in ``.attrs['unmatched']``.
    """
    pat = attempts_frame(attempts)
    result = pd.DataFrame({"attempt_id": np.full(len(tx), -1, np.int32), "typology": np.full(len(tx), -1, np.int8)})
    if pat.empty:
        result.attrs["unmatched"] = 0
        return result
    key_of = accounts["bank"].astype(str) + ":" + accounts["account_id"].astype(str)
    ts = pd.to_datetime(pat["timestamp"], format="%Y/%m/%d %H:%M").to_numpy().astype("datetime64[s]").astype(np.int64)
    pat_key = pd.DataFrame({
        "ts": ts,
        "src_key": pat["from_bank"] + ":" + pat["from_account"],
        "dst_key": pat["to_bank"] + ":" + pat["to_account"],
        "amount_paid": pat["amount_paid"].astype(float).round(6),
        "amount_received": pat["amount_received"].astype(float).round(6),
        "pay_currency": pat["pay_currency"].map({c: i for i, c in enumerate(CURRENCIES)}).astype(np.int8),
        "recv_currency": pat["recv_currency"].map({c: i for i, c in enumerate(CURRENCIES)}).astype(np.int8),
        "payment_format": pat["payment_format"].map({c: i for i, c in enumerate(PAYMENT_FORMATS)}).astype(np.int8),
        "attempt_id": pat["attempt_id"].astype(np.int32),
        "typology": pat["typology"].astype(np.int8),
    })
    keys = np.asarray(key_of)
    tx_key = pd.DataFrame({
        "row": np.arange(len(tx)),
        "ts": tx["ts"].to_numpy(np.int64),
        "src_key": keys[tx["src"].to_numpy()],
        "dst_key": keys[tx["dst"].to_numpy()],
        "amount_paid": tx["amount_paid"].to_numpy(float).round(6),
        "amount_received": tx["amount_received"].to_numpy(float).round(6),
        "pay_currency": tx["pay_currency"].to_numpy(np.int8),
        "recv_currency": tx["recv_currency"].to_numpy(np.int8),
        "payment_format": tx["payment_format"].to_numpy(np.int8),
    })
    on = ["ts", "src_key", "dst_key", "amount_paid", "amount_received", "pay_currency", "recv_currency", "payment_format"]
    # Candidate transactions: only those whose time and accounts appear in some pattern row.
    tx_key = tx_key.merge(pat_key[on].drop_duplicates(), on=on, how="inner")
    tx_key["copy"] = tx_key.sort_values("row").groupby(on, sort=False).cumcount()
    pat_key["copy"] = pat_key.groupby(on, sort=False).cumcount()
    matched = pat_key.merge(tx_key, on=on + ["copy"], how="left")
    hit = matched["row"].notna()
    rows = matched.loc[hit, "row"].astype(np.int64).to_numpy()
    result.loc[rows, "attempt_id"] = matched.loc[hit, "attempt_id"].to_numpy()
    result.loc[rows, "typology"] = matched.loc[hit, "typology"].to_numpy()
    result.attrs["unmatched"] = int((~hit).sum())
    return result
