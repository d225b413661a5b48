"""Background (legitimate) traffic of an AMLworld-like financial world, fully vectorised.

Calibrated to HI-Small at scale 1 (ibm-aml.md §1): about 515k accounts and 5.08M transactions
over 10 days; heavy-tailed activity with hub accounts; self-transfers (Reinvestment); periodic
payments (salaries, rent) that repeat at the same hour and amount; cross-currency payments; the
15 currencies and 7 payment formats in realistic proportions; bursty hours of the day.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..io.vocab import CURRENCIES, PAYMENT_FORMATS

# Units of each currency per US dollar (rough 2022 rates; they only need to be consistent).
RATE_PER_USD = np.array([
    1.0, 1.0, 6.9, 139.0, 79.8, 61.0, 0.85, 1.31, 1.47, 0.97, 20.0, 5.2, 3.4, 3.75, 0.00005,
])
# Home-currency mix of accounts (sums to 1), USD and EUR dominate as in HI-Small.
CURRENCY_MIX = np.array([
    0.37, 0.23, 0.07, 0.04, 0.04, 0.03, 0.04, 0.03, 0.03, 0.02, 0.02, 0.02, 0.02, 0.02, 0.02,
])
# Payment formats of non-self, non-bitcoin payments, from the LI-Large counts ([ALT] Table 5).
FORMAT_MIX = {"Cheque": 0.414, "Credit Card": 0.296, "ACH": 0.129, "Cash": 0.107, "Wire": 0.054}
HOUR_WEIGHTS = np.array([
    0.6, 0.4, 0.3, 0.3, 0.3, 0.4, 0.7, 1.0, 1.4, 1.8, 2.1, 2.5,
    2.7, 2.8, 2.8, 2.7, 2.5, 2.0, 1.6, 1.3, 1.0, 0.9, 0.8, 0.7,
])

SHARE_SELF = 0.09         # Reinvestment self-transfers
SHARE_PERIODIC = 0.12     # salaries, rent and other standing orders
SHARE_BITCOIN = 0.02
SHARE_CROSS_CURRENCY = 0.03


@dataclass
class Accounts:
    """Account attributes, one entry per dense account index."""

    bank: np.ndarray        # int32 index into World.bank_ids
    currency: np.ndarray    # int8 home currency
    out_weight: np.ndarray  # float64 propensity to pay
    in_weight: np.ndarray   # float64 propensity to be paid
    entity: np.ndarray      # int32 entity id (several accounts may share one)

    def __len__(self) -> int:
        return len(self.bank)


@dataclass
class Ledger:
    """Transactions as parallel arrays (no strings yet)."""

    src: np.ndarray
    dst: np.ndarray
    ts: np.ndarray           # int64 seconds
    amount_paid: np.ndarray
    pay_currency: np.ndarray
    amount_received: np.ndarray
    recv_currency: np.ndarray
    payment_format: np.ndarray
    label: np.ndarray

    @classmethod
    def concat(cls, parts: list["Ledger"]) -> "Ledger":
        return cls(*[np.concatenate([getattr(p, f) for p in parts]) for f in cls.__dataclass_fields__])

    def __len__(self) -> int:
        return len(self.src)


def make_bank_ids(rng: np.random.Generator, count: int) -> np.ndarray:
    """Zero-padded bank IDs of varying width (3..7 characters), unique, as strings."""
    ids: set[str] = set()
    out = []
    while len(out) < count:
        width = int(rng.choice([3, 4, 5, 6, 7], p=[0.15, 0.2, 0.25, 0.2, 0.2]))
        num = int(rng.integers(1, 10 ** (width - 1)))
        s = f"{num:0{width}d}"
        if s not in ids:
            ids.add(s)
            out.append(s)
    return np.array(out, dtype=object)


def make_accounts(rng: np.random.Generator, n: int, n_banks: int) -> Accounts:
    bank_pop = rng.pareto(1.2, n_banks) + 1.0
    bank = rng.choice(n_banks, size=n, p=bank_pop / bank_pop.sum()).astype(np.int32)
    currency = rng.choice(len(CURRENCIES) - 1, size=n, p=CURRENCY_MIX[:-1] / CURRENCY_MIX[:-1].sum()).astype(np.int8)
    # Heavy tails: a few hub accounts (merchants, payroll, exchanges) carry much of the traffic.
    out_weight = rng.pareto(1.6, n) + 0.2
    in_weight = rng.pareto(1.4, n) + 0.2
    hubs = rng.choice(n, size=max(1, n // 2000), replace=False)
    in_weight[hubs] *= 40.0
    out_weight[hubs[: len(hubs) // 2]] *= 25.0
    entity = np.arange(n, dtype=np.int32)
    shared = rng.random(n) < 0.15  # some entities hold several accounts
    entity[shared] = rng.integers(0, n, shared.sum())
    return Accounts(bank, currency, out_weight, in_weight, entity)


def _times(rng: np.random.Generator, count: int, start: int, days: int) -> np.ndarray:
    day = rng.integers(0, days, count)
    hour = rng.choice(24, size=count, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    minute = rng.integers(0, 60, count)
    return start + day * 86400 + hour * 3600 + minute * 60


def _amounts_usd(rng: np.random.Generator, count: int, median: float = 900.0, sigma: float = 1.9) -> np.ndarray:
    return np.exp(rng.normal(np.log(median), sigma, count)).clip(0.01, 5e8)


def _settle(rng, accounts: Accounts, src, dst, usd, fmt, cross_share: float) -> tuple:
    """Currencies and both amounts: paid in the payer's currency, mostly received in the same."""
    pay_cur = accounts.currency[src].copy()
    btc = fmt == PAYMENT_FORMATS.index("Bitcoin")
    pay_cur[btc] = CURRENCIES.index("Bitcoin")
    recv_cur = pay_cur.copy()
    cross = (rng.random(len(src)) < cross_share) & ~btc
    recv_cur[cross] = accounts.currency[dst[cross]]
    paid = usd * RATE_PER_USD[pay_cur]
    received = usd * RATE_PER_USD[recv_cur]
    return paid, pay_cur, received, recv_cur


