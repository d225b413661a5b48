"""The CUDA backend without a GPU: the generated CUDA C compiles with nvcc for sm_80 and sm_90, and,
built against the host shim and run over the whole grid on the CPU, equals the reference
interpreter for every library pattern in both modes, with hub triggers split across lanes or not.
Tests marked `gpu` run the same kernels through CuPy where a device exists."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blazingaml.backends.cupy.codegen import generate_cuda
from blazingaml.backends.source_writer import UnsupportedConstruct
from blazingaml.dsl.parser import load_patterns, parse_text
from blazingaml.errors import WorkLimitError
from blazingaml.graph import TemporalGraph
from blazingaml.ir import nodes as I
from blazingaml.kernel_results import CREDIT_CAP
from blazingaml.runtime import compile_patterns, mine_graph

from .conftest import ROOT, gpu_available
from .differential import host_features
from .strategies import BASE_TS, build, differing_patterns, temporal_graphs

LIBRARY = load_patterns([ROOT / "patterns"])


@pytest.fixture(scope="module", params=["closing", "participation"])
def compiled(request):
    return compile_patterns(LIBRARY, mode=request.param), compile_patterns(LIBRARY, mode=request.param, optimise=False)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(g=temporal_graphs(), split_every_hub=st.booleans(), lanes=st.sampled_from([2, 3, 32]))
def test_cuda_on_host_equals_reference(compiled, g, split_every_hub, lanes):
    optimised, plain = compiled
    graph = build(g)
    expected = mine_graph(graph, plain, backend="reference")
    got = host_features(graph, optimised, 2_000_000, lanes, 0.0 if split_every_hub else None)
    bad = differing_patterns(expected, got, optimised.columns)
    assert not bad, f"CUDA C (host shim) differs from reference for {bad}"


def test_unoptimised_cuda_equals_reference():
    """Code generated from the plain IR (no passes) runs the same way."""
    plain = compile_patterns(LIBRARY, optimise=False)
    rng = np.random.default_rng(3)
    for _ in range(4):
        m, n = 50, 8
        graph = build((rng.integers(0, n, m), rng.integers(0, n, m), BASE_TS + rng.integers(0, 80, m) * 1800, n))
        got = host_features(graph, plain, 2_000_000, hub_threshold=0.0)
        assert not differing_patterns(mine_graph(graph, plain, "reference"), got, plain.columns)


NVCC = shutil.which("nvcc")


def _nvcc(path, archs=("80", "90")):
    gencode = [flag for a in archs for flag in ("-gencode", f"arch=compute_{a},code=sm_{a}")]
    return subprocess.run([NVCC, "-c", *gencode, "-o", str(path.with_suffix(".o")), str(path)],
                          capture_output=True, text=True)


@pytest.mark.skipif(NVCC is None, reason="nvcc not on PATH")
def test_emitted_cuda_of_every_library_file_compiles_as_printed(tmp_path):
    """`blazingaml compile FILE --emit cuda` prints one translation unit (helpers once, a distinct
    name per kernel) that nvcc compiles without warnings: every library file, and the whole
    library in both modes for sm_80 and sm_90."""
    from concurrent.futures import ThreadPoolExecutor

    jobs = [(f, "closing", ("90",)) for f in sorted((ROOT / "patterns").rglob("*.pattern"))]
    jobs += [(ROOT / "patterns", mode, ("80", "90")) for mode in ("closing", "participation")]
    sources = []
    for i, (target, mode, archs) in enumerate(jobs):
        done = _cli("compile", str(target), "--emit", "cuda", "--mode", mode)
        assert done.returncode == 0, done.stderr
        path = tmp_path / f"emitted{i}.cu"
        path.write_text(done.stdout)
        sources.append((path, archs))
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda job: _nvcc(*job), sources))
    for (target, mode, _), done in zip(jobs, results):
        assert done.returncode == 0, f"{target} ({mode}):\n{done.stderr[-3000:]}"
        assert "warning" not in done.stderr.lower(), f"{target} ({mode}):\n{done.stderr[-3000:]}"


def test_multi_kernel_source_names_each_kernel_once():
    compiled = compile_patterns(load_patterns([ROOT / "patterns" / "typologies" / "chains.pattern"]))
    assert len(compiled.kernels) == 2
    source = generate_cuda(compiled.kernels)
    assert source.count("__device__ __forceinline__ long long ts_lower(") == 1
    for number in (1, 2):
        assert source.count(f'extern "C" __global__ void blazingaml_kernel_{number}(') == 1
        assert source.count(f'extern "C" void blazingaml_launch_on_host_{number}(') == 1


def test_generated_source_is_self_contained_and_readable():
    compiled = compile_patterns(load_patterns([ROOT / "patterns" / "gfp" / "cycles.pattern"]))
    source = generate_cuda(compiled.kernels)
    assert "#include" not in source.split("#ifdef BLAZINGAML_HOST_SHIM")[0]   # NVRTC needs no include path
    assert 'extern "C" __global__ void blazingaml_kernel_1(' in source
    assert "// ---- pattern temporal_cycle" in source and "// path " in source
    assert "atomicAdd(&out[" in source


def test_unsupported_construct_is_named():
    prog = compile_patterns(load_patterns([ROOT / "patterns" / "gfp" / "fan.pattern"]), optimise=False).programs[0]
    emit = prog.cases[0].ops[-1]
    bad_emit = I.replace(emit, value=I.Binary("%", emit.value, I.Const(2.0)))
    bad = I.replace(prog, cases=(I.replace(prog.cases[0], ops=prog.cases[0].ops[:-1] + (bad_emit,)),))
    with pytest.raises(UnsupportedConstruct, match="operator '%'"):
        generate_cuda((I.Kernel((bad,)),))


FAN_IN = """
pattern wide_fan
    window 24h
    bins 1..2
    trigger a -> b
    stage senders = nodes x in b.in where x != b
    emit size(senders) when size(senders) >= 1
