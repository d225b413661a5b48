"""Differential checks: every way the compiler can run a pattern set, against two oracles.

On one graph and in one feature mode, `disagreements` computes the features of a pattern set
with the AST oracle (`tests/ast_oracle.py`), the reference interpreter on the plain and on the
optimised IR, the generated Numba source with every pass, with each pass switched off in turn
and with none (run as plain Python: the same text Numba compiles), optionally real Numba, and the
generated CUDA C built against the host shim (hub triggers split over lanes or not). It returns a
line for every executor that disagrees with the AST oracle, naming the patterns.
"""

from __future__ import annotations

import numpy as np

from blazingaml.backends.cupy.host import run_on_host
from blazingaml.ir.passes import PASSES
from blazingaml.runtime import CompiledPatterns, compile_patterns, mine_graph, run_numba, settle

from .ast_oracle import oracle_features
from .strategies import attributes, build, differing_patterns

MAX_WORK = 10_000_000   # far above what a small graph needs: no executor may stop early
PASS_VARIANTS = (("all passes", ()),) + tuple((f"without {p}", (p,)) for p in PASSES) + (("no passes", PASSES),)


def oracle(patterns, g, mode: str) -> np.ndarray:
    """The AST oracle's features for a drawn graph `g` (src, dst, ts, n), input order."""
    src, dst, ts, n = g
    a = attributes(g)
    return oracle_features(patterns, src, dst, ts, np.arange(len(src)), a["bank"], mode, a["amount_paid"],
                           a["amount_received"], a["pay_currency"], a["recv_currency"], a["payment_format"])


def reference_on_optimised_ir(compiled: CompiledPatterns):
    """The reference interpreter's view of the optimised programs, in the user's column order."""
    by_name = {p.name: p for k in compiled.kernels for p in k.programs}
    return CompiledPatterns(tuple(by_name[p.name] for p in compiled.programs), compiled.kernels, compiled.columns,
                            compiled.mode)


def host_features(graph, compiled, max_work: int, lanes: int = 4, hub_threshold: float | None = None,
                  on_work_limit: str = "flag") -> np.ndarray:
    """What `mine_graph(..., backend="cupy")` returns, with the CUDA C run on the host shim."""
    per_edge, overflow, steps = run_on_host(graph, compiled, max_work, hub_lanes=lanes, hub_threshold=hub_threshold)
    return settle(graph, compiled, graph.to_input_order(per_edge), overflow, steps, max_work, on_work_limit)


def executors(patterns, graph, mode: str, jit: bool, host_lanes: int | None, split_every_hub: bool) -> dict:
    """Feature matrices (input order) of every executor under test."""
    plain = compile_patterns(patterns, mode=mode, optimise=False)
    full = compile_patterns(patterns, mode=mode)
    results = {
        "reference on plain IR": mine_graph(graph, plain, "reference", max_work=MAX_WORK),
        "reference on optimised IR": mine_graph(graph, reference_on_optimised_ir(full), "reference",
                                                max_work=MAX_WORK),
    }
    with np.errstate(divide="ignore", invalid="ignore"):  # patterns may divide by zero: IEEE, as in C
        for label, disabled in PASS_VARIANTS:
            compiled = compile_patterns(patterns, mode=mode, disabled=frozenset(disabled))
            results[f"numba source as Python, {label}"] = settle(
                graph, compiled, *run_numba(graph, compiled, max_work=MAX_WORK, jit=False), MAX_WORK)
    if jit:
        results["numba"] = mine_graph(graph, full, "numba", max_work=MAX_WORK)
    if host_lanes is not None:
        name = f"CUDA C on the host shim, {host_lanes} lanes{', every trigger a hub' if split_every_hub else ''}"
        results[name] = host_features(graph, full, MAX_WORK, host_lanes, 0.0 if split_every_hub else None)
    return results


def disagreements(patterns, g, mode: str, jit: bool = False, host_lanes: int | None = 4,
                  split_every_hub: bool = False) -> list[str]:
    """One line per executor whose features differ from the AST oracle's (empty: all agree)."""
    expected = oracle(patterns, g, mode)
    columns = [c for p in patterns for c in p.columns()]
    found = []
    for name, got in executors(patterns, build(g), mode, jit, host_lanes, split_every_hub).items():
        bad = differing_patterns(expected, got, columns)
        if bad:
            found.append(f"{mode}: {name} differs from the AST oracle for {bad}")
    return found
