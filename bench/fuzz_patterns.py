"""Fuzz the front end and the code generators (issue 11): random pattern texts through `check`
(parse + static checks) and `compile` (lowering, every pass, Numba and CUDA source, both modes).

    python bench/fuzz_patterns.py [--texts 100000] [--seed 1] [--limit 1.0]

Texts: valid random patterns (tests/pattern_gen.py) and mutations of them: cut short, a span
duplicated, two tokens swapped, random bytes inserted, deep nesting (parentheses, `not`, unary
minus), huge numbers. Every text must end as a valid pattern or one of the language's own errors
(PatternError, with file:line:col); anything else is a crash. A text that takes more than
`--limit` seconds is a hang (each is also cut off after 10 s by an alarm). Crashes and hangs are
listed with their text in bench/out/fuzz_patterns.json.
"""

from __future__ import annotations

import argparse
import random
import re
import signal
import sys
import time
import traceback

from common import ROOT, machine, save

sys.path.insert(0, str(ROOT))  # the generator lives with the tests

TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]+(?:\.[0-9]+)?[smhd]?|~>|->|\.\.|[<>=!]=|\S")


class Alarm(Exception):
    pass


def _alarm(signum, frame):
    raise Alarm()


def mutate(text: str, rng: random.Random) -> tuple[str, str]:
    """(kind, mutated text)."""
    kind = rng.choice(("cut", "duplicate", "swap", "bytes", "nesting", "huge"))
    if kind == "cut":
        return kind, text[:rng.randint(0, len(text))]
    if kind == "duplicate":
        a = rng.randint(0, len(text))
        b = min(len(text), a + rng.randint(1, 80))
        return kind, text[:b] + text[a:b] * rng.randint(1, 3) + text[b:]
    if kind == "swap":
        tokens = list(TOKEN.finditer(text))
        if len(tokens) < 2:
            return kind, text
        x, y = sorted(rng.sample(range(len(tokens)), 2))
        tx, ty = tokens[x], tokens[y]
        return kind, (text[:tx.start()] + ty.group() + text[tx.end():ty.start()] + tx.group() + text[ty.end():])
    if kind == "bytes":
        at = rng.randint(0, len(text))
        junk = "".join(chr(rng.choice((rng.randint(0, 31), rng.randint(32, 126), rng.randint(127, 0x2FFF))))
                       for _ in range(rng.randint(1, 12)))
        return kind, text[:at] + junk + text[at:]
    if kind == "nesting":
        depth = rng.choice((50, 500, 5000, 50000))
        wrap = rng.choice((("(" * depth, ")" * depth), ("not " * depth, ""), ("-" * depth, ""), ("- " * depth, "")))
        if "emit " not in text:
            return kind, text
        head, tail = text.rsplit("emit ", 1)
        return kind, f"{head}emit {wrap[0]}1{wrap[1]} when " + ("(" * depth) + "1 < 2" + (")" * depth) + "\n"
    numbers = list(re.finditer(r"[0-9]+", text))
    if not numbers:
        return kind, text
    n = rng.choice(numbers)
    digits = "9" * rng.choice((12, 19, 20, 40, 310, 5000))
    return kind, text[:n.start()] + digits + text[n.end():]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--texts", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--limit", type=float, default=1.0, help="seconds per text before it counts as a hang")
    ap.add_argument("--valid-share", type=float, default=0.3, help="share of unmutated valid texts")
    args = ap.parse_args()

    from blazingaml.backends.cupy.codegen import generate_cuda
    from blazingaml.backends.numba_codegen import generate_source
    from blazingaml.dsl.errors import PatternError
    from blazingaml.dsl.parser import parse_text
    from blazingaml.dsl.printer import pattern_text
    from blazingaml.runtime import compile_patterns
    from tests.pattern_gen import RandomChooser, random_pattern

    def check_and_compile(text: str):
        patterns = parse_text(text, "<fuzz>")
        for mode in ("closing", "participation"):
            compiled = compile_patterns(patterns, mode=mode)
            for kernel in compiled.kernels:
                generate_source(kernel, mode)
            generate_cuda(compiled.kernels, mode)

    signal.signal(signal.SIGALRM, _alarm)
    rng = random.Random(args.seed)
    counts = {"valid": 0, "language_error": 0, "crash": 0, "hang": 0}
    kinds: dict[str, int] = {}
    crashes, hangs, slowest = [], [], (0.0, "")
    t0 = time.perf_counter()
    for i in range(args.texts):
        text = pattern_text(random_pattern(RandomChooser(rng), f"p{i}"))
        kind = "valid"
        if rng.random() >= args.valid_share:
            kind, text = mutate(text, rng)
        kinds[kind] = kinds.get(kind, 0) + 1
        start = time.perf_counter()
        try:
            signal.setitimer(signal.ITIMER_REAL, 10.0)
            try:
                check_and_compile(text)
                outcome = "valid"
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except PatternError:
            outcome = "language_error"
        except Alarm:
            outcome = "hang"
        except Exception:   # anything but the language's own errors is a crash
            outcome = "crash"
            if len(crashes) < 20:
                crashes.append({"kind": kind, "text": text[:2000], "error": traceback.format_exc(limit=3)[-1500:]})
        seconds = time.perf_counter() - start
        if outcome != "hang" and seconds > args.limit:
            outcome = "hang"
        if outcome == "hang" and len(hangs) < 20:
            hangs.append({"kind": kind, "seconds": round(seconds, 2), "text": text[:2000]})
        if seconds > slowest[0]:
            slowest = (seconds, kind)
        counts[outcome] += 1
        if (i + 1) % 10_000 == 0:
            print(f"{i + 1:,} texts: {counts} ({time.perf_counter() - t0:.0f} s)", flush=True)
    result = {"machine": machine(), "texts": args.texts, "seed": args.seed, "limit_seconds": args.limit,
              "outcomes": counts, "kinds": kinds, "slowest_seconds": round(slowest[0], 3),
              "slowest_kind": slowest[1], "seconds": round(time.perf_counter() - t0, 1),
              "crashes": crashes, "hangs": hangs}
    print({k: v for k, v in result.items() if k not in ("crashes", "hangs")})
    for c in crashes[:3]:
        print(c["kind"], c["error"])
    print(f"wrote {save('fuzz_patterns', result)}")


if __name__ == "__main__":
    main()
