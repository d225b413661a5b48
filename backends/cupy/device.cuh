// Device helpers for BlazingAML's generated CUDA kernels (pasted at the top of every generated
// source, so NVRTC needs no include path). All searches work on one vertex's slice [lo, hi) of a
// CSR view; the layout is documented in blazingaml/graph.py.

// First position p in [lo, hi) with ts[p] >= bound (inclusive) or ts[p] > bound.
__device__ __forceinline__ long long ts_lower(const long long* ts, long long lo, long long hi, long long bound,
                                              bool inclusive) {
    while (lo < hi) {
        long long mid = (lo + hi) >> 1;
        if (ts[mid] < bound || (!inclusive && ts[mid] == bound)) lo = mid + 1; else hi = mid;
    }
    return lo;
}

// First position in the neighbour-sorted slice with (nbr, ts) >= (x, bound) (or ts > bound).
__device__ __forceinline__ long long ns_first(const int* nbr, const long long* ts, long long lo, long long hi,
                                              long long x, long long bound, bool inclusive) {
    while (lo < hi) {
        long long mid = (lo + hi) >> 1;
        long long n = nbr[mid];
        if (n < x || (n == x && (ts[mid] < bound || (!inclusive && ts[mid] == bound)))) lo = mid + 1; else hi = mid;
    }
    return lo;
}

// Is there an edge to x with ts in the window that does not come after the trigger?
__device__ __forceinline__ bool has_window_edge(const int* ns_nbr, const long long* ns_ts, const long long* ns_edge,
                                                long long lo, long long hi, long long x, long long bound,
                                                bool inclusive, long long trigger) {
    long long q = ns_first(ns_nbr, ns_ts, lo, hi, x, bound, inclusive);
    return q < hi && ns_nbr[q] == x && ns_edge[q] <= trigger;
}

// Path pruning: a per-thread closure table (open addressing; a slot belongs to this build when its
// stamp is `build`). See reach_closure in backends/numba_runtime.py, which this mirrors.
__device__ __forceinline__ int closure_slot(const int* keys, const long long* stamp, int cap, long long build,
                                            long long x) {
    int k = (int)((x * 2654435761LL) & (cap - 1));
    while (stamp[k] == build && keys[k] != x) k = (k + 1) & (cap - 1);
    return k;
}

// Backward reachability of `target` over the reverse-direction CSR: accounts that reach it in at
// most `levels` window edges (not after the trigger), their fewest hops and, for increasing paths,
// the latest time they can leave. False when the table or the edge budget is too small.
__device__ bool reach_closure(const long long* ptr, const long long* edge, const int* nbr, const long long* ts,
                              long long target, int levels, long long wlo, bool inclusive, long long trigger,
                              long long before, bool increasing, long long build, int* keys, long long* stamp,
                              int* dist, long long* late, int* mark, int* front, int cap, long long budget) {
    int half = cap / 2;
    int k = closure_slot(keys, stamp, cap, build, target);
    keys[k] = (int)target; stamp[k] = build; dist[k] = 0; late[k] = before; mark[k] = 0;
    front[0] = k;
    int count = 1, used = 1, cur = 0;
    long long scanned = 0;
    for (int level = 1; level <= levels; ++level) {
        int nxt = 1 - cur, found = 0;
        for (int i = 0; i < count; ++i) {
            int s = front[cur * half + i];
            long long v = keys[s], bound = late[s];
            long long hi = ptr[v + 1];
            for (long long p = ts_lower(ts, ptr[v], hi, wlo, inclusive); p < hi; ++p) {
                if (edge[p] > trigger || (increasing && ts[p] >= bound)) break;
                long long u = nbr[p];
                if (u == v) continue;
                if (++scanned > budget) return false;
                k = closure_slot(keys, stamp, cap, build, u);
                if (stamp[k] != build) {
                    if (2 * ++used > cap) return false;
                    keys[k] = (int)u; stamp[k] = build; dist[k] = level; late[k] = ts[p]; mark[k] = -1;
                } else if (increasing && ts[p] > late[k]) {
                    late[k] = ts[p];
                } else {
                    continue;
                }
                if (mark[k] != level) {
                    mark[k] = level;
                    front[nxt * half + found++] = k;
                }
            }
        }
        if (found == 0) break;
        count = found;
        cur = nxt;
    }
    return true;
}

// Can x still reach the closure's target in `remaining` hops (leaving after `after` if increasing)?
__device__ __forceinline__ bool may_reach(const int* keys, const long long* stamp, const int* dist,
                                          const long long* late, int cap, long long build, long long x,
                                          long long remaining, long long after, bool increasing) {
    int k = closure_slot(keys, stamp, cap, build, x);
    return stamp[k] == build && dist[k] <= remaining && (!increasing || late[k] > after);
}

// GFP binning: the first edge >= value; the last bin takes everything from its edge up.
__device__ __forceinline__ int bin_index(double value, const double* bins, int count) {
    int last = count - 1;
    if (value >= bins[last]) return last;
    for (int i = 0; i <= last; ++i) {
        if (value <= bins[i]) return i;
    }
    return last;
}

// Participation: add 1 to out[edge, b] unless this instance already credited `edge`. The
// instance's credited edges live in a per-thread list; an instance that credits more than
// BLAZINGAML_CREDIT_CAP edges sets its trigger's overflow code (`flag`) to BLAZINGAML_CREDIT_LIMIT
// (reported, never dropped).
__device__ __forceinline__ void credit_once(int* out, int width, long long* credited, int* ncredited,
                                            long long edge, long long b, signed char* flag) {
    for (int i = 0; i < *ncredited; ++i) {
        if (credited[i] == edge) return;
    }
    if (*ncredited >= BLAZINGAML_CREDIT_CAP) {
        *flag = BLAZINGAML_CREDIT_LIMIT;
        return;
    }
    credited[(*ncredited)++] = edge;
    atomicAdd(&out[edge * width + b], 1);
}
