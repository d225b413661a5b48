"""CUDA C generator: the shared IR walk (`backends.source_writer`) spelt as one CUDA kernel.

One thread per trigger edge. Hub triggers are launched a second time with `lanes` > 1 threads
each: the lanes share out the first level of every case that starts with a loop or a path
(iteration i goes to lane i mod lanes); cases that start with anything else run on lane 0. No
lane reads another's values, so there is no synchronisation, and every count goes to the output
with `atomicAdd`. Path stacks and the participation credit list are per-thread arrays.

A pattern set becomes one translation unit: device helpers from `device.cuh` pasted in once (no
#include), then each fused kernel under its own name. It compiles with NVRTC through
`cupy.RawModule`, with `nvcc`, and, with `host_shim.h` and the launchers written under
`BLAZINGAML_HOST_SHIM`, with the system C++ compiler for CPU tests.
"""

from __future__ import annotations

from pathlib import Path

from blazingaml.ir import nodes as I
from blazingaml.kernel_results import CREDIT_CAP, CREDIT_LIMIT

from ..source_writer import CLOSURE_ARRAYS, GRAPH_ARGS, STACK_SLOTS, SourceWriter, _comment_text

KERNEL_NAME = "blazingaml_kernel"
HOST_LAUNCHER = "blazingaml_launch_on_host"
HERE = Path(__file__).resolve().parent

# C type of each graph parameter (GRAPH_ARGS order); the runtimes convert the graph's arrays to
# exactly the NumPy dtypes these stand for (NUMPY_DTYPE).
_GRAPH_C_TYPES = (
    "const int*", "const int*", "const long long*", "const double*", "const double*", "const signed char*",
    "const signed char*", "const signed char*", "const int*",
    *("const long long*", "const long long*", "const int*", "const long long*", "const long long*", "const int*",
      "const long long*", "const int*") * 2,
)
# (name, C type) of every kernel parameter, in order.
PARAMS = (
    (("order", "const long long*"), ("n_order", "long long"), ("lanes", "int"))
    + tuple(zip(GRAPH_ARGS, _GRAPH_C_TYPES, strict=True))
    + (("bins_all", "const double*"), ("out", "int*"), ("out_width", "int"), ("overflow", "signed char*"),
       ("overflow_width", "int"),
       ("max_work", "long long"), ("sliding", "const int*"), ("sliding_width", "int"),
       ("path_steps", "unsigned long long*"), ("aggregates", "const double*"), ("aggregates_width", "int"),
       ("reals", "double*"), ("reals_width", "int"))
)
NUMPY_DTYPE = {
    "const long long*": "int64", "long long*": "int64", "const int*": "int32", "int*": "int32",
    "const double*": "float64", "const signed char*": "int8", "signed char*": "int8",
    "long long": "int64", "int": "int32", "unsigned long long*": "uint64", "double*": "float64",
}


