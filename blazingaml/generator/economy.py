"""The legitimate economy: who pays whom, when, how much and how, by purpose.

AMLworld's ordinary activity ([ALT] §3: salaries, pensions, purchases, supplies, loans, transfers) is
generated as **recurring relationships**: a person pays the same few shops, friends and landlord again
and again, a company the same suppliers. Real HI-Small is like that: 4.39M transactions between
accounts fall on only ~648k distinct (payer, payee) pairs, half the senders pay a single payee over the
whole period (out-degree median 1, mean 2.04) and no account is paid by more than 545 distinct senders.

Several flows are **legitimate look-alikes** of the laundering typologies, so pattern features meet
false positives as they would in a bank:

* payroll runs are fan-outs (an employer pays all its staff within minutes, every pay day);
* shops, utilities and landlords are fan-ins (many customers, one payee);
* suppliers that pay their own suppliers soon after being paid form pass-through chains;
* corporate groups move money around the group (management fees, intercompany loans): time-ordered
  cycles that conserve value, like the CYCLE typology;
* cash pooling: a treasury account scatters funds to its operating accounts, which pay one creditor
  (scatter-gather), or sweeps them in and pays out to several (gather-scatter).

Volumes, formats and amounts are set so the world's totals match real HI-Small (docs/generator.md:
formats Cheque 36.7%, Credit Card 26.1%, ACH 11.8%, Cash 9.7%, Reinvestment 9.5%, Wire 3.4%,
Bitcoin 2.9%; self-transfers 11.6%; cross-currency payments 1.4%; amounts in US dollars median 893,
90th percentile 35k, 99th 3.1M). Amounts are drawn in US dollars and converted with `RATE_PER_USD`.
"""

from __future__ import annotations

import numpy as np

from ..io.vocab import PAYMENT_FORMATS
from .ledger import (BILL, CRYPTO, GROUP, P2P, PENSION, POOLING, PURCHASE, REINVESTMENT, SALARY, SUPPLY, Ledger)
from .population import (BITCOIN, CORPORATION, EXCHANGE, FINANCE, INDIVIDUAL, RATE_PER_USD, RETAIL, SUPPLIER,
                         UTILITY, Population)
from .timing import DAY, HOUR, MINUTE, Calendar

F = {name: i for i, name in enumerate(PAYMENT_FORMATS)}

