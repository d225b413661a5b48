"""Laundering attempts in the 8 AMLworld typologies, shaped like those in real HI-Small.

Shapes follow ibm-aml.md §1.3 (measured on the real HI-Small_Patterns.txt): sizes, durations,
ACH legs, one currency per leg that changes along chains, value roughly conserved, scatter legs
before their gather legs. Launderers are ordinary accounts of the world (they also have normal
traffic), with a small pool reused across attempts. About 38% of laundering transactions are
outside any attempt: integration spending by accounts that received laundered money.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..io.vocab import PAYMENT_FORMATS, TYPOLOGIES
from .world import RATE_PER_USD, Accounts, Ledger

ACH = PAYMENT_FORMATS.index("ACH")
HOUR = 3600


@dataclass
class Leg:
    src: int
    dst: int
    ts: int
    usd: float


@dataclass
class PlannedAttempt:
    typology: str
    qualifier: str | None
    legs: list[Leg] = field(default_factory=list)


class AttemptPlanner:
    """Draws attempts; `accounts` supplies launderers, `start`/`days` the period."""

    def __init__(self, rng: np.random.Generator, n_accounts: int, start: int, days: int):
        self.rng = rng
        self.n = n_accounts
        self.start = start
        self.days = days
        self.reuse_pool = rng.integers(0, n_accounts, size=max(4, n_accounts // 5000))

    def _accounts(self, k: int) -> list[int]:
        """k distinct launderer accounts, about 3% of them drawn from the reused pool."""
        picks: list[int] = []
        while len(picks) < k:
            if self.rng.random() < 0.03:
                a = int(self.rng.choice(self.reuse_pool))
            else:
                a = int(self.rng.integers(0, self.n))
            if a not in picks:
                picks.append(a)
        return picks

    def _window(self, max_hours: float) -> tuple[int, int]:
        duration = int(self.rng.uniform(0.25, 1.0) * max_hours * HOUR)
        latest = max(self.days * 86400 - duration, 1)
        begin = self.start + int(self.rng.integers(0, latest))
        return begin, duration

    def _times(self, k: int, max_hours: float, ordered: bool = True) -> list[int]:
        begin, duration = self._window(max_hours)
        t = begin + self.rng.integers(0, max(duration, 60), size=k)
        t = (t // 60) * 60
        return sorted(int(x) for x in t) if ordered else [int(x) for x in t]

    def _amount(self) -> float:
        return float(np.exp(self.rng.normal(np.log(12000.0), 1.3)))

    def _size(self, lo: int, hi: int, median: float) -> int:
        """Sizes skewed towards the median, clipped to [lo, hi]."""
        return int(np.clip(round(self.rng.gamma(2.5, median / 2.5)), lo, hi))

    def fan_out(self) -> PlannedAttempt:
        k = self._size(1, 16, 7)
        hub, *others = self._accounts(k + 1)
        ts = self._times(k, 96)
        return PlannedAttempt("FAN-OUT", f"Max {k}-degree Fan-Out",
                              [Leg(hub, o, t, self._amount()) for o, t in zip(others, ts)])

    def fan_in(self) -> PlannedAttempt:
        k = self._size(1, 16, 8)
        hub, *others = self._accounts(k + 1)
        ts = self._times(k, 96)
        return PlannedAttempt("FAN-IN", f"Max {k}-degree Fan-In",
                              [Leg(o, hub, t, self._amount()) for o, t in zip(others, ts)])

    def gather_scatter(self) -> PlannedAttempt:
        k_in, k_out = self._size(1, 15, 6), self._size(1, 15, 6)
        hub, *others = self._accounts(k_in + k_out + 1)
        ts = self._times(k_in + k_out, 200)
        legs = [Leg(o, hub, t, self._amount()) for o, t in zip(others[:k_in], ts[:k_in])]
        total = sum(leg.usd for leg in legs)
        legs += [Leg(hub, o, t, total / k_out * self.rng.uniform(0.85, 1.0))
                 for o, t in zip(others[k_in:], ts[k_in:])]
        return PlannedAttempt("GATHER-SCATTER", f"Max {k_in}-degree Fan-In", legs)

    def scatter_gather(self) -> PlannedAttempt:
        k = self._size(1, 16, 7)
        source, sink, *mids = self._accounts(k + 2)
        legs = []
        begin, duration = self._window(96)
        for m in mids:
            t1 = begin + int(self.rng.integers(0, max(duration // 2, 60)))
            t2 = t1 + int(self.rng.integers(60, max(duration // 2, 120)))
            usd = self._amount()
            legs.append(Leg(source, m, t1 // 60 * 60, usd))
            legs.append(Leg(m, sink, t2 // 60 * 60, usd * self.rng.uniform(0.9, 1.0)))
        return PlannedAttempt("SCATTER-GATHER", None, sorted(legs, key=lambda leg: leg.ts))

    def _chain(self, hops: int, closed: bool, max_hours: float) -> list[Leg]:
        nodes = self._accounts(hops if closed else hops + 1)
        seq = nodes + [nodes[0]] if closed else nodes
        ts = self._times(hops, max_hours)
        usd = self._amount()
        legs = []
        for i in range(hops):
            legs.append(Leg(seq[i], seq[i + 1], ts[i], usd))
            usd *= self.rng.uniform(0.93, 1.0)
        return legs

    def cycle(self) -> PlannedAttempt:
        hops = self._size(2, 12, 4)
        return PlannedAttempt("CYCLE", f"Max {hops} hops", self._chain(hops, True, 96))

    def random(self) -> PlannedAttempt:
        hops = self._size(1, 11, 3)
        return PlannedAttempt("RANDOM", f"Max {hops} hops", self._chain(hops, False, 92))

    def bipartite(self) -> PlannedAttempt:
        k = self._size(1, 15, 4)
        nodes = self._accounts(2 * k)
        ts = self._times(k, 47, ordered=False)
        return PlannedAttempt("BIPARTITE", None,
                              [Leg(nodes[i], nodes[k + i], ts[i], self._amount()) for i in range(k)])

    def stack(self) -> PlannedAttempt:
        k = self._size(1, 15, 5)
        nodes = self._accounts(3 * k)
        begin, duration = self._window(114)
        legs = []
        for i in range(k):
            t1 = begin + int(self.rng.integers(0, max(duration // 2, 60)))
            t2 = t1 + int(self.rng.integers(60, max(duration // 2, 120)))
            usd = self._amount()
            legs.append(Leg(nodes[i], nodes[k + i], t1 // 60 * 60, usd))
            legs.append(Leg(nodes[k + i], nodes[2 * k + i], t2 // 60 * 60, usd * self.rng.uniform(0.9, 1.0)))
        return PlannedAttempt("STACK", None, sorted(legs, key=lambda leg: leg.ts))

    def draw(self, typology: str) -> PlannedAttempt:
        return {
            "FAN-OUT": self.fan_out, "FAN-IN": self.fan_in, "GATHER-SCATTER": self.gather_scatter,
            "SCATTER-GATHER": self.scatter_gather, "CYCLE": self.cycle, "RANDOM": self.random,
            "BIPARTITE": self.bipartite, "STACK": self.stack,
        }[typology]()


def plan_attempts(rng: np.random.Generator, n_accounts: int, start: int, days: int, count: int) -> list[PlannedAttempt]:
    """`count` attempts, the 8 typologies in near-equal numbers (as in HI-Small: 40-54 each)."""
    planner = AttemptPlanner(rng, n_accounts, start, days)
    # Shuffle within rounds of 8 so that any prefix of the list covers the typologies evenly.
    kinds: list[str] = []
    while len(kinds) < count:
        kinds.extend(rng.permutation(TYPOLOGIES).tolist())
    kinds = kinds[:count]
    return [planner.draw(k) for k in kinds]


def attempts_ledger(attempts: list[PlannedAttempt], accounts: Accounts) -> Ledger:
    """ACH legs, each in the sender's home currency (so currencies change along chains)."""
    legs = [leg for a in attempts for leg in a.legs]
    src = np.array([leg.src for leg in legs], np.int32)
    dst = np.array([leg.dst for leg in legs], np.int32)
    cur = accounts.currency[src].astype(np.int8)
    usd = np.array([leg.usd for leg in legs])
    amount = usd * RATE_PER_USD[cur]
    m = len(legs)
    return Ledger(src, dst, np.array([leg.ts for leg in legs], np.int64), amount, cur, amount.copy(), cur.copy(),
                  np.full(m, ACH, np.int8), np.ones(m, np.int8))


