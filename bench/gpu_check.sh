#!/usr/bin/env bash
# GPU check for the CUDA backend, for a machine with one NVIDIA GPU and no network.
#
#   bash bench/gpu_check.sh            # from the repository root; results in $OUT when set
#
# Installs nothing from the internet. Needs python3 with numpy, numba, pandas, pyarrow, lark, rich,
# cupy, pytest and hypothesis (set PYTHON to choose the interpreter). Wheels found in .whl/ (or
# WHEELS=dir) are installed offline first: the lent H200 image has all of these but lark, so
# bring it, on a machine with network, with
#   python3 -m pip download --no-deps --only-binary=:all: -d .whl lark==1.3.1
# Uses an installed `blazingaml` (for instance a wheel built beforehand: set
# WHEEL=path/to/blazingaml-*.whl) or, failing that, this source tree. Steps: GPU facts; a scale-1 HI-Small-like world (~5M
# transactions); the `gpu`-marked tests; every patterns/gfp and patterns/typologies pattern timed
# on the GPU and with Numba on all CPU cores, outputs checked identical (bench/bench_gpu.py).
# Sized to finish in under 8 minutes on one GPU and 16 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
SCALE=${SCALE:-1.0}
WORK=${WORK:-$(mktemp -d /tmp/blazingaml-gpu.XXXXXX)}
RESULTS=${OUT:-$WORK/results}
mkdir -p "$RESULTS"
export PYTHONUNBUFFERED=1
export BLAZINGAML_CACHE="$WORK/cache"
start=$(date +%s)
step() { echo "== [$(( $(date +%s) - start ))s] $*"; }

step "GPU"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || echo "nvidia-smi not available"
nproc

step "python and packages"
WHEELS=${WHEELS:-.whl}
if compgen -G "$WHEELS/*.whl" > /dev/null; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --target "$WORK/site" "$WHEELS"/*.whl
    export PYTHONPATH="$WORK/site${PYTHONPATH:+:$PYTHONPATH}"
fi
missing=$("$PY" - <<'PYEOF'
import importlib.util
need = ["numpy", "numba", "pandas", "pyarrow", "lark", "rich", "cupy", "pytest", "hypothesis"]
print(" ".join(n for n in need if importlib.util.find_spec(n) is None))
PYEOF
)
if [ -n "$missing" ]; then
    echo "missing Python packages: $missing (this script installs nothing; bring them as wheels)" >&2
    exit 2
fi
if [ -n "${WHEEL:-}" ]; then
    "$PY" -m pip install -q --no-index --no-deps --target "$WORK/site" "$WHEEL"
    export PYTHONPATH="$WORK/site${PYTHONPATH:+:$PYTHONPATH}"
elif ! "$PY" -c "import blazingaml.backends.cupy" 2>/dev/null; then
    # the source tree, laid out as installed (dsl/ and backends/ live inside the package)
    mkdir -p "$WORK/site"
    cp -r blazingaml "$WORK/site/"
    cp -r dsl "$WORK/site/blazingaml/dsl"
    cp -r backends "$WORK/site/blazingaml/backends"
    export PYTHONPATH="$WORK/site${PYTHONPATH:+:$PYTHONPATH}"
fi
"$PY" -c "import blazingaml, cupy; print('blazingaml from', blazingaml.__file__); print('cupy', cupy.__version__)"

step "generate a scale-$SCALE HI-Small-like world"
"$PY" -m blazingaml.cli generate --preset hi-small-like --scale "$SCALE" --seed 1 --name world --out "$WORK" --quiet
"$PY" -m blazingaml.cli convert "$WORK/world_Trans.csv" --out "$WORK/tx.parquet" --quiet

status=0
step "gpu-marked tests"
"$PY" -m pytest -q -m gpu -p no:cacheprovider tests/test_cuda_backend.py 2>&1 | tee "$RESULTS/gpu_tests.log" \
    || { echo "gpu-marked tests FAILED" >&2; status=1; }

step "GPU vs Numba on all cores, every gfp and typology pattern"
"$PY" bench/bench_gpu.py --input "$WORK/tx.parquet" --out "$RESULTS" \
    || { echo "GPU and Numba outputs differ (see the table)" >&2; status=1; }

step "done (status $status); results in $RESULTS"
exit $status
