"""`score --history` on the Dask engine: earlier transactions as the look-back of the partitions that reach them.

The process engine (`pipeline.score`) joins history files to the input: every file's `tx_id`s
shifted past the previous file's, so a history row comes before an input row of the same
timestamp, and accounts keyed by bank and account across the files. Here the same join is made
per partition: a worker joins the history rows of its read range to its input rows with the same
`tx_id` shifts and the same account index (`pipeline.score.joined_accounts`); the part it writes
keeps the input's own columns. The plan counts the history's rows per minute as it counts the
input's, so halos (the lagged ones too) reach back into the history exactly as they reach into
earlier input rows, and only partitions whose cores hold input rows run.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np

from .distributed_input import TransactionFiles, load_key_table, normalised_files, parquet_file
from .errors import ModelError


@dataclass(frozen=True)
class History:
    """The history sources of a run, joined to its input as `pipeline.score` joins them."""

    sources: tuple[TransactionFiles, ...]   # normalised, in the order given
    source_accounts: tuple                  # their key tables
    shifts: tuple[int, ...]                 # added to each source's tx_ids
    input_shift: int                        # added to the input's tx_ids
    account_maps: tuple                     # per source, then the input: its account index -> the joined index
    accounts: object                        # the joined key table (`pipeline.score.joined_accounts`)

    @property
    def identity(self) -> tuple:
        return tuple(s.identity for s in self.sources)

    def join(self, table, lo: int, hi: int):
        """(the history rows with ts in [lo, hi) and then `table`'s rows, as one table of the
        normalised columns with joined tx_ids and accounts; mask of `table`'s rows): on a worker."""
        import pyarrow as pa

        from .distributed import read_rows
        from .io.ibm_csv import NORMALISED_SCHEMA

        names = NORMALISED_SCHEMA.names
        pieces = []
        for source, accounts, shift, mapping in zip(self.sources, self.source_accounts, self.shifts,
                                                    self.account_maps):
            rows = read_rows(source, lo, hi, accounts)
            pieces.append(_shifted(rows.select(names), shift, mapping))
        pieces.append(_shifted(table.select(names), self.input_shift, self.account_maps[-1]))
        joined = pa.concat_tables(pieces)
        return joined, np.arange(joined.num_rows) >= joined.num_rows - table.num_rows


def _shifted(table, shift: int, mapping):
    """`table` with `shift` added to its tx_ids and its accounts renumbered by `mapping`."""
    import pyarrow as pa

    table = table.set_column(0, "tx_id", pa.array(table.column("tx_id").to_numpy() + shift))
    for column in ("src", "dst"):
        at = table.column_names.index(column)
        table = table.set_column(at, column, pa.array(mapping[table.column(column).to_numpy()]))
    return table


def max_tx_id(inputs: TransactionFiles, index: int) -> int:
    """The largest tx_id of the `index`-th file (-1 when empty): a worker task."""
    with parquet_file(inputs, index) as pf:
        return int(pf.read(columns=["tx_id"]).column("tx_id").to_numpy().max(initial=-1))


def joined_history(client, sources, inputs: TransactionFiles, columns, stack: contextlib.ExitStack,
                   staging_name) -> History:
    """The `History` of `sources` (paths as `--history` gives them) for the normalised input
    `inputs`; sources that need normalising are normalised on the workers into staging
    directories `staging_name(k)`, removed when `stack` closes. The client reads only the key
    tables and one number per file."""
    from .pipeline.score import joined_accounts

    accounts = load_key_table(inputs)
    normalised = [stack.enter_context(normalised_files(client, s, columns, staging_name(k)))
                  for k, s in enumerate(sources)]
    tables = [load_key_table(h) for h in normalised]
    if accounts is None or any(t is None for t in tables):
        raise ModelError("history files need their account key tables (.accounts.parquet) to be joined",
                         hint="convert every file with 'blazingaml convert', or pass CSVs")
    maps, merged = joined_accounts([*tables, accounts])
    shifts, offset = [], 0       # as pipeline.score._concat_history shifts them
    for h in normalised:
        top = max(client.gather(client.map(max_tx_id, [h] * len(h.files), range(len(h.files)), pure=False)))
        shifts.append(offset)
        offset = top + offset + 1 if top >= 0 else 0
    return History(tuple(normalised), tuple(tables), tuple(shifts), offset, tuple(maps), merged)
