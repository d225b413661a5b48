"""The `blazingaml` command line. The only module that wires the parts together."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from . import __version__
from .errors import BlazingError
from .progress import bar, log, set_quiet, warn

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
        summary = convert_trans_csv(src, out, on_bad_rows=args.on_bad_rows, progress=advance,
                                    max_disorder=args.max_disorder)
    dt = time.perf_counter() - t0
    log(f"wrote {out}: {summary.rows_kept:,} transactions, {summary.accounts:,} accounts "
        f"({summary.rows_kept / max(dt, 1e-9):,.0f} rows/s)")
    if summary.rejects_path:
        log(f"set aside {summary.rows_rejected:,} bad rows, verbatim with reasons, in {summary.rejects_path}")
    if summary.repeated_rows:
        line, earlier = summary.first_repeat
        warn(f"{src}:{line}: repeats line {earlier} exactly ({summary.repeated_rows:,} such rows in the file); "
             f"kept as separate transactions\n  hint: if the file holds an export twice, remove the repeats")
    return 0


def duration_or_off(text: str) -> int | None:
    """'24h', '90m', '2d', '3600s' as seconds; 'off' as None."""
    import re

    if text == "off":
        return None
    m = re.fullmatch(r"([0-9]+)([smhd])", text)
    if not m:
        raise argparse.ArgumentTypeError(f"expected a duration like 24h, 90m or 2d, or 'off'; got {text!r}")
    return int(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


# --------------------------------------------------------------------------- info
def cmd_info(args) -> int:
    from .graph import TemporalGraph
    from .io.columns import column_numpy
    from .io.transactions import load_transactions

    table, accounts = load_transactions(args.input)
    t0 = time.perf_counter()
    graph = TemporalGraph.from_table(table, accounts)
    summary = graph.summary()
    summary["graph_build_seconds"] = round(time.perf_counter() - t0, 3)
    if "label" in table.column_names:
        summary["laundering"] = int(column_numpy(table.column("label")).sum())
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
                       epilog="examples:\n  blazingaml generate --preset hi-small-like --scale 0.1 --seed 7 --out data/hi\n"
                              "  blazingaml generate --preset li-small-like --scale 0.2 --out data/li\n"
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
    p.add_argument("--max-disorder", type=duration_or_off, default="24h", metavar="DURATION",
                   help="a row dated more than this before a row above it is a bad row (default 24h; 'off' "
                        "accepts any order)")
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


EXIT_OK, EXIT_INPUT, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 3, 130, 143


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so that outputs in progress are cleaned up on the way out."""


def _on_sigterm(signum, frame):
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    """Run one command; the return value is the exit code (see `blazingaml.errors`)."""
    import signal

    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_USAGE
    set_quiet(getattr(args, "quiet", False) or getattr(args, "json", False))
    previous = _catch_sigterm()
    try:
        return COMMANDS[args.command](args) or EXIT_OK
    except BlazingError as exc:
        print(f"error: {exc.render()}", file=sys.stderr)
        return EXIT_INPUT
    except OSError as exc:   # the environment: a file that vanished, no permission, a full disk
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_INPUT
    except MemoryError:
        print("error: out of memory\n  hint: run on a machine with more memory, or on a smaller input",
              file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Terminated:
        print("terminated", file=sys.stderr)
        return EXIT_TERMINATED
    except Exception as exc:
        try:
            report = f"report: {write_crash_report(argv if argv is not None else sys.argv[1:])}"
        except OSError as write_error:
            report = f"(the crash report could not be written: {write_error.strerror})"
        print(f"internal error (a bug in blazingaml): {type(exc).__name__}: {exc}\n  {report}", file=sys.stderr)
        return EXIT_INTERNAL
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _catch_sigterm():
    """Turn SIGTERM into `Terminated` (only the main thread may install handlers); the old handler."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _on_sigterm)


def write_crash_report(argv) -> Path:
    """Write the current exception's traceback and the run's context to a short file; return its path."""
    import platform
    import tempfile
    import traceback

    path = Path(tempfile.gettempdir()) / f"blazingaml-crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt"
    path.write_text(f"blazingaml {__version__}, Python {platform.python_version()}, {platform.platform()}\n"
                    f"command: blazingaml {' '.join(argv)}\n\n{traceback.format_exc()}")
    return path


if __name__ == "__main__":
    sys.exit(main())
