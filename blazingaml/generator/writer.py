"""Writing a generated world in the exact IBM formats (and the generator's own truth files).

Trans.csv is written in blocks, so memory does not grow with the file; embedded real rows are written
verbatim. Every file is written atomically.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ..io.atomic import atomic_path
from ..io.vocab import CURRENCIES, PAYMENT_FORMATS, TIMESTAMP_FORMAT, TRANS_HEADER
from .ledger import Ledger, Placements
from .population import KIND_NAMES, RATE_PER_USD, Population

BLOCK_ROWS = 1 << 20
_COUNTRY_OF_CURRENCY = ("US", "Germany", "China", "Japan", "India", "Russia", "UK", "Canada", "Australia",
                        "Switzerland", "Mexico", "Brazil", "Israel", "Saudi Arabia", "Digital")


def _scaled_amounts(values: np.ndarray, decimals: int) -> np.ndarray:
    """Amounts in units of 10**-decimals as written: rounded, never down to zero."""
    return np.maximum(np.round(values * 10 ** decimals), 1).astype(np.int64)


def written_amounts(values: np.ndarray, bitcoin: np.ndarray) -> np.ndarray:
    """The values `format_amounts` writes, as floats (what a reader of the files gets back)."""
    return np.where(bitcoin, _scaled_amounts(values, 6) / 10 ** 6, _scaled_amounts(values, 2) / 10 ** 2)


def format_amounts(values: np.ndarray, bitcoin: np.ndarray) -> pa.Array:
    """2 decimals, 6 for Bitcoin, never rounding a payment down to zero."""
    out = None
    for decimals, mask in ((2, ~bitcoin), (6, bitcoin)):
        scale = 10 ** decimals
        scaled = _scaled_amounts(values, decimals)
        whole = pc.cast(pa.array(scaled // scale), pa.string())
        frac = pc.utf8_lpad(pc.cast(pa.array(scaled % scale), pa.string()), decimals, "0")
        text = pc.binary_join_element_wise(whole, frac, ".")
        out = text if out is None else pc.if_else(pa.array(mask), text, out)
    return out


def format_ts(ts: np.ndarray) -> pa.Array:
    """IBM timestamps; whole minutes, so each distinct minute is formatted once."""
    ts = np.asarray(ts, np.int64)
    if not len(ts):
        return pa.array([], pa.string())
    first = int(ts.min()) // 60
    minute = ts // 60 - first
    span = int(minute.max()) + 1
    table = pc.strftime(pa.array((first + np.arange(span)) * 60, pa.timestamp("s")), format=TIMESTAMP_FORMAT)
    return table.take(pa.array(minute))


def row_columns(ledger: Ledger, pop: Population, rows: np.ndarray, raw_lines: list[str]) -> list[pa.Array]:
    """The 11 Trans.csv fields of `rows`, as string arrays (embedded rows verbatim)."""
    cur = np.array(CURRENCIES, dtype=object)
    fmt = np.array(PAYMENT_FORMATS, dtype=object)
    bank_str = pop.bank_str()
    btc = CURRENCIES.index("Bitcoin")
    src, dst = ledger.src[rows], ledger.dst[rows]
    cols = [
        format_ts(ledger.ts[rows]),
        pa.array(bank_str[src], pa.string()), pa.array(pop.account_ids[src], pa.string()),
        pa.array(bank_str[dst], pa.string()), pa.array(pop.account_ids[dst], pa.string()),
        format_amounts(ledger.amount_received[rows], ledger.recv_currency[rows] == btc),
        pa.array(cur[ledger.recv_currency[rows]], pa.string()),
        format_amounts(ledger.amount_paid[rows], ledger.pay_currency[rows] == btc),
        pa.array(cur[ledger.pay_currency[rows]], pa.string()),
        pa.array(fmt[ledger.payment_format[rows]], pa.string()),
        pc.cast(pa.array(ledger.label[rows]), pa.string()),
    ]
    raw = ledger.raw[rows]
    verbatim = np.flatnonzero(raw >= 0)
    if len(verbatim):
        fields = [raw_lines[r].split(",") for r in raw[verbatim]]
        for j in range(len(cols)):
            values = np.array(cols[j].to_pylist(), dtype=object)
            values[verbatim] = [f[j] for f in fields]
            cols[j] = pa.array(values, pa.string())
    return cols


def write_trans(path: Path, ledger: Ledger, pop: Population, raw_lines: list[str]) -> None:
    """Unquoted CSV with a plain header line, as IBM writes them, rows in ledger order."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write((",".join(TRANS_HEADER) + "\n").encode())
            for a in range(0, len(ledger), BLOCK_ROWS):
                rows = np.arange(a, min(a + BLOCK_ROWS, len(ledger)))
                table = pa.table(row_columns(ledger, pop, rows, raw_lines), names=list(TRANS_HEADER))
                pacsv.write_csv(table, fh, write_options=pacsv.WriteOptions(include_header=False, quoting_style="none"))


