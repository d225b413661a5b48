"""What both executors of the generated CUDA C (GPU through CuPy, CPU through the host shim)
prepare in the same way: kernel sources, argument arrays with the dtypes the kernel declares,
trigger lists (one thread per trigger, `HUB_LANES` threads per hub trigger)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from blazingaml.ir import nodes as I

from ..sliding import sliding_counts
from .codegen import NUMPY_DTYPE, PARAMS, generate_cuda

HUB_LANES = 32          # a hub trigger gets one warp
THREADS_PER_BLOCK = 128

GRAPH_PARAMS = tuple(name for name, _ in PARAMS[3:26])


def graph_inputs(graph) -> dict[str, np.ndarray]:
    """The graph's arrays under the kernel's parameter names, in the dtypes it declares."""
    o, i = graph.out, graph.inc
    arrays = {
        "src": graph.src, "dst": graph.dst, "ts": graph.ts, "amount_paid": graph.amount_paid,
        "amount_received": graph.amount_received, "pay_currency": graph.pay_currency,
        "recv_currency": graph.recv_currency, "payment_format": graph.payment_format, "bank": graph.bank,
        "o_ptr": o.ptr, "o_edge": o.edge, "o_nbr": o.nbr, "o_ts": o.ts, "o_nse": o.ns_edge, "o_nsn": o.ns_nbr,
        "o_nst": o.ns_ts,
        "i_ptr": i.ptr, "i_edge": i.edge, "i_nbr": i.nbr, "i_ts": i.ts, "i_nse": i.ns_edge, "i_nsn": i.ns_nbr,
        "i_nst": i.ns_ts,
    }
    ctype = dict(PARAMS)
    if graph.bank.shape[0] == 0:  # keep every pointer valid
        arrays["bank"] = np.zeros(1, np.int32)
    return {name: np.ascontiguousarray(arrays[name], dtype=NUMPY_DTYPE[ctype[name]]) for name in GRAPH_PARAMS}


@dataclass
class KernelJob:
    """One fused kernel ready to launch: source, per-kernel inputs and its trigger lists."""

    kernel: I.Kernel
    source: str
    width: int
    bins: np.ndarray
    sliding: np.ndarray
    light: np.ndarray
    hubs: np.ndarray


def kernel_jobs(graph, compiled, hub_lanes: int = HUB_LANES, hub_threshold: float | None = None) -> list[KernelJob]:
    from blazingaml.ir.passes.schedule import hub_split

    jobs = []
    for kernel in compiled.kernels:
        light, hubs = hub_split(graph, kernel, hub_lanes, hub_threshold)
        jobs.append(KernelJob(
            kernel=kernel,
            source=generate_cuda(kernel, compiled.mode),
            width=sum(len(p.bins) for p in kernel.programs),
            bins=np.concatenate([np.asarray(p.bins, np.float64) for p in kernel.programs]),
            sliding=np.ascontiguousarray(sliding_counts(graph, kernel), dtype=np.int32),
            light=light, hubs=hubs,
        ))
    return jobs


def grid_for(triggers: int, lanes: int) -> int:
    """Blocks needed for `triggers` x `lanes` threads."""
    return max(1, -(-triggers * lanes // THREADS_PER_BLOCK))
