"""AMLworld-like synthetic worlds in the exact IBM AML file formats, built from the AMLworld mechanisms.

`generate(...)` writes ``<NAME>_Trans.csv``, ``<NAME>_Patterns.txt`` and ``<NAME>_accounts.csv`` (the
IBM files) plus the generator's truth: ``<NAME>_Placements.csv`` (crime proceeds placed into
accounts) and ``<NAME>_ControlledAccounts.csv`` (accounts under criminal control), from which the
labels can be replayed (ledger.py). A world is a population (population.py) with its legitimate
economy (economy.py) and crime (crime.py: placement, layering through the 8 typologies, integration);
labels come from the dirty-balance ledger. docs/generator.md describes every mechanism and its source.

Real attempts from a Patterns.txt can be embedded unchanged: their accounts join the world (with
ordinary activity), receive the proceeds their legs need and integrate what they end up holding, like
generated attempts. The output is a pure function of (preset, scale, seed, embedded file, policy).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from ..errors import BlazingError
from ..io.patterns_txt import Attempt, read_patterns, write_patterns
from ..io.vocab import CURRENCIES, PAYMENT_FORMATS, TIMESTAMP_FORMAT, TYPOLOGIES
from .crime import CRIME, CRIME_SOURCES, CrimePlanner
from .economy import economy
from .ledger import LAYERING, Ledger, Placements, label_transactions
from .population import BITCOIN, RATE_PER_USD, accounts_for_new_keys, make_population
from .timing import DAY, Calendar
from .writer import text_rows, write_accounts, write_controlled, write_placements, write_trans, written_amounts

__all__ = ["generate", "load_preset", "PRESETS", "GeneratedFiles"]

PRESETS = ("hi-small-like", "li-small-like", "hi-medium-like")
EMBED_POLICIES = ("subsample", "grow")
PLAN_HEADROOM = 1.3   # cases planned for this multiple of the target; the ledger trims the surplus
SELECT_BUDGET_ROWS = 300_000_000   # rows labelled, in all, by the case selection's local search
PLAN_SPARE = 120      # and this many more laundering transactions' worth, so small worlds have cases to choose from
EMBED_SHARE = 0.75    # share of the preset's pattern rows that embedded attempts may take (their integration adds more)


def load_preset(name) -> dict:
    """A preset's settings: a shipped preset by name, or a mapping of the same keys (a world of one's own,
    e.g. a shipped preset with another laundering rate)."""
    if isinstance(name, dict):
        return dict(name)
    if name not in PRESETS:
        raise BlazingError(f"unknown preset '{name}'", hint="choose one of: " + ", ".join(PRESETS))
    return json.loads(resources.files(__package__).joinpath("presets", f"{name}.json").read_text())


@dataclass
class GeneratedFiles:
    trans: Path
    patterns: Path
    accounts: Path
    placements: Path
    controlled: Path
    transactions: int
    laundering: int
    attempts: int
    stats: dict = field(default_factory=dict)


def _epoch(day: str) -> int:
    return int(dt.datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=dt.timezone.utc).timestamp())


def _parse_ts(text: str) -> int:
    return int(dt.datetime.strptime(text, TIMESTAMP_FORMAT).replace(tzinfo=dt.timezone.utc).timestamp())


def _subsample(rng, attempts: list[Attempt], budget: float) -> list[Attempt]:
    """Real attempts, the typologies taking turns, while their legs fit in `budget`; original order kept."""
    queues = {t: [a for a in rng.permutation(np.array(attempts, dtype=object)) if a.typology == t] for t in TYPOLOGIES}
    chosen, legs = [], 0
    while any(queues.values()):
        for t in TYPOLOGIES:
            if queues[t]:
                a = queues[t].pop(0)
                if legs + len(a.rows) > budget:
                    queues = {}
                    break
                chosen.append(a)
                legs += len(a.rows)
        else:
            continue
        break
    index = {id(a): i for i, a in enumerate(attempts)}
    return sorted(chosen, key=lambda a: index[id(a)])


def select_cases(labels, is_leg: np.ndarray, n_cases: int, first_generated: int, target: float,
                 non_pattern_share: float) -> np.ndarray:
    """Which crime cases the world keeps: embedded cases always, then the fewest generated cases (in planned
    order) whose laundering reaches `target`. At small scales one case is a large share of the volume, so
    generated cases near that boundary are then switched on or off (or one swapped for another) while that brings the laundering
    count and the share outside attempts closer to the preset (at scale 1 this rarely runs: the share is the
    mechanisms' outcome). Each trial labels the whole ledger, so the search tries at most
    SELECT_BUDGET_ROWS / rows of them (thousands in a small world, a handful at 30M rows)."""
    trials = [0]

    def cost(active):
        trials[0] += 1
        lab = labels(active)
        total = int(lab.sum())
        outside = 1 - int(lab[is_leg].sum()) / max(total, 1)
        volume = abs(total - target) / target
        # a world off the preset's laundering rate by more than 10% is never preferred
        return 2 * volume + abs(outside - non_pattern_share) / non_pattern_share + (volume > 0.1), total

    def prefix(k):
        active = np.zeros(n_cases, bool)
        active[:k] = True
        return active

    lo, hi = first_generated, n_cases
    while lo < hi:
        mid = (lo + hi) // 2
        if cost(prefix(mid))[1] >= target:
            hi = mid
        else:
            lo = mid + 1
    active = prefix(lo)
    best = cost(active)[0]
    budget = trials[0] + SELECT_BUDGET_ROWS // max(len(is_leg), 1)
    for _ in range(60):     # local search: switch single cases near the boundary on or off, or swap two
        if best <= 0.04 or trials[0] >= budget:
            break
        on = [c for c in np.flatnonzero(active)[::-1] if c >= first_generated][:30]
        off = list(np.flatnonzero(~active)[:30])
        moves = [(c,) for c in on + off][:max(0, budget - trials[0])]
        scores = [(cost(_flipped(active, m))[0], m) for m in moves]
        if not scores or min(scores)[0] >= best:   # no single switch helps: try one case for another
            moves = [(a, b) for a in on[:10] for b in off[:10]][:max(0, budget - trials[0])]
            scores = [(cost(_flipped(active, m))[0], m) for m in moves]
            if not scores or min(scores)[0] >= best:
                break
        best, move = min(scores)
        active = _flipped(active, move)
    return active


def _flipped(active: np.ndarray, cases: tuple) -> np.ndarray:
    trial = active.copy()
    trial[list(cases)] = ~trial[list(cases)]
    return trial


def _embedded_legs(attempts: list[Attempt], index: dict, raw_lines: list[str]) -> list[tuple[Ledger, str, str | None]]:
    """Ledgers of the real attempts' rows, which are written back verbatim."""
    out = []
    cur_code = {c: i for i, c in enumerate(CURRENCIES)}
    fmt_code = {f: i for i, f in enumerate(PAYMENT_FORMATS)}
    for a in attempts:
        n = len(a.rows)
        raw = np.arange(len(raw_lines), len(raw_lines) + n, dtype=np.int32)
        raw_lines.extend(",".join(r) for r in a.rows)
        pay_cur = np.array([cur_code[r[8]] for r in a.rows], np.int8)
        paid = np.array([float(r[7]) for r in a.rows])
        out.append((Ledger(
            src=np.array([index[(r[1], r[2])] for r in a.rows], np.int32),
            dst=np.array([index[(r[3], r[4])] for r in a.rows], np.int32),
            ts=np.array([_parse_ts(r[0]) for r in a.rows], np.int64), usd=paid / RATE_PER_USD[pay_cur],
            amount_paid=paid, pay_currency=pay_cur, amount_received=np.array([float(r[5]) for r in a.rows]),
            recv_currency=np.array([cur_code[r[6]] for r in a.rows], np.int8),
            payment_format=np.array([fmt_code[r[9]] for r in a.rows], np.int8), whole=np.zeros(n, bool),
            flow=np.full(n, LAYERING, np.int8), attempt=np.full(n, -1, np.int32), raw=raw,
            label=np.ones(n, np.int8)), a.typology, a.qualifier))
    return out


def generate(out_dir: str | os.PathLike, preset: str = "hi-small-like", scale: float = 1.0, seed: int = 0,
             embed_patterns: str | os.PathLike | None = None, name: str | None = None, progress=None,
             embed_policy: str = "subsample", notice=None) -> GeneratedFiles:
    """Generate a world and write its files into `out_dir`.

    With `embed_patterns`, the real attempts join the world at the preset's rates: `embed_policy`
    "subsample" embeds as many attempts as the world's laundering volume holds (typologies taking turns),
    "grow" enlarges the world until all of them fit. `notice` receives one line saying which was done."""
    if not (0 < scale <= 40):
        raise BlazingError(f"--scale must be in (0, 40], got {scale}")
    if embed_policy not in EMBED_POLICIES:
        raise BlazingError(f"unknown embedding policy '{embed_policy}'", hint="choose subsample or grow")
    cfg = load_preset(preset)
    rng = np.random.default_rng(seed)
    name = name or cfg["name"]
    step = progress or (lambda label: None)
    say = notice or (lambda line: print(line, file=sys.stderr))
    crime_cfg = {**CRIME, **cfg.get("crime", {})}

    start, days = _epoch(cfg["start"]), int(cfg["days"])
    horizon = start + (days + int(cfg["tail_days"])) * DAY
    embedded: list[Attempt] = read_patterns(embed_patterns) if embed_patterns else []

    def sizes(s: float) -> tuple[int, int, float]:
        n_tx = max(2000, int(round(cfg["transactions"] * s)))
        return max(200, int(round(cfg["accounts"] * s))), n_tx, n_tx * cfg["illicit_rate"]

    n_accounts, n_tx, target = sizes(scale)
    if embedded:
        times = [_parse_ts(r[0]) for a in embedded for r in a.rows]
        start = min(start, min(times) // DAY * DAY)
        horizon = max(horizon, max(times) + DAY)
        legs = sum(len(a.rows) for a in embedded)
        budget = target * cfg["pattern_share"] * EMBED_SHARE
        if legs > budget:
            if embed_policy == "grow":
                scale *= legs / budget
                n_accounts, n_tx, target = sizes(scale)
                say(f"embedding all {len(embedded)} real attempts: the world grows to scale {scale:.3g} "
                    f"({n_tx:,} transactions) to keep the {cfg['name']} laundering rate")
            else:
                kept = _subsample(rng, embedded, budget)
                say(f"embedding {len(kept)} of {len(embedded)} real attempts ({sum(len(a.rows) for a in kept):,} of "
                    f"{legs:,} rows) to keep the {cfg['name']} laundering rate at scale {scale:g}; "
                    f"--embed-policy grow embeds all of them in a larger world")
                embedded = kept

    step("population")
    n_banks = max(10, int(round(cfg["banks"] * min(scale, 1.0) ** 0.5 * max(scale, 1.0) ** 0.25)))
    pop = make_population(rng, n_accounts, n_banks)
    raw_lines: list[str] = []
    embedded_legs = []
    if embedded:
        index = {(b, a): i for i, (b, a) in enumerate(zip(pop.bank_str(), pop.account_ids))}
        new_keys = [k for k in dict.fromkeys((r[c], r[c + 1]) for at in embedded for r in at.rows for c in (1, 3))
                    if k not in index]
        if new_keys:
            first_new = len(pop)
            pop = accounts_for_new_keys(rng, pop, new_keys)
            index.update({k: first_new + i for i, k in enumerate(new_keys)})
        embedded_legs = _embedded_legs(embedded, index, raw_lines)

    step("crime")
    # Cases are planned with headroom; the ledger then decides how many the preset's rate needs.
    cal = Calendar(start, days)
    plan = CrimePlanner(rng, pop, cal, crime_cfg).plan(target * PLAN_HEADROOM + PLAN_SPARE, embedded_legs)
    step("economy")
    # The scheme's accounts keep their owners' ordinary activity: a mule's or shell's statistics are those of
    # any further account (docs/generator.md, "Who launders").
    legit = economy(rng, pop, cal, max(0, n_tx - len(plan.ledger)))
    plan.reuse_relationships(rng, pop, legit)
    ledger = Ledger.concat([legit, plan.ledger])
    case = np.concatenate([np.full(len(legit), -1, np.int32), plan.row_case])
    crime_base = len(legit)
    inside = ledger.ts < horizon
    # Time order with mild local disorder, as in the real files; the ledger replays (time, file row).
    jitter = rng.integers(0, 20 * 60, len(ledger))
    order = np.argsort(np.where(inside, ledger.ts + jitter, np.iinfo(np.int64).max), kind="stable")
    order = order[: int(inside.sum())]
    ledger, case = ledger.take(order), case[order]

    step("labels")
    # Dirty balances count the amounts as written, so that the files alone replay every label.
    bitcoin = ledger.pay_currency == BITCOIN
    ledger.usd = written_amounts(ledger.amount_paid, bitcoin) / RATE_PER_USD[ledger.pay_currency]
    plan.placements.usd = written_amounts(plan.placements.usd, np.zeros(len(plan.placements.usd), bool))
    replay = np.lexsort((np.arange(len(ledger)), ledger.ts))
    # Owners who keep the scheme's money apart pay their own ordinary spending from their own funds (ledger.py).
    apart = plan.kept_apart(rng, len(pop), crime_cfg["comingled_share"])
    n_cases = len(plan.case_accounts)

    def labels(active: np.ndarray) -> np.ndarray:
        return label_transactions(ledger, replay, plan.controlled(len(pop), active), plan.placements,
                                  plan.placement_case, case, active, apart)

    active = select_cases(labels, ledger.flow == LAYERING, n_cases, plan.embedded_cases, target,
                          1 - cfg["pattern_share"])
    label = labels(active)
    keep = np.flatnonzero((case < 0) | active[np.maximum(case, 0)])
    ledger = ledger.take(keep)
    ledger.label = label[keep]
    placed = active[plan.placement_case]
    placements = Placements(*[getattr(plan.placements, f)[placed] for f in Placements.__dataclass_fields__])
    controlled = plan.controlled(len(pop), active)
    position = np.full(len(inside), -1, np.int64)      # planned row -> written row (-1: dropped)
    position[order[keep]] = np.arange(len(keep))

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    step("writing")
    trans_path = out / f"{name}_Trans.csv"
    write_trans(trans_path, ledger, pop, raw_lines)
    attempts_out = []
    for rec in plan.attempts:
        if not active[rec.case]:
            continue
        rows = position[rec.rows + crime_base]
        rows = rows[rows >= 0]
        if not len(rows):   # every leg fell after the world's end (possible with tail_days 0): not in this world
            continue
        is_real = ledger.raw[rows[0]] >= 0
        rows = np.sort(rows) if not is_real else rows[np.argsort(ledger.raw[rows])]
        attempts_out.append(Attempt(len(attempts_out), rec.typology, rec.qualifier,
                                    text_rows(ledger, pop, rows, raw_lines)))
    patterns_path = out / f"{name}_Patterns.txt"
    write_patterns(patterns_path, attempts_out)
    accounts_path = out / f"{name}_accounts.csv"
    write_accounts(accounts_path, pop)
    placements_path = out / f"{name}_Placements.csv"
    write_placements(placements_path, placements, pop, CRIME_SOURCES)
    controlled_path = out / f"{name}_ControlledAccounts.csv"
    write_controlled(controlled_path, controlled, apart, pop)

    laundering = int(ledger.label.sum())
    legs = int((ledger.flow == LAYERING).sum())
    stats = {"scale": scale, "transactions": len(ledger), "laundering": laundering,
             "laundering_rate": laundering / max(len(ledger), 1), "pattern_rows": legs,
             "non_pattern_share": 1 - legs / max(laundering, 1), "attempts": len(attempts_out),
             "embedded_attempts": len(embedded), "controlled_accounts": int(controlled.sum()),
             "flows": {int(f): int(c) for f, c in zip(*np.unique(ledger.flow, return_counts=True))},
             "laundering_by_flow": {int(f): int(c) for f, c in zip(*np.unique(ledger.flow[ledger.label == 1],
                                                                               return_counts=True))}}
    return GeneratedFiles(trans_path, patterns_path, accounts_path, placements_path, controlled_path, len(ledger),
                          laundering, len(attempts_out), stats)
