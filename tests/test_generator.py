"""Generator: exact formats, determinism, the preset's rates at small scales, the dirty-balance ledger
replayed from the written files, attempt shapes, time profiles, real-data statistics, embedding."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from collections import Counter, defaultdict

import numpy as np
import pyarrow.parquet as pq
import pytest

from blazingaml.generator import generate, load_preset
from blazingaml.generator.population import RATE_PER_USD
from blazingaml.io.patterns_txt import read_patterns
from blazingaml.io.vocab import CURRENCIES, TRANS_HEADER, TYPOLOGIES

from .conftest import DEV_PATTERNS

HI = load_preset("hi-small-like")


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _rows(path):
    with open(path, newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        return header, list(reader)


def _ts(text):
    return int(dt.datetime.strptime(text, "%Y/%m/%d %H:%M").replace(tzinfo=dt.timezone.utc).timestamp())


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A scale-0.05 HI-Small-like world (about 254k transactions)."""
    return generate(tmp_path_factory.mktemp("hi"), scale=0.05, seed=7)


def test_same_seed_same_bytes(tmp_path):
    a = generate(tmp_path / "a", scale=0.002, seed=3)
    b = generate(tmp_path / "b", scale=0.002, seed=3)
    c = generate(tmp_path / "c", scale=0.002, seed=4)
    for f in ("trans", "patterns", "accounts", "placements", "controlled"):
        assert _digest(getattr(a, f)) == _digest(getattr(b, f)), f
    assert _digest(a.trans) != _digest(c.trans)


def test_formats_exact(world, tmp_path):
    """Every file in its exact format: the converter takes every Trans.csv row, the pattern rows are
    Trans.csv rows, the accounts file has the real header."""
    from blazingaml.io.ibm_csv import convert_trans_csv

    summary = convert_trans_csv(world.trans, tmp_path / "tx.parquet")
    assert summary.rows_kept == world.transactions and not summary.rejects_path
    assert world.trans.read_text().split("\n", 1)[0] == ",".join(TRANS_HEADER)
    lines = set(world.trans.read_text().splitlines())
    attempts = read_patterns(world.patterns)
    assert len(attempts) == world.attempts and {a.typology for a in attempts} == set(TYPOLOGIES)
    assert all(",".join(r) in lines for a in attempts for r in a.rows)
    assert _rows(world.accounts)[0] == ["Bank Name", "Bank ID", "Account Number", "Entity ID", "Entity Name"]
    assert _rows(world.placements)[0] == ["Timestamp", "Bank", "Account", "Amount USD", "Crime Source"]
    assert _rows(world.controlled)[0] == ["Bank", "Account", "Funds"]
    assert {r[2] for r in _rows(world.controlled)[1]} == {"co-mingled", "kept apart"}


def _rates(files):
    _, rows = _rows(files.trans)
    laundering = sum(r[10] == "1" for r in rows)
    pattern_rows = sum(len(a.rows) for a in read_patterns(files.patterns))
    return laundering / len(rows), 1 - pattern_rows / laundering


@pytest.mark.parametrize("scale", [0.01, 0.05])
@pytest.mark.parametrize("embed", [False, True])
def test_rates_at_small_scales(tmp_path, scale, embed):
    """Laundering rate and non-pattern share within 15% of the preset at small scales, with real attempts
    embedded too (the generator then subsamples them to keep the rates)."""
    notices = []
    files = generate(tmp_path, scale=scale, seed=11, embed_patterns=DEV_PATTERNS if embed else None,
                     notice=notices.append)
    rate, non_pattern = _rates(files)
    assert abs(rate / HI["illicit_rate"] - 1) < 0.15, rate
    assert abs(non_pattern / (1 - HI["pattern_share"]) - 1) < 0.15, non_pattern
    if embed:
        assert notices and "real attempts" in notices[0]
        assert files.stats["embedded_attempts"] > 0


