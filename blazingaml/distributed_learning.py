"""Training and evaluation on the Dask engine: features mined on the workers, a bounded sample fitted on the client.

Workers mine each time partition (core and halo, as `distributed.mine_partition`) into a feature
part: its core rows in time order ((ts, tx_id), the order of `pipeline.time_split`), each with its
label, the float32 features `FeatureTable.matrix` hands a scorer (raw fields, then mined counts)
and, given the attempts, its attempt id and typology. Parts follow time, so their concatenation
is the whole data in time order and a protocol's periods (first 80% by time, ...) are row ranges
of it, found from the parts' row counts in their Parquet metadata.

The model is fitted on the client to the sample of `pipeline.training_rows`: every laundering row
of the fitting period and a uniform sample of the legitimate ones (at most `MAX_TRAIN_ROWS` in
all), weighted by the inverse sampling rate. The sample is drawn with the same generator calls
over the same time-ordered rows, so sample, model, threshold and evaluation equal the
single-process engine's. Only that sample travels to the client, plus, for thresholds and test
metrics, one label and one score per validation or test row (and attempt ids for recall per
typology); the workers predict their parts with the fitted scorer.

Why not LightGBM's Dask interface (`lightgbm.DaskLGBMClassifier`): it trains one booster over
all workers' rows, so it would fit every legitimate row rather than a sample; but its result
depends on how rows fall on workers (each builds histograms of its own shard), so a model would
change with the cluster and no longer equal the process engine's, and it opens a port per worker
for its own network (a firewall matter on real clusters). A million-row sample with all
laundering rows fits one machine and is what the process engine trains on already; what grows
with the data (mining, feature extraction, scoring periods) runs on the workers.
"""

from __future__ import annotations

import contextlib
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .distributed import budget_rows, read_partition, run_partitions, write_part
from .distributed_input import transaction_files
from .errors import BlazingError
from .pipeline.feature_table import BATCH_ROWS, build_features
from .pipeline.train import MAX_TRAIN_ROWS, best_threshold, check_attempts, day_split, model_metadata
from .progress import log
from .runtime import DEFAULT_MAX_WORK
from .time_partitions import Halo

ATTEMPT_COLUMNS = ("attempt_id", "typology")


def feature_partition(path: str, part, accounts, patterns, out_dir: str, backend: str, threads: int | None,
                      attempts, max_work: int = DEFAULT_MAX_WORK) -> dict:
    """Mine one partition on a worker and write its core rows in time order: tx_id, ts, label,
    (attempt_id, typology when `attempts` are given) and the float32 features (`FeatureTable.matrix`)."""
    import pyarrow as pa

    from .pipeline.train import attempt_labels

    table, core = read_partition(path, part, accounts)
    if "label" not in table.column_names:
        raise BlazingError(f"{transaction_files(path).source}: training and evaluation need labels, and the input "
                           f"has none ('Is Laundering', or a column mapped to 'label' with --columns)")
    ft = build_features(table, accounts, patterns, backend=backend, threads=threads, max_work=max_work)
    tx_id, rows = table.column("tx_id").to_numpy(), np.flatnonzero(core)
    rows = rows[np.lexsort((tx_id[rows], ft.ts[rows]))]
    part_columns = {"tx_id": tx_id[rows], "ts": ft.ts[rows], "label": ft.labels[rows]}
    if attempts is not None:
        attempt_id, typology = attempt_labels(table, accounts, attempts)
        part_columns.update(attempt_id=attempt_id[rows], typology=typology[rows])
    matrix = ft.matrix(rows)
    part_columns.update({name: matrix[:, j] for j, name in enumerate(ft.names)})
    write_part(pa.table(part_columns), out_dir, part)
    return {"index": part.index, "rows": len(rows), "halo_rows": int((~core).sum()),
            "mine_seconds": ft.mining_seconds}


def read_columns(file: str, lo: int, hi: int, columns: list[str]) -> dict:
    """Columns of rows [lo, hi) of a feature part, as arrays."""
    import pyarrow.parquet as pq

    table = pq.read_table(file, columns=columns).slice(lo, hi - lo)
    return {name: table.column(name).to_numpy() for name in columns}


def sample_rows(file: str, lo: int, hi: int, legitimate, columns: list[str], with_typology: bool):
    """(features, labels, typology or None) of rows [lo, hi) of a feature part, in order: every
    laundering row and the legitimate rows whose ordinals among this range's legitimate ones are
    in `legitimate` (all of them when it is None)."""
    import pyarrow.parquet as pq

    wanted = ["label", *columns, *(["typology"] if with_typology else [])]
    table = pq.read_table(file, columns=wanted).slice(lo, hi - lo)
    y = table.column("label").to_numpy()
    keep = np.ones(len(y), bool)
    if legitimate is not None:
        negative = np.flatnonzero(y == 0)
        keep[negative] = False
        keep[negative[legitimate]] = True
    chosen = np.flatnonzero(keep)
    X = np.empty((len(chosen), len(columns)), np.float32)
    for j, name in enumerate(columns):
        X[:, j] = table.column(name).to_numpy()[chosen]
    typology = table.column("typology").to_numpy()[chosen] if with_typology else None
    return X, y[chosen], typology


