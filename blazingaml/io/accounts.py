"""Dense account ids for (bank, account) keys, assigned in order of first appearance.

Keys are interned straight from the Arrow string buffers of a block's four key columns by a
Numba open-addressing hash table (FNV-1a over the bytes of "bank:account"; each slot holds the id,
the length and the first 24 key bytes, so a lookup reads one cache line and compares exactly),
visiting sender then receiver of each row so ids follow first appearance in row order, whatever
the block size. The key bytes live in one growing byte arena; the key table is built from it
once, at the end.
"""

from __future__ import annotations

import numba
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .columns import arrow_column

_FNV_OFFSET = np.uint64(14695981039346656037)
_FNV_PRIME = np.uint64(1099511628211)
_COLON = 58
_INLINE_WORDS = 3   # key bytes kept in the slot itself (24): bank IDs and IBM account IDs fit


@numba.njit(cache=True, nogil=True)
def _key_words(bank, b0, b1, acct, a0, a1, words):
    """FNV-1a hash of "bank:account" and its first 24 bytes packed into `words`."""
    h = _FNV_OFFSET
    for w in range(_INLINE_WORDS):
        words[w] = 0
    k = 0
    for j in range(b0, b1 + 1 + a1 - a0):
        if j < b1:
            byte = bank[j]
        elif j == b1:
            byte = _COLON
        else:
            byte = acct[a0 + j - b1 - 1]
        h = (h ^ np.uint64(byte)) * _FNV_PRIME
        if k < 8 * _INLINE_WORDS:
            words[k >> 3] |= np.int64(byte) << np.int64(8 * (k & 7))
        k += 1
    return h ^ (h >> np.uint64(29))


@numba.njit(cache=True, nogil=True)
def _insert_slot(slots, h, head, words):
    mask = slots.shape[0] - 1
    t = np.int64(h & np.uint64(mask))
    while slots[t, 0] >= 0:
        t = (t + 1) & mask
    slots[t, 0] = head
    for w in range(_INLINE_WORDS):
        slots[t, 1 + w] = words[w]


@numba.njit(cache=True, nogil=True)
def _intern_block(bank, acct, ranges, slots, arena, key_off, count):
    """Ids of the senders and receivers of a block's rows, new keys numbered in order of first
    appearance; returns them with the (possibly regrown) state. Row r's sender is the key
    "bank[lo:hi]:acct[lo:hi]" with (lo, hi) pairs ranges[r, 0:4], its receiver ranges[r, 4:8].

    A slot is 4 int64 words: (id | length << 40, first 24 key bytes): a lookup reads one cache
    line and compares exactly; keys longer than 24 bytes also compare their tail in the arena.
    """
    rows = ranges.shape[0]
    src = np.empty(rows, np.int32)
    dst = np.empty(rows, np.int32)
    words = np.zeros(_INLINE_WORDS, np.int64)
    for i in range(2 * rows):
        r, c = i >> 1, 4 * (i & 1)
        b0, b1, a0, a1 = ranges[r, c], ranges[r, c + 1], ranges[r, c + 2], ranges[r, c + 3]
        size = (b1 - b0) + 1 + (a1 - a0)
        h = _key_words(bank, b0, b1, acct, a0, a1, words)
        mask = slots.shape[0] - 1
        s = np.int64(h & np.uint64(mask))
        found = -1
        while slots[s, 0] >= 0:
            if (slots[s, 0] >> np.int64(40)) == size and slots[s, 1] == words[0] and slots[s, 2] == words[1] \
                    and slots[s, 3] == words[2]:
                k = slots[s, 0] & np.int64((1 << 40) - 1)
                same = True
                for q in range(8 * _INLINE_WORDS, size):  # the tail beyond the inline bytes, if any
                    j = b0 + q
                    byte = bank[j] if j < b1 else (_COLON if j == b1 else acct[a0 + j - b1 - 1])
                    if arena[key_off[k] + q] != byte:
                        same = False
                        break
                if same:
                    found = k
                    break
            s = (s + 1) & mask
        if found < 0:
            found = count
            start = key_off[count]
            if start + size > arena.shape[0]:
                bigger = np.empty(max(2 * arena.shape[0], start + size), np.uint8)
                bigger[:start] = arena[:start]
                arena = bigger
            arena[start:start + b1 - b0] = bank[b0:b1]
            arena[start + b1 - b0] = _COLON
            arena[start + b1 - b0 + 1:start + size] = acct[a0:a1]
            if count + 2 > key_off.shape[0]:
                grown = np.empty(2 * key_off.shape[0], np.int64)
                grown[:count + 1] = key_off[:count + 1]
                key_off = grown
            key_off[count + 1] = start + size
            slots[s, 0] = (np.int64(size) << np.int64(40)) | count
            for w in range(_INLINE_WORDS):
                slots[s, 1 + w] = words[w]
            count += 1
            if 2 * count > slots.shape[0]:  # keep the load factor at most 1/2: rehash from the arena
                slots = np.full((2 * slots.shape[0], 1 + _INLINE_WORDS), -1, np.int64)
                for k in range(count):
                    k0, k1 = key_off[k], key_off[k + 1]
                    colon = k0
                    while arena[colon] != _COLON:
                        colon += 1
                    hk = _key_words(arena, k0, colon, arena, colon + 1, k1, words)
                    _insert_slot(slots, hk, (np.int64(k1 - k0) << np.int64(40)) | k, words)
        if c == 0:
            src[r] = found
        else:
            dst[r] = found
    return src, dst, slots, arena, key_off, count


