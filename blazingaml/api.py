"""The Python API: compile patterns, mine features, train and score, on the data a data scientist
holds: a pandas DataFrame, an Arrow table, or a file path (IBM Trans.csv or Parquet).

Tables in the IBM schema (as pandas reads a Trans.csv) need no mapping; any other table is read
through `columns`, {field: column} (fields in `blazingaml.io.user_tables`). Every function is a thin
layer over the pipeline the command line runs, so both give the same numbers.

    import blazingaml.api as bz

    patterns = bz.compile_patterns("patterns/", only=["fan_in", "scatter_gather"])
    features = bz.mine(df, patterns)                        # DataFrame: tx_id + one column per bin
    meta = bz.train(df, patterns, out="model/")
    scored = bz.score("model/", new_df, history=[df], explain=True)
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pyarrow as pa
from sklearn.base import BaseEstimator, TransformerMixin

from .errors import BlazingError
from .io.transactions import REQUIRED, load_transactions, user_transactions

def compile_patterns(paths, only=None) -> list:
    """Parse, check and compile the patterns of files or directories (`only`: just these names).

    Returns the checked patterns, which every other function here takes; errors name file:line:col."""
    from .dsl.parser import load_patterns
    from .runtime import compile_patterns as lower_and_optimise

    patterns = load_patterns([paths] if isinstance(paths, (str, os.PathLike)) else paths, only=only)
    lower_and_optimise(patterns)
    return patterns


def read_transactions(data, columns: dict[str, str] | None = None) -> tuple[pa.Table, pa.Table | None]:
    """(normalised transactions, account key table) of a DataFrame, an Arrow table or a file."""
    if isinstance(data, (str, os.PathLike)):
        return load_transactions(data, columns=columns)
    if isinstance(data, pd.DataFrame):
        data = pa.Table.from_pandas(data, preserve_index=False)
    if not isinstance(data, pa.Table):
        raise BlazingError(f"transactions must be a pandas DataFrame, an Arrow table or a file path, "
                           f"not {type(data).__name__}")
    if columns is None and set(REQUIRED) <= set(data.column_names):
        return data, None    # already normalised (accounts then have no names)
    return user_transactions(data, columns, "the table")


def _patterns(patterns) -> list:
    return compile_patterns(patterns) if isinstance(patterns, (str, os.PathLike)) else list(patterns)


def mine(data, patterns, columns=None, backend: str = "numba", threads: int | None = None,
         mode: str = "closing") -> pd.DataFrame:
    """Per-transaction pattern counts: tx_id, one column per (pattern, bin), and the
    `<pattern>.work_limited` flags, rows in input order (as `blazingaml mine` writes them)."""
    from .features import mine_table

    table, accounts = read_transactions(data, columns)
    return mine_table(table, accounts, _patterns(patterns), backend=backend, mode=mode, threads=threads
                      ).table.to_pandas()


class PatternFeatures(TransformerMixin, BaseEstimator):
    """scikit-learn transformer: transactions in, the detector's feature matrix out (raw
    transaction features then mined pattern counts, float32, one row per transaction).

    Mining looks back over each pattern's window within the data given to `transform`, so
    transform a period together with the history it needs."""

    def __init__(self, patterns="patterns", columns=None, backend="numba", threads=None):
        self.patterns = patterns
        self.columns = columns
        self.backend = backend
        self.threads = threads

    def fit(self, X, y=None):
        """Compile the patterns (nothing is learnt from the data)."""
        from .pipeline import RAW_FEATURES
        from .runtime import compile_patterns as lower_and_optimise

        self.patterns_ = _patterns(self.patterns)
        self.feature_names_out_ = list(RAW_FEATURES) + list(lower_and_optimise(self.patterns_).columns)
        return self

    def transform(self, X) -> pd.DataFrame:
        from .pipeline import build_features

        if not hasattr(self, "patterns_"):
            raise BlazingError("PatternFeatures is not fitted yet", hint="call fit (or fit_transform) first")
        table, accounts = read_transactions(X, self.columns)
        ft = build_features(table, accounts, self.patterns_, backend=self.backend, threads=self.threads)
        return pd.DataFrame(ft.matrix(np.arange(len(ft))), columns=ft.names)

    def get_feature_names_out(self, input_features=None):
        """Names of the columns `transform` returns (raw features, then `<pattern>.<bin>`)."""
        return np.asarray(self.feature_names_out_, dtype=object)


def train(data, patterns, out, model: str = "gbt", columns=None, attempts=None, threads=None,
          backend: str = "numba") -> dict:
    """Train a detector on labelled transactions and save it to `out` (no pickle); returns its
    metadata (features, threshold, ...). `attempts`: a Patterns.txt path, for typology models."""
    from .io.patterns_txt import read_patterns
    from .pipeline import train as train_model

    table, accounts = read_transactions(data, columns)
    return train_model(table, accounts, _patterns(patterns), model_kind=model, out=out, threads=threads,
                       backend=backend, attempts=read_patterns(attempts) if attempts else None)


def score(model, data, history=(), columns=None, explain: bool = False, patterns=None, threads=None,
          backend: str = "numba") -> pd.DataFrame:
    """The input's rows with the accounts' names, `score` and `alert`. `history`: earlier data
    (same forms) giving the first rows their look-back window. With `explain`, an `explanation`
    column holds, for each alert, the pattern instances behind it (None elsewhere). `patterns`:
    pattern files to read the model's patterns from (default: the files it was trained with)."""
    from .models import load_model
    from .pipeline import model_patterns, score as score_rows

    _, meta = load_model(model)
    table, accounts = read_transactions(data, columns)
    past = [read_transactions(h, columns) for h in history]
    chosen = model_patterns(meta, [patterns] if isinstance(patterns, (str, os.PathLike)) else patterns)
    out, explanations = score_rows(model, table, accounts, chosen, history=past, explain=explain, threads=threads,
                                   backend=backend)
    frame = out.to_pandas()
    if explain:
        by_row = {e["row"]: e for e in explanations}
        frame["explanation"] = [by_row.get(i) for i in range(len(frame))]
    return frame