def predict_part(file: str, lo: int, hi: int, scorer, columns: list[str]) -> dict:
    """Labels and scores of rows [lo, hi) of a feature part."""
    import pyarrow.parquet as pq

    table = pq.read_table(file, columns=["label", *columns]).slice(lo, hi - lo)
    X = np.empty((table.num_rows, len(columns)), np.float32)
    for j, name in enumerate(columns):
        X[:, j] = table.column(name).to_numpy()
    scores = [scorer.predict_proba(X[a:a + BATCH_ROWS]) for a in range(0, len(X), BATCH_ROWS)]
    return {"label": table.column("label").to_numpy(), "score": np.concatenate(scores) if scores else np.zeros(0)}


@dataclass
class FeatureParts:
    """The feature parts of a data set, in time order, and where each period's rows lie in them."""

    client: object
    files: list[str]
    offsets: np.ndarray           # first row of each part in the whole, time-ordered data
    names: list[str]
    pattern_columns: list[str]

    @property
    def rows(self) -> int:
        return int(self.offsets[-1])

    def periods(self, fractions) -> list[tuple[int, int]]:
        """Row ranges of consecutive periods by time, cut as `pipeline.time_split` cuts them."""
        cuts = [0, *np.cumsum([int(round(f * self.rows)) for f in fractions[:-1]]), self.rows]
        return [(int(a), int(b)) for a, b in zip(cuts, cuts[1:])]

    def _pieces(self, period) -> list[tuple[str, int, int]]:
        """(part file, first row, stop row) of every part that holds rows of `period`."""
        lo, hi = period
        return [(f, max(lo - a, 0), min(hi, b) - a) for f, a, b in zip(self.files, self.offsets, self.offsets[1:])
                if a < hi and b > lo]

    def _read(self, pieces, columns: list[str]) -> list[dict]:
        return self.client.gather([self.client.submit(read_columns, f, lo, hi, columns, pure=False)
                                   for f, lo, hi in pieces])

    def column_values(self, period, columns: list[str]) -> dict:
        """`columns` of the rows of `period`, in time order, read on the workers."""
        parts = self._read(self._pieces(period), columns)
        return {name: np.concatenate([p[name] for p in parts]) for name in columns}

    def training_sample(self, period, max_rows: int, seed: int, with_typology: bool):
        """(X, y, weight, typology) of `pipeline.training_rows` over the rows of `period`, all
        feature columns: the same rows in the same order, drawn with the same generator calls."""
        pieces = self._pieces(period)
        legitimate, weight_of_legitimate = [None] * len(pieces), None
        if period[1] - period[0] > max_rows:
            labels = [p["label"] for p in self._read(pieces, ["label"])]
            positives = sum(int((y == 1).sum()) for y in labels)
            per_piece = np.array([int((y == 0).sum()) for y in labels])
            negatives = int(per_piece.sum())
            keep = max(max_rows - positives, 1)
            # ordinals, among the period's legitimate rows in time order, of those sampled
            sampled = np.sort(np.random.default_rng(seed).choice(negatives, size=min(keep, negatives), replace=False))
            before = np.concatenate([[0], np.cumsum(per_piece)])
            legitimate = [sampled[(sampled >= a) & (sampled < b)] - a for a, b in zip(before, before[1:])]
            weight_of_legitimate = negatives / len(sampled)
        parts = self.client.gather([self.client.submit(sample_rows, f, lo, hi, chosen, self.names, with_typology,
                                                       pure=False) for (f, lo, hi), chosen in zip(pieces, legitimate)])
        X, y = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
        weight = None if weight_of_legitimate is None else np.where(y == 1, 1.0, weight_of_legitimate)
        return X, y, weight, np.concatenate([p[2] for p in parts]) if with_typology else None

    def predict(self, scorer, period, columns: list[str]) -> dict:
        """Labels and scores of the rows of `period`, in time order, each part predicted on a worker."""
        [shared] = self.client.scatter([scorer], broadcast=True, hash=False)
        parts = self.client.gather([self.client.submit(predict_part, f, lo, hi, shared, columns, pure=False)
                                    for f, lo, hi in self._pieces(period)])
        return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


@contextlib.contextmanager
def mined_features(client, path, patterns, beside, backend: str = "numba", threads: int | None = None, attempts=None,
                   memory_per_worker: int | None = None, max_rows: int | None = None, columns: dict | None = None,
                   max_work: int = DEFAULT_MAX_WORK):
    """Mine the labelled transactions at `path` into feature parts in a directory beside `beside`
    (the model or report directory), yield their `FeatureParts`, and remove them afterwards. An
    interrupted run leaves its finished parts staged (`distributed.run_partitions`): the same
    command again mines only the rest."""
    import pyarrow.parquet as pq

    from .pipeline.feature_table import RAW_FEATURES
    from .runtime import compile_patterns

    pattern_columns = list(compile_patterns(patterns, mode="closing").columns) if patterns else []
    names = RAW_FEATURES + pattern_columns
    beside = Path(beside)
    features = beside.with_name(f".{beside.name}.features")
    run = run_partitions(client, path, features, Halo.of(patterns),
                         max_rows or budget_rows(client, memory_per_worker, len(names)),
                         feature_partition, patterns, backend, threads, attempts, max_work, columns=columns)
    try:
        files = [str(features / p.part_name) for p in run.partitions]
        sizes = [pq.read_metadata(f).num_rows for f in files]
        log(f"features: {len(names)} columns for {sum(sizes):,} transactions, mined in {len(files)} time "
            f"partition(s) ({run.halo_rows:,} halo rows)")
        yield FeatureParts(client, files, np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64), names,
                           pattern_columns)
    finally:
        shutil.rmtree(features, ignore_errors=True)


