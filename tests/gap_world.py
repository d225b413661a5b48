"""Transactions with a gap longer than the GFP vertex statistics' 480h lagged window, for the
tests of look-backs that must reach past it (Dask halos, `score --history`)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

MINUTE, DAY = 60, 86_400
FIRST_AFTER_GAP = 401   # tx_id of the first transaction after the gap in the edge order


def gap_transactions() -> tuple[pa.Table, dict]:
    """(normalised transactions in time order, times of note). Two stretches of days with a 25-day
    gap between them, the second starting with a minute of 40 tied transactions; account 0 sends
    30 days into the first stretch and next sends the first transaction after the gap, whose
    lagged window (480h before the first stretch's last transaction) reaches back to that send."""
    from blazingaml.io.ibm_csv import NORMALISED_SCHEMA

    rng = np.random.default_rng(7)
    t0 = 1_600_000_000 - 1_600_000_000 % MINUTE
    first = np.sort(t0 + rng.integers(0, 40 * 24 * 60, 400) * MINUTE)        # 40 days, ~10 a day
    resumed = t0 + 65 * DAY
    second = np.sort(resumed + rng.integers(1, 10 * 24 * 60, 150) * MINUTE)
    ts = np.concatenate([[t0 + 30 * DAY], first, np.full(40, resumed), second])
    src, dst = rng.integers(1, 30, len(ts)), rng.integers(0, 30, len(ts))    # self-transfers too
    src[0] = src[FIRST_AFTER_GAP] = 0
    columns = {"tx_id": np.arange(len(ts)), "ts": ts, "src": src, "dst": dst,
               "amount_paid": rng.uniform(1, 1e4, len(ts)).round(2), "pay_currency": np.zeros(len(ts)),
               "recv_currency": np.zeros(len(ts)), "payment_format": rng.integers(0, 7, len(ts))}
    columns["amount_received"] = columns["amount_paid"]
    table = pa.table({f.name: pa.array(columns[f.name], f.type) for f in NORMALISED_SCHEMA})
    return table, {"account_0_sends": t0 + 30 * DAY, "last_before_gap": int(first.max()), "resumed": resumed}
