"""AMLworld-like synthetic data in the exact IBM AML file formats.

`generate(...)` writes ``<NAME>_Trans.csv``, ``<NAME>_Patterns.txt`` and ``<NAME>_accounts.csv``.
Real attempts from a Patterns.txt can be embedded unchanged (their accounts get ordinary
background activity too), so real laundering can be studied inside a generated world.
The output is a pure function of (preset, scale, seed, embedded file).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ..errors import BlazingError
from ..io.atomic import atomic_path
from ..io.patterns_txt import Attempt, read_patterns, write_patterns
from ..io.vocab import CURRENCIES, PAYMENT_FORMATS, TIMESTAMP_FORMAT, TRANS_HEADER
from .typologies import attempts_ledger, integration_ledger, plan_attempts
from .world import Accounts, Ledger, background, make_accounts, make_bank_ids

__all__ = ["generate", "load_preset", "PRESETS", "GeneratedFiles"]

PRESETS = ("hi-small-like", "li-small-like")


def load_preset(name: str) -> dict:
    if name not in PRESETS:
        raise BlazingError(f"unknown preset '{name}'", hint="choose one of: " + ", ".join(PRESETS))
    return json.loads(resources.files(__package__).joinpath("presets", f"{name}.json").read_text())


@dataclass
class GeneratedFiles:
    trans: Path
    patterns: Path
    accounts: Path
    transactions: int
    laundering: int
    attempts: int


def _epoch(day: str) -> int:
    return int(dt.datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=dt.timezone.utc).timestamp())


def _format_amounts(values: np.ndarray, bitcoin: np.ndarray) -> pa.Array:
    """2 decimals, 6 for Bitcoin, never rounding a payment down to zero."""
    out = None
    for decimals, mask in ((2, ~bitcoin), (6, bitcoin)):
        scale = 10 ** decimals
        scaled = np.maximum(np.round(values * scale), 1).astype(np.int64)
        whole = pc.cast(pa.array(scaled // scale), pa.string())
        frac = pc.utf8_lpad(pc.cast(pa.array(scaled % scale), pa.string()), decimals, "0")
        text = pc.binary_join_element_wise(whole, frac, ".")
        out = text if out is None else pc.if_else(pa.array(mask), text, out)
    return out


def _format_ts(ts: np.ndarray) -> pa.Array:
    return pc.strftime(pa.array(ts, pa.timestamp("s")), format=TIMESTAMP_FORMAT)


def _account_strings(rng: np.random.Generator, n: int) -> np.ndarray:
    values = rng.choice(0x1FFFFFFF, size=n, replace=False) + 0x800000000
    return np.array([f"{v:09X}" for v in values], dtype=object)


def _ledger_columns(ledger: Ledger, bank_str: np.ndarray, acct_str: np.ndarray) -> list[pa.Array]:
    cur = np.array(CURRENCIES, dtype=object)
    fmt = np.array(PAYMENT_FORMATS, dtype=object)
    btc_recv = ledger.recv_currency == CURRENCIES.index("Bitcoin")
    btc_pay = ledger.pay_currency == CURRENCIES.index("Bitcoin")
    return [
        _format_ts(ledger.ts),
        pa.array(bank_str[ledger.src], pa.string()), pa.array(acct_str[ledger.src], pa.string()),
        pa.array(bank_str[ledger.dst], pa.string()), pa.array(acct_str[ledger.dst], pa.string()),
        _format_amounts(ledger.amount_received, btc_recv), pa.array(cur[ledger.recv_currency], pa.string()),
        _format_amounts(ledger.amount_paid, btc_pay), pa.array(cur[ledger.pay_currency], pa.string()),
        pa.array(fmt[ledger.payment_format], pa.string()),
        pc.cast(pa.array(ledger.label), pa.string()),
    ]


def generate(out_dir: str | os.PathLike, preset: str = "hi-small-like", scale: float = 1.0, seed: int = 0,
             embed_patterns: str | os.PathLike | None = None, name: str | None = None,
             progress=None) -> GeneratedFiles:
    """Generate a world and write its three IBM-format files into `out_dir`."""
    if not (0 < scale <= 40):
        raise BlazingError(f"--scale must be in (0, 40], got {scale}")
    cfg = load_preset(preset)
    rng = np.random.default_rng(seed)
    name = name or cfg["name"]
    step = progress or (lambda label: None)

    embedded: list[Attempt] = read_patterns(embed_patterns) if embed_patterns else []
    start, days = _epoch(cfg["start"]), int(cfg["days"])
    if embedded:
        times = [dt.datetime.strptime(r[0], TIMESTAMP_FORMAT).replace(tzinfo=dt.timezone.utc).timestamp()
                 for a in embedded for r in a.rows]
        first, last = int(min(times)), int(max(times))
        start = min(start, first - first % 86400)
        days = max(days, (last - start) // 86400 + 1)

    n_gen = max(100, int(round(cfg["accounts"] * scale)))
    n_tx = max(1000, int(round(cfg["transactions"] * scale)))
    step("accounts")
    bank_ids = make_bank_ids(rng, max(10, int(round(cfg["banks"] * scale ** 0.5))))
    accounts = make_accounts(rng, n_gen, len(bank_ids))
    bank_str = bank_ids[accounts.bank]
    acct_str = _account_strings(rng, n_gen)

    # Embedded attempts' accounts join the world as ordinary accounts with their exact IDs.
    if embedded:
        known = {f"{b}:{a}": i for i, (b, a) in enumerate(zip(bank_str, acct_str))}
        extra_bank, extra_acct = [], []
        for att in embedded:
            for r in att.rows:
                for b, a in ((r[1], r[2]), (r[3], r[4])):
                    key = f"{b}:{a}"
                    if key not in known:
                        known[key] = len(bank_str) + len(extra_bank)
                        extra_bank.append(b)
                        extra_acct.append(a)
        k = len(extra_bank)
        extra = make_accounts(rng, k, len(bank_ids))
        accounts = Accounts(*[np.concatenate([getattr(accounts, f), getattr(extra, f)]) for f in Accounts.__dataclass_fields__])
        bank_str = np.concatenate([bank_str, np.array(extra_bank, dtype=object)])
        acct_str = np.concatenate([acct_str, np.array(extra_acct, dtype=object)])

    embedded_rows = sum(len(a.rows) for a in embedded)
    n_illicit = max(8, int(round(n_tx * cfg["illicit_rate"])))
    n_pattern_target = int(round(n_illicit * cfg["pattern_share"]))
    step("laundering")
    n_attempts = max(len(PRESETS) * 4, int(round(cfg["attempts"] * scale)))
    planned = plan_attempts(rng, n_gen, start, days, n_attempts)
    # Trim or extend to the pattern-transaction target (attempt sizes are random).
    legs = np.cumsum([len(a.legs) for a in planned])
    target = max(n_pattern_target - embedded_rows, 0)
    planned = planned[: max(8, int(np.searchsorted(legs, target)) + 1)] if target else planned[:8]
    laundering = attempts_ledger(planned, accounts)
    integration = integration_ledger(rng, planned, accounts, max(0, n_illicit - len(laundering) - embedded_rows),
                                     start + days * 86400)
    step("background")
    n_background = max(0, n_tx - len(laundering) - len(integration) - embedded_rows)
    legit = background(rng, accounts, n_background, start, days)
    ledger = Ledger.concat([legit, laundering, integration])

    step("formatting")
    columns = _ledger_columns(ledger, bank_str, acct_str)
    # Attempt rows are formatted exactly as the same rows in Trans.csv.
    offset = 0
    gen_attempts: list[Attempt] = []
    text_cols = [c.slice(len(legit), len(laundering)).to_pylist() for c in columns]
    for a in planned:
        rows = []
        for _ in a.legs:
            rows.append([col[offset] for col in text_cols])
            offset += 1
        gen_attempts.append(Attempt(len(gen_attempts), a.typology, a.qualifier, rows))
    if embedded:
        raw = list(zip(*[r for a in embedded for r in a.rows]))
        columns = [pa.concat_arrays([c, pa.array(list(extra), pa.string())]) for c, extra in zip(columns, raw)]
    all_attempts = gen_attempts + [Attempt(len(gen_attempts) + i, a.typology, a.qualifier, a.rows)
                                   for i, a in enumerate(embedded)]

    # Time order with mild local disorder, as in the real files.
    ts_all = pc.strptime(columns[0], format=TIMESTAMP_FORMAT, unit="s").cast(pa.int64()).to_numpy()
    jitter = rng.integers(0, 20 * 60, len(ts_all))
    order = np.argsort(ts_all + jitter, kind="stable")
    table = pa.table([c.take(pa.array(order)) for c in columns], names=list(TRANS_HEADER))

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    trans_path = out / f"{name}_Trans.csv"
    step("writing")
    _write_csv(trans_path, table)
    patterns_path = out / f"{name}_Patterns.txt"
    write_patterns(patterns_path, all_attempts)
    accounts_path = out / f"{name}_accounts.csv"
    _write_accounts(accounts_path, rng, accounts, bank_str, acct_str)
    n_laundering = int((ledger.label == 1).sum()) + embedded_rows
    return GeneratedFiles(trans_path, patterns_path, accounts_path, table.num_rows, n_laundering, len(all_attempts))


def _write_csv(path: Path, table: pa.Table) -> None:
    """Unquoted CSV with a plain header line, as IBM writes them."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write((",".join(table.column_names) + "\n").encode())
            pacsv.write_csv(table, fh, write_options=pacsv.WriteOptions(include_header=False, quoting_style="none"))


