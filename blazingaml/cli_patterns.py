"""CLI commands for pattern files: check, compile, mine."""

from __future__ import annotations

import argparse
from pathlib import Path

from .cli_inputs import add_columns, add_only, chosen_patterns, column_mapping, read_transactions
from .progress import bar, log


def add_engine(p) -> None:
    """--backend and --threads, the same for every command that mines."""
    p.add_argument("--backend", choices=["numba", "cupy", "reference"], default="numba",
                   help="numba: compiled CPU kernels on all cores (default); cupy: CUDA kernels on the GPU "
                        "(needs the [gpu] extra and an NVIDIA GPU); reference: the slow plain-Python oracle")
    p.add_argument("--threads", type=int, help="CPU threads for numba (default: all cores)")


def add_dask_engine(p) -> None:
    """--engine, --scheduler and --memory-per-worker, for the commands that can run on Dask."""
    from .distributed import memory_size

    p.add_argument("--engine", choices=["process", "dask"], default="process",
                   help="process: this machine, one process (default); dask: time partitions with halos on a "
                        "Dask cluster, output a directory of Parquet parts (docs/distributed.md)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="with --engine dask: a scheduler address, or local[:N] for N local workers (default 2)")
    p.add_argument("--memory-per-worker", type=memory_size, metavar="SIZE",
                   help="with --engine dask: memory one partition may use, e.g. 4GiB (default: half a worker's limit)")



def machine_memory() -> int:
    """Half of this machine's physical memory, in bytes (the default --memory)."""
    import os

    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2


def steps(text: str) -> int:
    """A step bound: a whole number of at least 1 (commas and underscores allowed: 2,000,000)."""
    try:
        value = int(text.replace(",", "").replace("_", ""))
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of steps, at least 1; got {text!r}")
    return value


def add_max_work(p, model: bool = False) -> None:
    """--max-work: each trigger's path-search step bound. The default is runtime.DEFAULT_MAX_WORK written
    out (a test holds them equal): importing the runtime (0.45 s, with NumPy and pyarrow) would slow the
    start of every command, `--help` included."""
    p.add_argument("--max-work", type=steps, default=2_000_000, metavar="STEPS",
                   help="per-trigger step bound for path stages (default 2,000,000): a trigger over it gets "
                        "saturated counts. Dense worlds (a day's payroll, purchases and supplies joining most "
                        "active accounts) can need 10,000 to finish cycles in minutes"
                        + ("; the model records it and `score` mines with it" if model else ""))


def add_memory(p) -> None:
    """--memory: the budget `mine` keeps its features within (numba backend, closing mode)."""
    from .distributed import memory_size

    p.add_argument("--memory", type=memory_size, default=machine_memory(), metavar="SIZE",
                   help="memory for the run, e.g. 8GiB (default: half of this machine's, "
                        f"{machine_memory() / 2**30:.0f} GiB): features are mined and written range by range "
                        "of rows to stay within it; the graph itself stays in memory")


def uses_dask(args) -> bool:
    """Whether to run on Dask; the Dask options without `--engine dask` are a usage mistake."""
    from .errors import BlazingError

    if args.engine != "dask" and (args.scheduler or args.memory_per_worker):
        raise BlazingError("--scheduler and --memory-per-worker apply to the dask engine",
                           hint="add --engine dask, or leave them out")
    return args.engine == "dask"


EMITS = ("ast", "ir", "plan", "numba", "cuda")


def cmd_check(args) -> int:
    from .dsl.parser import load_patterns, pattern_files

    files = pattern_files(args.files)
    patterns = load_patterns(files)
    for p in patterns:
        log(f"ok  {p.name:28s} window {p.window_seconds}s, {len(p.bins)} bins  ({p.source})")
    log(f"{len(patterns)} pattern(s) in {len(files)} file(s): no problems found")
    return 0


def cmd_compile(args) -> int:
    from .dsl.parser import load_patterns
    from .ir import nodes as I
    from .ir.plan import render_plan
    from .runtime import compile_patterns

    patterns = load_patterns(args.files)
    if args.emit == "ast":
        for p in patterns:
            print(I.dump(p))
        return 0
    stats = None
    if args.input:
        from .graph import TemporalGraph
        from .io.transactions import load_transactions
        from .ir.passes.cost import GraphStats

        stats = GraphStats.of(TemporalGraph.from_table(*load_transactions(args.input)))
    compiled = compile_patterns(patterns, mode=args.mode, stats=stats)
    if args.emit == "ir":
        for p in compiled.programs:
            print(I.dump(p))
    elif args.emit == "plan":
        print(render_plan(compiled.kernels, stats, args.input))
    elif args.emit == "numba":
        from .backends.numba_codegen import generate_source

        for k in compiled.kernels:
            print(generate_source(k, compiled.mode))
    elif args.emit == "cuda":
        from .backends.cupy.codegen import generate_cuda

        print(generate_cuda(compiled.kernels, compiled.mode))
    return 0


def cmd_mine(args) -> int:
    import pyarrow.parquet as pq

    from .features import FEATURE_PARQUET, mine_table, mine_to_parquet
    from .io.atomic import atomic_path

    patterns = chosen_patterns(args.patterns, args)
    if uses_dask(args):
        return mine_with_dask(args, patterns)
    table, accounts = read_transactions(args.input, args)
    log(f"mining {len(patterns)} pattern(s) on {table.num_rows:,} transactions with the {args.backend} backend")
    out = Path(args.output)
    if args.backend == "numba" and args.mode == "closing":  # range by range of rows, within --memory
        with bar("mining", total=table.num_rows, unit="rows") as advance:
            mined = mine_to_parquet(out, table, accounts, patterns, args.memory, mode=args.mode, threads=args.threads,
                                    max_work=args.max_work, progress=advance, on_work_limit=args.on_work_limit)
    else:
        with bar("mining", total=len(patterns), unit="") as advance:
            mined = mine_table(table, accounts, patterns, backend=args.backend, mode=args.mode, threads=args.threads,
                               max_work=args.max_work, progress=advance, on_work_limit=args.on_work_limit)
        with atomic_path(out) as tmp:
            pq.write_table(mined.table, tmp, **FEATURE_PARQUET)
    log(f"wrote {out}: {mined.table.num_columns - 1} feature columns; graph built in {mined.graph_seconds:.2f} s, "
        f"mined in {mined.seconds:.2f} s ({mined.edges_per_second:,.0f} edges/s)")
    return 0


def mine_with_dask(args, patterns) -> int:
    from .distributed import connect, mine_distributed

    with connect(args.scheduler or "local") as client:
        log(f"mining {len(patterns)} pattern(s) on {args.input} with the dask engine ({client.scheduler.address})")
        run = mine_distributed(client, args.input, patterns, args.output, mode=args.mode, backend=args.backend,
                               threads=args.threads, max_work=args.max_work, on_work_limit=args.on_work_limit,
                               memory_per_worker=args.memory_per_worker, columns=column_mapping(args))
    log(f"wrote {args.output}/: {run.rows:,} rows in {len(run.partitions)} time partition(s) "
        f"({run.halo_rows:,} halo rows read again) in {run.seconds:.2f} s")
    return 0


def register(sub, commands: dict, add_common) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser("check", help="check pattern files and report mistakes with file:line:col",
                       description="Parse and statically check pattern files (names bound before use, types, "
                                   "units, explosion bounds).",
                       epilog="example:\n  blazingaml check patterns/", formatter_class=fmt)
    p.add_argument("files", nargs="+", help="pattern files or directories (searched for *.pattern)")
    add_common(p)
    commands["check"] = cmd_check

    p = sub.add_parser("compile", help="show a compilation stage: ast, ir, plan, numba or cuda source",
                       description="Show what the compiler makes of pattern files, one stage at a time.",
                       epilog="examples:\n  blazingaml compile patterns/gfp/scatter_gather.pattern --emit plan\n"
                              "  blazingaml compile patterns/gfp/fan.pattern --emit numba\n"
                              "  blazingaml compile patterns/gfp/cycles.pattern --emit cuda\n"
                              "  blazingaml compile patterns/typologies --emit plan --input tx.parquet",
                       formatter_class=fmt)
    p.add_argument("files", nargs="+", help="pattern files or directories")
    p.add_argument("--emit", choices=EMITS, default="plan", help="which stage to print (default: plan)")
    p.add_argument("--mode", choices=["closing", "participation"], default="closing")
    p.add_argument("--input", metavar="TRANSACTIONS",
                   help="plan for this graph (a Trans.csv or converted .parquet): the cost model uses its degree "
                        "and time statistics, as mining does at run time")
    add_common(p)
    commands["compile"] = cmd_compile

    p = sub.add_parser("mine", help="mine pattern features: one row per transaction, one column per bin",
                       description="Compile the patterns and mine per-transaction features. The output Parquet has "
                                   "tx_id, then one int32 column per (pattern, bin) named <pattern>.<bin lower edge>, "
                                   "then a boolean <pattern>.work_limited per pattern with a path stage, rows in "
                                   "input order.",
                       epilog="example:\n  blazingaml mine --patterns patterns/gfp --input tx.parquet "
                              "--output features.parquet --threads 2", formatter_class=fmt)
    p.add_argument("--patterns", nargs="+", required=True, help="pattern files or directories")
    p.add_argument("--input", required=True, help="transactions: an IBM Trans.csv, or Parquet (see --columns)")
    add_only(p)
    add_columns(p)
    p.add_argument("--output", required=True, help="output .parquet")
    add_engine(p)
    p.add_argument("--mode", choices=["closing", "participation"], default="closing",
                   help="closing: instances each transaction completes (causal, default); participation: "
                        "instances each transaction takes part in (uses later transactions)")
    add_max_work(p)
    p.add_argument("--on-work-limit", choices=["flag", "error"], default="flag",
                   help="a trigger over --max-work: flag (default) saturates its counts and marks it in "
                        "<pattern>.work_limited; error stops the run")
    add_memory(p)
    add_dask_engine(p)
    add_common(p)
    commands["mine"] = cmd_mine

