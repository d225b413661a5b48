"""An int64 -> int64 hash table in one NumPy array, for Numba kernels: open addressing, linear probing.

`table[i] = (key, value)`, key `EMPTY` for a free slot. One probe reads one 16-byte entry, so a
lookup is usually one cache miss (a Numba typed dict costs several, and a call per operation).
Removing a key shifts the entries after it back (no tombstones), so a table's probe runs stay as
short as its load allows. The caller keeps the load at most 1/2: `with_room` before a kernel
inserts, given a bound on the keys the table may hold by then.
"""

from __future__ import annotations

import numba
import numpy as np

EMPTY = -1   # not a key: pair keys are non-negative, and no finite float64 has these bits
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@numba.njit(cache=True, nogil=True, inline="always")
def _home(key, mask):
    h = np.uint64(key) * _GOLDEN
    return np.int64((h ^ (h >> np.uint64(32))) & np.uint64(mask))


@numba.njit(cache=True, nogil=True, inline="always")
def find(table, key):
    """Position of `key`, or of the free entry where it would go."""
    mask = table.shape[0] - 1
    i = _home(key, mask)
    while table[i, 0] != key and table[i, 0] != EMPTY:
        i = (i + 1) & mask
    return i


@numba.njit(cache=True, nogil=True, inline="always")
def get_or_add(table, key, value):
    """The value of `key`; a missing key is added with `value`, which is returned."""
    i = find(table, key)
    if table[i, 0] == EMPTY:
        table[i, 0], table[i, 1] = key, value
    return table[i, 1]


@numba.njit(cache=True, nogil=True, inline="always")
def increment(table, key):
    """Add 1 to the value of `key` (0 when missing); the value before."""
    i = find(table, key)
    if table[i, 0] == EMPTY:
        table[i, 0], table[i, 1] = key, 0
    table[i, 1] += 1
    return table[i, 1] - 1


@numba.njit(cache=True, nogil=True, inline="always")
def decrement(table, key):
    """Subtract 1 from the value of `key` (present), removing it at 0; the value after."""
    mask = table.shape[0] - 1
    i = find(table, key)
    table[i, 1] -= 1
    left = table[i, 1]
    if left > 0:
        return left
    j = i   # shift back the entries of the probe run after i that may move into the hole
    while True:
        j = (j + 1) & mask
        if table[j, 0] == EMPTY:
            break
        home = _home(table[j, 0], mask)
        if (i < j and i < home <= j) or (i > j and (home > i or home <= j)):
            continue   # its home lies in (i, j]: it must stay after i
        table[i, 0], table[i, 1] = table[j, 0], table[j, 1]
        i = j
    table[i, 0] = EMPTY
    return 0


@numba.njit(cache=True, nogil=True)
def _rehash(old, new):
    for i in range(old.shape[0]):
        if old[i, 0] != EMPTY:
            j = find(new, old[i, 0])
            new[j, 0], new[j, 1] = old[i, 0], old[i, 1]


def empty(keys: int = 0) -> np.ndarray:
    """A table with room for `keys` keys at load 1/2."""
    cap = 64
    while cap < 2 * keys:
        cap *= 2
    table = np.empty((cap, 2), np.int64)
    table[:, 0] = EMPTY
    return table


def with_room(table: np.ndarray, keys: int) -> np.ndarray:
    """`table`, or a copy with room for `keys` keys at load 1/2: at least twice as large when it
    grows (amortised O(1) per key), and smaller when `keys` needs under an eighth of it (a large
    batch once, such as `fit` on a long history, does not leave every later probe a cache miss)."""
    cap = table.shape[0]
    if 2 * keys <= cap and (8 * keys >= cap or cap == 64):
        return table
    new = empty(max(keys, cap) if 2 * keys > cap else keys)
    _rehash(table, new)
    return new
