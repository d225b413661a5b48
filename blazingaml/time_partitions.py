"""Time partitions for the Dask engine: cores of whole minutes, halos of the windows that reach them.

A partition's core is a run of whole minutes [start, stop), so transactions tied on a timestamp
always share a core; a worker reads [read_start, read_stop): the core, the halo before (the
largest pattern window W, bound included, or for a `lagged` window W before the last
transaction preceding the core: `Halo`) and, in participation mode, the halo after ([stop,
stop + W], and for a lagged window up to the first transaction whose own window starts after
the core). Sizes come from rows per minute, so planning never touches the transactions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np

from .errors import BlazingError

MINUTE = 60   # partition cores are whole minutes (IBM timestamps are minutes)


def bytes_per_row(n_columns: int) -> int:
    """Worker memory one transaction takes while its partition is mined, from the layouts: the
    input columns read and filtered (~100 B), the graph's per-edge arrays and two CSR directions
    with two views each (~150 B), and per feature column an int32 count plus its Arrow copy."""
    return 256 + 8 * n_columns


@dataclass(frozen=True)
class Halo:
    """How far the windows of a pattern set reach beyond the transactions they are asked about.

    A trigger at time t sees [t - window, t]; in a `lagged` window it sees [t' - window, t], t'
    the time of the transaction before it in the edge order (the stream's, not the account's:
    `backends/window_sweeps.window_lower_bounds`). So among triggers at or after a time `first`,
    only the first one's window can start before `first - window`: at `previous - lagged`,
    `previous` the time of the last transaction before `first`; every later trigger's previous
    transaction is itself at or after `first`. That one bound serves a partition's halo and
    `score --history`'s look-back (`start`)."""

    window: int          # the largest window of the set, seconds
    lagged: int = 0      # the largest lagged window (0: the set has none)
    after: bool = False  # participation mode: also the later triggers whose instances hold a given transaction

    @classmethod
    def of(cls, patterns, mode: str = "closing") -> "Halo":
        """The halo of `patterns` mined in `mode` (closing or participation)."""
        return cls(max((p.window_seconds for p in patterns), default=0),
                   max((p.window_seconds for p in patterns if p.window_lagged), default=0),
                   mode == "participation")

    def start(self, first: int, previous: int | None) -> int:
        """The earliest time the windows of the triggers at or after `first` reach: `first -
        window`, or for a lagged window `previous - lagged` when that is earlier (`previous`: the
        time of the last transaction before `first`, or any earlier time, which only reads more;
        None when there is none)."""
        if self.lagged and previous is not None:
            return min(first - self.window, int(previous) - self.lagged)
        return first - self.window


@dataclass(frozen=True)
class TimePartition:
    """One partition: its core [start, stop) and what a worker reads, [read_start, read_stop)."""

    index: int
    start: int
    stop: int
    read_start: int
    read_stop: int
    rows: int         # core rows
    read_rows: int    # core and halo rows (at minute resolution: an upper bound)

    @property
    def part_name(self) -> str:
        return f"part-{self.index:05d}.parquet"


def plan_partitions(minutes: np.ndarray, counts: np.ndarray, halo: Halo, max_rows: int) -> list[TimePartition]:
    """Cut time into partitions whose core and halos hold at most `max_rows` transactions.

    `minutes` are the sorted, distinct starts (seconds) of the minutes holding transactions and
    `counts` their row counts. The halo before a core starting at minute i is `halo.start` with
    the previous busy minute's start standing for the last transaction before the core (it is no
    later, so the halo holds that transaction and its window). The halo after (participation
    mode) reaches stop + W, and for a lagged window through the first busy minute starting at or
    after stop + lagged: transactions after that minute have a previous transaction at or after
    stop + lagged, so their windows start after the core."""
    minutes = np.asarray(minutes, np.int64)
    cum = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)])
    ends = np.append(minutes[1:], minutes[-1] + MINUTE)        # stop of a core ending after bin j
    read_stops = ends
    if halo.after:                                             # the halo after includes stop + W
        read_stops = ends + halo.window + 1
        if halo.lagged:
            reached = np.minimum(np.searchsorted(minutes, ends + halo.lagged, "left"), len(minutes) - 1)
            read_stops = np.maximum(read_stops, minutes[reached] + MINUTE)
    upto = cum[np.searchsorted(minutes, read_stops, "left")]   # rows before each read stop
    parts, i = [], 0
    while i < len(minutes):
        start = int(minutes[i])
        read_start = halo.start(start, minutes[i - 1] if i else None)
        first = cum[np.searchsorted(minutes, read_start - read_start % MINUTE, "left")]
        j = int(np.searchsorted(upto, first + max_rows, "right"))   # bins i..j-1 fit
        if j <= i:
            raise BlazingError(
                f"a partition needs at least {int(upto[i] - first):,} transactions (the minute at "
                f"{datetime.fromtimestamp(start, timezone.utc):%Y-%m-%d %H:%M} UTC "
                f"and its halos of the pattern windows) but the memory budget allows {max_rows:,}",
                hint="give each worker more memory (--memory-per-worker), or mine patterns with shorter windows")
        stop = int(ends[j - 1])
        parts.append(TimePartition(len(parts), start, stop, read_start, int(read_stops[j - 1]),
                                   int(cum[j] - cum[i]), int(upto[j - 1] - first)))
        i = j
    return parts
