"""Detection pipeline: feature tables, training, batch scoring with explanations, evaluation."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from . import __version__
from .errors import BlazingError, ModelError
from .graph import TemporalGraph
from .io.vocab import CURRENCIES, PAYMENT_FORMATS, TYPOLOGIES
from .models import load_model, make_scorer, save_model
from .progress import bar, log
from .runtime import compile_patterns, mine_graph

RAW_FEATURES = ["log_amount_paid", "log_amount_received", "pay_currency", "recv_currency", "payment_format",
                "hour", "weekday", "cross_currency", "cross_bank", "self_transfer"]
# Ablation groups of the paper (Table 2), then our typology library.
GFP_GROUPS = [("fan", ("fan_in", "fan_out")), ("degree", ("degree_in", "degree_out")),
              ("cycle", ("temporal_cycle", "simple_cycle")), ("scatter-gather", ("scatter_gather",))]


def raw_features(table: pa.Table, graph: TemporalGraph | None = None) -> pd.DataFrame:
    """Per-transaction features needing no graph mining (account IDs are not features)."""
    ts = table.column("ts").to_numpy()
    src, dst = table.column("src").to_numpy(), table.column("dst").to_numpy()
    pay, recv = table.column("pay_currency").to_numpy(), table.column("recv_currency").to_numpy()
    bank = graph.bank if graph is not None else np.zeros(int(max(src.max(initial=0), dst.max(initial=0))) + 1, np.int32)
    return pd.DataFrame({
        "log_amount_paid": np.log1p(table.column("amount_paid").to_numpy()),
        "log_amount_received": np.log1p(table.column("amount_received").to_numpy()),
        "pay_currency": pay.astype(np.int16), "recv_currency": recv.astype(np.int16),
        "payment_format": table.column("payment_format").to_numpy().astype(np.int16),
        "hour": ((ts // 3600) % 24).astype(np.int16), "weekday": (((ts // 86400) + 4) % 7).astype(np.int16),
        "cross_currency": (pay != recv).astype(np.int8), "cross_bank": (bank[src] != bank[dst]).astype(np.int8),
        "self_transfer": (src == dst).astype(np.int8),
    })


def pattern_hashes(patterns) -> dict:
    """Identity of each pattern's meaning (its checked AST), for model/data compatibility checks."""
    from .ir.lower import lower

    return {p.name: lower(p).digest() for p in patterns}


FEATURE_DTYPE = np.uint16      # mined counts, saturating at 65,535 (half of int32's memory)
MAX_TRAIN_ROWS = 1_000_000     # beyond this, legitimate training rows are sampled (and weighted)
BATCH_ROWS = 131_072           # rows per float32 block handed to the scorer


@dataclass
class FeatureTable:
    """Raw and mined features of every transaction, input order.

    Mined counts stay in one compact matrix (`FEATURE_DTYPE`); scorers get float32 blocks of just
    the rows and columns they need (`matrix`), so a 5M-transaction world never holds a dense float
    copy of all its features."""

    raw: pd.DataFrame            # RAW_FEATURES
    mined: np.ndarray            # [m, len(pattern_columns)] FEATURE_DTYPE
    labels: np.ndarray | None
    ts: np.ndarray
    pattern_columns: list = field(default_factory=list)
    mining_seconds: float = 0.0
    graph: TemporalGraph | None = None

    def __post_init__(self):
        self._raw_values = self.raw.to_numpy(np.float32)

    @property
    def names(self) -> list[str]:
        return list(self.raw.columns) + list(self.pattern_columns)

    def __len__(self) -> int:
        return len(self.raw)

    def matrix(self, rows: np.ndarray, columns: list[str] | None = None) -> np.ndarray:
        """float32 [len(rows), len(columns)] (all features when `columns` is None)."""
        columns = self.names if columns is None else columns
        raw_pos = {c: i for i, c in enumerate(self.raw.columns)}
        mined_pos = {c: i for i, c in enumerate(self.pattern_columns)}
        unknown = [c for c in columns if c not in raw_pos and c not in mined_pos]
        if unknown:
            raise BlazingError(f"unknown feature columns: {unknown[:5]}")
        raw_dst = [j for j, c in enumerate(columns) if c in raw_pos]
        raw_src = [raw_pos[columns[j]] for j in raw_dst]
        mined_dst = [j for j, c in enumerate(columns) if c in mined_pos]
        mined_src = np.array([mined_pos[columns[j]] for j in mined_dst], np.int64)
        out = np.empty((len(rows), len(columns)), np.float32)
        for a in range(0, len(rows), BATCH_ROWS):
            chunk = rows[a:a + BATCH_ROWS]
            if raw_dst:
                out[a:a + len(chunk), raw_dst] = self._raw_values[chunk][:, raw_src]
            if mined_dst:
                out[a:a + len(chunk), mined_dst] = self.mined[chunk][:, mined_src]
        return out