def test_ledger_replays_from_the_files(world):
    """The labels follow from the placements and the controlled accounts alone: replaying the written
    Trans.csv in (time, row) order with a dirty balance per controlled account gives every label of the
    co-mingled accounts (a payment across currencies is paid from clean funds, as no real cross-currency row
    is laundering). An account whose dirty money is kept apart pays its owner's spending from the owner's
    own funds: which of its payments were the scheme's is the criminals' intent, not in the files, so there
    the test checks that each laundering payment had dirty money to move. Every laundering transaction
    outside the attempts was paid from a dirty balance that placements fed."""
    _, rows = _rows(world.trans)
    funds = {(r[0], r[1]): r[2] for r in _rows(world.controlled)[1]}
    placements = sorted((_ts(r[0]), (r[1], r[2]), float(r[3])) for r in _rows(world.placements)[1])
    legs = {",".join(r) for a in read_patterns(world.patterns) for r in a.rows}
    order = sorted(range(len(rows)), key=lambda i: (_ts(rows[i][0]), i))
    dirty = defaultdict(float)
    j = 0
    traced = {"co-mingled": 0, "kept apart": 0}
    for i in order:
        r = rows[i]
        t = _ts(r[0])
        while j < len(placements) and placements[j][0] <= t:
            dirty[placements[j][1]] += placements[j][2]
            j += 1
        a, b = (r[1], r[2]), (r[3], r[4])
        usd = float(r[7]) / RATE_PER_USD[CURRENCIES.index(r[8])]
        is_leg = ",".join(r) in legs
        may_launder = a != b and r[6] == r[8] and a in funds and dirty[a] > 0.01
        label = r[10] == "1"
        if is_leg or funds.get(a) != "kept apart":
            assert label == (is_leg or may_launder), r
        else:
            assert not label or may_launder, r
        if label and not is_leg:
            traced[funds[a]] += 1
        if label and a != b:
            moved = min(usd, dirty[a])
            dirty[a] -= moved
            if b in funds:
                dirty[b] += moved
    assert traced["co-mingled"] > 0 and traced["kept apart"] > 0, traced


def test_attempt_shapes_match_real(world):
    """Per typology, sizes and durations inside the ranges of real HI-Small (ibm-aml.md §1.3), legs by ACH
    in one currency, structure as the typology says."""
    limits = {"FAN-OUT": (16, 96), "FAN-IN": (16, 96), "GATHER-SCATTER": (30, 202), "SCATTER-GATHER": (32, 96),
              "CYCLE": (12, 96), "RANDOM": (11, 92), "BIPARTITE": (15, 47), "STACK": (30, 114)}
    for a in read_patterns(world.patterns):
        rows = a.rows
        senders = [(r[1], r[2]) for r in rows]
        receivers = [(r[3], r[4]) for r in rows]
        times = [_ts(r[0]) for r in rows]
        max_tx, max_hours = limits[a.typology]
        assert 1 <= len(rows) <= max_tx and (max(times) - min(times)) / 3600 <= max_hours
        assert all(r[9] == "ACH" and r[10] == "1" and r[6] == r[8] for r in rows)
        if a.typology == "FAN-OUT":
            assert len(set(senders)) == 1 and len(set(receivers)) == len(rows)
            assert a.qualifier == f"Max {len(rows)}-degree Fan-Out"
        elif a.typology == "FAN-IN":
            assert len(set(receivers)) == 1 and len(set(senders)) == len(rows)
        elif a.typology == "CYCLE":
            assert senders[0] == receivers[-1] and times == sorted(times)
            assert all(receivers[i] == senders[i + 1] for i in range(len(rows) - 1))
        elif a.typology == "RANDOM":
            assert len(set(senders + receivers)) == len(rows) + 1 and times == sorted(times)
        elif a.typology in ("SCATTER-GATHER", "STACK"):
            assert len(rows) % 2 == 0
            first_in = {}
            for r, t in zip(rows, times):
                first_in.setdefault((r[3], r[4]), t)
            for r, t in zip(rows, times):     # every second hop after the hop into its intermediate
                if (r[1], r[2]) in first_in:
                    assert t > first_in[(r[1], r[2])]
        elif a.typology == "BIPARTITE":
            assert len(set(senders)) == len(set(receivers)) == len(rows)
    # medians of transactions per attempt near the real ones (fan-out 7, fan-in 8, cycle 4, ...)
    per = defaultdict(list)
    for a in read_patterns(world.patterns):
        per[a.typology].append(len(a.rows))
    real = {"FAN-OUT": 7, "FAN-IN": 8, "CYCLE": 4, "RANDOM": 3, "BIPARTITE": 4, "STACK": 10, "SCATTER-GATHER": 14,
            "GATHER-SCATTER": 14}
    for typ, sizes in per.items():      # a median of fewer than 5 attempts says little (1-8-16 for real FAN-IN)
        if len(sizes) >= 5:
            assert real[typ] / 3 <= np.median(sizes) <= real[typ] * 3, (typ, sizes)
    pooled = [n / real[typ] for typ, sizes in per.items() for n in sizes]   # every attempt, against its type
    assert 0.5 <= np.median(pooled) <= 2, per


