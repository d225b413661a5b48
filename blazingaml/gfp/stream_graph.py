"""An appendable, time-ordered adjacency with window eviction, mined one batch of triggers at a time.

The compiled pattern kernels read a CSR (`blazingaml.graph`): vertex v's edges are
`edge[ptr[v]:ptr[v + 1]]`, in time order, with a neighbour-sorted view on the same positions. Here the
kernels are handed vertex `2a` for account `a`: `ptr[2a]` is where account a's block starts and
`ptr[2a + 1]` where it ends, so every account's block can live anywhere in an arena (no edge ever
names an odd vertex, so the `[ptr[2a + 1], ptr[2a + 2])` in between is never read). Appending a batch
writes, for each account the batch touches, a fresh block at the arena's end: the account's edges
still inside the pattern windows, then the batch's, both views sorted. The old block becomes garbage.
When the arena or the per-edge log is full, everything live is laid out again from the log and edge
numbers restart at the oldest live edge; the new arena has room for three times as many writes again
as it holds live entries, so a re-layout (O(live)) comes after at least 3 * live appended entries:
amortised O(1) per entry. An append costs O(batch + live window degree of the accounts it touches).

Edges older than the largest pattern window before the batch's first edge are dropped: a kernel counts
only edges inside its pattern's window of the trigger, so dropping them changes no count. Edge numbers
follow insertion order (timestamps never go back), which is the graph's (ts, tx_id) order.
"""

from __future__ import annotations

import numba
import numpy as np

from ..graph import TemporalGraph
from ..graph_build import _build_direction, link_same_neighbour
from ..ir import nodes as I
from ..kernel_results import WorkReport, column_positions, program_indices, report, settle_overflow
from ..runtime import DEFAULT_MAX_WORK
from . import hash_table

TRIGGERS_PER_THREAD = 1024
HIDDEN = np.iinfo(np.int64).min // 4   # a timestamp before every window: an edge the max_edges bound evicted
SMALL_BLOCK = 16


@numba.njit(cache=True, nogil=True, inline="always")
def _sort_by_neighbour(edge, nbr, ts, lo, hi, ns_edge, ns_nbr, ns_ts, prev_same, key):
    """Fill ns_*[lo:hi] with the time view's entries ordered by (neighbour, edge number), and
    their same-neighbour links."""
    k = hi - lo
    for i in range(k):
        key[i] = (np.int64(nbr[lo + i]) << 32) | i
    if k > SMALL_BLOCK:
        key[:k].sort()
    else:   # most blocks hold a few entries: an insertion sort costs less than a call to sort
        for i in range(1, k):
            x, j = key[i], i - 1
            while j >= 0 and key[j] > x:
                key[j + 1] = key[j]
                j -= 1
            key[j + 1] = x
    link_same_neighbour(key, k, lo, edge, nbr, ts, ns_edge, ns_nbr, ns_ts, prev_same)