def build_features(table: pa.Table, accounts, patterns, backend="numba", threads=None, mode="closing") -> FeatureTable:
    graph = TemporalGraph.from_table(table, accounts)
    raw = raw_features(table, graph)
    mined, cols, seconds = np.zeros((table.num_rows, 0), FEATURE_DTYPE), [], 0.0
    if patterns:
        t0 = time.perf_counter()
        compiled = compile_patterns(patterns, mode=mode)
        with bar("mining", total=len(compiled.programs), unit="pattern") as advance:
            mined = mine_graph(graph, compiled, backend=backend, threads=threads, progress=advance,
                               dtype=FEATURE_DTYPE)
        cols, seconds = list(compiled.columns), time.perf_counter() - t0
    labels = table.column("label").to_numpy() if "label" in table.column_names else None
    return FeatureTable(raw, mined, labels, table.column("ts").to_numpy(), cols, seconds, graph)


def training_rows(labels: np.ndarray, rows: np.ndarray, max_rows: int = MAX_TRAIN_ROWS, seed: int = 0):
    """Rows to fit on and their weights: all of them when there are at most `max_rows`; otherwise
    every laundering row and a uniform sample of the legitimate ones, each weighted by the inverse
    sampling rate, so predicted probabilities (and the 0.5 threshold) keep their meaning. The rows
    keep the order of `rows`."""
    if len(rows) <= max_rows:
        return rows, None
    y = labels[rows]
    neg_at = np.flatnonzero(y == 0)
    keep = max(max_rows - int((y == 1).sum()), 1)
    rng = np.random.default_rng(seed)
    sampled = rng.choice(len(neg_at), size=min(keep, len(neg_at)), replace=False)
    chosen = y == 1
    chosen[neg_at[sampled]] = True
    # rows stay in the order given (time order from `time_split`): the streaming scorer learns in it
    weight = np.where(y[chosen] == 1, 1.0, len(neg_at) / len(sampled))
    return rows[chosen], weight


def predict_rows(scorer, ft: FeatureTable, rows: np.ndarray, columns: list[str] | None = None) -> np.ndarray:
    """Scores for `rows`, a block at a time."""
    parts = [scorer.predict_proba(ft.matrix(rows[a:a + BATCH_ROWS], columns))
             for a in range(0, len(rows), BATCH_ROWS)]
    return np.concatenate(parts) if parts else np.zeros(0)


def time_split(ts: np.ndarray, tx_id: np.ndarray | None, fractions) -> list[np.ndarray]:
    """Row indices of consecutive periods by (time, input order), e.g. [0.8, 0.2]."""
    order = np.lexsort((np.arange(len(ts)) if tx_id is None else tx_id, ts))
    cuts = np.cumsum([int(round(f * len(ts))) for f in fractions[:-1]])
    return np.split(order, cuts)


def f1_at(y, p, threshold) -> dict:
    pred = p >= threshold
    tp = int((pred & (y == 1)).sum())
    fp = int((pred & (y == 0)).sum())
    fn = int((~pred & (y == 1)).sum())
    tn = int((~pred & (y == 0)).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"f1": f1, "precision": precision, "recall": recall, "confusion": {"tp": tp, "fp": fp, "fn": fn, "tn": tn}}


