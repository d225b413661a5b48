"""Run generated CUDA C on a GPU through CuPy.

The graph's arrays go to the device once per run and every kernel of the pattern set reads them;
each kernel's counts land in one device feature matrix, which comes back to the host once. Kernels
are compiled by NVRTC through `cupy.RawModule` (CuPy keeps compiled kernels in its own disk cache).
Windowed aggregates (`SlidingCount`, `WindowAggregates`) are precomputed by their sweeps on the CPU and
copied up with the kernel's other inputs.

The path work bound (`max_work`) applies per thread: a hub trigger's lanes each have their own.
"""

from __future__ import annotations

import numpy as np

from blazingaml.errors import BackendUnavailable
from blazingaml.kernel_results import (column_positions, feature_dtype, kernel_column_slices, kernel_named_slices,
                                       program_indices)

from .launch import HUB_LANES, THREADS_PER_BLOCK, graph_inputs, kernel_jobs, launches, ordered_arguments

_SCALAR_DTYPES = {"long long": np.int64, "int": np.int32}


def require_gpu():
    """CuPy with at least one CUDA device, or one clear error saying what to do instead."""
    try:
        import cupy
    except ImportError:
        raise BackendUnavailable(
            "the cupy backend needs CuPy, which is not installed",
            hint="on a machine with an NVIDIA GPU: pip install 'blazingaml[gpu]'; here use --backend numba") from None
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDARuntimeError, or a driver that cannot load
        raise BackendUnavailable(f"the cupy backend found no usable CUDA device ({_first_line(exc)})",
                                 hint="use --backend numba (all CPU cores)") from None
    if count == 0:
        raise BackendUnavailable("the cupy backend found no CUDA device", hint="use --backend numba (all CPU cores)")
    return cupy


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def device_name() -> str:
    cupy = require_gpu()
    props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
    name = props["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def run_on_gpu(graph, compiled, max_work: int, progress=None, hub_lanes: int = HUB_LANES,
               hub_threshold: float | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """(per-edge feature matrix [m, columns] int32, overflow codes [m, programs], path steps),
    computed on the current CUDA device."""
    cp = require_gpu()
    m = graph.m
    positions = column_positions(compiled.programs)
    overflow_all = np.zeros((m, len(compiled.programs)), np.int8)
    steps = cp.zeros(1, cp.uint64)
    inputs = {name: cp.asarray(a) for name, a in graph_inputs(graph).items()}   # the graph, copied once
    out_all = cp.zeros((m, len(compiled.columns)), feature_dtype(compiled.programs, np.int32))
    source, jobs = kernel_jobs(graph, compiled, hub_lanes, hub_threshold)
    # No fused multiply-add: float conditions round exactly as in the reference and on the CPU.
    module = cp.RawModule(code=source, options=("--std=c++17", "--fmad=false"))
    for job in jobs:
        function = module.get_function(job.name)
        out = cp.zeros((m, job.width), cp.int32)
        overflow = cp.zeros((m, len(job.kernel.programs)), cp.int8)
        reals = cp.zeros((m, job.named), cp.float64)
        per_kernel = dict(bins_all=cp.asarray(job.bins), out=out, out_width=job.width, overflow=overflow,
                          overflow_width=overflow.shape[1], max_work=max_work, path_steps=steps,
                          sliding=cp.asarray(job.sliding), sliding_width=job.sliding.shape[1],
                          aggregates=cp.asarray(job.aggregates), aggregates_width=job.aggregates.shape[1],
                          reals=reals, reals_width=job.named)
        for triggers, lanes, blocks in launches(job, hub_lanes):
            values = dict(inputs, **per_kernel, order=cp.asarray(triggers), n_order=len(triggers), lanes=lanes)
            arguments = ordered_arguments(values, lambda a: a, lambda ctype, v: _SCALAR_DTYPES[ctype](v))
            function((blocks,), (THREADS_PER_BLOCK,), tuple(arguments))
        if int(overflow.max()) > 0:
            overflow_all[:, program_indices(compiled, job.kernel)] = cp.asnumpy(overflow)
        for dst, src in kernel_column_slices(job.kernel, positions):
            out_all[:, dst] = out[:, src]
        for dst, src in kernel_named_slices(job.kernel, positions):
            out_all[:, dst] = reals[:, src]
        del out, reals
        if progress is not None:
            progress(len(job.kernel.programs))
    return cp.asnumpy(out_all), overflow_all, int(steps.get()[0])   # the features, copied back once