@numba.njit(cache=True, nogil=True)
def _append_blocks(ptr, edge, nbr, ets, ns_edge, ns_nbr, ns_ts, prev_same, used, owner, other, ts, first, front, place):
    """Write a new block for every account owning a batch edge (doubled ids in `owner`): its edges
    numbered >= `front`, then the batch's edges (numbers first..) it owns. Returns the arena's new
    end, or -1 when the arena is too small (nothing written then). `place` (one entry per vertex,
    all -1) is scratch, left all -1."""
    m = owner.shape[0]
    touched = np.empty(m, np.int64)   # owners in order of first appearance, their batch edges counted
    count = np.zeros(m + 1, np.int64)
    t = 0
    for i in range(m):
        v = owner[i]
        if place[v] < 0:
            place[v] = t
            touched[t] = v
            t += 1
        count[place[v] + 1] += 1
    need = m
    for j in range(t):
        v = touched[j]
        lo, hi = ptr[v], ptr[v + 1]
        keep = hi - lo
        while keep > 0 and edge[hi - keep] < front:
            keep -= 1
        need += keep
    if used + need > edge.shape[0]:
        for j in range(t):
            place[touched[j]] = -1
        return -1
    for j in range(t):
        count[j + 1] += count[j]
    mine = np.empty(m, np.int64)   # batch edges grouped by owner, in batch order within each
    fill = count[:t].copy()
    for i in range(m):
        j = place[owner[i]]
        mine[fill[j]] = i
        fill[j] += 1
    key = np.empty(0, np.int64)
    for j in range(t):
        v = touched[j]
        place[v] = -1
        lo, hi = ptr[v], ptr[v + 1]
        start = used
        for p in range(lo, hi):
            if edge[p] >= front:
                edge[used], nbr[used], ets[used] = edge[p], nbr[p], ets[p]
                used += 1
        for q in range(count[j], count[j + 1]):
            i = mine[q]
            edge[used], nbr[used], ets[used] = first + i, other[i], ts[i]
            used += 1
        if used - start > key.shape[0]:
            key = np.empty(2 * (used - start), np.int64)
        _sort_by_neighbour(edge, nbr, ets, start, used, ns_edge, ns_nbr, ns_ts, prev_same, key)
        ptr[v], ptr[v + 1] = start, used
    return used


@numba.njit(cache=True, nogil=True)
def _hide(ptr, edge, nbr, ets, ns_edge, ns_nbr, ns_ts, owner, other, lo, hi):
    """Set the timestamps of edges lo..hi-1 to HIDDEN in one direction's views, where their owner's
    block still holds them."""
    for j in range(lo, hi):
        a, b = ptr[owner[j]], ptr[owner[j] + 1]
        p = a + np.searchsorted(edge[a:b], j)
        if p == b or edge[p] != j:
            continue
        ets[p] = HIDDEN
        r0 = a + np.searchsorted(ns_nbr[a:b], other[j])
        r1 = a + np.searchsorted(ns_nbr[a:b], other[j], side="right")
        q = r0 + np.searchsorted(ns_edge[r0:r1], j)
        ns_ts[q] = HIDDEN


@numba.njit(cache=True, nogil=True)
def _sliding(ptr, edge, nbr, ts, owners, triggers, window, inclusive, distinct, skip_self, seen, stamp, out, col):
    """For each trigger: its owner's edges from the window start up to the trigger itself, or their
    distinct neighbours (self-loops skipped when asked): what `backends.sliding` computes for
    every edge, here for the batch's triggers only. `seen[x] == stamp + i`: x already counted for
    trigger i. Returns the next unused stamp."""
    for i in range(triggers.shape[0]):
        e, v = triggers[i], owners[i]
        lo, hi = ptr[v], ptr[v + 1]
        k = np.searchsorted(edge[lo:hi], e) + lo
        bound = ts[k] - window
        left = lo
        while left < k and (ts[left] < bound or (not inclusive and ts[left] == bound)):
            left += 1
        count = 0
        for p in range(left, k + 1):
            x = nbr[p]
            if skip_self and x == v:
                continue
            if distinct:
                if seen[x] == stamp + i:
                    continue
                seen[x] = stamp + i
            count += 1
        out[e, col] = count
    return stamp + triggers.shape[0]


@numba.njit(cache=True, nogil=True)
def _number(table, bits, out, known):
    """Dense numbers of `bits` (account ids' float64 bits) into `out`, new ids numbered from `known`
    on; returns how many ids the table then holds."""
    for i in range(bits.shape[0]):
        out[i] = hash_table.get_or_add(table, bits[i], known)
        if out[i] == known:
            known += 1
    return known


@numba.njit(cache=True, nogil=True)
def widen(counts, out):
    """out[:] = counts (int32 into float64): NumPy's casting copy into a strided view costs 4x more."""
    for i in range(counts.shape[0]):
        for j in range(counts.shape[1]):
            out[i, j] = counts[i, j]


# Kernel arguments for window aggregates and named emits, which the GFP graph patterns do not have.
NO_AGGREGATES = np.zeros((1, 1))


