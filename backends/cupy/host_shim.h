// Host shim: build BlazingAML's generated CUDA C with the system C++ compiler and run it on the
// CPU. The launcher that the generator writes under BLAZINGAML_HOST_SHIM walks the whole grid
// serially, block by block and thread by thread, so the CUDA built-ins below are plain globals.
// Generated kernels never synchronise threads or exchange values between lanes (hub lanes only
// share out loop iterations and add with atomics), so serial execution computes what the GPU does.
#ifndef BLAZINGAML_HOST_SHIM_H
#define BLAZINGAML_HOST_SHIM_H

#include <cmath>

#define __global__
#define __device__ static
#define __forceinline__ inline
#define __restrict__ __restrict

struct blazingaml_dim3 {
    unsigned int x, y, z;
};

static blazingaml_dim3 threadIdx = {0, 0, 0};
static blazingaml_dim3 blockIdx = {0, 0, 0};
static blazingaml_dim3 blockDim = {1, 1, 1};
static blazingaml_dim3 gridDim = {1, 1, 1};

static inline int atomicAdd(int* address, int value) {
    int old = *address;
    *address = old + value;
    return old;
}

static inline unsigned long long atomicAdd(unsigned long long* address, unsigned long long value) {
    unsigned long long old = *address;
    *address = old + value;
    return old;
}

static inline void __syncthreads() {}

#endif