def _string_buffers(column) -> tuple[np.ndarray, np.ndarray]:
    """(offsets int32 relative to the data array, data uint8) of a string column."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if arr.type != pa.string():
        arr = arr.cast(pa.string())
    n = len(arr)
    buffers = arr.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int32, count=n + 1, offset=arr.offset * 4)
    data = np.frombuffer(buffers[2], dtype=np.uint8) if buffers[2] is not None else np.zeros(1, np.uint8)
    return offsets, data


class AccountIndex:
    """Dense ids for (bank, account) keys, assigned in order of first appearance."""

    def __init__(self):
        self._slots = np.full((1 << 16, 1 + _INLINE_WORDS), -1, np.int64)
        self._arena = np.empty(1 << 20, np.uint8)
        self._key_off = np.zeros(1 << 15, np.int64)
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def lookup_pairs(self, from_bank, from_account, to_bank, to_account) -> tuple[np.ndarray, np.ndarray]:
        """(sender ids, receiver ids) of a block's rows given as Arrow string columns."""
        (fb_off, fb), (fa_off, fa), (tb_off, tb), (ta_off, ta) = (
            _string_buffers(c) for c in (from_bank, from_account, to_bank, to_account))
        # one byte array per key part; receivers' offsets shifted past the senders' bytes
        bank, acct = np.concatenate([fb, tb]), np.concatenate([fa, ta])
        ranges = np.stack([fb_off[:-1], fb_off[1:], fa_off[:-1], fa_off[1:], tb_off[:-1] + len(fb),
                           tb_off[1:] + len(fb), ta_off[:-1] + len(fa), ta_off[1:] + len(fa)], axis=1).astype(np.int64)
        return self._lookup(bank, acct, ranges)

    def lookup_ranges(self, buf: np.ndarray, ranges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(sender ids, receiver ids) of a block's rows given as byte ranges into `buf`: per row
        [from bank lo, hi, from account lo, hi, to bank lo, hi, to account lo, hi]."""
        return self._lookup(buf, buf, ranges)

    def _lookup(self, bank, acct, ranges):
        src, dst, self._slots, self._arena, self._key_off, self._count = _intern_block(
            bank, acct, ranges, self._slots, self._arena, self._key_off, self._count)
        return src, dst

    def table(self) -> pa.Table:
        from .ibm_csv import ACCOUNT_SCHEMA

        n = self._count
        offsets = self._key_off[:n + 1]
        if offsets[-1] >= 2**31:
            keys = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets.copy()), pa.py_buffer(self._arena[:offsets[-1]].copy()))
        else:
            keys = pa.StringArray.from_buffers(n, pa.py_buffer(offsets.astype(np.int32)),
                                               pa.py_buffer(self._arena[:offsets[-1]].copy()))
        # every key is "bank:account", so the split parts alternate bank, account (taken by position:
        # pc.list_element's scalar argument would import pandas, 0.3 s of a short command)
        parts = pc.split_pattern(keys, ":", max_splits=1).flatten()
        bank = parts.take(arrow_column(np.arange(0, 2 * n, 2, dtype=np.int64)))
        account = parts.take(arrow_column(np.arange(1, 2 * n, 2, dtype=np.int64)))
        return pa.table([arrow_column(np.arange(n, dtype=np.int32)), bank.cast(pa.string()), account.cast(pa.string())],
                        schema=ACCOUNT_SCHEMA)