ECONOMY = {
    # Self-transfers, shares of all transactions: Reinvestment (real: 481,056 = 9.5%, booked in the
    # midnight hour) and other self-transfers (real: 591,212 self-transfers in all = 11.6%).
    "reinvestment_share": 0.095, "other_self_share": 0.021,
    "reinvestment_median": 3_000.0, "reinvestment_sigma": 2.0,
    "other_self_formats": {"Cash": 0.5, "Cheque": 0.5},
    # Salaries: 62.5% of people earn one ([ALT] §3, IRS-calibrated); pay schedules; annual salary lognormal.
    "employed_share": 0.625,
    "pay_schedules": {7: 0.35, 14: 0.40, 30: 0.25},           # days between pay days: share of employers
    "salary_annual_median": 48_000.0, "salary_sigma": 0.5,
    "payroll_formats": {"ACH": 0.85, "Cheque": 0.15},
    # Pensions: 18.3% of people ([ALT] §3), monthly, from pension funds.
    "pension_share": 0.183, "pension_median": 1_600.0, "pension_sigma": 0.5,
    # Bills (rent, mortgage, utilities, insurance, loans): monthly standing payments per person.
    "bills_per_person": 2.5, "rent_share": 0.3, "rent_median": 1_300.0, "bill_median": 150.0,
    "bill_formats": {"ACH": 0.70, "Cheque": 0.20, "Credit Card": 0.10},
    # The rest of the volume, by purpose (shares of what is left after the flows above).
    "fill_shares": {"purchase": 0.60, "supply": 0.265, "p2p": 0.135},
    # Recurring relationships: extra payees per payer (1 + Poisson(mean), p2p: Poisson(mean)).
    "purchase_extra_shops": 0.7, "p2p_friends": 0.6,
    "shop_popularity_pareto": 2.0,
    # No account is paid by more than this many distinct senders (real HI-Small: 545, EDA); popular
    # shops, utilities, suppliers and exchanges take no new customers beyond it.
    "max_payers": 545,
    # ACH is also a business rail: the real sample's ACH payments are business-sized (first 1,000 rows
    # of HI-Small: 38 ACH rows, median 7,703 USD; Cheque median 18k), so invoices and intra-group
    # transfers use it too and fewer small personal payments do (docs/generator.md "Formats").
    "purchase_formats": {"Credit Card": 0.55, "Cheque": 0.285, "Cash": 0.12, "ACH": 0.045},
    "purchase_median": {"Credit Card": 60.0, "Cheque": 300.0, "Cash": 80.0, "ACH": 100.0}, "purchase_sigma": 1.0,
    "supply_formats": {"Cheque": 0.85, "ACH": 0.06, "Wire": 0.09},
    "supply_median": 8_000.0, "supply_size_exponent": 0.3, "supply_sigma": 2.2,
    "supply_pass_through_share": 0.2,       # of a supplier's own purchases, made soon after it is paid
    "supply_terms_share": 0.0075,           # ACH invoices paid on terms, days later (the legitimate tail)
    "p2p_formats": {"Cheque": 0.40, "Cash": 0.25, "ACH": 0.35}, "p2p_median": 200.0, "p2p_sigma": 1.3,
    "crypto_share": 0.029, "crypto_users": 0.05, "crypto_median": 400.0, "crypto_sigma": 1.6,
    "group_share": 0.015, "group_of_corporations": 0.3, "group_size": (2, 6), "group_median": 50_000.0,
    "group_sigma": 1.5, "group_hop_hours": 6.0,
    "b2b_transfer_formats": {"ACH": 0.6, "Wire": 0.4},     # intra-group and cash-pooling transfers
    "pooling_share": 0.012, "pooling_fan": (2, 8), "pooling_median": 20_000.0, "pooling_sigma": 1.2,
    # Ordinary payments stay inside one currency area (country) with this probability (real cross-currency
    # payments: 72,170 of 5,078,345 = 1.42%).
    "domestic_share": 0.98,
    # relation-to-relation spread of amounts, and payment-to-payment spread within one relation
    "relation_sigma": 0.5, "payment_sigma": 0.3,
}


def _lognormal(rng, median, sigma, n) -> np.ndarray:
    return np.exp(rng.normal(np.log(median), sigma, n))


def _formats(rng, mix: dict, n: int) -> np.ndarray:
    names = list(mix)
    p = np.array([mix[k] for k in names], float)
    codes = np.array([F[k] for k in names], np.int8)
    return codes[rng.choice(len(names), size=n, p=p / p.sum())]


