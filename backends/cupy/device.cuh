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
