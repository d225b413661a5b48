"""Human-readable execution plans (`blazingaml compile --emit plan`)."""

from __future__ import annotations

from . import nodes as I
from .passes.cost import DEFAULT_STATS, GraphStats, atom_cost, program_cost


def _scan(scan: I.Scan) -> str:
    if scan.lower == "search" and scan.upper == "break":
        return "binary search to window start, break after trigger"
    return "scan all edges, filter by window"


def _op_lines(op, indent: str, cost) -> list[str]:
    if isinstance(op, I.Loop):
        return [f"{indent}for {'each distinct ' if op.distinct else ''}{op.var} in {op.owner}.{op.direction} "
                f"[{_scan(op.scan)}] where {I.expr_text(op.filter)}"]
    if isinstance(op, I.SetCount):
        terms = []
        for t in op.terms:
            pos = " & ".join(f"{a.owner}.{a.direction}" + (f" as {a.edge}" if a.edge else "") if isinstance(a, I.NbrAtom)
                             else a.name for a in t.positive)
            neg = "".join(f" - {a.owner}.{a.direction}" if isinstance(a, I.NbrAtom) else f" - {a.name}"
                          for a in t.negative)
            terms.append(pos + neg)
        lines = [f"{indent}count {op.kind} {op.name} = {op.var} in {' | '.join(terms)} [{_scan(op.scan)}; "
                 f"driver: {'smallest window at run time' if op.driver == 'smallest' else 'first neighbourhood'}; "
                 "not materialised]"]
        atoms = [a for t in op.terms for a in t.positive if isinstance(a, I.NbrAtom)]
        if len(atoms) > 1:
            lines.append(f"{indent}  estimated cost of a membership test: " + ", ".join(
                f"{a.owner}.{a.direction} {cost(a):.1f}" for a in atoms))
        if op.pushed:
            lines.append(f"{indent}  member test first: {I.expr_text(op.member_filter)}")
            lines.append(f"{indent}  edge test last:    {I.expr_text(op.edge_filter)}")
        else:
            lines.append(f"{indent}  where {I.expr_text(op.filter)}")
        return lines
    if isinstance(op, I.SlidingCount):
        what = "distinct neighbours" if op.kind == "nodes" else "edges"
        return [f"{indent}sliding count {op.name} = {what} of {op.owner}.{op.direction}"
                f"{' (self-loops skipped)' if op.skip_self else ''} [two-pointer sweep per vertex, O(degree)]"]
    if isinstance(op, I.WindowAggregates):
        return [f"{indent}window aggregates of {op.name} = {op.owner}.{op.direction} where {I.expr_text(op.filter)}: "
                + ", ".join(I.expr_text(a) for a in op.aggregates)
                + " [sliding sweep per account: O(1) moments, monotone deques, order-statistic tree]"]
    if isinstance(op, I.PathCount):
        return [f"{indent}paths {op.name} = {op.start} ~> {op.end} via {op.direction}, hops {op.min_hops}..{op.max_hops}"
                f"{', time-increasing' if op.increasing else ''} [depth-first, one per account sequence, "
                f"{_scan(op.scan)}{', pruned by backward reachability' if op.prune else ''}] "
                f"where {I.expr_text(op.filter)}"]
    if isinstance(op, I.Require):
        return [f"{indent}require {I.expr_text(op.cond)}"]
    if isinstance(op, I.Emit):
        name = f"{op.name} = " if op.name else ""
        return [f"{indent}emit {name}{I.expr_text(op.value)} when {I.expr_text(op.when)}"]
    return [f"{indent}{op!r}"]


def render_plan(kernels, stats: GraphStats | None = None, source: str = "") -> str:
    """The execution plan; costs from `stats` (the graph's, described as `source`) or defaults."""
    if stats is None:
        out = [f"cost model: default statistics ({DEFAULT_STATS.describe()}); "
               "give --input to plan for your graph", ""]
    else:
        out = [f"cost model: statistics of {source or 'the graph'}: {stats.describe()}", ""]
    for k, kernel in enumerate(kernels, 1):
        out.append(f"kernel {k}: one pass over the triggers for {', '.join(p.name for p in kernel.programs)}")
        for p in kernel.programs:
            out.append(f"  pattern {p.name}: window {p.window_seconds}s "
                       f"{'[t_prev-w, t] (lagged)' if p.window_lagged else '[t-w, t]' if p.window_inclusive else '(t-w, t]'}, "
                       f"{len(p.bins)} bins, "
                       f"estimated work per trigger {program_cost(p, stats):,.1f}")
            out.append(f"    passes: {', '.join(p.passes) or 'none'}")
            out.append(f"    trigger {p.trigger_src} -> {p.trigger_dst} as {p.trigger_edge} "
                       f"where {I.expr_text(p.trigger_filter)}")
            for case in p.cases:
                out.append(f"    case {case.name}:")
                depth = 3
                for op in case.ops:
                    out.extend(_op_lines(op, "  " * depth, atom_cost(p, stats)))
                    if isinstance(op, (I.Loop, I.PathCount, I.Require)):
                        depth += 1
        out.append("")
    return "\n".join(out)