def train_distributed(client, path, patterns, out, model_kind: str = "gbt", threads: int | None = None,
                      backend: str = "numba", seed: int = 0, attempts=None, memory_per_worker: int | None = None,
                      max_rows: int | None = None, max_train_rows: int = MAX_TRAIN_ROWS,
                      columns: dict | None = None, max_work: int = DEFAULT_MAX_WORK) -> dict:
    """`pipeline.train` on the Dask engine: the same model (fit on the first 80% by time,
    F1-best threshold on the last 20%), its features mined on the cluster; saved to `out`."""
    from .models import make_scorer, save_model

    scorer = make_scorer(model_kind, threads=threads or 2, seed=seed)
    check_attempts(scorer, attempts)
    with mined_features(client, path, patterns, out, backend, threads, attempts, memory_per_worker,
                        max_rows, columns, max_work) as parts:
        fit, validation = parts.periods([0.8, 0.2])
        X, y, weight, typology = parts.training_sample(fit, max_train_rows, seed, scorer.needs_typology)
        scorer.fit(X, y, parts.names, weight, typology)
        scored = parts.predict(scorer, validation, parts.names)
    threshold = best_threshold(scored["label"], scored["score"])
    meta = model_metadata(patterns, parts.names, parts.pattern_columns, threshold, len(y), fit[1] - fit[0],
                          validation[1] - validation[0], max_work)
    save_model(out, scorer, meta)
    return meta


def evaluate_distributed(client, path, patterns, report, attempts=None, protocol: str = "paper",
                         model_kind: str = "gbt", threads: int | None = None, backend: str = "numba",
                         ablation: bool = True, seed: int = 0, memory_per_worker: int | None = None,
                         max_rows: int | None = None, max_train_rows: int = MAX_TRAIN_ROWS,
                         columns: dict | None = None, max_work: int = DEFAULT_MAX_WORK):
    """`pipeline.evaluate` on the Dask engine: the same protocols, ablation and recall per
    typology, its features mined on the cluster (staged beside the `report` directory)."""
    import time

    from .models import make_scorer
    from .pipeline.evaluate import assess

    t0 = time.perf_counter()
    fractions = {"paper": [0.8, 0.2], "ibm": [0.6, 0.2, 0.2]}.get(protocol)
    if fractions is None:
        raise BlazingError(f"unknown protocol '{protocol}'", hint="choose paper or ibm")
    probe = make_scorer(model_kind, threads=threads or 2, seed=seed)
    check_attempts(probe, attempts)
    with mined_features(client, path, patterns, report, backend, threads, attempts, memory_per_worker,
                        max_rows, columns, max_work) as parts:
        if protocol == "ibm":   # whole days, as the process engine cuts them (rows are in time order)
            sizes = [len(p) for p in day_split(parts.column_values((0, parts.rows), ["ts"])["ts"], None, fractions)]
            cuts = np.cumsum([0, *sizes])
            periods = [(int(a), int(b)) for a, b in zip(cuts, cuts[1:])]
        else:
            periods = parts.periods(fractions)
        fit, validation, test = periods[0], (periods[1] if protocol == "ibm" else None), periods[-1]
        X, y, weight, typology = parts.training_sample(fit, max_train_rows, seed, probe.needs_typology)
        if len(y) < fit[1] - fit[0]:
            log(f"training on {len(y):,} of {fit[1] - fit[0]:,} training-period transactions: every laundering "
                f"one and a weighted uniform sample of the rest")
        position = {name: j for j, name in enumerate(parts.names)}

        def fit_eval(columns):
            scorer = make_scorer(model_kind, threads=threads or 2, seed=seed)
            scorer.fit(np.ascontiguousarray(X[:, [position[c] for c in columns]]), y, columns, weight, typology)
            threshold = 0.5
            if validation is not None:
                scored = parts.predict(scorer, validation, columns)
                threshold = best_threshold(scored["label"], scored["score"])
            return scorer, threshold, parts.predict(scorer, test, columns)["score"]

        tested = parts.column_values(test, ["label", *(ATTEMPT_COLUMNS if attempts is not None else ())])
        test_attempts = (tested["attempt_id"], tested["typology"]) if attempts is not None else None
        return assess(fit_eval, parts.names, parts.pattern_columns, tested["label"], test_attempts, ablation, t0,
                      parts.rows, protocol)
