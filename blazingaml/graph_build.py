"""The Numba kernels that lay out a large `TemporalGraph` (see `blazingaml.graph`): the minute
counting sort, the parallel gather into edge order and the two-pass bucket sort of each direction.

A module of its own so that a process that only builds small graphs (`info`, a short file) never
imports Numba: its first use costs about half a second (target set-up and cache loading), more
than NumPy needs for the whole small build.
"""

from __future__ import annotations

import numba
import numpy as np

_EDGES_PER_BUCKET = 8192  # graph construction's second pass works one bucket at a time in cache
_MAX_BUCKET_BITS = 16     # at most 65,536 vertices per bucket: bounds the per-bucket counters


@numba.njit(cache=True, nogil=True, parallel=True)
def _minute_order(ts, chunks, order):
    """Fill `order` with the input row of each edge number when every timestamp is a whole minute
    and the span is short (IBM data): a stable counting sort over minutes, the rows split into
    `chunks` contiguous runs counted and placed in parallel. False when that does not apply."""
    m = ts.shape[0]
    lo, hi = ts.min(), ts.max()
    off_minute = 0
    for i in numba.prange(m):
        if (ts[i] - lo) % 60 != 0:
            off_minute += 1
    buckets = (hi - lo) // 60 + 1
    if off_minute or buckets > 4 * m + 1024:
        return False
    step = (m + chunks - 1) // chunks
    count = np.zeros((chunks, buckets), np.int64)  # one row per chunk: no shared cache lines
    for c in numba.prange(chunks):
        for i in range(c * step, min(m, (c + 1) * step)):
            count[c, (ts[i] - lo) // 60] += 1
    placed = 0
    for b in range(buckets):  # earlier minutes first; within a minute, earlier chunks first
        for c in range(chunks):
            k = count[c, b]
            count[c, b] = placed
            placed += k
    for c in numba.prange(chunks):
        for i in range(c * step, min(m, (c + 1) * step)):
            b = (ts[i] - lo) // 60
            order[count[c, b]] = i
            count[c, b] += 1
    return True


# Arrays go to the parallel kernel one by one, not in tuples: Numba's parallel loops mishandle
# tuples of arrays (writes through an unpacked tuple can be lost).
@numba.njit(cache=True, nogil=True, parallel=True)
def _gather_edges(order, src, dst, ts, tx_id, ap, ar, pc, rc, pf,
                  src_, dst_, ts_, tx_id_, ap_, ar_, pc_, rc_, pf_):
    """Every per-edge array in edge-number order (`name_` from `name`), in one parallel pass.
    Writes are sequential; for near-sorted input (IBM files are sorted to within minutes) the
    reads stay within a small window that is in cache."""
    for p in numba.prange(order.shape[0]):
        i = order[p]
        src_[p], dst_[p], ts_[p], tx_id_[p] = src[i], dst[i], ts[i], tx_id[i]
        ap_[p], ar_[p] = ap[i], ar[i]
        pc_[p], rc_[p], pf_[p] = pc[i], rc[i], pf[i]


@numba.njit(cache=True, nogil=True)
def _bucket_bits(m, nkeys):
    """log2 of the vertex-range width of one bucket: about 8k edges per bucket on average, so a
    bucket's records and its slice of the output stay in L2 while the second pass works on them."""
    low = 0
    while low < _MAX_BUCKET_BITS and (np.int64(2) << low) * m <= _EDGES_PER_BUCKET * max(nkeys, 1):
        low += 1
    return low


@numba.njit(cache=True, nogil=True)
def _build_direction(owner, other, ts, ptr, edge, nbr, ets, ns_edge, ns_nbr, ns_ts, prev_same):
    """Fill one direction of the CSR (`ptr`, time view `edge, nbr, ets`, neighbour-sorted view
    `ns_*`, links `prev_same`) from edges numbered in time order; `ptr` has one entry per vertex
    plus one.

    Two passes, both stable, so each vertex's edges keep increasing edge number (time):

    1. Scatter every edge, as a record (edge number and neighbour packed in one word, timestamp,
       owner), into the bucket of its owner's high bits. Buckets are few (hundreds), so the
       scatter writes a few hundred sequential streams, and every input is read in order. The
       records are staged in the `ns_*` arrays, which have exactly their size.
    2. Bucket by bucket, while its records are in cache: count owners (this gives `ptr`), place
       each record at its final position in the time view, then sort each vertex's segment by
       (neighbour, edge number) into the neighbour-sorted view, overwriting the bucket's records
       (its segments cover exactly the bucket's range). Packed 64-bit keys; insertion sort for
       short segments, an in-place sort for longer ones. No random reads of the big arrays.
       The sorted keys give `prev_same` on the way (see `link_same_neighbour`).
    """
    m = owner.shape[0]
    nkeys = ptr.shape[0] - 1
    low = _bucket_bits(m, nkeys)
    width = np.int64(1) << low
    nbuckets = (nkeys + width - 1) >> low
    start = np.zeros(nbuckets + 1, np.int64)
    for i in range(m):
        start[(owner[i] >> low) + 1] += 1
    largest = 0
    for b in range(nbuckets):
        largest = max(largest, start[b + 1])
        start[b + 1] += start[b]
    cursor = start[:-1].copy()
    packed, rec_ts, rec_owner = ns_edge, ns_ts, ns_nbr
    for i in range(m):
        b = owner[i] >> low
        j = cursor[b]
        cursor[b] = j + 1
        packed[j] = (np.int64(i) << 32) | other[i]
        rec_ts[j] = ts[i]
        rec_owner[j] = owner[i]

    ptr[0] = 0
    count = np.empty(width + 1, np.int64)
    key = np.empty(largest, np.int64)
    for b in range(nbuckets):
        lo, hi = start[b], start[b + 1]
        v0 = b << low
        nv = min(width, nkeys - v0)
        count[: nv + 1] = 0
        for j in range(lo, hi):
            count[rec_owner[j] - v0 + 1] += 1
        count[0] = lo
        for k in range(nv):
            count[k + 1] += count[k]
            ptr[v0 + k + 1] = count[k + 1]
        for j in range(lo, hi):
            k = rec_owner[j] - v0
            p = count[k]
            count[k] = p + 1
            word = packed[j]
            edge[p] = word >> 32
            nbr[p] = word & 0xFFFFFFFF
            ets[p] = rec_ts[j]
        for v in range(v0, v0 + nv):
            s, k = ptr[v], ptr[v + 1] - ptr[v]
            if k == 1:
                ns_edge[s], ns_nbr[s], ns_ts[s] = edge[s], nbr[s], ets[s]
                prev_same[s] = -1
                continue
            for i in range(k):  # (neighbour, position) keys: unique, so any sort is stable here
                key[i] = (np.int64(nbr[s + i]) << 32) | i
            if k <= 24:
                for i in range(1, k):
                    x = key[i]
                    j = i - 1
                    while j >= 0 and key[j] > x:
                        key[j + 1] = key[j]
                        j -= 1
                    key[j + 1] = x
            else:
                key[:k].sort()
            link_same_neighbour(key, k, s, edge, nbr, ets, ns_edge, ns_nbr, ns_ts, prev_same)


@numba.njit(cache=True, nogil=True)
def link_same_neighbour(key, k, s, edge, nbr, ets, ns_edge, ns_nbr, ns_ts, prev_same):
    """Write the neighbour-sorted view and the `prev_same` links of the segment at `s` (k entries)
    from its sorted (neighbour << 32 | offset) keys: within a run of one neighbour the offsets
    rise with time, so each entry's predecessor in the run is its previous edge to that neighbour."""
    for i in range(k):
        q = s + (key[i] & 0xFFFFFFFF)
        ns_edge[s + i], ns_nbr[s + i], ns_ts[s + i] = edge[q], nbr[q], ets[q]
        same = i > 0 and (key[i] >> 32) == (key[i - 1] >> 32)
        prev_same[q] = s + (key[i - 1] & 0xFFFFFFFF) if same else -1