class Counterparties:
    """Weighted draws of payees, mostly from the payer's own currency area (inverse-CDF sampling, so a
    single draw costs a binary search, not a pass over the candidates). With a `cap`, no payee gets
    more than `cap` distinct payers: relationships beyond it are drawn again among the payees with
    room left (real HI-Small: no account is paid by more than 545 distinct senders, EDA)."""

    def __init__(self, pop: Population, candidates: np.ndarray, weights: np.ndarray, domestic: float):
        self.domestic = domestic
        self.cand = np.asarray(candidates)
        self.weights = np.asarray(weights, float)
        currency = pop.currency[self.cand]
        self.areas = {int(c): np.flatnonzero(currency == c) for c in np.unique(currency)}   # candidates by currency
        self.cdf_all, self.by_currency = self._cdfs(self.weights)

    def _cdfs(self, w: np.ndarray):
        """(cdf over all candidates, {currency: (its candidates, their cdf)}) for weights `w`."""
        return np.cumsum(w), {c: (self.cand[sel], np.cumsum(w[sel])) for c, sel in self.areas.items()}

    @staticmethod
    def pick(rng, cand, cdf, n):
        return cand[np.minimum(np.searchsorted(cdf, rng.random(n) * cdf[-1], "right"), len(cand) - 1)]

    def _draw(self, rng, payer_currency: np.ndarray, domestic: float, cdfs, local=None):
        """(payees drawn with `cdfs`, which draws stayed in the payer's currency area)."""
        cdf_all, by_currency = cdfs
        out = self.pick(rng, self.cand, cdf_all, len(payer_currency))
        if local is None:
            local = rng.random(len(payer_currency)) < domestic
        for c, (cand, cdf) in by_currency.items():
            sel = np.flatnonzero(local & (payer_currency == c))
            if len(sel):   # a currency area whose payees are all full stays domestic, over the cap
                out[sel] = self.pick(rng, cand, cdf if cdf[-1] > 0 else self.by_currency[c][1], len(sel))
        return out, local

    def draw(self, rng, payer_currency: np.ndarray, domestic: float | None = None, payers=None,
             cap: int | None = None) -> np.ndarray:
        """A payee for each payer (`payers`, needed with `cap`: payer i pays in payer_currency[i])."""
        n = len(payer_currency)
        out, local = self._draw(rng, payer_currency, self.domestic if domestic is None else domestic,
                                (self.cdf_all, self.by_currency))
        if cap is None or n == 0:
            return out
        payers = np.asarray(payers, np.int64)
        base = int(payers.max()) + 1
        weights = self.weights.copy()
        for _ in range(16):
            key = out.astype(np.int64) * base + payers
            pairs = np.unique(key, return_index=True)[1]        # distinct (payee, payer) relationships
            if np.bincount(out[pairs] - out.min()).max() <= cap:
                break
            pairs = pairs[rng.permutation(len(pairs))]          # in a random order within each payee
            pairs = pairs[np.argsort(out[pairs], kind="stable")]
            payee = out[pairs]
            rank = np.arange(len(pairs)) - np.searchsorted(payee, payee, "left")
            moved = np.isin(key, key[pairs[rank >= cap]])
            weights[np.isin(self.cand, payee[rank >= cap - 1])] = 0.0     # full: no new payers
            if weights.sum() <= 0:
                break
            out[moved] = self._draw(rng, payer_currency[moved], 0.0, self._cdfs(weights), local[moved])[0]
        return out


def settle(pop: Population, src, dst, ts, usd, fmt, flow: int, whole: bool = False) -> Ledger:
    """A ledger of ordinary payments: paid in the payer's currency, received in the payee's (converted
    when they differ); Bitcoin payments are Bitcoin on both sides."""
    src = np.asarray(src, np.int32)
    dst = np.asarray(dst, np.int32)
    fmt = np.asarray(fmt, np.int8)
    pay_cur = pop.currency[src].copy()
    recv_cur = pop.currency[dst].copy()
    btc = fmt == F["Bitcoin"]
    pay_cur[btc] = BITCOIN
    recv_cur[btc] = BITCOIN
    usd = np.asarray(usd, float)
    paid = usd * RATE_PER_USD[pay_cur]
    received = usd * RATE_PER_USD[recv_cur]
    if whole:
        paid = np.maximum(np.round(paid), 1.0)
        received = np.where(pay_cur == recv_cur, paid, np.maximum(np.round(received), 1.0))
    n = len(src)
    return Ledger(src, dst, np.asarray(ts, np.int64), usd, paid, pay_cur, received, recv_cur, fmt,
                  np.full(n, whole), np.full(n, flow, np.int8), np.full(n, -1, np.int32), np.full(n, -1, np.int32),
                  np.zeros(n, np.int8))


