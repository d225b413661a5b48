"""Checks across the rows of a transaction file: time order and repeated rows.

IBM Trans.csv files are nearly, not strictly, sorted by time (their first rows read 00:20, 00:20,
00:00, 00:02). A row dated far earlier than rows above it is another matter: two exports joined in
the wrong order, a mistyped year. `RowOrder` flags rows more than `max_disorder` seconds earlier
than the latest row before them, and counts rows that repeat an earlier row exactly (same time,
accounts, amounts, currencies and format), which it reports but keeps: identical transactions in
the same minute do occur, and dropping one would lose a transaction.

Repeats are looked for among rows at most `max_disorder` apart (they share a timestamp, and rows
further apart are out of order anyway), so memory stays bounded whatever the file's size.
"""

from __future__ import annotations

import numpy as np

DEFAULT_MAX_DISORDER = 24 * 3600
_MIX = np.uint64(0x9E3779B97F4A7C15)


def _row_hashes(columns: list[np.ndarray]) -> np.ndarray:
    """A 64-bit hash of each row's values (the columns' bit patterns, mixed column by column)."""
    h = np.zeros(len(columns[0]), np.uint64)
    with np.errstate(over="ignore"):
        for col in columns:
            bits = np.ascontiguousarray(col).view(f"u{col.dtype.itemsize}").astype(np.uint64)
            h = (h ^ bits) * _MIX
            h ^= h >> np.uint64(29)
    return h


def describe_gap(seconds: int) -> str:
    """'2 days 3 h', '5 h 20 min', '7 min'."""
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} day{'s' if days > 1 else ''}" + (f" {hours} h" if hours else "")
    if hours:
        return f"{hours} h" + (f" {minutes} min" if minutes else "")
    return f"{minutes} min"


class RowOrder:
    """Running state of the time-order and repeated-row checks over a file's blocks, in order."""

    def __init__(self, max_disorder: int | None = DEFAULT_MAX_DISORDER):
        self.max_disorder = max_disorder          # None: any order is accepted
        self.latest_ts: int | None = None
        self.latest_line = 0
        self.repeated_rows = 0
        self.first_repeat: tuple[int, int] | None = None   # (line, the earlier line it repeats)
        self._recent_hash = np.empty(0, np.uint64)
        self._recent_line = np.empty(0, np.int64)
        self._recent_ts = np.empty(0, np.int64)

    def out_of_order(self, ts: np.ndarray, lines: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(mask of rows too far out of order, the time and the line of the latest row above each)."""
        n = len(ts)
        if self.max_disorder is None or n == 0:
            return np.zeros(n, bool), np.zeros(n, np.int64), np.zeros(n, np.int64)
        carry = self.latest_ts if self.latest_ts is not None else int(ts.min())   # the first block: no row above
        prefix = np.maximum.accumulate(ts)
        # the latest row above row i: the running maximum of the rows before it, and where it was reached
        latest_in_block = np.concatenate([[carry], prefix[:-1]])
        reached_at = np.maximum.accumulate(np.where(ts == prefix, np.arange(n), 0))
        where_in_block = np.concatenate([[0], reached_at[:-1]])
        from_block = latest_in_block > carry
        latest = np.where(from_block, latest_in_block, carry)
        latest_line = np.where(from_block, lines[where_in_block], self.latest_line)
        return ts < latest - self.max_disorder, latest, latest_line

    def accept(self, ts: np.ndarray, lines: np.ndarray, values: list[np.ndarray]) -> None:
        """Record kept rows (after `out_of_order`): advance the running maximum, count repeats."""
        if len(ts) == 0:
            return
        k = int(np.argmax(ts))
        if self.latest_ts is None or ts[k] > self.latest_ts:
            self.latest_ts, self.latest_line = int(ts[k]), int(lines[k])
        hashes = _row_hashes([ts, *values])
        all_hash = np.concatenate([self._recent_hash, hashes])
        all_line = np.concatenate([self._recent_line, lines])
        all_ts = np.concatenate([self._recent_ts, ts])
        order = np.argsort(all_hash, kind="stable")
        sorted_hash = all_hash[order]
        repeat = np.concatenate([[False], sorted_hash[1:] == sorted_hash[:-1]])
        if repeat.any():
            run_start = np.maximum.accumulate(np.where(repeat, 0, np.arange(len(order))))
            new = repeat & (order >= len(self._recent_hash))
            if new.any():
                self.repeated_rows += int(new.sum())
                first = np.flatnonzero(new)[np.argmin(all_line[order[new]])]
                pair = (int(all_line[order[first]]), int(all_line[order[run_start[first]]]))
                if self.first_repeat is None or pair[0] < self.first_repeat[0]:
                    self.first_repeat = pair
        keep = all_ts >= self.latest_ts - (self.max_disorder or DEFAULT_MAX_DISORDER)
        self._recent_hash, self._recent_line, self._recent_ts = all_hash[keep], all_line[keep], all_ts[keep]
