"""Run generated CUDA C on the CPU: build it with the system C++ compiler against `host_shim.h`
and launch the whole grid through ctypes. This is how CI checks the CUDA backend against the
reference interpreter without a GPU; it is a test executor, not a fast one."""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np

from blazingaml.errors import BackendUnavailable
from blazingaml.kernel_results import (column_positions, feature_dtype, kernel_column_slices, kernel_named_slices,
                                       program_indices)

from ..numba_codegen import cache_dir
from .launch import THREADS_PER_BLOCK, graph_inputs, kernel_jobs, launches, ordered_arguments

SHIM = Path(__file__).resolve().parent / "host_shim.h"
_LOADED: dict[str, ctypes.CDLL] = {}
_SCALARS = {"long long": ctypes.c_longlong, "int": ctypes.c_int}


def compiler() -> str:
    cxx = os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")
    if not cxx:
        raise BackendUnavailable("no C++ compiler found to run CUDA kernels on the host", hint="install g++ or set CXX")
    return cxx


def build_host_library(source: str) -> ctypes.CDLL:
    """Compile (once per source text) and load the kernels with their host launchers."""
    digest = hashlib.sha256(source.encode() + SHIM.read_bytes()).hexdigest()[:20]
    if digest in _LOADED:
        return _LOADED[digest]
    root = cache_dir() / "host"
    root.mkdir(parents=True, exist_ok=True)
    lib = root / f"k_{digest}.so"
    if not lib.exists():
        src = root / f"k_{digest}.cu"
        src.write_text(source)
        tmp = lib.with_suffix(f".{os.getpid()}.tmp")
        # Unoptimised: tests build hundreds of kernels and run each on a few dozen edges.
        cmd = [compiler(), "-O0", "-std=c++17", "-x", "c++", "-include", str(SHIM), "-DBLAZINGAML_HOST_SHIM",
               "-shared", "-fPIC", "-o", str(tmp), str(src)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"host build of generated CUDA C failed:\n{done.stderr[-4000:]}")
        os.replace(tmp, lib)
    handle = ctypes.CDLL(str(lib))
    _LOADED[digest] = handle
    return handle


def run_on_host(graph, compiled, max_work: int, hub_lanes: int = 4,
                hub_threshold: float | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """(per-edge feature matrix [m, columns], overflow codes [m, programs], path steps) computed
    by the generated CUDA C, run on the CPU."""
    positions = column_positions(compiled.programs)
    out_all = np.zeros((graph.m, len(compiled.columns)), feature_dtype(compiled.programs, np.int32))
    overflow_all = np.zeros((graph.m, len(compiled.programs)), np.int8)
    steps = np.zeros(1, np.uint64)
    inputs = graph_inputs(graph)
    source, jobs = kernel_jobs(graph, compiled, hub_lanes, hub_threshold)
    library = build_host_library(source)
    for job in jobs:
        launch = getattr(library, job.launcher)
        launch.restype = None
        out = np.zeros((graph.m, job.width), np.int32)
        overflow = np.zeros((graph.m, len(job.kernel.programs)), np.int8)
        reals = np.zeros((graph.m, job.named))
        for triggers, lanes, blocks in launches(job, hub_lanes):
            values = dict(inputs, order=triggers, n_order=len(triggers), lanes=lanes, bins_all=job.bins, out=out,
                          out_width=job.width, overflow=overflow, overflow_width=overflow.shape[1],
                          max_work=max_work, sliding=job.sliding, sliding_width=job.sliding.shape[1],
                          path_steps=steps, aggregates=job.aggregates, aggregates_width=job.aggregates.shape[1],
                          reals=reals, reals_width=job.named)
            arguments = ordered_arguments(values, lambda a: ctypes.c_void_p(a.ctypes.data),
                                          lambda ctype, v: _SCALARS[ctype](int(v)))
            launch(ctypes.c_uint(blocks), ctypes.c_uint(THREADS_PER_BLOCK), *arguments)
        overflow_all[:, program_indices(compiled, job.kernel)] = overflow
        for dst, src in kernel_column_slices(job.kernel, positions):
            out_all[:, dst] = out[:, src]
        for dst, src in kernel_named_slices(job.kernel, positions):
            out_all[:, dst] = reals[:, src]
    return out_all, overflow_all, int(steps[0])
