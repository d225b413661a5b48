"""Options for reading inputs as users have them: --columns (a column mapping) and --only (patterns)."""

from __future__ import annotations

COLUMNS_HELP = ("read a Parquet file with your own column names: FIELD=COLUMN items, e.g. "
                "ts=time src=sender dst=receiver amount=amount (optional: src_bank, dst_bank, amount_paid, "
                "amount_received, currency, pay_currency, recv_currency, payment_format, label). Without it a "
                "Parquet file holds the IBM columns (as pandas writes a Trans.csv) or blazingaml's normalised ones")


def add_columns(p) -> None:
    """--columns, for every command that reads transactions."""
    p.add_argument("--columns", nargs="+", metavar="FIELD=COLUMN", help=COLUMNS_HELP)


def add_only(p) -> None:
    """--only, for every command that takes pattern files."""
    p.add_argument("--only", metavar="NAME[,NAME...]",
                   help="use only these patterns of the files given (names as in `blazingaml check` lists them)")


def column_mapping(args) -> dict[str, str] | None:
    """The command's --columns as {field: column}, or None."""
    from .io.user_tables import parse_column_mapping

    return parse_column_mapping(args.columns) if args.columns else None


def read_transactions(path, args):
    """(normalised table, key table) of an input file, read through the command's --columns."""
    from .io.transactions import load_transactions

    return load_transactions(path, columns=column_mapping(args))


def chosen_patterns(paths, args):
    """The patterns of `paths`, narrowed by the command's --only."""
    from .dsl.parser import load_patterns

    only = [n.strip() for n in args.only.split(",") if n.strip()] if getattr(args, "only", None) else None
    return load_patterns(paths, only=only)
