"""Who is in the world: banks, entities (people and companies) and their accounts.

AMLworld ([ALT] §3) is a world of banks, individuals and companies; entities own several accounts,
some at other banks. Here each bank has a home currency; an account holds the currency of its bank.
Companies have a role in the economy (retailer, utility/landlord, supplier, financial institution,
crypto exchange) and a size (employees), which drives payroll and purchasing. Every count and share
is a parameter in `POPULATION` below; docs/generator.md lists them with their sources.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..io.vocab import CURRENCIES

# Entity kinds; names as in the real HI-Small_accounts.csv ("Corporation #33520", ...).
INDIVIDUAL, SOLE_PROPRIETORSHIP, PARTNERSHIP, CORPORATION = range(4)
KIND_NAMES = ("Individual", "Sole Proprietorship", "Partnership", "Corporation")

# Company roles (individuals have NO_ROLE).
NO_ROLE, RETAIL, UTILITY, SUPPLIER, FINANCE, EXCHANGE = range(6)

POPULATION = {
    # share of entities by kind
    "kind_share": (0.80, 0.10, 0.04, 0.06),
    # accounts per entity: people and small firms 1 + Poisson(mean); corporations 1 + Pareto-tailed count.
    # Real HI-Small_accounts.csv: 518,581 accounts of 166,207 entities (3.12 each), up to 7,820 for one.
    "accounts_small_extra_mean": 1.6,
    "accounts_corporation_pareto": 1.5, "accounts_corporation_scale": 3.0, "accounts_corporation_max": 8000,
    # a further account of the same entity sits at another bank with this probability
    "other_bank_share": 0.4,
    # company roles (retail, utility/landlord, supplier, finance, crypto exchange), by share of companies
    "role_share": (0.45, 0.10, 0.42, 0.025, 0.005),
    # bank sizes ~ Pareto(a) + 1
    "bank_pareto": 1.2,
    # further accounts of an entity (savings, a second bank) see this share of the first one's activity
    "secondary_activity": 0.3,
}

# Home currency of banks (so of their accounts): the real HI-Small Payment Currency counts without Bitcoin
# (US Dollar 1,895,172; Euro 1,168,297; Swiss Franc 234,860; Yuan 213,752; Shekel 192,184; Rupee 190,202;
# UK Pound 180,738; Ruble 155,178; Yen 155,209; Canadian Dollar 140,042; Australian Dollar 136,769;
# Mexican Peso 110,159; Saudi Riyal 89,014; Brazil Real 70,703). Order: io.vocab.CURRENCIES.
BANK_CURRENCY_MIX = np.array([
    1_895_172, 1_168_297, 213_752, 155_209, 190_202, 155_178, 180_738, 140_042, 136_769, 234_860, 110_159,
    70_703, 192_184, 89_014, 0,
], float)
# Units of each currency per US dollar: AMLworld's own rates where measured on real HI-Small (constant over
# the 18 days: EUR 1.1718 USD, GBP 1.2917, INR 0.01362, BTC 11,875), the others at the same date's levels
# (August 2020), which those four match.
RATE_PER_USD = np.array([
    1.0, 1 / 1.1718, 6.94, 105.9, 1 / 0.01362, 73.6, 1 / 1.2917, 1.33, 1.40, 0.92, 22.3, 5.3, 3.41, 3.75, 1 / 11_875,
])
BITCOIN = CURRENCIES.index("Bitcoin")


@dataclass
class Population:
    """Banks, entities and accounts as flat arrays (one entry per dense account index)."""

    bank_ids: np.ndarray        # object[n_banks] zero-padded bank id strings
    bank_currency: np.ndarray   # int8[n_banks]
    bank: np.ndarray            # int32[n] bank of each account
    currency: np.ndarray        # int8[n] account currency (its bank's)
    entity: np.ndarray          # int32[n] owning entity
    kind: np.ndarray            # int8[n] entity kind of the owner
    role: np.ndarray            # int8[n] company role (NO_ROLE for people)
    size: np.ndarray            # float64[n] employees of the owning company (0 for people)
    activity: np.ndarray        # float64[n] ordinary spending level (mean 1)
    primary: np.ndarray         # bool[n] first account of its entity (pays salaries, bills, suppliers)
    account_ids: np.ndarray     # object[n] 9-character account id strings

    def __len__(self) -> int:
        return len(self.bank)

    def bank_str(self) -> np.ndarray:
        return self.bank_ids[self.bank]

    def extend(self, other: "Population") -> "Population":
        """Accounts of `other` appended (same banks)."""
        fields = ("bank", "currency", "entity", "kind", "role", "size", "activity", "primary", "account_ids")
        return Population(self.bank_ids, self.bank_currency,
                          *[np.concatenate([getattr(self, f), getattr(other, f)]) for f in fields])


def make_bank_ids(rng: np.random.Generator, count: int) -> np.ndarray:
    """Zero-padded bank IDs of varying width (3..7 characters), unique, as strings."""
    ids: set[str] = set()
    out = []
    while len(out) < count:
        width = int(rng.choice([3, 4, 5, 6, 7], p=[0.15, 0.2, 0.25, 0.2, 0.2]))
        s = f"{int(rng.integers(1, 10 ** (width - 1))):0{width}d}"
        if s not in ids:
            ids.add(s)
            out.append(s)
    return np.array(out, dtype=object)


def account_id_strings(rng: np.random.Generator, n: int) -> np.ndarray:
    """n distinct 9-character upper-case hex ids starting with 8 (as in the real files)."""
    values = rng.choice(0x1FFFFFFF, size=n, replace=False) + 0x800000000
    return np.array([f"{v:09X}" for v in values], dtype=object)


def make_population(rng: np.random.Generator, n_accounts: int, n_banks: int) -> Population:
    """Exactly `n_accounts` accounts owned by people and companies. Account currencies follow
    BANK_CURRENCY_MIX (each account is at a bank of its currency); an entity's accounts share a currency."""
    P = POPULATION
    mix = BANK_CURRENCY_MIX / BANK_CURRENCY_MIX.sum()
    bank_ids = make_bank_ids(rng, n_banks)
    bank_currency = rng.choice(len(CURRENCIES), size=n_banks, p=mix).astype(np.int8)
    bank_size = rng.pareto(P["bank_pareto"], n_banks) + 1.0
    banks_of = {int(c): np.flatnonzero(bank_currency == c) for c in np.flatnonzero(mix)}
    for c in banks_of:      # every currency in the mix has a bank
        if not len(banks_of[c]):
            b = int(rng.integers(0, n_banks))
            bank_currency[b] = c
            banks_of = {k: np.flatnonzero(bank_currency == k) for k in banks_of}

    n_ent = int(n_accounts / 2.0) + 16      # more than enough; accounts are cut at n_accounts
    kind = rng.choice(4, size=n_ent, p=P["kind_share"]).astype(np.int8)
    per = 1 + rng.poisson(P["accounts_small_extra_mean"], n_ent)
    corp = kind == CORPORATION
    per[corp] = np.minimum(np.round(P["accounts_corporation_scale"] * (rng.pareto(P["accounts_corporation_pareto"],
                                                                                 corp.sum()) + 1)),
                           P["accounts_corporation_max"]).astype(per.dtype)
    ent_of_acct = np.repeat(np.arange(n_ent, dtype=np.int32), per)[:n_accounts]
    n = len(ent_of_acct)
    first = np.ones(n, bool)
    first[1:] = ent_of_acct[1:] != ent_of_acct[:-1]

    ent_currency = rng.choice(len(CURRENCIES), size=n_ent, p=mix).astype(np.int8)
    home_bank = np.zeros(n_ent, np.int32)
    for c, banks in banks_of.items():
        sel = np.flatnonzero(ent_currency == c)
        w = bank_size[banks]
        home_bank[sel] = banks[rng.choice(len(banks), size=len(sel), p=w / w.sum())]
    bank = home_bank[ent_of_acct]
    moved = np.flatnonzero(~first & (rng.random(n) < P["other_bank_share"]))
    cur = ent_currency[ent_of_acct[moved]]
    for c, banks in banks_of.items():
        sel = moved[cur == c]
        w = bank_size[banks]
        bank[sel] = banks[rng.choice(len(banks), size=len(sel), p=w / w.sum())]

    role_ent = np.zeros(n_ent, np.int8)
    companies = kind != INDIVIDUAL
    role_ent[companies] = 1 + rng.choice(5, size=companies.sum(), p=P["role_share"])
    # Employees: sole proprietorships 0-3, partnerships ~5, corporations Pareto-tailed (up to thousands).
    size_ent = np.zeros(n_ent)
    size_ent[kind == SOLE_PROPRIETORSHIP] = rng.integers(0, 4, (kind == SOLE_PROPRIETORSHIP).sum())
    size_ent[kind == PARTNERSHIP] = 1 + rng.poisson(4, (kind == PARTNERSHIP).sum())
    size_ent[corp] = np.minimum(5 * (rng.pareto(1.1, corp.sum()) + 1), 5000).round()
    # Spending level: lognormal with mean 1 for first accounts; further accounts of an entity are used less.
    activity = np.exp(rng.normal(-0.32, 0.8, n)) * np.where(first, 1.0, P["secondary_activity"])

    return Population(
        bank_ids=bank_ids, bank_currency=bank_currency, bank=bank.astype(np.int32),
        currency=bank_currency[bank], entity=ent_of_acct, kind=kind[ent_of_acct], role=role_ent[ent_of_acct],
        size=size_ent[ent_of_acct], activity=activity, primary=first, account_ids=account_id_strings(rng, n),
    )


