"""Crime: proceeds placed into accounts under criminal control, layered through the 8 typologies, and
integrated back into the economy ([ALT] §3: placement, layering, integration).

A *case* is one sum of crime proceeds. Its **placement** credits controlled accounts: cash crimes
(prostitution, robbery, drugs, smuggling) as deposits that leave no transaction in the files; the
others as payments from their victims or customers (extortion, loan sharking, gambling, kidnapping)
or from the defrauded employer (embezzlement), which are not laundering themselves (the money is not
yet illicit when it moves) but make the receiving account dirty. A share of cases (`layered_share`)
is then **layered** through one attempt of a typology, with the shapes of typologies.py, between
accounts that the criminals control: mules and shell companies recruited from the population (people's
further accounts and firms without staff, drawn alike; their owners keep using them as before) and a
small pool of accounts reused across attempts (4% of the real dev attempts' accounts take part in
more than one). Legs go by ACH in the receiving account's currency (both measured on the real pattern
rows). Whatever dirty money rests in an account at the
end is **integrated**: after a rest, the holder spends it in a few payments of the kinds its account
makes in the ordinary economy, to payees it already pays.

The labels come from the dirty-balance ledger (ledger.py), not from this module: it only says which
accounts are controlled, where proceeds are placed, and which transactions are pattern legs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..io.vocab import PAYMENT_FORMATS, TYPOLOGIES
from .economy import ECONOMY, F, Counterparties, pays_for, settle
from .ledger import INTEGRATION, LAYERING, P2P, PURCHASE, SUPPLY, VICTIM, Ledger, Placements
from .population import BITCOIN, INDIVIDUAL, RATE_PER_USD, RETAIL, SUPPLIER, Population
from .timing import DAY, HOUR, MINUTE, Calendar, times_between
from .typologies import Shape, ShapeDrawer

CRIME_SOURCES = ("extortion", "loan sharking", "gambling", "prostitution", "kidnapping", "robbery",
                 "embezzlement", "drugs", "smuggling")
# How proceeds reach the first account: None = cash deposit (no transaction); else formats of the payments.
PLACEMENT_FORMATS = {
    "extortion": {"Wire": 0.4, "ACH": 0.3, "Cheque": 0.3}, "loan sharking": {"Cash": 0.6, "ACH": 0.4},
    "gambling": {"Credit Card": 0.6, "ACH": 0.4}, "kidnapping": {"Wire": 1.0},
    "embezzlement": {"ACH": 0.5, "Wire": 0.5},
    "prostitution": None, "robbery": None, "drugs": None, "smuggling": None,
}

CRIME = {
    "layered_share": 0.9,              # cases layered through an attempt (the rest integrated directly)
    "recruit_activity_exponent": 0.0,  # recruited accounts drawn with weight activity ** -exponent (0: alike)
    "comingled_share": 0.25,           # a scheme's accounts whose owners spend from one pot, dirty money first
    "reuse_share": 0.04,               # account slots filled from the reused pool
    "rest_days_mean": 4.0,             # dirty money rests Exp(mean) days before it is spent
    "integration_max_payments": 4,     # payments per holder within the main period
    "integration_gap_days": 1.0,
    # Share of integration payments sent as an ACH transfer instead of the purpose's usual format. Derived
    # from the real per-format laundering counts (docs/generator.md): HI-Small's laundering rows are 86.6% ACH
    # and its pattern rows all ACH, so (4,483 - 3,209) / 1,968 = 65% of the rest; LI-Small's test period has
    # 45% of its laundering off ACH with 29% pattern rows, so (0.55 - 0.29) / 0.71 = 37% of the rest.
    "integration_ach_share": 0.65,
    "victims_per_placement": 3.0,      # mean number of victim payments of a visible placement
}
# Integration looks like the holder's own ordinary spending: an account spends dirty money on the purposes it
# has in the ordinary economy (economy.py), in their shares of the ordinary volume, formats and amounts: a
# person's further account buys from shops and pays people; a firm pays its suppliers (and, unless it is a
# corporation, buys from shops). Mules and shells have no staff and no bills, so no wages and no rent.
INTEGRATION_FLOWS = {"purchase": PURCHASE, "supply": SUPPLY, "p2p": P2P}


def ordinary_purposes(pop: Population, account: int) -> dict:
    """{purpose: share of the ordinary volume} of the payments `account` makes in the ordinary economy."""
    shares = ECONOMY["fill_shares"]
    return {k: shares[k] for k in INTEGRATION_FLOWS if pays_for(pop, k, account)}


def _integration_payment(rng, purpose: str) -> tuple[int, float]:
    """(format, US dollars) of one ordinary-looking payment for `purpose`."""
    E = ECONOMY
    if purpose == "purchase":
        name = _pick(rng, E["purchase_formats"])
        return F[name], E["purchase_median"][name] * float(np.exp(rng.normal(0, E["purchase_sigma"])))
    if purpose == "supply":
        return F[_pick(rng, E["supply_formats"])], E["supply_median"] * float(np.exp(rng.normal(0, E["supply_sigma"])))
    return F[_pick(rng, E["p2p_formats"])], E["p2p_median"] * float(np.exp(rng.normal(0, E["p2p_sigma"])))


def _pick(rng, mix: dict) -> str:
    names = list(mix)
    p = np.array([mix[k] for k in names], float)
    return names[int(rng.choice(len(names), p=p / p.sum()))]


@dataclass
class AttemptRecord:
    """An attempt as written to Patterns.txt: its typology, qualifier, ledger rows and case."""

    typology: str
    qualifier: str | None
    rows: np.ndarray            # indices into CrimePlan.ledger
    case: int


@dataclass
class CrimePlan:
    """Everything crime adds to the world, each part tagged with its case (embedded attempts come first)."""

    ledger: Ledger                      # pattern legs, victim payments, integration payments
    row_case: np.ndarray                # int32 case of each ledger row
    purpose: np.ndarray                 # int8 ordinary flow an integration row imitates, -1 for other rows
    placements: Placements
    placement_case: np.ndarray
    case_accounts: list                 # per case, the accounts it controls
    attempts: list = field(default_factory=list)   # AttemptRecord, generated first, then embedded
    embedded_cases: int = 0

    def reuse_relationships(self, rng, pop: Population, legit: Ledger) -> None:
        """Integration payments go to payees the holder already pays for that purpose in the ordinary economy
        (its usual shops, suppliers and friends), in the holder's currency; a holder without one keeps the
        payee drawn at planning. Dirty money is spent where the owner spends anyway."""
        rows = np.flatnonzero(self.purpose >= 0)
        if not len(rows) or not len(legit):
            return
        mine = np.flatnonzero(np.isin(legit.src, self.ledger.src[rows]))   # the holders' ordinary payments
        key = legit.src[mine].astype(np.int64) * 64 + legit.flow[mine]
        rank = np.argsort(key, kind="stable")
        order, sorted_key = mine[rank], key[rank]
        want = self.ledger.src[rows].astype(np.int64) * 64 + self.purpose[rows]
        lo, hi = np.searchsorted(sorted_key, want, "left"), np.searchsorted(sorted_key, want, "right")
        for i, a, b in zip(rows, lo, hi):
            if a == b:
                continue
            payees = legit.dst[order[a:b]]
            payees = payees[pop.currency[payees] == pop.currency[self.ledger.dst[i]]]
            if len(payees):
                self.ledger.dst[i] = payees[int(rng.integers(0, len(payees)))]

    def kept_apart(self, rng, n_accounts: int, comingled_share: float) -> np.ndarray:
        """Mask of the accounts whose owners keep the dirty money apart from their own: a share
        `1 - comingled_share` of the accounts a layering scheme recruits (organised mules and shells pass the
        money on as told); never the holder of a direct case, who spends from one balance."""
        apart = rng.random(n_accounts) >= comingled_share
        layered = {rec.case for rec in self.attempts}
        for c, accounts in enumerate(self.case_accounts):
            if c not in layered:
                apart[accounts] = False
        return apart

    def controlled(self, n_accounts: int, active: np.ndarray) -> np.ndarray:
        """Mask of the accounts controlled by the active cases."""
        mask = np.zeros(n_accounts, bool)
        for c in np.flatnonzero(active):
            mask[self.case_accounts[c]] = True
        return mask


def _bresenham(share: float, count: int) -> np.ndarray:
    """count booleans with the given share of True, spread evenly (low variance at small scales)."""
    k = np.arange(1, count + 1)
    return np.floor(k * share) > np.floor((k - 1) * share)


class CrimePlanner:
    """Builds cases one after another until the expected laundering volume is reached."""

    def __init__(self, rng, pop: Population, cal: Calendar, cfg: dict):
        self.rng, self.pop, self.cal, self.cfg = rng, pop, cal, cfg
        self.shapes = ShapeDrawer(rng)
        # Mules and shells: people's further accounts (not the one their salary and bills go through) and the
        # accounts of firms without employees.
        recruitable = np.flatnonzero(((pop.kind == INDIVIDUAL) & ~pop.primary) | ((pop.kind != INDIVIDUAL) & (pop.size == 0)))
        self.recruitable = recruitable
        self.recruit_cdf = np.cumsum(pop.activity[recruitable] ** -cfg["recruit_activity_exponent"])
        self.reuse_pool: list[int] = []
        self.parts: list[Ledger] = []
        self.part_case: list[int] = []
        self.placements: list[Placements] = []
        self.placement_case: list[int] = []
        self.case_accounts: list[list[int]] = []
        self.attempts: list[AttemptRecord] = []
        self.rows = 0
        self.case = 0
        # Payees for integration payments whose holder has no ordinary payee of that purpose (see
        # CrimePlan.reuse_relationships), drawn as the ordinary flows draw theirs: shops and people by activity,
        # suppliers by size.
        shops = np.flatnonzero(pop.role == RETAIL)
        sellers = np.flatnonzero((pop.role == SUPPLIER) & pop.primary)
        people = np.flatnonzero(pop.kind == INDIVIDUAL)
        self.payees = {name: Counterparties(pop, c, w, 1.0) for name, c, w in
                       (("purchase", shops, pop.activity[shops]), ("supply", sellers, pop.size[sellers] + 1.0),
                        ("p2p", people, pop.activity[people])) if len(c)}
        self.purposes: list[np.ndarray] = []     # per ledger part: the ordinary flow an integration row imitates
        self.victims = people

    # -- accounts --------------------------------------------------------------------------------
    def _accounts(self, k: int) -> np.ndarray:
        picks: list[int] = []
        while len(picks) < k:
            if self.reuse_pool and self.rng.random() < self.cfg["reuse_share"]:
                weights = 1.0 / np.arange(1, len(self.reuse_pool) + 1)
                a = self.reuse_pool[int(self.rng.choice(len(self.reuse_pool), p=weights / weights.sum()))]
            else:
                a = int(Counterparties.pick(self.rng, self.recruitable, self.recruit_cdf, 1)[0])
                if self.rng.random() < 0.1:
                    self.reuse_pool.append(a)
            if a not in picks:
                picks.append(a)
        return np.array(picks, np.int32)

    def _control(self, accounts) -> None:
        while len(self.case_accounts) <= self.case:
            self.case_accounts.append([])
        self.case_accounts[self.case].extend(int(a) for a in accounts)

    def _add(self, part: Ledger, purpose: np.ndarray | None = None) -> np.ndarray:
        self.parts.append(part)
        self.part_case.append(self.case)
        self.purposes.append(np.full(len(part), -1, np.int8) if purpose is None else np.asarray(purpose, np.int8))
        rows = np.arange(self.rows, self.rows + len(part))
        self.rows += len(part)
        return rows

    # -- placement -------------------------------------------------------------------------------
    def _place(self, account: int, usd: float, before: int) -> None:
        """Proceeds of one crime credited to `account` before time `before`."""
        rng = self.rng
        source = int(rng.integers(0, len(CRIME_SOURCES)))
        formats = PLACEMENT_FORMATS[CRIME_SOURCES[source]]
        t = min(max(int(before - rng.uniform(1, 48) * HOUR) // MINUTE * MINUTE, self.cal.start), before)
        self.placement_case.append(self.case)
        if formats is None or t >= self.cal.end:    # cash crimes; and no ordinary payments after the main period
            self.placements.append(Placements(np.array([account], np.int32), np.array([t], np.int64),
                                              np.array([usd]), np.array([source], np.int8)))
            return
        m = 1 + rng.poisson(self.cfg["victims_per_placement"] - 1)
        share = rng.dirichlet(np.ones(m)) * usd
        ts = np.maximum(t - rng.integers(0, 3 * 1440, m) * MINUTE, min(self.cal.start, t))
        payer = self.victims[rng.integers(0, len(self.victims), m)]
        fmt = np.array([F[k] for k in rng.choice(list(formats), size=m, p=list(formats.values()))], np.int8)
        self._add(settle(self.pop, payer, np.full(m, account), ts, share, fmt, VICTIM))
        self.placements.append(Placements(np.full(m, account, np.int32), ts, share, np.full(m, source, np.int8)))

    # -- integration ---------------------------------------------------------------------------
    def _integrate(self, holder: int, usd: float, since: int) -> int:
        """Spending of `usd` dirty dollars held by `holder` since `since`, after a rest, in payments of the
        purposes its account has in the ordinary economy (`ordinary_purposes`; the payees are its own, see
        `CrimePlan.reuse_relationships`) at the hours laundering happens (in the real
        files the laundering rate over all laundering rows peaks at 12:00); returns payments planned.
        Agents spend only during the main period (every real tail positive is a pattern row) and, like every
        real laundering row, in one currency (the payee's)."""
        cfg, rng = self.cfg, self.rng
        t = since + int(rng.exponential(cfg["rest_days_mean"]) * DAY)
        left = usd
        src, dst, ts, amounts, fmts, flows = [], [], [], [], [], []
        purposes = {k: w for k, w in ordinary_purposes(self.pop, holder).items() if k in self.payees}
        for _ in range(cfg["integration_max_payments"]):
            if t >= self.cal.end or left <= 0.01 or not purposes:
                break
            purpose = _pick(rng, purposes)
            fmt, amount = _integration_payment(rng, purpose)
            flows.append(INTEGRATION_FLOWS[purpose])
            if rng.random() < cfg["integration_ach_share"]:
                fmt = F["ACH"]
            src.append(holder)
            dst.append(int(self.payees[purpose].draw(rng, self.pop.currency[[holder]], domestic=1.0)[0]))
            day = t // DAY * DAY        # agents act in their working hours: the laundering hour profile
            ts.append(min(int(times_between(rng, day, day + DAY - MINUTE)[0]), self.cal.end - MINUTE))
            amounts.append(min(amount, left))
            fmts.append(fmt)
            left -= amounts[-1]
            t += int(rng.exponential(cfg["integration_gap_days"]) * DAY) + HOUR
        if src:
            self._add(laundering_legs(self.pop, src, dst, ts, amounts, fmts, INTEGRATION), flows)
        return len(src)

    # -- cases -------------------------------------------------------------------------------------
    def layered(self, legs: Ledger, typology: str, qualifier: str | None) -> float:
        """Place the money an attempt's legs need, record the attempt, integrate what rests at its end;
        returns the expected number of laundering transactions."""
        legs.attempt[:] = len(self.attempts)
        rows = self._add(legs)
        self.attempts.append(AttemptRecord(typology, qualifier, rows, self.case))
        self._control(np.concatenate([legs.src, legs.dst]))
        order = np.argsort(legs.ts, kind="stable")
        balance: dict[int, float] = {}
        need: dict[int, float] = {}
        first_out: dict[int, int] = {}
        last_in: dict[int, int] = {}
        for i in order:
            a, b, usd, t = int(legs.src[i]), int(legs.dst[i]), float(legs.usd[i]), int(legs.ts[i])
            first_out.setdefault(a, t)
            have = balance.get(a, 0.0)
            if have < usd:
                need[a] = need.get(a, 0.0) + usd - have
            balance[a] = max(have - usd, 0.0)
            balance[b] = balance.get(b, 0.0) + usd
            last_in[b] = t
        for a, usd in need.items():
            self._place(a, usd, first_out[a])
        total = float(legs.usd.sum())
        planned = len(legs)
        for a, usd in balance.items():
            if usd > 0.01 * total:
                planned += self._integrate(a, usd, last_in[a])
        return planned

    def generated_attempt(self, typology: str) -> float:
        begin = self.cal.laundering_start(self.rng)
        shape: Shape = self.shapes.draw(typology, begin)
        accounts = self._accounts(shape.n_accounts)
        src = accounts[[leg.src for leg in shape.legs]]
        dst = accounts[[leg.dst for leg in shape.legs]]
        return self.layered(laundering_legs(self.pop, src, dst, np.array([leg.ts for leg in shape.legs]),
                                            np.array([leg.usd for leg in shape.legs])), typology, shape.qualifier)

    def direct(self) -> float:
        """Proceeds placed in one account and spent without layering."""
        holder = int(self._accounts(1)[0])
        self._control([holder])
        t = self.cal.laundering_start(self.rng)
        usd = self.shapes.value() * self.rng.uniform(2, 8)
        self._place(holder, usd, t)
        return self._integrate(holder, usd, t)

    def plan(self, target: float, embedded: list[tuple[Ledger, str, str | None]] = ()) -> CrimePlan:
        """Embedded attempts first (a case each), then generated cases until `target` laundering
        transactions are expected from legs and planned integration (`trim` later cuts the cases that the
        ledger shows were not needed)."""
        expected = 0.0
        for legs, typology, qualifier in embedded:
            expected += self.layered(legs, typology, qualifier)
            self.case += 1
        n_embedded = len(self.attempts)
        layered = _bresenham(self.cfg["layered_share"], 1_000_000)
        kinds: list[str] = []
        while expected < target:
            if layered[(self.case - n_embedded) % len(layered)]:
                if not kinds:
                    kinds = list(self.rng.permutation(TYPOLOGIES))
                expected += self.generated_attempt(kinds.pop())
            else:
                expected += self.direct()
            self.case += 1
        # Patterns.txt lists generated attempts first, then the embedded ones in their file order.
        attempts = self.attempts[n_embedded:] + self.attempts[:n_embedded]
        ledger = Ledger.concat(self.parts) if self.parts else Ledger.empty()
        row_case = np.repeat(np.array(self.part_case, np.int32), [len(p) for p in self.parts])
        purpose = np.concatenate(self.purposes) if self.purposes else np.zeros(0, np.int8)
        placements = Placements.concat(self.placements) if self.placements else \
            Placements(np.zeros(0, np.int32), np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int8))
        placement_case = np.repeat(np.array(self.placement_case, np.int32), [len(p) for p in self.placements])
        while len(self.case_accounts) < self.case:
            self.case_accounts.append([])
        return CrimePlan(ledger, row_case, purpose, placements, placement_case, self.case_accounts, attempts,
                         n_embedded)


def laundering_legs(pop: Population, src, dst, ts, usd, fmt=None, flow: int = LAYERING) -> Ledger:
    """Laundering payments as every real laundering row is: one currency on both sides, the receiving
    account's (Bitcoin for Bitcoin payments); pattern legs go by ACH (3,208 of 3,209 real pattern rows)."""
    src = np.asarray(src, np.int32)
    dst = np.asarray(dst, np.int32)
    n = len(src)
    fmt = np.full(n, PAYMENT_FORMATS.index("ACH"), np.int8) if fmt is None else np.asarray(fmt, np.int8)
    cur = pop.currency[dst].astype(np.int8)
    cur[fmt == PAYMENT_FORMATS.index("Bitcoin")] = BITCOIN
    amount = np.asarray(usd, float) * RATE_PER_USD[cur]
    return Ledger(src, dst, np.asarray(ts, np.int64), np.asarray(usd, float), amount, cur, amount.copy(), cur.copy(),
                  fmt, np.zeros(n, bool), np.full(n, flow, np.int8), np.full(n, -1, np.int32), np.full(n, -1, np.int32),
                  np.zeros(n, np.int8))
