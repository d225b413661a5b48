"""Transactions as parallel arrays, and the dirty-balance ledger that labels them.

Labels are transitive ([ALT] §3.4): a transaction is laundering when it moves illicit funds. The
ledger replays every transaction in time order, (timestamp, row of the written Trans.csv), keeping a
dirty balance (US dollars) for each account under criminal control:

* a placement credits the dirty balance of the account that receives crime proceeds;
* a payment by a controlled account that holds dirty money (balance > `DIRTY_EPS`) is laundering and
  takes its amount from the dirty balance first ("dirty first": co-mingled funds carry the tag), except
  a payment across currencies, which is paid from clean funds (none of the 72k real cross-currency rows of
  HI-Small is laundering), and the owner's own spending from an account whose dirty money is kept apart
  (`kept_apart`: such an owner pays ordinary bills from their own money; the dirty money leaves that
  account only through the scheme's payments, pattern legs and integration);
* a pattern leg is laundering by definition (it is a step of a laundering attempt), whatever the
  balance; it too takes what it can from the dirty balance;
* what a laundering payment moves is credited to the receiver's dirty balance when the receiver is
  also controlled; paid to anyone else (a shop, a supplier, a landlord), the money has been
  integrated and the trail ends (the receiver sold something in good faith);
* a self-transfer (Reinvestment) moves nothing between accounts and is never laundering, unless it
  is a step of an attempt (real gather-scatter attempts hold a few self-loop legs).

So the non-pattern share of laundering is an outcome of how much dirty money there is and how the
controlled accounts spend it, not a quota.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

DIRTY_EPS = 0.01  # US dollars: smaller dirty remainders carry no tag

# Flow codes: what a transaction is for (kept in memory for tests and docs, never written).
REINVESTMENT, SALARY, PENSION, BILL, PURCHASE, SUPPLY, P2P, CRYPTO, GROUP, POOLING, VICTIM = range(11)
LAYERING, INTEGRATION = 20, 21
FLOW_NAMES = {REINVESTMENT: "reinvestment", SALARY: "salary", PENSION: "pension", BILL: "bill",
              PURCHASE: "purchase", SUPPLY: "supply", P2P: "person-to-person", CRYPTO: "crypto",
              GROUP: "intra-group", POOLING: "cash pooling", VICTIM: "crime-proceeds payment",
              LAYERING: "layering (pattern leg)", INTEGRATION: "integration"}


@dataclass
class Ledger:
    """Transactions as parallel arrays (no strings yet)."""

    src: np.ndarray              # int32 account index
    dst: np.ndarray
    ts: np.ndarray               # int64 seconds, whole minutes
    usd: np.ndarray              # float64 value in US dollars
    amount_paid: np.ndarray      # float64 in pay_currency
    pay_currency: np.ndarray     # int8
    amount_received: np.ndarray
    recv_currency: np.ndarray
    payment_format: np.ndarray   # int8
    whole: np.ndarray            # bool: amounts in whole currency units (invoices)
    flow: np.ndarray             # int8 flow code above
    attempt: np.ndarray          # int32 attempt index for pattern legs, -1 otherwise
    raw: np.ndarray              # int32 index of a verbatim input line (embedded real rows), -1 otherwise
    label: np.ndarray            # int8, set by `label_transactions`

    @classmethod
    def concat(cls, parts: list["Ledger"]) -> "Ledger":
        return cls(*[np.concatenate([getattr(p, f) for p in parts]) for f in cls.__dataclass_fields__])

    @classmethod
    def empty(cls) -> "Ledger":
        types = (np.int32, np.int32, np.int64, float, float, np.int8, float, np.int8, np.int8, bool, np.int8,
                 np.int32, np.int32, np.int8)
        return cls(*[np.zeros(0, t) for t in types])

    def take(self, index: np.ndarray) -> "Ledger":
        return Ledger(*[getattr(self, f)[index] for f in self.__dataclass_fields__])

    def __len__(self) -> int:
        return len(self.src)


@dataclass
class Placements:
    """Crime proceeds credited to controlled accounts (no transaction row unless a victim paid)."""

    account: np.ndarray   # int32
    ts: np.ndarray        # int64
    usd: np.ndarray       # float64
    source: np.ndarray    # int8 index into crime.CRIME_SOURCES

    @classmethod
    def concat(cls, parts: list["Placements"]) -> "Placements":
        return cls(*[np.concatenate([getattr(p, f) for p in parts]) for f in cls.__dataclass_fields__])

    def __len__(self) -> int:
        return len(self.account)


def label_transactions(ledger: Ledger, order: np.ndarray, controlled: np.ndarray, placements: Placements,
                       placement_case: np.ndarray, row_case: np.ndarray, active: np.ndarray,
                       kept_apart: np.ndarray | None = None) -> np.ndarray:
    """Laundering labels (int8) of `ledger` rows, replayed in `order` (the time order of the written file),
    counting only the crime cases marked in `active`: rows and placements of other cases are left out
    (`row_case` is -1 for ordinary rows). Placements at a timestamp are applied before the transactions
    of that timestamp. On the accounts marked in `kept_apart` (per account), everything but pattern legs and
    integration is the owner's own spending, paid from the owner's own money (never laundering)."""
    p_order = np.argsort(placements.ts, kind="stable")
    label = np.zeros(len(ledger), np.int8)
    clean_paid = ledger.pay_currency != ledger.recv_currency     # paid from clean money
    if kept_apart is not None:
        clean_paid |= kept_apart[ledger.src] & (ledger.flow != LAYERING) & (ledger.flow != INTEGRATION)
    _replay(order.astype(np.int64), ledger.src, ledger.dst, ledger.ts, ledger.usd, ledger.flow == LAYERING,
            clean_paid, row_case, active, controlled, placements.account[p_order], placements.ts[p_order],
            placements.usd[p_order], placement_case[p_order], label)
    return label


@numba.njit(cache=True, nogil=True)
def _replay(order, src, dst, ts, usd, is_leg, clean_paid, row_case, active, controlled, p_acct, p_ts, p_usd, p_case,
            label):
    dirty = np.zeros(len(controlled))
    j = 0
    for k in range(len(order)):
        i = order[k]
        if row_case[i] >= 0 and not active[row_case[i]]:
            continue
        while j < len(p_ts) and p_ts[j] <= ts[i]:
            if active[p_case[j]]:
                dirty[p_acct[j]] += p_usd[j]
            j += 1
        a, b = src[i], dst[i]
        if is_leg[i]:
            label[i] = 1
        elif a == b or clean_paid[i] or not controlled[a] or dirty[a] <= DIRTY_EPS:
            continue
        else:
            label[i] = 1
        if a != b:
            moved = min(usd[i], dirty[a])
            dirty[a] -= moved
            if controlled[b]:
                dirty[b] += moved