def accounts_for_new_keys(rng: np.random.Generator, pop: Population, keys: list[tuple[str, str]]) -> Population:
    """Accounts for (bank id, account id) keys not in the world yet (embedded real attempts): each is a further
    account of its own person, like the accounts criminals recruit (no salary or bills go through it, it sees
    a further account's activity), at its real bank with the bank's currency (new banks get one from the mix)."""
    bank_index = {b: i for i, b in enumerate(pop.bank_ids)}
    new_banks = [b for b in dict.fromkeys(b for b, _ in keys) if b not in bank_index]
    bank_ids, bank_currency = pop.bank_ids, pop.bank_currency
    if new_banks:
        bank_ids = np.concatenate([bank_ids, np.array(new_banks, dtype=object)])
        extra_cur = rng.choice(len(CURRENCIES), size=len(new_banks), p=BANK_CURRENCY_MIX / BANK_CURRENCY_MIX.sum())
        bank_currency = np.concatenate([bank_currency, extra_cur.astype(np.int8)])
        bank_index.update({b: len(pop.bank_ids) + i for i, b in enumerate(new_banks)})
    k = len(keys)
    bank = np.array([bank_index[b] for b, _ in keys], np.int32)
    start = int(pop.entity.max(initial=-1)) + 1
    extra = Population(bank_ids, bank_currency, bank, bank_currency[bank], np.arange(start, start + k, dtype=np.int32),
                       np.full(k, INDIVIDUAL, np.int8), np.full(k, NO_ROLE, np.int8), np.zeros(k),
                       np.exp(rng.normal(-0.32, 0.8, k)) * POPULATION["secondary_activity"], np.zeros(k, bool),
                       np.array([a for _, a in keys], dtype=object))
    base = Population(bank_ids, bank_currency, *[getattr(pop, f) for f in
                      ("bank", "currency", "entity", "kind", "role", "size", "activity", "primary", "account_ids")])
    return base.extend(extra)