def integration_ledger(rng: np.random.Generator, attempts: list[PlannedAttempt], accounts: Accounts, count: int,
                       end: int) -> Ledger:
    """Laundering outside patterns: receivers of dirty money spending it like ordinary payments."""
    legs = [leg for a in attempts for leg in a.legs]
    if not legs or count <= 0:
        return Ledger(*[np.zeros(0, t) for t in (np.int32, np.int32, np.int64, float, np.int8, float, np.int8, np.int8, np.int8)])
    pick = rng.integers(0, len(legs), count)
    src = np.array([legs[i].dst for i in pick], np.int32)
    after = np.array([legs[i].ts for i in pick], np.int64)
    ts = np.minimum(after + rng.integers(1, 72, count) * HOUR, end - 60) // 60 * 60
    p = accounts.in_weight / accounts.in_weight.sum()
    dst = rng.choice(len(accounts), size=count, p=p).astype(np.int32)
    dst[dst == src] = (dst[dst == src] + 1) % len(accounts)
    usd = np.exp(rng.normal(np.log(4000.0), 1.2, count))
    cur = accounts.currency[src].astype(np.int8)
    amount = usd * RATE_PER_USD[cur]
    fmt = rng.choice([PAYMENT_FORMATS.index(f) for f in ("Cheque", "Credit Card", "Cash", "Wire", "ACH")],
                     size=count, p=[0.35, 0.25, 0.15, 0.1, 0.15]).astype(np.int8)
    return Ledger(src, dst, ts, amount, cur, amount.copy(), cur.copy(), fmt, np.ones(count, np.int8))
