"""Time partitions for the Dask engine: cores of whole minutes, halos of the largest window.

A partition's core is a run of whole minutes [start, stop), so transactions tied on a timestamp
always share a core; a worker reads [read_start, read_stop): the core, the halo before (the
largest pattern window W, bound included) and, in participation mode, the halo after ([stop,
stop + W]). Sizes come from rows per minute, so planning never touches the transactions.
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


def plan_partitions(minutes: np.ndarray, counts: np.ndarray, before: int, after: int,
                    max_rows: int) -> list[TimePartition]:
    """Cut time into partitions whose core and halos hold at most `max_rows` transactions.

    `minutes` are the sorted, distinct starts (seconds) of the minutes holding transactions and
    `counts` their row counts; `before`/`after` are the halo lengths in seconds (after 0: none)."""
    minutes = np.asarray(minutes, np.int64)
    cum = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)])
    ends = np.append(minutes[1:], minutes[-1] + MINUTE)        # stop of a core ending after bin j
    read_stops = ends + after + 1 if after else ends            # the halo after includes stop + W
    upto = cum[np.searchsorted(minutes, read_stops, "left")]   # rows before each read stop
    parts, i = [], 0
    while i < len(minutes):
        start = int(minutes[i])
        read_start = start - before
        first = cum[np.searchsorted(minutes, read_start - read_start % MINUTE, "left")]
        j = int(np.searchsorted(upto, first + max_rows, "right"))   # bins i..j-1 fit
        if j <= i:
            raise BlazingError(
                f"a partition needs at least {int(upto[i] - first):,} transactions (the minute at "
                f"{datetime.fromtimestamp(start, timezone.utc):%Y-%m-%d %H:%M} UTC "
                f"and its halos of the largest pattern window) but the memory budget allows {max_rows:,}",
                hint="give each worker more memory (--memory-per-worker), or mine patterns with shorter windows")
        stop = int(ends[j - 1])
        parts.append(TimePartition(len(parts), start, stop, read_start, int(read_stops[j - 1]),
                                   int(cum[j] - cum[i]), int(upto[j - 1] - first)))
        i = j
    return parts


def halo_window(patterns) -> int:
    """The halo a pattern set needs before each partition: its largest window, in seconds.

    A `lagged` window (GFP vertex statistics) starts `window` before the stream's previous
    transaction, which may lie further back than any fixed halo reaches; partitions cannot hold it
    yet, so such patterns are refused here rather than mined wrong."""
    from .errors import BlazingError

    lagged = [p.name for p in patterns if getattr(p, "window_lagged", False)]
    if lagged:
        raise BlazingError(f"patterns with a lagged window ({', '.join(lagged)}) cannot run on the Dask engine yet: "
                           "their window starts before the previous transaction, beyond a partition's halo",
                           hint="leave them out with --only, or use the process engine")
    return max((p.window_seconds for p in patterns), default=0)