"""


def test_participation_credit_limit_is_reported_not_dropped():
    """An instance crediting more edges than a GPU thread's list holds stops with a clear error."""
    k = CREDIT_CAP + 10
    src = np.arange(1, k + 1)
    graph = TemporalGraph.from_arrays(src, np.zeros(k, int), BASE_TS + np.arange(k) * 60, n=k + 1)
    compiled = compile_patterns(parse_text(FAN_IN), mode="participation")
    with pytest.raises(WorkLimitError, match=f"more than {CREDIT_CAP} edges"):
        host_features(graph, compiled, 1000)
    ok = host_features(graph, compile_patterns(parse_text(FAN_IN)), 1000)
    assert np.array_equal(ok, mine_graph(graph, compile_patterns(parse_text(FAN_IN)), "reference"))


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "blazingaml.cli", *args], capture_output=True, text=True)


def test_emit_cuda_prints_kernels():
    done = _cli("compile", str(ROOT / "patterns" / "gfp" / "scatter_gather.pattern"), "--emit", "cuda")
    assert done.returncode == 0, done.stderr
    assert "__global__" in done.stdout and "scatter_gather" in done.stdout


@pytest.mark.skipif(gpu_available(), reason="this machine has a GPU")
def test_cupy_backend_without_gpu_says_what_to_do(small_world):
    _, parquet = small_world
    done = _cli("mine", "--patterns", str(ROOT / "patterns" / "gfp" / "fan.pattern"), "--input", str(parquet),
                "--output", "/dev/null", "--backend", "cupy")
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "--backend numba" in done.stderr


@pytest.mark.gpu
def test_gpu_equals_numba(small_world):
    from blazingaml.features import mine_table
    from blazingaml.io.transactions import load_transactions

    _, parquet = small_world
    table, accounts = load_transactions(parquet)
    for mode in ("closing", "participation"):
        gpu = mine_table(table, accounts, LIBRARY, backend="cupy", mode=mode)
        cpu = mine_table(table, accounts, LIBRARY, backend="numba", mode=mode)
        assert gpu.table.equals(cpu.table)