_COUNTRIES = ("US", "UK", "Germany", "France", "Italy", "Spain", "Portugal", "Canada", "Australia", "China",
              "Japan", "India", "Russia", "Mexico", "Brazil", "Israel", "Saudi Arabia", "Switzerland")
_ENTITY_KINDS = ("Corporation", "Partnership", "Sole Proprietorship", "Individual")


def _write_accounts(path: Path, rng, accounts: Accounts, bank_str, acct_str) -> None:
    n = len(bank_str)
    bank_num = {b: i for i, b in enumerate(dict.fromkeys(bank_str))}
    country = np.array(_COUNTRIES, dtype=object)[np.array([bank_num[b] for b in bank_str]) % len(_COUNTRIES)]
    bank_name = [f"{c} Bank #{bank_num[b]}" for c, b in zip(country, bank_str)]
    kind = np.array(_ENTITY_KINDS, dtype=object)[rng.integers(0, len(_ENTITY_KINDS), n)]
    entity = accounts.entity[:n]
    table = pa.table({
        "Bank Name": pa.array(bank_name, pa.string()),
        "Bank ID": pa.array(bank_str, pa.string()),
        "Account Number": pa.array(acct_str, pa.string()),
        "Entity ID": pa.array([f"{0x800000000 + int(e):09X}" for e in entity], pa.string()),
        "Entity Name": pa.array([f"{k} #{int(e)}" for k, e in zip(kind, entity)], pa.string()),
    })
    _write_csv(path, table)
