"""An alert told in words: the transaction, the accounts by bank and account id, and the pattern
instances behind it with their amounts and times (from an explanation of `pipeline.explain_alerts`)."""

from __future__ import annotations

import time

SHOWN_INSTANCES = 3
SHOWN_TRANSACTIONS = 6


def _when(ts: int) -> str:
    return time.strftime("%Y/%m/%d %H:%M", time.gmtime(ts))


def _account(name: dict) -> str:
    if "account_index" in name:
        return f"account #{name['account_index']}"
    return f"bank {name['bank']} account {name['account']}" if name["bank"] else f"account {name['account']}"


def _payment(tx: dict) -> str:
    return (f"{_when(tx['ts'])}  {_account(tx['from'])} -> {_account(tx['to'])}: "
            f"{tx['amount_paid']:,.2f} {tx['currency']} ({tx['format']})")


def describe_alert(explanation: dict) -> str:
    """Several lines of plain text saying what was alerted and why."""
    tx = explanation["transaction"]
    lines = [f"Transaction {tx['tx_id']:,} at {_when(tx['ts'])}: {_account(tx['from'])} paid "
             f"{tx['amount_paid']:,.2f} {tx['currency']} by {tx['format']} to {_account(tx['to'])}; "
             f"score {explanation['score']:.3f}."]
    instances = explanation["instances"]
    if not instances:
        lines.append("No pattern instance closes here: the score comes from the transaction's own features.")
    else:
        lines.append(f"It closes {len(instances)} pattern instance{'s' if len(instances) > 1 else ''}:")
    for inst in instances[:SHOWN_INSTANCES]:
        case = f", case {inst['case']}" if inst.get("case") else ""
        txs = sorted(inst["transactions"], key=lambda t: (t["ts"], t["tx_id"]))
        lines.append(f"  {inst['pattern']}{case}: {len(txs)} transactions among {len(inst['accounts'])} accounts")
        lines += [f"    {_payment(t)}" for t in txs[:SHOWN_TRANSACTIONS]]
        if len(txs) > SHOWN_TRANSACTIONS:
            lines.append(f"    ... and {len(txs) - SHOWN_TRANSACTIONS} more")
    if len(instances) > SHOWN_INSTANCES:
        lines.append(f"  ... and {len(instances) - SHOWN_INSTANCES} more instances")
    if "truncated" in explanation:
        lines.append(f"  ({explanation['truncated']})")
    return "\n".join(lines)


def most_telling(explanations: list[dict]) -> dict | None:
    """The alert to show first: most transactions in its instances, then the highest score."""
    if not explanations:
        return None
    return max(explanations, key=lambda e: (sum(len(i["transactions"]) for i in e["instances"][:SHOWN_INSTANCES]),
                                            e["score"]))