def background(rng: np.random.Generator, accounts: Accounts, count: int, start: int, days: int) -> Ledger:
    """Legitimate traffic: self-transfers, periodic payments and weighted random payments."""
    n = len(accounts)
    n_self = int(count * SHARE_SELF)
    n_periodic = int(count * SHARE_PERIODIC)
    n_random = count - n_self - n_periodic

    out_p = accounts.out_weight / accounts.out_weight.sum()
    in_p = accounts.in_weight / accounts.in_weight.sum()

    # Random payments, a third of them kept inside the payer's bank.
    src = rng.choice(n, size=n_random, p=out_p).astype(np.int32)
    dst = rng.choice(n, size=n_random, p=in_p).astype(np.int32)
    same = src == dst
    dst[same] = (dst[same] + 1) % n
    fmt_names = list(FORMAT_MIX)
    fmt_p = np.array(list(FORMAT_MIX.values()))
    fmt = np.array([PAYMENT_FORMATS.index(f) for f in fmt_names], np.int8)[
        rng.choice(len(fmt_names), size=n_random, p=fmt_p / fmt_p.sum())]
    btc = rng.random(n_random) < SHARE_BITCOIN
    fmt[btc] = PAYMENT_FORMATS.index("Bitcoin")
    ts = _times(rng, n_random, start, days)
    usd = _amounts_usd(rng, n_random)
    small = fmt == PAYMENT_FORMATS.index("Credit Card")
    usd[small] /= 8.0
    paid, pay_cur, received, recv_cur = _settle(rng, accounts, src, dst, usd, fmt, SHARE_CROSS_CURRENCY)
    random_part = Ledger(src, dst, ts, paid, pay_cur, received, recv_cur, fmt, np.zeros(n_random, np.int8))

    # Reinvestment: an account moving money to itself.
    s_src = rng.choice(n, size=n_self, p=out_p).astype(np.int32)
    s_usd = _amounts_usd(rng, n_self, median=3000.0, sigma=1.5)
    s_cur = accounts.currency[s_src]
    s_amt = s_usd * RATE_PER_USD[s_cur]
    self_part = Ledger(s_src, s_src.copy(), _times(rng, n_self, start, days), s_amt, s_cur, s_amt.copy(),
                       s_cur.copy(), np.full(n_self, PAYMENT_FORMATS.index("Reinvestment"), np.int8),
                       np.zeros(n_self, np.int8))

    # Standing orders: a payer pays the same payee the same amount at the same time of day,
    # every `period` days (salaries from employers, rent to landlords, subscriptions).
    periods = rng.choice([1, 2, 3, 5, 7], size=max(1, n_periodic // 3), p=[0.15, 0.15, 0.2, 0.2, 0.3])
    reps = np.maximum(1, days // periods)
    keep = np.cumsum(reps) <= n_periodic
    periods, reps = periods[keep], reps[keep]
    k = len(periods)
    payer = rng.choice(n, size=k, p=out_p).astype(np.int32)
    payee = rng.integers(0, n, k).astype(np.int32)
    payee[payee == payer] = (payee[payee == payer] + 1) % n
    first = start + rng.integers(0, 86400 // 60, k) * 60
    offset0 = (rng.random(k) * periods).astype(np.int64)
    order_usd = _amounts_usd(rng, k, median=2500.0, sigma=0.8)
    order_fmt = rng.choice([PAYMENT_FORMATS.index("ACH"), PAYMENT_FORMATS.index("Wire"), PAYMENT_FORMATS.index("Cheque")],
                           size=k, p=[0.6, 0.2, 0.2]).astype(np.int8)
    idx = np.repeat(np.arange(k), reps)
    step = np.arange(len(idx)) - np.repeat(np.cumsum(reps) - reps, reps)
    p_ts = first[idx] + (offset0[idx] + step * periods[idx]) * 86400
    inside = p_ts < start + days * 86400
    idx, p_ts = idx[inside], p_ts[inside]
    p_src, p_dst = payer[idx], payee[idx]
    paid, pay_cur, received, recv_cur = _settle(rng, accounts, p_src, p_dst, order_usd[idx], order_fmt[idx], 0.0)
    periodic_part = Ledger(p_src, p_dst, p_ts.astype(np.int64), paid, pay_cur, received, recv_cur,
                           order_fmt[idx], np.zeros(len(idx), np.int8))
    return Ledger.concat([random_part, self_part, periodic_part])
