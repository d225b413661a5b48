"""A drifting world: consecutive periods of one population, each generated from its own preset mapping.

The prequential protocol needs laundering that changes over time. `generate_drift` composes
`generate` calls, one per period, each with the base preset updated by the period's mapping (a
laundering rate, crime settings) and its own typology mix: the real attempts of the period's
typologies, moved by whole days into the period, are embedded there. Every period is generated
with the same seed and the same account count, so the same people and companies (same banks,
same account ids) live through every period; what changes is how they launder. The periods'
files are joined into one world in the IBM formats.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

from ..io.atomic import atomic_path
from ..io.patterns_txt import Attempt, read_patterns, write_patterns
from ..io.vocab import TIMESTAMP_FORMAT, TYPOLOGIES
from . import EMBED_SHARE, GeneratedFiles, generate, load_preset
from .timing import DAY

FAN_LIKE = ("FAN-OUT", "FAN-IN", "GATHER-SCATTER", "SCATTER-GATHER")
CHAIN_LIKE = ("CYCLE", "RANDOM", "BIPARTITE", "STACK")
# The default scenario: fans at a low rate, then a burst of chain-like laundering at three times the
# rate, then every typology at half the first rate.
DRIFT_PERIODS = (
    {"days": 4, "preset": {"illicit_rate": 0.004}, "typologies": FAN_LIKE},
    {"days": 4, "preset": {"illicit_rate": 0.012}, "typologies": CHAIN_LIKE},
    {"days": 4, "preset": {"illicit_rate": 0.002}, "typologies": TYPOLOGIES},
)


def _parse(text: str) -> int:
    return int(dt.datetime.strptime(text, TIMESTAMP_FORMAT).replace(tzinfo=dt.timezone.utc).timestamp())


def _format(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime(TIMESTAMP_FORMAT)


def moved_attempts(attempts: list[Attempt], typologies, start: int, days: int, budget: float) -> list[Attempt]:
    """The attempts of `typologies` (typologies taking turns, file order within each) that span at
    most days - 1 calendar days, while their legs fit in `budget`; each moved by whole days so that
    it starts on one of the period's days (spread in turn) and its last leg falls at least a day
    before the period ends (generate() runs a world one day past its last embedded leg)."""
    def span(a: Attempt) -> tuple[int, int]:
        times = [_parse(r[0]) // DAY for r in a.rows]
        return min(times), max(times) - min(times) + 1

    queues = {t: [a for a in attempts if a.typology == t and span(a)[1] <= days - 1] for t in typologies}
    chosen, legs = [], 0
    while any(queues.values()):
        for t in typologies:
            if queues[t] and legs + len(queues[t][0].rows) <= budget:
                chosen.append(queues[t].pop(0))
                legs += len(chosen[-1].rows)
            else:
                queues[t] = []
    moved = []
    for k, a in enumerate(chosen):
        first_day, span_days = span(a)
        shift = (start // DAY + k % (days - span_days) - first_day) * DAY
        rows = [[_format(_parse(r[0]) + shift), *r[1:]] for r in a.rows]
        moved.append(Attempt(k, a.typology, a.qualifier, rows))
    return moved


def generate_drift(out_dir: str | os.PathLike, embed_patterns: str | os.PathLike, scale: float = 0.01, seed: int = 0,
                   periods=DRIFT_PERIODS, base: str | dict = "hi-small-like", name: str = "Drift") -> GeneratedFiles:
    """Generate the periods one after the other from `base` and join them into one world in `out_dir`.

    Each period is {"days": n, "preset": {settings to change}, "typologies": [...]}: its
    transactions are the base preset's per day, its laundering rate and crime settings those of
    the mapping, and its attempts the real attempts of `embed_patterns` of those typologies."""
    cfg_base = load_preset(base)
    real = read_patterns(embed_patterns)
    out = Path(out_dir)
    work = out / f".{name}-periods"
    shutil.rmtree(work, ignore_errors=True)
    start = int(dt.datetime.strptime(cfg_base["start"], "%Y-%m-%d").replace(tzinfo=dt.timezone.utc).timestamp())
    parts = []
    for i, period in enumerate(periods):
        days = int(period["days"])
        change = dict(period.get("preset", {}))
        cfg = {**cfg_base, **change, "crime": {**cfg_base.get("crime", {}), **change.get("crime", {})},
               "start": _format(start)[:10].replace("/", "-"), "days": days, "tail_days": 0,
               "transactions": cfg_base["transactions"] * days / cfg_base["days"], "name": f"{name}-{i}"}
        n_tx = max(2000, int(round(cfg["transactions"] * scale)))
        budget = n_tx * cfg["illicit_rate"] * cfg["pattern_share"] * EMBED_SHARE   # as generate() budgets them
        attempts = moved_attempts(real, list(period["typologies"]), start, days, budget)
        (work / str(i)).mkdir(parents=True)
        write_patterns(work / str(i) / "embedded.txt", attempts)
        parts.append(generate(work / str(i), preset=cfg, scale=scale, seed=seed,
                              embed_patterns=work / str(i) / "embedded.txt" if attempts else None, notice=lambda _: None))
        start += days * DAY
    joined = _join(parts, out, name)
    shutil.rmtree(work)
    return joined


def _join(parts: list[GeneratedFiles], out: Path, name: str) -> GeneratedFiles:
    """One world from the periods' files: rows in period order under one header (the key tables
    without repeats), attempts numbered anew."""
    paths = {}
    for field, unique in (("trans", False), ("accounts", True), ("placements", False), ("controlled", True)):
        suffix = getattr(parts[0], field).name.split("_", 1)[1]
        paths[field] = out / f"{name}_{suffix}"
        seen = set()
        with atomic_path(paths[field]) as tmp, open(tmp, "w") as sink:
            for k, part in enumerate(parts):
                with open(getattr(part, field)) as source:
                    header = source.readline()
                    if k == 0:
                        sink.write(header)
                    for line in source:
                        if unique:
                            if line in seen:
                                continue
                            seen.add(line)
                        sink.write(line)
    attempts = [a for part in parts for a in read_patterns(part.patterns)]
    paths["patterns"] = out / f"{name}_Patterns.txt"
    write_patterns(paths["patterns"], [Attempt(i, a.typology, a.qualifier, a.rows) for i, a in enumerate(attempts)])
    return GeneratedFiles(paths["trans"], paths["patterns"], paths["accounts"], paths["placements"],
                          paths["controlled"], sum(p.transactions for p in parts), sum(p.laundering for p in parts),
                          len(attempts), {"periods": [p.stats for p in parts]})
