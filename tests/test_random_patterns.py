"""Random patterns, not only the library: every executor equals the AST oracle.

Each example is a file of random valid patterns (tests/pattern_gen.py, covering every construct
of docs/language.md) and a random temporal multigraph with ties, self-loops, parallel edges and
sometimes a hub. In both feature modes, the reference interpreter on the plain and on the
optimised IR, the generated Numba source with each optimiser pass switched off in turn, and the
generated CUDA C on the host shim must all equal the AST oracle (tests/differential.py). A
failure shrinks to a small pattern file, printed with the graph.

CI runs 40 files of about 9 patterns each (the generated Numba source runs as plain Python) and
two files of up to 3 patterns that real Numba compiles (seconds to minutes per kernel); `-m slow`
runs the long campaign recorded in bench/RESULTS.md."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from .differential import disagreements
from .strategies import pattern_files, temporal_graphs

GRAPHS = temporal_graphs(max_nodes=7, max_edges=22, slots=40, hubs=True)
LANES = st.sampled_from([2, 3, 32])


def check(file, g, lanes, split, jit=False):
    text, patterns = file
    note(f"pattern file:\n{text}")
    note(f"graph (src, dst, ts, n): {g}")
    found = []
    for mode in ("closing", "participation"):
        found += disagreements(patterns, g, mode, jit=jit, host_lanes=lanes, split_every_hub=split)
    assert not found, "\n".join(found)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(file=pattern_files(), g=GRAPHS, lanes=LANES, split=st.booleans())
def test_random_patterns_agree(file, g, lanes, split):
    check(file, g, lanes, split)


@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(file=pattern_files(size=3), g=GRAPHS)
def test_random_patterns_compiled_by_numba(file, g):
    check(file, g, lanes=None, split=False, jit=True)


def test_negated_zero_count_is_minus_zero():
    """Found by the long campaign (file 136): `5 / -size(c)` with an empty `c` is 5 / -0.0 = -inf in
    double precision (the AST oracle), not 5 / 0 = +inf as integer negation gave in every executor."""
    import numpy as np

    from blazingaml.dsl.parser import parse_text

    text = ("pattern p\n    window 6h\n    bins 0..1\n    trigger a -> b\n"
            "    stage c = edges d in a.in\n    emit 5 / -size(c)\n")
    g = (np.array([0, 1]), np.array([1, 0]), np.array([1662032400, 1662032400 + 3600]), 2)
    for mode in ("closing", "participation"):
        assert disagreements(parse_text(text, "<negated zero>"), g, mode, host_lanes=2) == []


def test_stages_of_the_same_name_in_two_cases():
    """Found by the long campaign (file 435): two cases of one pattern each define a stage `d` that the
    windowed_aggregates pass turns into a precomputed sliding count; the generated source numbered the
    sweeps by (pattern, stage name), so both cases read the second case's sweep."""
    import numpy as np

    from blazingaml.dsl.parser import parse_text

    text = ("pattern p\n    window 6h\n    trigger a -> b\n"
            "    case out_of_a:\n        stage d = edges f in a.out\n        emit size(d)\n"
            "    case into_b:\n        stage d = edges f in b.in\n        emit 10 + size(d)\n")
    g = (np.array([0, 0, 0, 2]), np.array([1, 2, 3, 1]), 1662032400 + np.array([0, 600, 1200, 1800]), 4)
    for mode in ("closing", "participation"):
        assert disagreements(parse_text(text, "<same stage name>"), g, mode, host_lanes=2) == []


CAMPAIGN_SEED = 20261128


@pytest.mark.slow
def test_random_patterns_long_campaign():
    """The long campaign recorded in bench/RESULTS.md: BLAZINGAML_CAMPAIGN_FILES files (default
    600) of 9 random patterns from a seeded RNG, each on its own random graph, every executor in
    both modes; real Numba compiles for every BLAZINGAML_CAMPAIGN_JIT_EVERY-th file (default 20;
    a compile takes seconds to minutes per file). Failures are listed with their pattern files;
    the summary goes to bench/out/random_patterns.json."""
    import json
    import os
    import random
    import time

    import numpy as np

    from blazingaml.dsl.parser import parse_text
    from blazingaml.dsl.printer import pattern_text

    from .conftest import ROOT
    from .pattern_gen import RandomChooser, random_pattern
    from .strategies import BASE_TS

    files = int(os.environ.get("BLAZINGAML_CAMPAIGN_FILES", "600"))
    jit_every = int(os.environ.get("BLAZINGAML_CAMPAIGN_JIT_EVERY", "20"))
    rng, graphs = random.Random(CAMPAIGN_SEED), np.random.default_rng(CAMPAIGN_SEED)
    failures, patterns, compiled, t0 = [], 0, 0, time.perf_counter()
    for i in range(files):
        text = "\n".join(pattern_text(random_pattern(RandomChooser(rng), f"p{j}")) for j in range(9))
        parsed = parse_text(text, f"<file {i}>")
        n, m = int(graphs.integers(2, 8)), int(graphs.integers(1, 23))
        src, dst = graphs.integers(0, n, m), graphs.integers(0, n, m)
        if graphs.random() < 0.3:   # a hub
            hub = graphs.random(m) < 0.5
            src = np.where(hub & (graphs.random(m) < 0.5), 0, src)
            dst = np.where(hub & (graphs.random(m) >= 0.5), 0, dst)
        g = (src, dst, BASE_TS + graphs.integers(0, 41, m) * 3600, n)
        jit = jit_every > 0 and i % jit_every == 0
        found = []
        for mode in ("closing", "participation"):
            found += disagreements(parsed, g, mode, jit=jit, host_lanes=int(graphs.choice([2, 3, 32])),
                                   split_every_hub=bool(graphs.random() < 0.5))
        if found:
            failures.append({"file": i, "text": text, "graph": [a.tolist() for a in g[:3]] + [n], "found": found})
        patterns += len(parsed)
        compiled += len(parsed) if jit else 0
        if (i + 1) % 25 == 0:
            print(f"{i + 1} files, {patterns} patterns, {len(failures)} failing ({time.perf_counter() - t0:.0f} s)",
                  flush=True)
    summary = {"seed": CAMPAIGN_SEED, "files": files, "patterns": patterns, "patterns_compiled_by_numba": compiled,
               "failures": len(failures), "seconds": round(time.perf_counter() - t0), "first_failures": failures[:5]}
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "random_patterns.json").write_text(json.dumps(summary, indent=2))
    assert not failures, json.dumps(failures[:3], indent=2)
