"""What both executors of the generated CUDA C (GPU through CuPy, CPU through the host shim)
prepare in the same way: kernel sources, argument arrays with the dtypes the kernel declares,
trigger lists (one thread per trigger, `HUB_LANES` threads per hub trigger)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from blazingaml.ir import nodes as I

from ..sliding import sliding_counts
from ..window_sweeps import window_aggregates
from ..source_writer import GRAPH_ARGS, graph_arrays
from .codegen import NUMPY_DTYPE, PARAMS, generate_cuda, kernel_name, launcher_name

HUB_LANES = 32          # a hub trigger gets one warp
THREADS_PER_BLOCK = 128

def graph_inputs(graph) -> dict[str, np.ndarray]:
    """The graph's arrays under the kernel's parameter names, in the dtypes it declares."""
    ctype = dict(PARAMS)
    inputs = {name: np.ascontiguousarray(a, dtype=NUMPY_DTYPE[ctype[name]])
              for name, a in zip(GRAPH_ARGS, graph_arrays(graph))}
    if inputs["bank"].shape[0] == 0:  # keep every pointer valid
        inputs["bank"] = np.zeros(1, np.int32)
    return inputs


def launches(job: "KernelJob", hub_lanes: int) -> list[tuple[np.ndarray, int, int]]:
    """(triggers, lanes per trigger, blocks) of each launch a kernel needs: light triggers one
    thread each, hub triggers `hub_lanes` each."""
    return [(triggers, lanes, grid_for(len(triggers), lanes))
            for triggers, lanes in ((job.light, 1), (job.hubs, hub_lanes)) if len(triggers)]


def ordered_arguments(values: dict, pointer, scalar) -> list:
    """Kernel arguments in PARAMS order: `pointer(array)` for arrays, `scalar(c type, value)` else."""
    return [pointer(values[name]) if ctype.endswith("*") else scalar(ctype, values[name]) for name, ctype in PARAMS]


@dataclass
class KernelJob:
    """One fused kernel ready to launch: its names in the module, per-kernel inputs, trigger lists."""

    kernel: I.Kernel
    name: str          # the __global__ function
    launcher: str      # its host-shim launcher
    width: int
    bins: np.ndarray
    sliding: np.ndarray
    aggregates: np.ndarray   # window aggregates [m, slots] (backends/window_sweeps), swept on the CPU
    named: int               # named emits of the kernel's programs (columns of its real-valued output)
    light: np.ndarray
    hubs: np.ndarray


def kernel_jobs(graph, compiled, hub_lanes: int = HUB_LANES,
                hub_threshold: float | None = None) -> tuple[str, list[KernelJob]]:
    """(the CUDA source of every kernel of `compiled`, one job per kernel)."""
    from blazingaml.ir.passes.schedule import hub_split

    jobs = []
    for number, kernel in enumerate(compiled.kernels, 1):
        light, hubs = hub_split(graph, kernel, hub_lanes, hub_threshold)
        jobs.append(KernelJob(
            kernel=kernel, name=kernel_name(number), launcher=launcher_name(number),
            width=sum(len(p.bins) for p in kernel.programs),
            bins=np.concatenate([np.asarray(p.bins, np.float64) for p in kernel.programs]),
            sliding=np.ascontiguousarray(sliding_counts(graph, kernel), dtype=np.int32),
            aggregates=np.ascontiguousarray(window_aggregates(graph, kernel)),
            named=max(sum(len(p.named) for p in kernel.programs), 1),
            light=light, hubs=hubs,
        ))
    return generate_cuda(compiled.kernels, compiled.mode), jobs


def grid_for(triggers: int, lanes: int) -> int:
    """Blocks needed for `triggers` x `lanes` threads."""
    return max(1, -(-triggers * lanes // THREADS_PER_BLOCK))