def recurring(rng, pop: Population, cal: Calendar, payer, payee, count: int, fmt_mix: dict, medians: dict,
              sigma: float, flow: int, whole: bool = False, weight=None, scale=None) -> Ledger:
    """`count` payments spread over the relationships payer[i] -> payee[i] (in proportion to `weight`, by
    default the payer's activity times a Gamma(1) draw); each relationship keeps one format and a typical
    amount (the format's median times `scale[i]`, spread by `sigma` across relationships)."""
    ok = payer != payee
    payer, payee = payer[ok], payee[ok]
    if not len(payer) or count <= 0:
        return Ledger.empty()
    E = ECONOMY
    w = pop.activity[payer] * rng.gamma(1.0, 1.0, len(payer)) if weight is None else weight[ok]
    rel_fmt = _formats(rng, fmt_mix, len(payer))
    median = np.zeros(len(payer))
    for name, m in medians.items():
        median[rel_fmt == F[name]] = m
    rel_usd = median * np.exp(rng.normal(0, sigma, len(payer))) * (1.0 if scale is None else scale[ok])
    rel = rng.choice(len(payer), size=count, p=w / w.sum())
    usd = rel_usd[rel] * np.exp(rng.normal(0, E["payment_sigma"], count))
    return settle(pop, payer[rel], payee[rel], cal.ordinary(rng, count), usd, rel_fmt[rel], flow, whole)


def _schedule(rng, n_payers: int, periods: dict):
    """Per payer: a period in days, a first pay day and a minute of the day."""
    keys = np.array(list(periods))
    period = keys[rng.choice(len(keys), size=n_payers, p=np.array(list(periods.values())))]
    return period, (rng.random(n_payers) * period).astype(np.int64), rng.integers(0, 1440, n_payers)


