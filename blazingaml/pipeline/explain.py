"""Explanations: the pattern instances behind each alert, accounts named as the input named them."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ..graph import TemporalGraph
from ..io.vocab import CURRENCIES, PAYMENT_FORMATS


def explain_alerts(graph: TemporalGraph, combined: pa.Table, new_mask, alert, patterns, scores,
                   accounts: pa.Table | None = None) -> list[dict]:
    """Per alert, the pattern instances its transaction closes (accounts as the input named them:
    bank and account id; tx_ids, times, amounts). Each search looks only inside the pattern's
    window and stops at mining's work bound; an alert whose search hit it says `"truncated"`."""
    from ..backends.reference import ReferenceInterpreter
    from ..ir.lower import lower
    from ..runtime import DEFAULT_MAX_WORK

    rows = np.flatnonzero(new_mask)[alert]
    edge_of_row = np.empty(graph.m, np.int64)
    edge_of_row[graph.row] = np.arange(graph.m)
    programs = [lower(p) for p in patterns]
    interp = ReferenceInterpreter(graph, "closing", max_work=DEFAULT_MAX_WORK)
    name = _account_names(accounts)
    tx_ids = combined.column("tx_id").to_numpy()
    new_rows = np.flatnonzero(new_mask)
    position_in_new = {int(r): i for i, r in enumerate(new_rows)}

    def transaction(f: int) -> dict:
        return {"tx_id": int(tx_ids[graph.row[f]]), "from": name(int(graph.src[f])), "to": name(int(graph.dst[f])),
                "ts": int(graph.ts[f]), "amount_paid": float(graph.amount_paid[f]),
                "currency": CURRENCIES[int(graph.pay_currency[f])],
                "format": PAYMENT_FORMATS[int(graph.payment_format[f])]}

    out = []
    for row in rows:
        e = int(edge_of_row[row])
        instances = []
        for inst in interp.instances(programs, [e]):
            edges = inst["edges"]
            members = sorted({int(graph.src[f]) for f in edges} | {int(graph.dst[f]) for f in edges})
            instances.append({
                "pattern": inst["pattern"], "case": inst["case"], "size": inst["value"],
                "accounts": [name(a) for a in members], "transactions": [transaction(f) for f in edges],
            })
        explanation = {"row": position_in_new[int(row)], "tx_id": int(tx_ids[row]),
                       "score": float(scores[position_in_new[int(row)]]), "transaction": transaction(e),
                       "instances": instances}
        if interp.overflow.any():
            explanation["truncated"] = f"a path search stopped at {DEFAULT_MAX_WORK:,} steps; more instances exist"
        out.append(explanation)
    return out


def _account_names(accounts: pa.Table | None):
    """Dense account index -> {"bank", "account"} as the input wrote them (the index if unknown)."""
    if accounts is None:
        return lambda a: {"account_index": a}
    index = accounts.column("account").to_numpy()
    banks, ids = accounts.column("bank").to_pylist(), accounts.column("account_id").to_pylist()
    by_index = dict(zip(index.tolist(), zip(banks, ids)))
    return lambda a: {"bank": by_index[a][0], "account": by_index[a][1]}


# ----------------------------------------------------------------------------- evaluate