def test_time_profiles_as_real(world):
    """Ordinary traffic: flat over hours 1-23, Reinvestment at midnight, weekly day profile (weekends at
    about 43% of weekdays); laundering: midday-peaked hours, attempts on any day alike; a sparse ACH-only
    tail."""
    _, rows = _rows(world.trans)
    t = np.array([_ts(r[0]) for r in rows])
    label = np.array([r[10] == "1" for r in rows])
    fmt = np.array([r[9] for r in rows])
    start = t.min() // 86400 * 86400
    hour, day = (t // 3600) % 24, (t - start) // 86400
    legit_hours = np.bincount(hour[~label & (fmt != "Reinvestment")], minlength=24)
    assert legit_hours[1:].std() / legit_hours[1:].mean() < 0.1
    assert (hour[fmt == "Reinvestment"] == 0).all()
    laundering_hours = np.bincount(hour[label], minlength=24)
    # real pattern rows: 11-16 h hold 4x the hourly rows of 20-23 h; the laundering rows outside attempts
    # include criminals' ordinary spending at ordinary hours, so the whole peak is lower
    assert laundering_hours[11:17].sum() / 6 > 1.5 * laundering_hours[20:24].sum() / 4
    legit_days = np.bincount(day[~label & (day < 10)], minlength=10)
    assert legit_days[2] < 0.6 * legit_days[5] and legit_days[0] > legit_days[5]      # Sat < Tue < first day
    # attempts start on any day alike (real: 27-42 attempt starts a day; counted per attempt, as an attempt's
    # legs come in bursts). Laundering outside attempts is not checked per weekday: integration follows the
    # attempts by days, so it grows over the period, and one weekend in ten days cannot separate the two.
    attempts = read_patterns(world.patterns)
    starts = np.bincount([(min(_ts(r[0]) for r in a.rows) - start) // 86400 for a in attempts], minlength=10)
    assert starts[2:4].sum() > 0.5 * starts[5:7].sum()
    tail = day >= 10
    assert tail.any() and (fmt[tail] == "ACH").all() and tail.mean() < 0.002


def test_real_data_statistics(world):
    """Shares measured on real HI-Small: formats, self-transfers, cross-currency payments (never laundering)."""
    _, rows = _rows(world.trans)
    n = len(rows)
    formats = Counter(r[9] for r in rows)
    real = {"Cheque": 0.367, "Credit Card": 0.261, "ACH": 0.118, "Cash": 0.097, "Reinvestment": 0.095,
            "Wire": 0.034, "Bitcoin": 0.029}
    for name, share in real.items():
        assert abs(formats[name] / n - share) < 0.35 * share + 0.005, (name, formats[name] / n)
    self_share = sum((r[1], r[2]) == (r[3], r[4]) for r in rows) / n
    assert 0.09 < self_share < 0.14
    cross = [r for r in rows if r[6] != r[8]]
    assert 0.007 < len(cross) / n < 0.022 and not any(r[10] == "1" for r in cross)   # real 1.42%
    ach = [r for r in rows if r[9] == "ACH"]
    assert sum(r[10] == "1" for r in ach) / max(1, sum(r[10] == "1" for r in rows)) > 0.6


def test_legitimate_look_alikes_fire_typology_patterns(world, tmp_path):
    """Every typology pattern of the library also fires on legitimate transactions."""
    from blazingaml.dsl.parser import load_patterns
    from blazingaml.graph import TemporalGraph
    from blazingaml.io.ibm_csv import convert_trans_csv
    from blazingaml.io.transactions import load_transactions
    from blazingaml.runtime import compile_patterns, mine_graph

    from .conftest import ROOT

    convert_trans_csv(world.trans, tmp_path / "tx.parquet")
    table, accounts = load_transactions(tmp_path / "tx.parquet")
    graph = TemporalGraph.from_table(table, accounts)
    compiled = compile_patterns(load_patterns([ROOT / "patterns" / "typologies"]), mode="closing")
    mined = mine_graph(graph, compiled)
    legit = table["label"].to_numpy() == 0
    fired = {}
    for j, col in enumerate(compiled.columns):
        fired[col.split(".")[0]] = fired.get(col.split(".")[0], 0) + int((mined[legit, j] > 0).sum())
    assert all(count > 0 for count in fired.values()), fired


def test_embedding_real_attempts(embedded_world):
    files, parquet = embedded_world
    real = read_patterns(DEV_PATTERNS)
    out = read_patterns(files.patterns)
    real_blocks = {tuple(",".join(r) for r in a.rows) for a in real}
    embedded = [a for a in out if tuple(",".join(r) for r in a.rows) in real_blocks]
    assert embedded and files.stats["embedded_attempts"] == len(embedded)
    trans_lines = set(files.trans.read_text().splitlines())
    assert all(",".join(r) in trans_lines for a in embedded for r in a.rows)   # inserted unchanged
    # their accounts trade normally too
    import pyarrow.compute as pc

    from blazingaml.io.ibm_csv import accounts_path_for
    table = pq.read_table(parquet)
    accounts = pq.read_table(accounts_path_for(parquet))
    keys = pc.binary_join_element_wise(accounts["bank"], accounts["account_id"], ":").to_pylist()
    involved = {keys.index(f"{r[c]}:{r[c + 1]}") for a in embedded for r in a.rows for c in (1, 3)}
    src, dst, labels = table["src"].to_numpy(), table["dst"].to_numpy(), table["label"].to_numpy()
    mask = np.isin(src, list(involved)) | np.isin(dst, list(involved))
    assert (labels[mask] == 0).any() and (labels[mask] == 1).any()


def test_embed_policy_grow(tmp_path):
    notices = []
    files = generate(tmp_path, scale=0.01, seed=2, embed_patterns=DEV_PATTERNS, embed_policy="grow",
                     notice=notices.append)
    assert files.stats["embedded_attempts"] == len(read_patterns(DEV_PATTERNS))
    assert "grows" in notices[0] and files.stats["scale"] > 0.01
    rate, _ = _rates(files)
    assert abs(rate / HI["illicit_rate"] - 1) < 0.15



def test_no_payee_over_the_distinct_payer_cap():
    """Counterparties with a cap: however popular a payee, at most `cap` distinct payers (real HI-Small: no
    account is paid by more than 545 distinct senders); the relationships over it go to payees with room,
    in the payer's currency area; without a cap the popular payee takes most of them."""
    from blazingaml.generator.economy import Counterparties
    from blazingaml.generator.population import make_population

    rng = np.random.default_rng(5)
    pop = make_population(rng, 40_000, 40)
    main = np.flatnonzero(pop.currency == np.bincount(pop.currency).argmax())   # one currency area, room enough
    payees = main[:400]
    weights = np.ones(len(payees))
    weights[:3] = 2_000.0                       # three payees everyone wants
    payers = np.repeat(main[400:15_400], 2)
    currency = pop.currency[payers]

    def distinct_payers(out):
        pairs = np.unique(np.searchsorted(payees, out).astype(np.int64) * len(pop) + payers)
        return np.bincount(pairs // len(pop), minlength=len(payees))

    free = Counterparties(pop, payees, weights, 0.98).draw(np.random.default_rng(1), currency)
    assert distinct_payers(free)[:3].min() > 300
    capped = Counterparties(pop, payees, weights, 0.98).draw(np.random.default_rng(1), currency, payers=payers,
                                                             cap=150)
    counts = distinct_payers(capped)
    assert counts.max() <= 150 and counts[:3].min() == 150
    assert (pop.currency[capped] == currency).all()


def test_integration_is_the_holders_own_spending():
    """Integration payments are what the holder's account pays in the ordinary economy: purposes it has
    (a person's further account buys from shops and pays people, never invoices or wages), to a payee it
    already pays for that purpose whenever it has one in that currency."""
    from blazingaml.generator.crime import CRIME, CrimePlanner, ordinary_purposes
    from blazingaml.generator.economy import economy
    from blazingaml.generator.ledger import P2P, PURCHASE, SUPPLY
    from blazingaml.generator.population import INDIVIDUAL, make_population
    from blazingaml.generator.timing import Calendar

    rng = np.random.default_rng(3)
    pop = make_population(rng, 20_000, 40)
    cal = Calendar(_ts("2022/09/01 00:00"), 10)
    plan = CrimePlanner(rng, pop, cal, {**CRIME, "layered_share": 0.5}).plan(400)
    legit = economy(rng, pop, cal, 150_000)
    drawn = plan.ledger.dst.copy()
    plan.reuse_relationships(rng, pop, legit)
    rows = np.flatnonzero(plan.purpose >= 0)
    assert len(rows) > 50
    names = {PURCHASE: "purchase", SUPPLY: "supply", P2P: "p2p"}
    reused = 0
    for i in rows:
        holder, purpose, payee = int(plan.ledger.src[i]), int(plan.purpose[i]), int(plan.ledger.dst[i])
        assert names[purpose] in ordinary_purposes(pop, holder)
        if pop.kind[holder] == INDIVIDUAL:
            assert purpose in (PURCHASE, P2P)
        usual = legit.dst[(legit.src == holder) & (legit.flow == purpose)]
        usual = usual[pop.currency[usual] == pop.currency[drawn[i]]]
        if len(usual):
            assert payee in usual
            reused += 1
        else:
            assert payee == drawn[i]
    assert reused > len(rows) // 3         # most holders pay a shop or a friend already (both branches run)