def text_rows(ledger: Ledger, pop: Population, rows: np.ndarray, raw_lines: list[str]) -> list[list[str]]:
    """`rows` as lists of their 11 field strings (for Patterns.txt)."""
    cols = [c.to_pylist() for c in row_columns(ledger, pop, rows, raw_lines)]
    return [list(r) for r in zip(*cols)]


def _write_table(path: Path, table: pa.Table) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write((",".join(table.column_names) + "\n").encode())
            pacsv.write_csv(table, fh, write_options=pacsv.WriteOptions(include_header=False, quoting_style="none"))


def write_accounts(path: Path, pop: Population) -> None:
    """`<NAME>_accounts.csv` with the real header: Bank Name,Bank ID,Account Number,Entity ID,Entity Name."""
    country = np.array(_COUNTRY_OF_CURRENCY, dtype=object)[pop.bank_currency]
    bank_name = np.array([f"{c} Bank #{i}" for i, c in enumerate(country)], dtype=object)[pop.bank]
    kinds = np.array(KIND_NAMES, dtype=object)[pop.kind]
    _write_table(path, pa.table({
        "Bank Name": pa.array(bank_name, pa.string()),
        "Bank ID": pa.array(pop.bank_str(), pa.string()),
        "Account Number": pa.array(pop.account_ids, pa.string()),
        "Entity ID": pa.array([f"{0x800000000 + int(e):09X}" for e in pop.entity], pa.string()),
        "Entity Name": pa.array([f"{k} #{int(e)}" for k, e in zip(kinds, pop.entity)], pa.string()),
    }))


def write_placements(path: Path, placements: Placements, pop: Population, sources: tuple[str, ...]) -> None:
    """The generator's truth on placements: when which account received how much crime proceeds."""
    order = np.argsort(placements.ts, kind="stable")
    acct = placements.account[order]
    _write_table(path, pa.table({
        "Timestamp": format_ts(placements.ts[order]),
        "Bank": pa.array(pop.bank_str()[acct], pa.string()),
        "Account": pa.array(pop.account_ids[acct], pa.string()),
        "Amount USD": format_amounts(placements.usd[order], np.zeros(len(order), bool)),
        "Crime Source": pa.array(np.array(sources, dtype=object)[placements.source[order]], pa.string()),
    }))


def write_controlled(path: Path, controlled: np.ndarray, apart: np.ndarray, pop: Population) -> None:
    """The accounts under criminal control and how their owners' own spending is funded: `co-mingled` (from
    the one balance, dirty money first) or `kept apart` (from the owner's own funds; the dirty money leaves
    only through the scheme's payments)."""
    idx = np.flatnonzero(controlled)
    funds = np.where(apart[idx], "kept apart", "co-mingled").astype(object)
    _write_table(path, pa.table({"Bank": pa.array(pop.bank_str()[idx], pa.string()),
                                 "Account": pa.array(pop.account_ids[idx], pa.string()),
                                 "Funds": pa.array(funds, pa.string())}))


def usd_of(amount: np.ndarray, currency: np.ndarray) -> np.ndarray:
    return amount / RATE_PER_USD[currency]
