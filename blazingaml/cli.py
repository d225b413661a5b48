"""The `blazingaml` command line. The only module that wires the parts together."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from . import __version__
from .errors import BlazingError
from .progress import bar, log, set_quiet

EPILOG = """\
typical session:
  blazingaml generate --preset hi-small-like --scale 0.05 --out data/generated
  blazingaml convert data/generated/HI-Small-like_Trans.csv --out tx.parquet
  blazingaml check patterns/
  blazingaml compile patterns/gfp/scatter_gather.pattern --emit plan
  blazingaml mine --patterns patterns/gfp --input tx.parquet --output features.parquet
  blazingaml evaluate --transactions tx.parquet --patterns-file data/generated/HI-Small-like_Patterns.txt --report report/

Run 'blazingaml COMMAND --help' for each command's options and examples.
"""


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quiet", action="store_true", help="no progress bars or status lines")


# --------------------------------------------------------------------------- generate
def cmd_generate(args) -> int:
    from .generator import generate

    t0 = time.perf_counter()
    with bar("generating", total=None) as _:
        files = generate(args.out, preset=args.preset, scale=args.scale, seed=args.seed,
                         embed_patterns=args.embed_patterns, name=args.name, embed_policy=args.embed_policy,
                         progress=lambda stage: log(f"  {stage} ..."), notice=log)
    log(f"wrote {files.trans} ({files.transactions:,} transactions, {files.laundering:,} laundering, "
        f"{files.attempts} attempts) in {time.perf_counter() - t0:.1f} s")
    log(f"      {files.patterns}\n      {files.accounts}\n      {files.placements}\n      {files.controlled}")
    return 0


# --------------------------------------------------------------------------- convert
def cmd_convert(args) -> int:
    from .io.ibm_csv import convert_trans_csv

    src = Path(args.input)
    out = Path(args.out) if args.out else src.with_suffix(".parquet")
    size = src.stat().st_size if src.exists() else None
    t0 = time.perf_counter()
    with bar(f"converting {src.name}", total=size, unit="B") as advance:
        summary = convert_trans_csv(src, out, on_bad_rows=args.on_bad_rows, progress=advance)
    dt = time.perf_counter() - t0
    log(f"wrote {out}: {summary.rows_kept:,} transactions, {summary.accounts:,} accounts "
        f"({summary.rows_kept / max(dt, 1e-9):,.0f} rows/s)")
    if summary.rejects_path:
        log(f"set aside {summary.rows_rejected:,} bad rows, verbatim with reasons, in {summary.rejects_path}")
    return 0


# --------------------------------------------------------------------------- info
def cmd_info(args) -> int:
    from .graph import TemporalGraph
    from .io.transactions import load_transactions

    table, accounts = load_transactions(args.input)
    t0 = time.perf_counter()
    graph = TemporalGraph.from_table(table, accounts)
    summary = graph.summary()
    summary["graph_build_seconds"] = round(time.perf_counter() - t0, 3)
    if "label" in table.column_names:
        summary["laundering"] = int(table.column("label").to_numpy().sum())
    print(json.dumps(summary, indent=2))
    return 0


COMMANDS = {}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="blazingaml",
        description="Find money laundering in transaction graphs: write laundering patterns, compile them "
                    "to Numba/CUDA kernels, mine per-transaction features, train and evaluate detectors.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"blazingaml {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("generate", help="write an AMLworld-like world in the exact IBM formats",
                       description="Build a world from the AMLworld mechanisms (people and companies, their "
                                   "economy, crime: placement, layering through the 8 typologies, integration; "
                                   "labels from a dirty-balance ledger) and write <NAME>_Trans.csv, "
                                   "<NAME>_Patterns.txt, <NAME>_accounts.csv, plus the generator's truth "
                                   "<NAME>_Placements.csv and <NAME>_ControlledAccounts.csv. Every mechanism and its "
                                   "source: docs/generator.md.",
                       epilog="examples:
  blazingaml generate --preset hi-small-like --scale 0.1 --seed 7 --out data/hi
"
                              "  blazingaml generate --preset li-small-like --scale 0.2 --out data/li
"
                              "  blazingaml generate --scale 0.05 --embed-patterns "
                              "data/ibm-aml-sample/HI-Small_Patterns.dev.txt --out data/embedded",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="hi-small-like",
                   help="hi-small-like (default), li-small-like or hi-medium-like (sizes and rates of the IBM files)")
    p.add_argument("--scale", type=float, default=1.0,
                   help="1.0 = the preset's full size (hi-small-like: ~5.08M transactions); rates stay the same")
    p.add_argument("--seed", type=int, default=0, help="random seed; same seed, same files")
    p.add_argument("--embed-patterns", metavar="FILE", help="a Patterns.txt whose real attempts are inserted unchanged")
    p.add_argument("--embed-policy", choices=["subsample", "grow"], default="subsample",
                   help="when the attempts do not fit the preset's laundering rate at this scale: embed as many as "
                        "fit (subsample, default) or enlarge the world until all fit (grow)")
    p.add_argument("--name", help="file name prefix (default: the preset's name)")
    p.add_argument("--out", required=True, help="output directory")
    _add_common(p)
    COMMANDS["generate"] = cmd_generate

    p = sub.add_parser("convert", help="convert an IBM *_Trans.csv to normalised Parquet",
                       description="Stream a Trans.csv (any size) into normalised Parquet plus an account key table. "
                                   "Bad rows stop the conversion with file:line, column and value, unless "
                                   "--on-bad-rows skip sets them aside verbatim in <OUT>.rejected.csv.",
                       epilog="example:\n  blazingaml convert HI-Small_Trans.csv --out hi_small.parquet",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", help="the *_Trans.csv file")
    p.add_argument("--out", help="output .parquet (default: next to the input)")
    p.add_argument("--on-bad-rows", choices=["stop", "skip"], default="stop",
                   help="stop at the first bad row (default) or set bad rows aside and continue")
    _add_common(p)
    COMMANDS["convert"] = cmd_convert

    p = sub.add_parser("info", help="build the temporal graph of a file and print its summary as JSON")
    p.add_argument("input", help="a Trans.csv or normalised .parquet")
    _add_common(p)
    COMMANDS["info"] = cmd_info

    from . import cli_patterns, cli_pipeline

    cli_patterns.register(sub, COMMANDS, _add_common)
    cli_pipeline.register(sub, COMMANDS, _add_common)

    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    set_quiet(getattr(args, "quiet", False) or getattr(args, "json", False))
    try:
        return COMMANDS[args.command](args) or 0
    except BlazingError as exc:
        print(f"error: {exc.render()}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