class AccountNumbers:
    """Dense numbers 0, 1, ... for account ids (any finite float64 values), in order of first appearance."""

    def __init__(self):
        self.table, self.known = hash_table.empty(), 0

    def number(self, ids: np.ndarray) -> np.ndarray:
        """Dense numbers of `ids` (any shape), new ids numbered as they come."""
        flat = np.ascontiguousarray(ids, np.float64).ravel() + 0.0   # -0.0 is 0.0's account
        out = np.empty(flat.shape[0], np.int64)
        self.table = hash_table.with_room(self.table, self.known + flat.shape[0])
        self.known = _number(self.table, flat.view(np.int64), out, self.known)
        return out.reshape(np.shape(ids))


_LOADED: dict = {}   # pattern-set key -> (planned patterns, loaded kernels): source generated once per process


class StreamGraph:
    """The edges still inside the pattern windows, appendable, and the compiled kernels run on a batch.

    `key` names the pattern set (patterns, windows, bins) for the per-process kernel cache; the
    kernels are planned on the first graph mined with that key."""

    def __init__(self, compiled, key, keep_seconds: int, max_edges: int = 0):
        self.compiled, self.key = compiled, key
        self.keep_seconds = int(keep_seconds)
        self.max_edges = int(max_edges)   # snapml's max_no_edges; 0: no bound
        self.m = 0                   # edges numbered 0..m-1 in the log
        self.front = 0               # first edge still kept
        self.hidden = 0              # edges before this one are hidden (the max_edges bound)
        self.scratch_threads = 0
        self._lay_out(0, 2)

    def append(self, acct_src: np.ndarray, acct_dst: np.ndarray, ts: np.ndarray) -> int:
        """Add a batch (dense account ids, time order); returns its first edge number."""
        src, dst, ts = 2 * acct_src.astype(np.int32), 2 * acct_dst.astype(np.int32), ts.astype(np.int64)
        b = len(ts)
        if b == 0:
            return self.m
        self.front += int(np.searchsorted(self.ts[self.front:self.m], ts[0] - self.keep_seconds, side="left"))
        vertices = int(max(src.max(), dst.max())) + 2
        if self.m + b > len(self.ts) or vertices > len(self.ptr["out"]):
            self._lay_out(b, vertices)
        first = self.m
        self.src[first:first + b], self.dst[first:first + b], self.ts[first:first + b] = src, dst, ts
        self.m += b
        for d, owner, other in (("out", src, dst), ("in", dst, src)):
            end = _append_blocks(self.ptr[d], *self.arena[d], self.used[d], owner, other, ts, first, self.front,
                                 self.place)
            if end < 0:   # an arena is full: lay both out again from the log, which holds the batch already
                self._lay_out(0, vertices)
                return self.m - b
            self.used[d] = end
        return first

    def _lay_out(self, extra_edges: int, vertices: int) -> None:
        """Re-lay the log from the front (edge numbers restart at 0) and both arenas from the log,
        with room for three times as many entries again, plus `extra_edges`."""
        live = self.m - self.front
        cap = 4 * (live + extra_edges) + 4096   # a re-layout costs O(live): this makes it rare
        held = len(getattr(self, "bank", ())) // 2
        accounts = held if vertices // 2 < held else max(vertices // 2 + 1, 2 * held)   # doubling: amortised
        for name, dtype in (("src", np.int32), ("dst", np.int32), ("ts", np.int64)):
            new = np.zeros(cap, dtype)
            if live:
                new[:live] = getattr(self, name)[self.front:self.m]
            setattr(self, name, new)
        self.hidden = max(0, self.hidden - self.front)
        self.m, self.front = live, 0
        self.arena, self.ptr, self.used = {}, {}, {}
        for d, owner, other in (("out", self.src, self.dst), ("in", self.dst, self.src)):
            views = [np.zeros(cap, t) for t in (np.int64, np.int32, np.int64) * 2 + (np.int32,)]   # graph.Adjacency's
            ptr = np.zeros(accounts + 1, np.int64)
            _build_direction(owner[:live] // 2, other[:live], self.ts[:live], ptr, *[v[:live] for v in views])
            self.arena[d], self.used[d] = views, live
            self.ptr[d] = np.zeros(2 * accounts + 1, np.int64)
            self.ptr[d][0:2 * accounts:2], self.ptr[d][1:2 * accounts:2] = ptr[:-1], ptr[1:]
        # attributes the GFP patterns do not read, and the per-edge outputs of a batch
        self.bank = np.zeros(2 * accounts, np.int32)
        self.amounts = np.zeros(cap, np.float64)
        self.codes = np.zeros(cap, np.int8)
        self.row = np.zeros(cap, np.int64)
        self.sliding = np.zeros((cap, 2), np.int32)   # the kernels' windowed counts, rows of the batch's triggers
        self.overflow = np.zeros((cap, len(self.compiled.programs)), np.int8)
        self.seen, self.stamp = np.zeros(2 * accounts, np.int64), 1   # distinct-neighbour marks of `_sliding`
        self.place = np.full(2 * accounts, -1, np.int64)             # scratch of `_append_blocks`

    # -- mining -----------------------------------------------------------------------------------
    def mine(self, first: int, edge_ids: np.ndarray, threads: int, max_work: int = DEFAULT_MAX_WORK,
             work: WorkReport | None = None) -> np.ndarray:
        """Pattern counts [batch, columns] (int32) of the batch's edges first.., each the trigger of
        its own closing instances; work-limited triggers are saturated and flagged as `mine_graph` does."""
        from ..backends.numba_codegen import CLOSURE_SCRATCH, NumbaCodegen
        from ..backends.source_writer import STACK_SLOTS

        b = len(edge_ids)
        compiled, kernels = self._kernels()
        # a parallel region over a small batch costs more than its triggers (measured at batch 128:
        # 5 vs 120 CPU-ms per 1,000 edges with 2 threads on a busy machine): a thread per TRIGGERS_PER_THREAD
        numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS, b // TRIGGERS_PER_THREAD)))
        nthreads = numba.get_num_threads()
        if self.scratch_threads != nthreads:   # per-thread path stacks and closure tables, kept between batches
            self.scratch_threads = nthreads
            self.stacks = [np.zeros((nthreads, STACK_SLOTS), np.int64) for _ in range(4)]
            self.closure = [np.zeros((nthreads, NumbaCodegen.CLOSURE_CAPACITY), t) for _, t in CLOSURE_SCRATCH]
            # a closure table's slots are valid where their stamp is the thread's build number: the
            # numbers go on across calls, as the tables do
            self.closure_builds = np.zeros(nthreads, np.int64)
        self.row[first:first + b] = np.arange(b)
        out = np.zeros((b, len(compiled.columns)), np.int32)
        overflow_all = np.zeros((b, len(compiled.programs)), np.int8)
        for lo, hi in self._trigger_groups(first, b):
            self._hide(lo - self.max_edges if self.max_edges else 0)
            self._run(kernels, np.arange(lo, hi, dtype=np.int64), first, out, overflow_all, max_work, nthreads)
        work = WorkReport() if work is None else work
        flagged = len(work.rows)
        columns = list(column_positions(compiled.programs).values())
        batch = _Triggers(np.asarray(edge_ids, np.int64))
        settle_overflow(batch, compiled.programs, overflow_all, out, columns, np.arange(b), max_work, "flag", work)
        if len(work.rows) > flagged:
            report(work, max_work)
        return out

    def _trigger_groups(self, first: int, b: int) -> list[tuple[int, int]]:
        """Runs of the batch's triggers that one kernel call may mine together. With a `max_edges`
        bound N, trigger k sees edges k - N.. only (snapml evicts down to N after each edge): a
        trigger whose edge k - N - 1 is still inside the pattern windows is mined alone, after the
        edges before k - N are hidden; the others, in runs, after hiding what the run's first may."""
        if not self.max_edges:
            return [(first, first + b)]
        k = np.arange(first, first + b)
        older = k - self.max_edges - 1
        alone = (older >= 0) & (self.ts[np.maximum(older, 0)] >= self.ts[k] - self.keep_seconds)
        cuts = np.flatnonzero(alone | np.r_[True, alone[:-1]]) + first   # a group starts at and after each alone
        ends = np.r_[cuts[1:], first + b]
        return list(zip(cuts.tolist(), ends.tolist()))

    def _hide(self, until: int) -> None:
        """Edges before `until` leave the graph for good (snapml's `max_no_edges`): their timestamps
        become HIDDEN, outside every window; they are the oldest of their blocks and runs, so the
        views stay sorted."""
        if until <= self.hidden:
            return
        for d, owner, other in (("out", self.src, self.dst), ("in", self.dst, self.src)):
            _hide(self.ptr[d], *self.arena[d][:6], owner, other, self.hidden, until)
        self.ts[self.hidden:until] = HIDDEN
        self.hidden = until

    def _run(self, kernels, triggers: np.ndarray, first: int, out, overflow_all, max_work: int, nthreads: int):
        """Every kernel on `triggers` (edge numbers of the batch starting at `first`)."""
        arrays = (self.src, self.dst, self.ts, self.amounts, self.amounts, self.codes, self.codes, self.codes,
                  self.bank, self.ptr["out"], *self.arena["out"], self.ptr["in"], *self.arena["in"])
        lo, hi = triggers[0], triggers[-1] + 1
        steps = np.zeros(nthreads, np.int64)
        for fn, bins, colmap, programs, ops in kernels:
            if len(ops) > self.sliding.shape[1]:
                self.sliding = np.zeros((len(self.sliding), len(ops)), np.int32)
            for j, (window, inclusive, direction, distinct, skip_self) in enumerate(ops):
                owners = (self.src if direction == "out" else self.dst)[lo:hi]
                self.stamp = _sliding(self.ptr[direction], *self.arena[direction][:3], owners, triggers, window,
                                      inclusive, distinct, skip_self, self.seen, self.stamp, self.sliding, j)
            overflow = self.overflow[:, :len(programs)]
            overflow[lo:hi] = 0
            fn(triggers, *arrays, bins, out, self.row, colmap, np.iinfo(np.int32).max, overflow,
               np.zeros(1, np.int64), max_work, *self.stacks, self.sliding, steps, *self.closure,
               self.closure_builds, NO_AGGREGATES, NO_AGGREGATES)   # GFP's graph patterns use no aggregates
            overflow_all[lo - first:hi - first, programs] = overflow[lo:hi]

    def _kernels(self):
        """The planned patterns and their loaded kernels, from the per-process cache (planned on this
        graph the first time the pattern set is seen)."""
        if self.key not in _LOADED:
            from ..backends.numba_codegen import load_kernel

            live = slice(self.front, self.m)
            graph = TemporalGraph.from_arrays(self.src[live] // 2, self.dst[live] // 2, self.ts[live])
            compiled = self.compiled.for_graph(graph)
            positions = column_positions(compiled.programs)
            kernels = []
            for kernel in compiled.kernels:
                bins = np.concatenate([np.asarray(p.bins, np.float64) for p in kernel.programs])
                colmap = np.concatenate([np.arange(positions[p.name], positions[p.name] + len(p.bins))
                                         for p in kernel.programs]).astype(np.int64)
                ops = [(p.window_seconds, p.window_inclusive, o.direction, o.kind == "nodes", o.skip_self)
                       for p in kernel.programs for c in p.cases for o in c.ops if isinstance(o, I.SlidingCount)]
                kernels.append((load_kernel(kernel, compiled.mode)[0], bins, colmap,
                                program_indices(compiled, kernel), ops))
            _LOADED[self.key] = compiled, kernels
        return _LOADED[self.key]


class _Triggers:
    """What `settle_overflow` reads of a graph: the id of each of the batch's edges."""

    def __init__(self, tx_id: np.ndarray):
        self.tx_id = tx_id