class CudaCodegen(SourceWriter):
    """C spelling of the shared IR walk, wrapped in a `__global__` kernel."""

    TRUE, FALSE = "true", "false"
    COMMENT = "//"
    splits_hubs = True
    _C_OPS = {"and": "&&", "or": "||"}
    _TYPES = {"i64": "long long", "f64": "double", "bool": "bool"}

    def not_(self, x: str) -> str:
        return f"(!({x}))"

    def binary(self, op: str, left: str, right: str) -> str:
        if op == "/":
            return f"((double)({left}) / (double)({right}))"
        return f"({left} {self._C_OPS.get(op, op)} {right})"

    def abs_(self, x: str) -> str:
        return f"fabs((double)({x}))"

    def const(self, v: float) -> str:
        if v != v or v in (float("inf"), float("-inf")):
            raise ValueError(f"constant {v} has no C spelling")
        return repr(float(v))

    def let(self, d: int, name: str, value: str, ty: str = "i64"):
        self.line(d, f"{self._TYPES[ty]} {name} = {value};")

    def assign(self, d: int, target: str, value: str):
        self.line(d, f"{target} = {value};")

    def stmt(self, d: int, text: str):
        self.line(d, f"{text};")

    def for_range(self, d: int, var: str, start: str, stop: str):
        self.line(d, f"for (long long {var} = {start}; {var} < {stop}; ++{var}) {{", opens=True)

    def while_(self, d: int, cond: str):
        self.line(d, f"while ({cond}) {{", opens=True)

    def if_(self, d: int, cond: str):
        self.line(d, f"if ({cond}) {{", opens=True)

    def elif_(self, d: int, cond: str):
        self.line(d, f"else if ({cond}) {{", opens=True)

    def else_(self, d: int):
        self.line(d, "else {", opens=True)

    def pass_(self, d: int):
        self.line(d, ";")

    def sliding_ref(self, e: str, j: int) -> str:
        return f"sliding[{e} * sliding_width + {j}]"

    def aggregate_ref(self, e: str, j: int) -> str:
        return f"aggregates[{e} * aggregates_width + {j}]"

    def named_store(self, d: int, e: str, j: int, value: str):
        self.assign(d, f"reals[{e} * reals_width + {j}]", f"(double)({value})")

    def previous_time(self) -> str:
        return "(e > 0 ? ts[e - 1] : t)"

    def bin_call(self, value: str, offset: int, count: int) -> str:
        return f"bin_index((double)({value}), bins_all + {offset}, {count})"

    def bump(self, d: int, edge: str, b: str):
        self.stmt(d, f"atomicAdd(&out[{edge} * out_width + {b}], 1)")

    def path_stacks(self, d: int, v: dict):
        for key in ("sn", "se", "sp", "st"):
            self.line(d, f"long long {v[key]}[{STACK_SLOTS}];")

    def new_instance(self, d: int):
        self.assign(d, "ncredited", "0")

    def credit(self, d: int, edge: str, b: str):
        self.stmt(d, f"credit_once(out, out_width, credited, &ncredited, {edge}, {b}, &{self.overflow_code()})")

    def overflow_code(self) -> str:
        return f"overflow[e * overflow_width + {self.prog_index}]"

    def count_steps(self, d: int, work: str):
        self.stmt(d, f"atomicAdd(path_steps, (unsigned long long)({work}))")

    CLOSURE_CAPACITY = 256
    _CLOSURE_TYPES = ("int", "long long", "int", "long long", "int", "int")   # CLOSURE_ARRAYS order

    def closure_tables(self, d: int, v: dict):
        for key in CLOSURE_ARRAYS:  # declared once per thread at the top of the kernel
            v[key] = f"cl_{key}"

    def next_build(self, d: int, var: str):
        self.assign(d, var, "++closure_builds")

    def lane_skip(self, d: int, position: str):
        self.if_(d, f"(({position}) % lanes) != lane")
        self.stmt(d + 1, "continue")

    def lane_zero_only(self, d: int) -> int:
        self.if_(d, "lane == 0")
        return d + 1

    def __init__(self, kernel: I.Kernel, mode: str = "closing", number: int = 1):
        super().__init__(kernel, mode)
        self.name, self.launcher = kernel_name(number), launcher_name(number)

    def source(self) -> str:
        """The `__global__` function and its host launcher (no helpers: see `generate_cuda`)."""
        k = self.kernel
        params = ",\n    ".join(f"{ctype} {name}" for name, ctype in PARAMS)
        self.line(0, f"// {self.name}: IR {k.digest()} ({self.mode} mode); patterns: "
                     + _comment_text(", ".join(p.name for p in k.programs)))
        self.line(0, f'extern "C" __global__ void {self.name}(\n    {params}) {{', opens=True)
        self.let(1, "gid", "(long long)blockIdx.x * blockDim.x + threadIdx.x")
        self.let(1, "k", "gid / lanes")
        self.line(1, "int lane = (int)(gid % lanes);")
        self.if_(1, "k >= n_order")
        self.stmt(2, "return")
        self.let(1, "e", "order[k]")
        self.let(1, "ta", "src[e]")
        self.let(1, "tb", "dst[e]")
        self.let(1, "t", "ts[e]")
        self.let(1, "wlo", "0")
        if self.mode == "participation":
            self.line(1, "long long credited[BLAZINGAML_CREDIT_CAP];")
            self.line(1, "int ncredited = 0;")
        if self.pruned_paths:
            self.comment(1, "path pruning closure table (stamp 0: empty slot)")
            for key, ctype in zip(CLOSURE_ARRAYS, self._CLOSURE_TYPES):
                self.line(1, f"{ctype} cl_{key}[{self.CLOSURE_CAPACITY}]{' = {}' if key == 'cs' else ''};")
            self.line(1, "long long closure_builds = 0;")
        self.stmt(1, "(void)lane; (void)ta; (void)tb; (void)wlo; (void)max_work")
        self.programs(1)
        return self.render_braces() + self.host_launcher()

    def host_launcher(self) -> str:
        params = ",\n    ".join(f"{ctype} {name}" for name, ctype in PARAMS)
        names = ", ".join(name for name, _ in PARAMS)
        return (
            "\n#ifdef BLAZINGAML_HOST_SHIM\n"
            "// CPU execution for tests: every thread of the grid in turn (see host_shim.h).\n"
            f'extern "C" void {self.launcher}(unsigned int grid, unsigned int block,\n    {params})\n{{\n'
            "    gridDim.x = grid;\n    blockDim.x = block;\n"
            "    for (unsigned int bx = 0; bx < grid; ++bx) {\n        blockIdx.x = bx;\n"
            "        for (unsigned int tx = 0; tx < block; ++tx) {\n            threadIdx.x = tx;\n"
            f"            {self.name}({names});\n"
            "        }\n    }\n}\n#endif\n"
        )


def kernel_name(number: int) -> str:
    """Name of the `number`-th kernel (from 1) of a generated source."""
    return f"{KERNEL_NAME}_{number}"


def launcher_name(number: int) -> str:
    return f"{HOST_LAUNCHER}_{number}"


def generate_cuda(kernels, mode: str = "closing") -> str:
    """One readable, self-contained CUDA C translation unit for fused kernels: the device helpers
    once, then kernel i (from 1) as `blazingaml_kernel_<i>`, each with its host launcher."""
    kernels = tuple(kernels)
    header = "\n".join((
        f"// Generated by BlazingAML ({mode} mode); do not edit.",
        f"// {len(kernels)} kernel(s); patterns: "
        + _comment_text(", ".join(p.name for k in kernels for p in k.programs)),
        "// generated code binds some variables it does not read (e.g. a loop's neighbour)",
        "#ifdef __CUDACC__",
        "#pragma nv_diag_suppress 177",
        "#pragma nv_diag_suppress 550",
        "#endif",
        f"#define BLAZINGAML_CREDIT_CAP {CREDIT_CAP}",
        f"#define BLAZINGAML_CREDIT_LIMIT {CREDIT_LIMIT}",
        (HERE / "device.cuh").read_text(),
    ))
    return header + "\n" + "\n".join(CudaCodegen(k, mode, i).source() for i, k in enumerate(kernels, 1))