def best_threshold(y, p) -> float:
    from sklearn.metrics import precision_recall_curve

    if y.sum() == 0:
        return 0.5
    prec, rec, thr = precision_recall_curve(y, p)
    f1 = np.where(prec + rec > 0, 2 * prec * rec / np.maximum(prec + rec, 1e-12), 0)[:-1]
    return float(thr[int(np.argmax(f1))]) if len(thr) else 0.5


# ----------------------------------------------------------------------------- train / score


def attempt_labels(table: pa.Table, accounts, attempts) -> tuple[np.ndarray, np.ndarray]:
    """Each transaction's attempt id and typology code (TYPOLOGIES order) from a Patterns.txt's
    attempts; -1 for transactions in no attempt."""
    from .io.patterns_txt import join_attempts

    joined = join_attempts(table.select(["ts", "src", "dst", "amount_paid", "amount_received", "pay_currency",
                                         "recv_currency", "payment_format"]).to_pandas(),
                           accounts.to_pandas(), attempts)
    return joined["attempt_id"].to_numpy(), joined["typology"].to_numpy().astype(np.int64)


def check_attempts(scorer, attempts) -> None:
    """A scorer that learns typologies cannot be trained without the laundering attempts."""
    if scorer.needs_typology and attempts is None:
        raise BlazingError(f"the {scorer.kind} model learns typologies and needs the laundering attempts",
                           hint="add --patterns-file <Patterns.txt> (the attempts of the training data)")


def train(table, accounts, patterns, model_kind="gbt", out=None, threads=None, backend="numba", seed=0,
          attempts=None) -> dict:
    """Fit on the first 80% by time, choose the F1-best threshold on the last 20%, save.

    `attempts` (a parsed Patterns.txt) gives the typology labels a multi-task scorer needs."""
    if "label" not in table.column_names:
        raise BlazingError("training needs labels: the input has no 'Is Laundering' column")
    scorer = make_scorer(model_kind, threads=threads or 2, seed=seed)
    check_attempts(scorer, attempts)
    ft = build_features(table, accounts, patterns, backend=backend, threads=threads)
    fit_idx, val_idx = time_split(ft.ts, table.column("tx_id").to_numpy(), [0.8, 0.2])
    rows, weight = training_rows(ft.labels, fit_idx, seed=seed)
    typology = attempt_labels(table, accounts, attempts)[1][rows] if scorer.needs_typology else None
    scorer.fit(ft.matrix(rows), ft.labels[rows], ft.names, weight, typology)
    threshold = best_threshold(ft.labels[val_idx], predict_rows(scorer, ft, val_idx))
    windows = {p.name: p.window_seconds for p in patterns}
    meta = {
        "features": ft.names, "raw_features": RAW_FEATURES, "pattern_columns": ft.pattern_columns,
        "patterns": pattern_hashes(patterns), "pattern_sources": {p.name: p.source for p in patterns},
        "windows": windows, "max_window_seconds": max(windows.values(), default=0), "threshold": threshold,
        "mode": "closing", "blazingaml": __version__, "trained_rows": int(len(rows)),
        "training_period_rows": int(len(fit_idx)),
        "validation_rows": int(len(val_idx)),
    }
    if out is not None:
        save_model(out, scorer, meta)
    return meta


def model_patterns(meta: dict, paths=None) -> list:
    """The patterns a model was trained with, read from `paths` (default: the files it recorded);
    other patterns of the same files are left out (a model may use a few of a file's patterns)."""
    from .dsl.parser import load_patterns

    paths = paths or sorted(set(meta["pattern_sources"].values()))
    return [p for p in load_patterns(paths) if p.name in meta["patterns"]]


def check_compatible(meta: dict, patterns) -> None:
    hashes = pattern_hashes(patterns)
    if hashes != meta.get("patterns"):
        missing = sorted(set(meta.get("patterns", {})) - set(hashes))
        extra = sorted(set(hashes) - set(meta.get("patterns", {})))
        changed = sorted(n for n in set(hashes) & set(meta.get("patterns", {})) if hashes[n] != meta["patterns"][n])
        parts = [f"missing {missing}" if missing else "", f"unexpected {extra}" if extra else "",
                 f"changed {changed}" if changed else ""]
        raise ModelError("the patterns differ from those the model was trained with: " +
                         "; ".join(p for p in parts if p),
                         hint="score with the pattern files the model was trained on (model.json lists them)")


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


