"""CLI commands of the detection pipeline: train, score, evaluate, demo."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from .cli_inputs import add_columns, add_only, chosen_patterns, column_mapping, read_transactions
from .cli_patterns import add_dask_engine, add_engine, add_max_work, uses_dask
from .errors import BlazingError
from .models import MODEL_KINDS
from .progress import log

ROOT = Path(__file__).resolve().parents[1]


def cmd_train(args) -> int:
    from .io.atomic import ensure_replaceable
    from .io.model_files import model_file_names
    from .io.patterns_txt import read_patterns
    from .pipeline import train

    ensure_replaceable(args.out, model_file_names)
    attempts = read_patterns(args.patterns_file) if args.patterns_file else None
    t0 = time.perf_counter()
    if uses_dask(args):
        from .distributed import connect
        from .distributed_learning import train_distributed

        with connect(args.scheduler or "local") as client:
            meta = train_distributed(client, args.input, chosen_patterns(args.patterns, args), args.out,
                                     model_kind=args.model, threads=args.threads, backend=args.backend,
                                     attempts=attempts, memory_per_worker=args.memory_per_worker,
                                     columns=column_mapping(args), max_work=args.max_work)
    else:
        table, accounts = read_transactions(args.input, args)
        meta = train(table, accounts, chosen_patterns(args.patterns, args), model_kind=args.model, out=args.out,
                     threads=args.threads, backend=args.backend, attempts=attempts, max_work=args.max_work)
    log(f"trained a {args.model} model on {meta['trained_rows']:,} transactions "
        f"({len(meta['features'])} features, threshold {meta['threshold']:.3f}) in "
        f"{time.perf_counter() - t0:.1f} s -> {args.out}")
    return 0


def cmd_score(args) -> int:
    import pyarrow.parquet as pq

    from .io.atomic import atomic_files
    from .models import load_model
    from .pipeline import model_patterns, score

    _, meta = load_model(args.model)
    patterns = model_patterns(meta, args.patterns)
    if uses_dask(args):
        return score_with_dask(args, patterns)
    table, accounts = read_transactions(args.input, args)
    history = [read_transactions(h, args) for h in args.history or []]
    out, explanations = score(args.model, table, accounts, patterns, history=history,
                              explain=args.explain, threads=args.threads, backend=args.backend)
    # The explanations, when asked for, are committed just before the scores (the commit point);
    # explanations left by an earlier run would not belong to these scores, so they go.
    side = Path(args.output).with_suffix(".alerts.jsonl")
    with atomic_files(*([side] if args.explain else []), args.output) as temps:
        if args.explain:
            temps[0].write_text("".join(json.dumps(x) + "\n" for x in explanations))
        pq.write_table(out, temps[-1])
    if not args.explain:
        side.unlink(missing_ok=True)
    alerts = int(out.column("alert").to_numpy().sum())
    log(f"scored {out.num_rows:,} transactions: {alerts:,} alerts -> {args.output}")
    if args.explain:
        log(f"explanations of {len(explanations):,} alerts (pattern instances) -> {side}")
    return 0


def score_with_dask(args, patterns) -> int:
    from .distributed import connect, score_distributed

    with connect(args.scheduler or "local") as client:
        run = score_distributed(client, args.model, args.input, patterns, args.output, backend=args.backend,
                                threads=args.threads, memory_per_worker=args.memory_per_worker,
                                columns=column_mapping(args), explain=args.explain, history=args.history or ())
    log(f"scored {run.rows:,} transactions in {len(run.partitions)} time partition(s) -> {args.output}/"
        + (" (explanations of each part's alerts in _alerts-NNNNN.jsonl)" if args.explain else ""))
    return 0


def evaluate_with_dask(args, models, attempts) -> int:
    """`evaluate --engine dask`: one scorer, untuned, with the paper or ibm protocol."""
    from .distributed import connect
    from .distributed_learning import evaluate_distributed

    if len(models) != 1 or args.tune or args.protocol not in ("paper", "ibm"):
        raise BlazingError("--engine dask evaluates one scorer, untuned, with --protocol paper or ibm",
                           hint="for --tune, several --model, transfer or prequential use the process engine")
    with connect(args.scheduler or "local") as client:
        ev = evaluate_distributed(client, args.transactions, chosen_patterns(args.patterns, args), args.report,
                                  attempts=attempts, protocol=args.protocol, model_kind=models[0],
                                  threads=args.threads, backend=args.backend, ablation=not args.no_ablation,
                                  memory_per_worker=args.memory_per_worker, columns=column_mapping(args),
                                  max_work=args.max_work)
    return report_evaluations([ev], args)


def report_evaluations(evs, args) -> int:
    """Write the report of `evs` to `--report` and print their comparison as JSON (`--json`) or
    a summary table."""
    from .pipeline import comparison_json
    from .report import write_report

    where = write_report(evs, args.report)
    if args.json:
        print(json.dumps(comparison_json(evs)))
    else:
        print_summary(evs, where)
    return 0


def cmd_evaluate(args) -> int:
    from .io.atomic import ensure_replaceable
    from .io.patterns_txt import read_patterns
    from .pipeline import evaluate, prequential, prequential_json
    from .report import report_file_names, write_report

    ensure_replaceable(args.report, report_file_names)
    streaming = args.protocol == "prequential"
    models = chosen_models(args.model or ("gbt,driftmoe" if streaming else "gbt"), streaming)
    if streaming and (args.tune or args.test_transactions):
        raise BlazingError("--tune and --test-transactions do not apply to the prequential protocol",
                           hint="tune with --protocol ibm; test on another world with --protocol transfer")
    attempts = read_patterns(args.patterns_file) if args.patterns_file else None
    if uses_dask(args):
        return evaluate_with_dask(args, models, attempts)
    table, accounts = read_transactions(args.transactions, args)
    if streaming:
        result = prequential(table, accounts, chosen_patterns(args.patterns, args), attempts=attempts, models=models,
                             window_days=args.window_days, train_days=args.train_days,
                             label_delay_days=args.label_delay_days, threads=args.threads, backend=args.backend,
                             max_work=args.max_work)
        where = write_report(result, args.report)
        print(json.dumps(prequential_json(result)) if args.json else
              f"prequential: mean F1 / PR-AUC over {len(result.windows)} windows: " +
              ", ".join(f"{k} {m['f1']:.3f} / {m['pr_auc']:.3f}" for k, m in result.mean.items()) +
              f"\nreport: {Path(where) / 'report.html'} (and report.md)")
        return 0
    test_world = None
    if args.test_transactions:
        test_world = (*read_transactions(args.test_transactions, args),
                      read_patterns(args.test_patterns_file) if args.test_patterns_file else None)
    evs = evaluate(table, accounts, chosen_patterns(args.patterns, args), attempts=attempts, protocol=args.protocol,
                   models=models, threads=args.threads, backend=args.backend, ablation=not args.no_ablation,
                   tune=args.tune, tune_configurations=args.tune_configurations, test_world=test_world,
                   max_work=args.max_work)
    return report_evaluations(evs, args)


def chosen_models(text: str, streaming: bool = False) -> list[str]:
    """The scorers of `--model`: one kind, a comma-separated list, or `all` (every installed scorer;
    for a stream, those that need no typology labels)."""
    from .models import SCORERS, installed_scorers

    if text == "all":
        return [k for k in installed_scorers() if not (streaming and SCORERS[k].needs_typology)]
    kinds = list(dict.fromkeys(k.strip() for k in text.split(",") if k.strip()))
    unknown = [k for k in kinds if k not in MODEL_KINDS]
    if unknown or not kinds:
        raise BlazingError(f"unknown model kind(s) {unknown or [text]}",
                           hint="choose from " + ", ".join(MODEL_KINDS) + " (comma-separated), or all")
    return kinds


def print_summary(evs, where) -> None:
    """One line of headline metrics per scorer, the ablation table and recall per typology on
    stdout. The title is a line of its own (a table title wraps to the table's width) and nothing
    wraps when stdout is a file or a pipe."""
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, soft_wrap=True)
    first = evs[0]
    console.print(f"minority-class F1 ({first.protocol} protocol, {first.rows:,} transactions)", style="bold")
    for ev in evs:
        if ev.ablation:
            t = Table()
            t.add_column("features")
            t.add_column(f"F1 ({ev.model})", justify="right")
            for row in ev.ablation:
                t.add_row(row["features"], f"{row['f1']:.3f}")
            console.print(t)
        m = ev.metrics
        console.print(f"{ev.model}, all features: F1 {m['f1']:.3f}, precision {m['precision']:.3f}, "
                      f"recall {m['recall']:.3f}, PR-AUC {m['pr_auc']:.3f}; trained in {ev.train_seconds:.1f} s, "
                      f"scores {ev.score_rows_per_second:,.0f} rows/s" + (f"; tuned {ev.settings}" if ev.tuning else ""))
        if ev.typology_recall:
            console.print(f"{ev.model}, attempts detected per typology: " +
                          ", ".join(f"{k} {v:.2f}" for k, v in ev.typology_recall.items()))
    console.print(f"report: {Path(where) / 'report.html'} (and report.md)")


def cmd_demo(args) -> int:
    """The whole loop on shipped data: generate, convert, evaluate with the full library, then
    train on the days before the world's last busy day, score that day (and the quiet tail after it)
    with --explain and tell one alert."""
    from .generator import generate
    from .io.ibm_csv import convert_trans_csv
    from .runtime import DEFAULT_MAX_WORK

    out = Path(args.out)
    lib = str(ROOT / "patterns")
    log(f"1/5 generating a HI-Small-like world at scale {args.scale} with the real dev attempts embedded ...")
    files = generate(out, scale=args.scale, seed=args.seed,
                     embed_patterns=ROOT / "data" / "ibm-aml-sample" / "HI-Small_Patterns.dev.txt")
    log("2/5 converting to Parquet ...")
    convert_trans_csv(files.trans, out / "tx.parquet")
    log("3/5 mining patterns/, training LightGBM and evaluating (paper protocol) ...")
    one_process = dict(engine="process", scheduler=None, memory_per_worker=None)
    common = dict(patterns=[lib], only=None, columns=None, model="gbt", threads=None, backend="numba",
                  max_work=DEFAULT_MAX_WORK, **one_process)
    cmd_evaluate(argparse.Namespace(transactions=str(out / "tx.parquet"), patterns_file=str(files.patterns),
                                    protocol="paper", no_ablation=False, report=str(out / "report"), json=False,
                                    tune=False, tune_configurations=8, test_transactions=None,
                                    test_patterns_file=None, window_days=1.0, train_days=3.0, label_delay_days=0.0,
                                    **common))
    _split_last_day(out / "tx.parquet", out / "before_last_day.parquet", out / "last_day.parquet")
    log("4/5 training on the days before the last busy one: blazingaml train --input before_last_day.parquet ...")
    cmd_train(argparse.Namespace(input=str(out / "before_last_day.parquet"), patterns_file=None,
                                 out=str(out / "model"), **common))
    log("5/5 scoring the last busy day: blazingaml score --input last_day.parquet --history before_last_day.parquet "
        "--explain ...")
    scored = out / "last_day.scored.parquet"
    cmd_score(argparse.Namespace(model=str(out / "model"), input=str(out / "last_day.parquet"),
                                 history=[str(out / "before_last_day.parquet")], output=str(scored),
                                 patterns=None, explain=True, columns=None, threads=None, backend="numba",
                                 **one_process))
    print_alert(scored.with_suffix(".alerts.jsonl"))
    return 0


def _split_last_day(parquet: Path, before: Path, last: Path) -> None:
    """Write the transactions of the world's last busy day (and the quiet tail after it) and those
    before them as two files, each with the key table of `parquet` beside it. A busy day holds at
    least a quarter of the median day's transactions: generated worlds, like the IBM files, end
    with days in which only late attempts and invoices paid on terms trickle in."""
    import numpy as np
    import pyarrow.parquet as pq

    from .io.atomic import atomic_files
    from .io.ibm_csv import accounts_path_for
    from .io.transactions import load_transactions

    table, accounts = load_transactions(parquet)
    ts = table.column("ts").to_numpy()
    day = (ts - ts.min()) // 86400
    per_day = np.bincount(day)
    last_busy = np.flatnonzero(per_day >= 0.25 * np.median(per_day[per_day > 0])).max()
    on_last_day = day >= last_busy
    with atomic_files(accounts_path_for(before), accounts_path_for(last), before, last) as temps:
        pq.write_table(accounts, temps[0])
        pq.write_table(accounts, temps[1])
        pq.write_table(table.filter(~on_last_day), temps[2])
        pq.write_table(table.filter(on_last_day), temps[3])


def print_alert(alerts_jsonl: Path) -> None:
    """One alert of a scoring run told in words, on stdout."""
    from .alert_words import describe_alert, most_telling

    explanations = [json.loads(line) for line in alerts_jsonl.read_text().splitlines()]
    chosen = most_telling(explanations)
    print(f"\n{len(explanations):,} alert(s) on the last day; the most telling one, in words:" if chosen else
          "\nno alerts on the last day")
    if chosen:
        print(describe_alert(chosen))


def register(sub, commands: dict, add_common) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    lib = str(ROOT / "patterns")

    p = sub.add_parser("train", help="mine features and train a detector (saved without pickle)",
                       description="Mine pattern features, add raw transaction features, fit on the first 80% by "
                                   "time and pick the F1-best threshold on the last 20%.",
                       epilog="example:\n  blazingaml train --input tx.parquet --patterns patterns/ --out model/",
                       formatter_class=fmt)
    p.add_argument("--input", required=True, help="labelled transactions: an IBM Trans.csv, or Parquet (see --columns)")
    p.add_argument("--patterns", nargs="+", default=[lib], help="pattern files or directories (default: the library)")
    add_only(p)
    add_columns(p)
    p.add_argument("--model", choices=MODEL_KINDS, default="gbt",
                   help="gbt = LightGBM (default), xgboost, apem (multi-task, needs --patterns-file), "
                        "driftmoe (streaming); see docs/scorers.md")
    p.add_argument("--patterns-file", help="the data's Patterns.txt: typology labels for --model apem")
    p.add_argument("--out", required=True, help="model directory")
    add_engine(p)
    add_max_work(p, model=True)
    add_dask_engine(p)
    add_common(p)
    commands["train"] = cmd_train

    p = sub.add_parser("score", help="score new transactions with a trained model; --explain lists instances",
                       description="Adds `score` and `alert` to every input row. History files give the first new "
                                   "transactions their full look-back window. --explain writes, per alert, the "
                                   "pattern instances that fired to <OUTPUT>.alerts.jsonl.",
                       epilog="example:\n  blazingaml score --model model/ --input week2.parquet --history week1.parquet"
                              " \\\n      --output scored.parquet --explain", formatter_class=fmt)
    p.add_argument("--model", required=True)
    p.add_argument("--input", required=True)
    p.add_argument("--history", nargs="*", help="earlier transaction files (context only, not scored)")
    p.add_argument("--output", required=True)
    p.add_argument("--patterns", nargs="+", help="pattern files (default: those recorded in the model)")
    p.add_argument("--explain", action="store_true")
    add_columns(p)
    add_engine(p)
    add_dask_engine(p)
    add_common(p)
    commands["score"] = cmd_score

    p = sub.add_parser("evaluate", help="compare scorers on one split: F1, PR-AUC, ablation, recall per typology",
                       description="Every scorer of --model on the same split and features, in one report. "
                                   "paper protocol: first 80% by time train, last 20% test, threshold 0.5, with the "
                                   "ablation raw -> +fan -> +degree -> +cycle -> +scatter-gather -> +typologies. "
                                   "ibm protocol: whole days cut near 60/20/20 (64/19/17 on HI-Small), threshold "
                                   "(and with --tune, successive halving over each scorer's hyperparameters) on "
                                   "validation, test touched once. transfer protocol: train on --transactions as "
                                   "`train` does, score every transaction of --test-transactions, recall over all of "
                                   "its attempts. prequential protocol: windows in time order, driftmoe learning the stream as labels "
                                   "arrive against scorers retrained on a sliding window. Writes report.md, "
                                   "report.html, metrics.json and PNGs to --report.",
                       epilog="examples:\n  blazingaml evaluate --transactions HI-Small_Trans.csv "
                              "--patterns-file HI-Small_Patterns.txt --report report/\n"
                              "  blazingaml evaluate --transactions tx.parquet --patterns-file P.txt --protocol ibm "
                              "--model all --tune --report report/\n"
                              "  blazingaml evaluate --protocol transfer --transactions A.parquet --patterns-file "
                              "A_Patterns.txt \\\n      --test-transactions B.parquet --test-patterns-file "
                              "B_Patterns.txt --report report/", formatter_class=fmt)
    p.add_argument("--transactions", required=True, help="labelled transactions (with transfer: the training world)")
    p.add_argument("--patterns-file", help="a Patterns.txt, for recall per typology (and apem's typology labels)")
    p.add_argument("--patterns", nargs="+", default=[lib])
    add_only(p)
    add_columns(p)
    p.add_argument("--protocol", choices=["paper", "ibm", "transfer", "prequential"], default="paper")
    p.add_argument("--model", help=f"a scorer ({', '.join(MODEL_KINDS)}), a comma-separated list, or all (every "
                                   f"installed one); default gbt (prequential: gbt,driftmoe)")
    p.add_argument("--tune", action="store_true",
                   help="successive halving over each scorer's main hyperparameters on the validation period")
    p.add_argument("--tune-configurations", type=int, default=8,
                   help="configurations drawn per scorer for --tune (default 8: rungs of 8, 4, 2)")
    p.add_argument("--test-transactions", help="transfer protocol: the labelled world to test on")
    p.add_argument("--test-patterns-file", help="transfer protocol: the test world's Patterns.txt")
    p.add_argument("--window-days", type=float, default=1.0, help="prequential protocol: window length (default 1)")
    p.add_argument("--train-days", type=float, default=3.0,
                   help="prequential protocol: warm-up, and the sliding window retrained scorers learn from (default 3)")
    p.add_argument("--label-delay-days", type=float, default=0.0,
                   help="prequential protocol: how long after a transaction its label arrives (default 0)")
    p.add_argument("--report", required=True, help="report directory")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout (logs go to stderr)")
    p.add_argument("--no-ablation", action="store_true", help="skip the feature ablation (faster)")
    add_engine(p)
    add_max_work(p)
    add_dask_engine(p)
    add_common(p)
    commands["evaluate"] = cmd_evaluate

    p = sub.add_parser("demo", help="the whole loop on shipped data, in minutes")
    p.add_argument("--out", default="data/generated/demo", help="where the demo writes (default data/generated/demo)")
    p.add_argument("--scale", type=float, default=0.03)
    p.add_argument("--seed", type=int, default=1)
    add_common(p)
    commands["demo"] = cmd_demo
