"""Batch scoring: a saved model applied to new transactions, with history files as look-back."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ..errors import ModelError
from ..io.vocab import TYPOLOGIES
from ..models import load_model
from ..runtime import DEFAULT_MAX_WORK
from .explain import explain_alerts
from .feature_table import FeatureTable, build_features, predict_rows
from .train import check_compatible


def _concat_history(new: pa.Table, history: list[pa.Table]) -> tuple[pa.Table, np.ndarray]:
    """History + new rows as one table with unique tx_ids; returns (table, mask of new rows)."""
    parts, masks, offset = [], [], 0
    for t, is_new in [(h, False) for h in history] + [(new, True)]:
        cols = [c for c in t.column_names if c in ("tx_id", "ts", "src", "dst", "amount_paid", "amount_received",
                                                   "pay_currency", "recv_currency", "payment_format")]
        t = t.select(cols)
        t = t.set_column(0, "tx_id", pa.array(t.column("tx_id").to_numpy() + offset))
        offset = int(t.column("tx_id").to_numpy().max(initial=-1)) + 1
        parts.append(t)
        masks.append(np.full(t.num_rows, is_new))
    return pa.concat_tables(parts, promote_options="default"), np.concatenate(masks)


def _within_look_back(table: pa.Table, new_mask: np.ndarray, patterns) -> tuple[pa.Table, np.ndarray]:
    """`table` and `new_mask` without the history rows that no new row's window reaches: those
    before `Halo.start` of the first new row (its largest window back, or for a lagged window
    that far back from the last history row at or before it, which precedes it in the edge
    order: history takes the smaller tx_ids), as a Dask partition's halo is cut. Mining then
    costs the look-back, not the whole history given."""
    from ..time_partitions import Halo

    ts = table.column("ts").to_numpy()
    if not new_mask.any():
        return table, new_mask
    first = int(ts[new_mask].min())
    before = ts[~new_mask & (ts <= first)]
    keep = new_mask | (ts >= Halo.of(patterns).start(first, before.max() if before.size else None))
    return table.filter(pa.array(keep)), new_mask[keep]


def score(model_dir, table: pa.Table, accounts, patterns, history=(), explain: bool = False, threads=None,
          backend="numba"):
    """Scores for the rows of `table`; history tables give earlier transactions their full window
    (only the history rows inside it are mined: `_within_look_back`).

    Returns (output table = input columns + the accounts' bank and account strings + score +
    alert, explanations list).
    """
    scorer, meta = load_model(model_dir)
    check_compatible(meta, patterns)
    schema_needed = {"ts", "src", "dst", "amount_paid", "amount_received", "pay_currency", "recv_currency",
                     "payment_format", "tx_id"}
    for t in [table, *[h for h, _ in history]]:
        missing = schema_needed - set(t.column_names)
        if missing:
            raise ModelError(f"the data lacks columns the model needs: {sorted(missing)}")
    hist_tables = [h for h, _ in history]
    combined, new_mask = _concat_history(table, hist_tables)
    acc = accounts
    if history:
        # one account index across files: re-key accounts by (bank, account)
        combined, acc = _rekey_accounts(table, accounts, history, combined)
        combined, new_mask = _within_look_back(combined, new_mask, patterns)
    ft, p, alert = score_rows(scorer, meta, combined, acc, patterns, np.flatnonzero(new_mask), backend, threads)
    out = with_account_names(table, accounts)
    out = out.append_column("score", pa.array(p)).append_column("alert", pa.array(alert))
    explanations = alert_explanations(scorer, ft, combined, new_mask, alert, patterns, p, acc) if explain else []
    return out, explanations


def alert_explanations(scorer, ft: FeatureTable, table: pa.Table, new_mask, alert, patterns, scores, accounts
                       ) -> list[dict]:
    """`explain_alerts` for the alerts among the `new_mask` rows of `table` (features `ft`); a
    multi-task scorer also says which typology it sees."""
    if not alert.any():
        return []
    explanations = explain_alerts(ft.graph, table, new_mask, alert, patterns, scores, accounts)
    if hasattr(scorer, "predict_funnel"):
        funnel = scorer.predict_funnel(ft.matrix(np.flatnonzero(new_mask)[alert]))
        for entry, in_attempt, given in zip(explanations, funnel["in_pattern"], funnel["typology_given_pattern"]):
            entry["in_attempt"] = float(in_attempt)
            entry["typology"] = {name: round(float(q), 4) for name, q in zip(TYPOLOGIES, given)}
    return explanations


def score_rows(scorer, meta: dict, table: pa.Table, accounts, patterns, rows: np.ndarray, backend="numba",
               threads=None) -> tuple[FeatureTable, np.ndarray, np.ndarray]:
    """(features, scores, alerts) of `rows` of `table`; the other rows only give look-back. Path searches
    stop at the bound the model was trained with (models from before it was recorded used the default)."""
    ft = build_features(table, accounts, patterns, backend=backend, threads=threads,
                        max_work=int(meta.get("max_work", DEFAULT_MAX_WORK)))
    if ft.names != meta["features"]:
        raise ModelError("the feature schema differs from the model's",
                         hint="train and score with the same blazingaml version and pattern files")
    p = predict_rows(scorer, ft, rows)
    return ft, p, p >= meta["threshold"]


def _rekey_accounts(table, accounts, history, combined) -> tuple[pa.Table, pa.Table]:
    """Map every file's dense account ids through its key table to one shared index; returns the
    re-keyed table and the merged key table (so bank codes, hence `cross_bank`, survive)."""
    if accounts is None or any(a is None for _, a in history):
        raise ModelError("history files need their account key tables (.accounts.parquet) to be joined",
                         hint="convert every file with 'blazingaml convert', or pass CSVs")
    files = [*history, (table, accounts)]
    maps, merged = joined_accounts([acc for _, acc in files])
    for column in ("src", "dst"):
        mapped = np.concatenate([ids[t.column(column).to_numpy()] for (t, _), ids in zip(files, maps)])
        combined = combined.set_column(combined.column_names.index(column), column, pa.array(mapped))
    return combined, merged


def joined_accounts(key_tables) -> tuple[list[np.ndarray], pa.Table]:
    """One account index across files: for each key table, its accounts' index in the join (by
    bank and account, numbered in order of first appearance along the tables), and the joined key
    table."""
    from ..io.ibm_csv import ACCOUNT_SCHEMA

    keys_index: dict[tuple[str, str], int] = {}
    maps = [np.array([keys_index.setdefault(k, len(keys_index))
                      for k in zip(acc.column("bank").to_pylist(), acc.column("account_id").to_pylist())], np.int32)
            for acc in key_tables]
    merged = pa.table([pa.array(np.arange(len(keys_index), dtype=np.int32)),
                       pa.array([b for b, _ in keys_index]), pa.array([a for _, a in keys_index])],
                      schema=ACCOUNT_SCHEMA)
    return maps, merged


ACCOUNT_NAME_COLUMNS = ("from_bank", "from_account", "to_bank", "to_account")


def with_account_names(table: pa.Table, accounts: pa.Table | None) -> pa.Table:
    """`table` with each row's sender and receiver as the input named them (bank and account
    strings, `ACCOUNT_NAME_COLUMNS`); unchanged when there is no key table to name them."""
    if accounts is None:
        return table
    position = np.empty(accounts.num_rows, np.int64)
    position[accounts.column("account").to_numpy()] = np.arange(accounts.num_rows)
    for side, column in (("from", "src"), ("to", "dst")):
        at = pa.array(position[table.column(column).to_numpy()])
        table = table.append_column(f"{side}_bank", accounts.column("bank").take(at))
        table = table.append_column(f"{side}_account", accounts.column("account_id").take(at))
    return table