def score(model_dir, table: pa.Table, accounts, patterns, history=(), explain: bool = False, threads=None,
          backend="numba"):
    """Scores for the rows of `table`; history tables give earlier transactions their full window.

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
    ft, p, alert = score_rows(scorer, meta, combined, acc, patterns, np.flatnonzero(new_mask), backend, threads)
    out = with_account_names(table, accounts)
    out = out.append_column("score", pa.array(p)).append_column("alert", pa.array(alert))
    explanations = []
    if explain and alert.any():
        explanations = explain_alerts(ft.graph, combined, new_mask, alert, patterns, p, acc)
        if hasattr(scorer, "predict_funnel"):   # a multi-task scorer also says which typology it sees
            funnel = scorer.predict_funnel(ft.matrix(np.flatnonzero(new_mask)[alert]))
            for entry, in_attempt, given in zip(explanations, funnel["in_pattern"], funnel["typology_given_pattern"]):
                entry["in_attempt"] = float(in_attempt)
                entry["typology"] = {name: round(float(q), 4) for name, q in zip(TYPOLOGIES, given)}
    return out, explanations


def score_rows(scorer, meta: dict, table: pa.Table, accounts, patterns, rows: np.ndarray, backend="numba",
               threads=None) -> tuple[FeatureTable, np.ndarray, np.ndarray]:
    """(features, scores, alerts) of `rows` of `table`; the other rows only give look-back."""
    ft = build_features(table, accounts, patterns, backend=backend, threads=threads)
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
    from .io.ibm_csv import ACCOUNT_SCHEMA

    keys_index: dict[tuple[str, str], int] = {}
    mapped_src, mapped_dst = [], []
    for t, acc in [*history, (table, accounts)]:
        keys = zip(acc.column("bank").to_pylist(), acc.column("account_id").to_pylist())
        ids = np.array([keys_index.setdefault(k, len(keys_index)) for k in keys], np.int32)
        mapped_src.append(ids[t.column("src").to_numpy()])
        mapped_dst.append(ids[t.column("dst").to_numpy()])
    combined = combined.set_column(combined.column_names.index("src"), "src", pa.array(np.concatenate(mapped_src)))
    combined = combined.set_column(combined.column_names.index("dst"), "dst", pa.array(np.concatenate(mapped_dst)))
    merged = pa.table([pa.array(np.arange(len(keys_index), dtype=np.int32)),
                       pa.array([b for b, _ in keys_index]), pa.array([a for _, a in keys_index])],
                      schema=ACCOUNT_SCHEMA)
    return combined, merged


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


def explain_alerts(graph: TemporalGraph, combined: pa.Table, new_mask, alert, patterns, scores,
                   accounts: pa.Table | None = None) -> list[dict]:
    """Per alert, the pattern instances its transaction closes (accounts as the input named them:
    bank and account id; tx_ids, times, amounts). Each search looks only inside the pattern's
    window and stops at mining's work bound; an alert whose search hit it says `"truncated"`."""
    from .backends.reference import ReferenceInterpreter
    from .ir.lower import lower
    from .runtime import DEFAULT_MAX_WORK

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


@dataclass
class Evaluation:
    metrics: dict
    ablation: list
    typology_recall: dict
    typology_tx_recall: dict
    importance: dict
    curves: dict
    seconds: float
    rows: int
    protocol: str