def _scheduled(payer_of_item, period, offset, minute, cal: Calendar):
    """Items (payees) of payers with schedules, expanded into dated payments inside the main period:
    (item index, timestamp)."""
    per, off = period[payer_of_item], offset[payer_of_item]
    reps = np.where(off < cal.days, (cal.days - off + per - 1) // per, 0)
    item = np.repeat(np.arange(len(payer_of_item)), reps)
    k = np.arange(len(item)) - np.repeat(np.cumsum(reps) - reps, reps)
    day = off[item] + k * per[item]
    return item, cal.start + day * DAY + minute[payer_of_item[item]] * MINUTE


def salaries(rng, pop: Population, cal: Calendar) -> Ledger:
    """Payroll runs: each employer pays all its employees at one minute of each pay day (fan-outs)."""
    E = ECONOMY
    people = np.flatnonzero((pop.kind == INDIVIDUAL) & pop.primary)
    employers = np.flatnonzero((pop.kind != INDIVIDUAL) & pop.primary & (pop.size > 0))
    if not len(people) or not len(employers):
        return Ledger.empty()
    staff = people[rng.random(len(people)) < E["employed_share"]]
    employer = Counterparties(pop, employers, pop.size[employers], E["domestic_share"]).draw(rng, pop.currency[staff])
    emp_index = np.searchsorted(employers, employer)
    period, offset, minute = _schedule(rng, len(employers), E["pay_schedules"])
    fmt_of_employer = _formats(rng, E["payroll_formats"], len(employers))
    item, ts = _scheduled(emp_index, period, offset, minute, cal)
    annual = _lognormal(rng, E["salary_annual_median"], E["salary_sigma"], len(staff))
    usd = (annual * period[emp_index] / 365.0)[item]
    return settle(pop, employer[item], staff[item], ts, usd, fmt_of_employer[emp_index[item]], SALARY)


def pensions(rng, pop: Population, cal: Calendar) -> Ledger:
    """Monthly pensions from pension funds (financial institutions)."""
    E = ECONOMY
    people = np.flatnonzero((pop.kind == INDIVIDUAL) & pop.primary)
    funds = np.flatnonzero((pop.role == FINANCE) & pop.primary)
    if not len(people) or not len(funds):
        return Ledger.empty()
    retirees = people[rng.random(len(people)) < E["pension_share"]]
    fund = Counterparties(pop, funds, pop.size[funds] + 1, E["domestic_share"]).draw(rng, pop.currency[retirees])
    fund_index = np.searchsorted(funds, fund)
    period, offset, minute = _schedule(rng, len(funds), {30: 1.0})
    item, ts = _scheduled(fund_index, period, offset, minute, cal)
    usd = _lognormal(rng, E["pension_median"], E["pension_sigma"], len(retirees))[item]
    fmt = np.where(rng.random(len(item)) < 0.9, F["ACH"], F["Cheque"]).astype(np.int8)
    return settle(pop, fund[item], retirees[item], ts, usd, fmt, PENSION)


def bills(rng, pop: Population, cal: Calendar) -> Ledger:
    """Monthly standing payments of people to utilities, landlords and lenders (fan-ins)."""
    E = ECONOMY
    people = np.flatnonzero((pop.kind == INDIVIDUAL) & pop.primary)
    payees = np.flatnonzero(((pop.role == UTILITY) | (pop.role == FINANCE)) & pop.primary)
    if not len(people) or not len(payees):
        return Ledger.empty()
    payer = np.repeat(people, rng.poisson(E["bills_per_person"], len(people)))
    payee = Counterparties(pop, payees, pop.size[payees] + 1, E["domestic_share"]).draw(
        rng, pop.currency[payer], payers=payer, cap=E["max_payers"])
    day = rng.integers(0, 30, len(payer))       # each bill its own day of the month
    keep = day < cal.days
    payer, payee, day = payer[keep], payee[keep], day[keep]
    ts = cal.start + day * DAY + rng.integers(0, 1440, len(payer)) * MINUTE
    rent = rng.random(len(payer)) < E["rent_share"]
    usd = np.where(rent, _lognormal(rng, E["rent_median"], 0.4, len(payer)),
                   _lognormal(rng, E["bill_median"], 0.7, len(payer)))
    return settle(pop, payer, payee, ts, usd, _formats(rng, E["bill_formats"], len(payer)), BILL)


def self_transfers(rng, pop: Population, cal: Calendar, count: int) -> Ledger:
    """An account moving money to itself: Reinvestment in the midnight hour (companies more often than
    people), and a few other self-transfers at any time."""
    E = ECONOMY
    w = pop.activity * np.where(pop.kind == INDIVIDUAL, 1.0, 3.0)
    n_re = int(round(count * E["reinvestment_share"] / (E["reinvestment_share"] + E["other_self_share"])))
    acct = rng.choice(len(pop), size=count, p=w / w.sum()).astype(np.int32)
    usd = _lognormal(rng, E["reinvestment_median"], E["reinvestment_sigma"], count)
    fmt = np.concatenate([np.full(n_re, F["Reinvestment"], np.int8), _formats(rng, E["other_self_formats"], count - n_re)])
    ts = np.concatenate([cal.midnight(rng, n_re), cal.ordinary(rng, count - n_re)])
    return settle(pop, acct, acct, ts, usd, fmt, REINVESTMENT)


def pays_for(pop: Population, purpose: str, accounts=slice(None)) -> np.ndarray:
    """Which of `accounts` make `purpose` payments ("purchase", "supply", "p2p") in the ordinary economy: people
    and small firms buy from shops, the first accounts of companies pay suppliers, people pay people. The flows
    below draw their payers by it, and crime.py integrates dirty money only through purposes an account has."""
    kind = pop.kind[accounts]
    if purpose == "purchase":
        return (kind != CORPORATION) & (pop.role[accounts] != RETAIL)
    if purpose == "supply":
        return (kind != INDIVIDUAL) & pop.primary[accounts]
    if purpose == "p2p":
        return kind == INDIVIDUAL
    raise ValueError(f"no ordinary payers for purpose {purpose!r}")


def purchases(rng, pop: Population, cal: Calendar, count: int) -> Ledger:
    """People (and small firms) buying from their usual shops: shops are fan-ins."""
    E = ECONOMY
    buyers = np.flatnonzero(pays_for(pop, "purchase"))
    shops = np.flatnonzero(pop.role == RETAIL)
    if not len(shops):
        return Ledger.empty()
    payer = np.repeat(buyers, 1 + rng.poisson(E["purchase_extra_shops"], len(buyers)))
    popularity = rng.pareto(E["shop_popularity_pareto"], len(shops)) + 1.0
    payee = Counterparties(pop, shops, popularity, E["domestic_share"]).draw(rng, pop.currency[payer], payers=payer,
                                                                            cap=E["max_payers"])
    return recurring(rng, pop, cal, payer, payee, count, E["purchase_formats"], E["purchase_median"],
                     E["purchase_sigma"], PURCHASE)


def person_to_person(rng, pop: Population, cal: Calendar, count: int) -> Ledger:
    """Transfers between people who know each other (family, friends, shared rent)."""
    E = ECONOMY
    people = np.flatnonzero(pays_for(pop, "p2p"))
    payer = np.repeat(people, rng.poisson(E["p2p_friends"], len(people)))
    payee = Counterparties(pop, people, pop.activity[people], E["domestic_share"]).draw(
        rng, pop.currency[payer], payers=payer, cap=E["max_payers"])
    medians = {k: E["p2p_median"] for k in E["p2p_formats"]}
    return recurring(rng, pop, cal, payer, payee, count, E["p2p_formats"], medians, E["p2p_sigma"], P2P)


def supplies(rng, pop: Population, cal: Calendar, count: int) -> Ledger:
    """Companies paying their suppliers' invoices (whole currency units). Some suppliers buy soon after
    they are paid (pass-through chains); a few ACH invoices are paid on terms, days later."""
    E = ECONOMY
    buyers = np.flatnonzero(pays_for(pop, "supply"))
    sellers = np.flatnonzero((pop.role == SUPPLIER) & pop.primary)
    if not len(buyers) or not len(sellers) or count <= 0:
        return Ledger.empty()
    buyer = np.repeat(buyers, 1 + rng.poisson(1 + np.log1p(pop.size[buyers])))
    seller = Counterparties(pop, sellers, pop.size[sellers] + 1, E["domestic_share"]).draw(
        rng, pop.currency[buyer], payers=buyer, cap=E["max_payers"])
    scale = E["supply_median"] * (pop.size[buyer] + 1) ** E["supply_size_exponent"]
    weight = np.sqrt(pop.size[buyer] + 1) * pop.activity[buyer]
    led = recurring(rng, pop, cal, buyer, seller, count, E["supply_formats"], {k: 1.0 for k in E["supply_formats"]},
                    E["supply_sigma"], SUPPLY, whole=True, weight=weight, scale=scale)
    ts = led.ts
    # Pass-through: a share of each supplier's own purchases follows one of its incoming payments.
    src, dst = led.src, led.dst
    incoming = np.argsort(dst, kind="stable")
    first_in = np.searchsorted(dst[incoming], src, "left")
    n_in = np.searchsorted(dst[incoming], src, "right") - first_in
    follow = (rng.random(len(src)) < E["supply_pass_through_share"]) & (n_in > 0)
    pick = incoming[first_in[follow] + (rng.random(follow.sum()) * n_in[follow]).astype(np.int64)]
    delay = np.exp(rng.normal(np.log(4 * HOUR), 0.8, follow.sum())).astype(np.int64)
    ts[follow] = np.minimum((ts[pick] + delay) // MINUTE * MINUTE, cal.end - MINUTE)
    # Terms: ACH invoices paid days after issue (they may fall after the main period).
    terms = ~follow & (led.payment_format == F["ACH"]) & (rng.random(len(src)) < E["supply_terms_share"])
    ts[terms] += (rng.exponential(2.0, terms.sum()) * DAY).astype(np.int64) // MINUTE * MINUTE
    led.ts = ts
    return led


def crypto(rng, pop: Population, cal: Calendar, count: int) -> Ledger:
    """Crypto users buying from and selling to their exchange, in Bitcoin."""
    E = ECONOMY
    exchanges = np.flatnonzero(pop.role == EXCHANGE)
    people = np.flatnonzero(pop.kind == INDIVIDUAL)
    if not len(exchanges) or count <= 0:
        return Ledger.empty()
    users = people[rng.random(len(people)) < E["crypto_users"]]
    venue = Counterparties(pop, exchanges, pop.size[exchanges] + 1, 0.0).draw(rng, pop.currency[users], payers=users,
                                                                              cap=E["max_payers"])
    buy = rng.random(len(users)) < 0.55
    payer, payee = np.where(buy, users, venue), np.where(buy, venue, users)
    w = pop.activity[users] * rng.gamma(1.0, 1.0, len(users))
    return recurring(rng, pop, cal, payer, payee, count, {"Bitcoin": 1.0}, {"Bitcoin": E["crypto_median"]},
                     E["crypto_sigma"], CRYPTO, weight=w)


def group_transfers(rng, pop: Population, cal: Calendar, count: int) -> Ledger:
    """Corporate groups passing money around the group (fees, intercompany loans): each event is a
    time-ordered ring A1 -> A2 -> ... -> A1 whose hops keep the value within a few percent."""
    E = ECONOMY
    corps = np.flatnonzero((pop.kind == CORPORATION) & pop.primary)
    grouped = corps[rng.random(len(corps)) < E["group_of_corporations"]]
    lo, hi = E["group_size"]
    if len(grouped) < lo or count <= 0:
        return Ledger.empty()
    # a group's companies mostly share a country: real cross-currency payments are 1.42% of all (EDA)
    grouped = grouped[np.lexsort((rng.random(len(grouped)), pop.currency[grouped]))]
    bounds = np.cumsum(rng.integers(lo, hi + 1, len(grouped) // lo + 1))
    bounds = bounds[bounds <= len(grouped)]
    groups = [g for g in np.split(grouped[: bounds[-1]], bounds[:-1]) if len(g) >= lo] if len(bounds) else []
    if not groups:
        return Ledger.empty()
    n_events = max(1, count // int(np.mean([len(g) for g in groups])))
    which = rng.integers(0, len(groups), n_events)
    t0 = cal.ordinary(rng, n_events)
    value = _lognormal(rng, E["group_median"], E["group_sigma"], n_events)
    src, dst, ts, usd = [], [], [], []
    for e in range(n_events):
        ring = groups[which[e]][rng.permutation(len(groups[which[e]]))]
        k = len(ring)
        gaps = np.exp(rng.normal(np.log(E["group_hop_hours"] * HOUR), 0.7, k)).astype(np.int64)
        src.append(ring)
        dst.append(np.roll(ring, -1))
        ts.append(np.minimum((t0[e] + np.concatenate([[0], np.cumsum(gaps[:-1])])) // MINUTE * MINUTE,
                             cal.end - MINUTE))
        usd.append(value[e] * np.cumprod(rng.uniform(0.97, 1.0, k)))
    src, dst = np.concatenate(src), np.concatenate(dst)
    fmt = _formats(rng, E["b2b_transfer_formats"], len(src))
    return settle(pop, src, dst, np.concatenate(ts), np.concatenate(usd), fmt, GROUP, whole=True)


def cash_pooling(rng, pop: Population, cal: Calendar, count: int) -> Ledger:
    """Companies with several accounts: the treasury (first) account scatters funds to operating accounts
    that then pay one creditor (scatter-gather), or operating accounts sweep into the treasury, which then
    pays several creditors (gather-scatter)."""
    E = ECONOMY
    firsts = np.flatnonzero(pop.primary & (pop.kind != INDIVIDUAL))
    ends = np.searchsorted(pop.entity, pop.entity[firsts], "right")   # accounts of an entity are consecutive
    n_acc = ends - firsts
    ok = n_acc >= 3
    treasuries, n_acc = firsts[ok], n_acc[ok]
    sellers = np.flatnonzero((pop.role == SUPPLIER) & pop.primary)
    if not len(treasuries) or not len(sellers) or count <= 0:
        return Ledger.empty()
    market = Counterparties(pop, sellers, np.ones(len(sellers)), E["domestic_share"])   # creditors, mostly domestic
    lo, hi = E["pooling_fan"]
    n_events = max(1, count // (lo + hi))
    which = rng.integers(0, len(treasuries), n_events)
    t0 = cal.ordinary(rng, n_events)
    src, dst, ts, usd = [], [], [], []
    for e in range(n_events):
        tre = treasuries[which[e]]
        ops = np.arange(tre + 1, tre + n_acc[which[e]])
        ops = ops[rng.permutation(len(ops))][: rng.integers(min(lo, len(ops)), min(hi, len(ops)) + 1)]
        k = len(ops)
        value = _lognormal(rng, E["pooling_median"], E["pooling_sigma"], k)
        first = np.minimum(t0[e] + rng.integers(0, 180, k) * MINUTE, cal.end - 2 * MINUTE)
        second = np.minimum(first + (rng.exponential(18 * HOUR, k) + 30 * MINUTE).astype(np.int64) // MINUTE * MINUTE,
                            cal.end - MINUTE)
        if rng.random() < 0.5:      # scatter-gather: treasury -> operating -> one creditor
            creditor = market.draw(rng, pop.currency[[tre]])[0]
            src.append(np.concatenate([np.full(k, tre), ops]))
            dst.append(np.concatenate([ops, np.full(k, creditor)]))
        else:                       # gather-scatter: operating -> treasury -> several creditors
            src.append(np.concatenate([ops, np.full(k, tre)]))
            dst.append(np.concatenate([np.full(k, tre), market.draw(rng, np.full(k, pop.currency[tre]))]))
        ts.append(np.concatenate([first, second]))
        usd.append(np.concatenate([value, value * rng.uniform(0.9, 1.0, k)]))
    src = np.concatenate(src)
    fmt = _formats(rng, E["b2b_transfer_formats"], len(src))
    return settle(pop, src, np.concatenate(dst), np.concatenate(ts), np.concatenate(usd), fmt, POOLING, whole=True)


def economy(rng, pop: Population, cal: Calendar, count: int) -> Ledger:
    """About `count` legitimate transactions: scheduled flows, then the rest by purpose."""
    E = ECONOMY
    fixed = {"self": E["reinvestment_share"] + E["other_self_share"], "crypto": E["crypto_share"],
             "group": E["group_share"], "pooling": E["pooling_share"]}
    parts = [salaries(rng, pop, cal), pensions(rng, pop, cal), bills(rng, pop, cal),
             self_transfers(rng, pop, cal, int(count * fixed["self"])),
             crypto(rng, pop, cal, int(count * fixed["crypto"])),
             group_transfers(rng, pop, cal, int(count * fixed["group"])),
             cash_pooling(rng, pop, cal, int(count * fixed["pooling"]))]
    left = max(0, count - sum(len(p) for p in parts))
    shares = E["fill_shares"]
    makers = {"purchase": purchases, "supply": supplies, "p2p": person_to_person}
    for name, share in shares.items():
        parts.append(makers[name](rng, pop, cal, int(round(left * share / sum(shares.values())))))
    return Ledger.concat(parts)