def evaluate(table, accounts, patterns, attempts=None, protocol="paper", model_kind="gbt", threads=None,
             backend="numba", ablation=True, seed=0) -> Evaluation:
    from sklearn.metrics import average_precision_score, precision_recall_curve

    t0 = time.perf_counter()
    if "label" not in table.column_names:
        raise BlazingError("evaluation needs labels: the input has no 'Is Laundering' column")
    check_attempts(make_scorer(model_kind, threads=threads or 2, seed=seed), attempts)
    ft = build_features(table, accounts, patterns, backend=backend, threads=threads)
    log(f"features: {len(ft.names)} columns for {len(ft):,} transactions "
        f"(pattern mining {ft.mining_seconds:.1f} s)")
    tx_id = table.column("tx_id").to_numpy()
    if protocol == "paper":
        train_idx, test_idx = time_split(ft.ts, tx_id, [0.8, 0.2])
        val_idx = None
    elif protocol == "ibm":
        train_idx, val_idx, test_idx = time_split(ft.ts, tx_id, [0.6, 0.2, 0.2])
    else:
        raise BlazingError(f"unknown protocol '{protocol}'", hint="choose paper or ibm")
    y = ft.labels
    fit_rows, weight = training_rows(y, train_idx, seed=seed)
    if len(fit_rows) < len(train_idx):
        log(f"training on {len(fit_rows):,} of {len(train_idx):,} training-period transactions: every laundering "
            f"one and a weighted uniform sample of the rest")
    attempt_id, typology = attempt_labels(table, accounts, attempts) if attempts is not None else (None, None)

    def fit_eval(columns):
        scorer = make_scorer(model_kind, threads=threads or 2, seed=seed)
        scorer.fit(ft.matrix(fit_rows, columns), y[fit_rows], columns, weight,
                   typology[fit_rows] if scorer.needs_typology else None)
        threshold = 0.5
        if val_idx is not None:
            threshold = best_threshold(y[val_idx], predict_rows(scorer, ft, val_idx, columns))
        return scorer, threshold, predict_rows(scorer, ft, test_idx, columns)

    all_cols = ft.names
    scorer, threshold, p = fit_eval(all_cols)
    yt = y[test_idx]
    metrics = f1_at(yt, p, threshold)
    metrics["threshold"] = threshold
    metrics["pr_auc"] = float(average_precision_score(yt, p)) if yt.sum() else 0.0
    prec, rec, _ = precision_recall_curve(yt, p) if yt.sum() else (np.array([1.0]), np.array([0.0]), None)

    steps = []
    if ablation:
        cols = list(RAW_FEATURES)
        steps.append(("raw", list(cols)))
        used = set()
        for label, group in GFP_GROUPS:
            present = [c for c in ft.pattern_columns if c.split(".")[0] in group]
            if present:
                cols += present
                used |= set(group)
                steps.append((f"+{label}", list(cols)))
        rest = [c for c in ft.pattern_columns if c.split(".")[0] not in used]
        if rest:
            steps.append(("+typologies" if used else "+patterns", cols + rest))
    ablation_rows = []
    for label, cols in steps:
        if len(cols) == len(all_cols):
            f1 = metrics["f1"]
        else:
            _, thr, pp = fit_eval(cols)
            f1 = f1_at(yt, pp, thr)["f1"]
        ablation_rows.append({"features": label, "f1": f1})

    typ_recall, typ_tx_recall = {}, {}
    if attempts is not None:
        att, typ = attempt_id[test_idx], typology[test_idx]
        pred = p >= threshold
        for code, name in enumerate(TYPOLOGIES):
            mask = (typ == code) & (att >= 0)
            if not mask.any():
                continue
            ids = np.unique(att[mask])
            hit = [pred[mask & (att == a)].any() for a in ids]
            typ_recall[name] = float(np.mean(hit))
            typ_tx_recall[name] = float(pred[mask].mean())
    importance = {}
    if hasattr(scorer, "importance"):
        importance = scorer.importance(all_cols)
    return Evaluation(metrics, ablation_rows, typ_recall, typ_tx_recall, importance,
                      {"precision": prec.tolist(), "recall": rec.tolist(), "scores": p.tolist(), "labels": yt.tolist()},
                      time.perf_counter() - t0, table.num_rows, protocol)


def evaluation_json(ev: Evaluation) -> dict:
    m = ev.metrics
    return {"f1": m["f1"], "precision": m["precision"], "recall": m["recall"], "pr_auc": m["pr_auc"],
            "confusion": m["confusion"], "threshold": m["threshold"], "ablation": ev.ablation,
            "typology_recall": ev.typology_recall, "rows": ev.rows, "seconds": round(ev.seconds, 2),
            "protocol": ev.protocol}
