"""Evaluation reports: report.md, report.html, metrics.json and matplotlib PNGs (PR curves, score
histograms, feature importance, per-typology recall; F1 and PR-AUC per window for the prequential
protocol)."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np

from .io.atomic import atomic_directory, atomic_path, write_text_atomic
from .pipeline import Evaluation, Prequential, comparison_json, prequential_json


def _save(fig, path: Path):
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")


def _plots(evs: list[Evaluation], out: Path) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = []
    fig, ax = plt.subplots(figsize=(5, 4))
    for ev in evs:
        ax.plot(ev.curves["recall"], ev.curves["precision"], label=f"{ev.model} (PR-AUC {ev.metrics['pr_auc']:.3f})")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title("Precision-recall")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend()
    _save(fig, out / "pr_curve.png")
    plt.close(fig)
    made.append(("Precision-recall curve", "pr_curve.png"))

    fig, axes = plt.subplots(len(evs), 1, figsize=(6, 3.5 * len(evs)), squeeze=False)
    bins = np.linspace(0, 1, 41)
    for ax, ev in zip(axes[:, 0], evs):
        scores, labels = np.asarray(ev.curves["scores"]), np.asarray(ev.curves["labels"])
        ax.hist(scores[labels == 0], bins=bins, alpha=0.6, label="legitimate", log=True)
        ax.hist(scores[labels == 1], bins=bins, alpha=0.8, label="laundering", log=True)
        ax.axvline(ev.metrics["threshold"], color="k", linestyle="--", label="threshold")
        ax.set_title(ev.model)
        ax.set_xlabel("score")
        ax.set_ylabel("transactions (log)")
        ax.legend()
    _save(fig, out / "score_histogram.png")
    plt.close(fig)
    made.append(("Score histogram", "score_histogram.png"))

    ranked = [ev for ev in evs if ev.importance]
    if ranked:
        ev = ranked[0]
        top = sorted(ev.importance.items(), key=lambda kv: kv[1], reverse=True)[:20][::-1]
        fig, ax = plt.subplots(figsize=(6, 5))
        ax.barh([k for k, _ in top], [v for _, v in top], color="#2980b9")
        ax.set_xlabel("total gain")
        ax.set_title(f"Feature importance of {ev.model} (top 20)")
        _save(fig, out / "feature_importance.png")
        plt.close(fig)
        made.append(("Feature importance", "feature_importance.png"))

    names = list(dict.fromkeys(n for ev in evs for n in ev.typology_recall))
    if names:
        fig, ax = plt.subplots(figsize=(7, 3.5))
        x = np.arange(len(names))
        width = 0.8 / len(evs)
        for i, ev in enumerate(evs):
            ax.bar(x - 0.4 + width * (i + 0.5), [ev.typology_recall.get(n, 0.0) for n in names], width,
                   label=ev.model)
        ax.set_xticks(x, names, rotation=30, ha="right")
        ax.set_ylim(0, 1)
        ax.set_ylabel("attempts with an alert")
        ax.legend()
        _save(fig, out / "typology_recall.png")
        plt.close(fig)
        made.append(("Recall per typology", "typology_recall.png"))
    return made


PROTOCOL_WORDS = {
    "paper": "first 80% of transactions by time train, last 20% test, threshold 0.5",
    "ibm": "whole days cut as near 60/20/20 as they allow (Multi-GNN's split), threshold chosen on validation",
    "transfer": "trained on the first 80% of one world by time, threshold chosen on its last 20%, tested on every "
                "transaction of another world",
}


def _settings_words(ev: Evaluation) -> str:
    if not ev.settings:
        return "defaults"
    words = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in ev.settings.items())
    return f"tuned: {words}" if ev.tuning else words


def markdown(evs: list[Evaluation], images: list[tuple[str, str]]) -> str:
    first = evs[0]
    lines = [
        "# BlazingAML evaluation report", "",
        f"Protocol: **{first.protocol}** ({PROTOCOL_WORDS[first.protocol]}); {first.rows:,} transactions.", "",
        "| model | minority-class F1 | precision | recall | PR-AUC | threshold |", "|---|---:|---:|---:|---:|---:|",
    ]
    for ev in evs:
        m = ev.metrics
        lines.append(f"| {ev.model} | {m['f1']:.4f} | {m['precision']:.4f} | {m['recall']:.4f} | {m['pr_auc']:.4f} "
                     f"| {m['threshold']:.3f} |")
    lines += ["", "Hyperparameters:", ""] + [f"- {ev.model}: {_settings_words(ev)}" for ev in evs] + [""]
    tuned = [ev for ev in evs if ev.tuning]
    if tuned:
        lines += ["## Tuning (successive halving on the validation period)", "",
                  "| model | rung | share of training rows | validation PR-AUC | settings |", "|---|---:|---:|---:|---|"]
        lines += [f"| {ev.model} | {t['rung'] + 1} | {t['share']:.2f} | {t['validation_pr_auc']:.4f} | "
                  + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in t["settings"].items())
                  + " |" for ev in tuned for t in ev.tuning]
        lines.append("")
    lines += ["Confusion matrices (test period):", "",
              "| model | true positives | false negatives | false positives | true negatives |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {ev.model} | {c['tp']:,} | {c['fn']:,} | {c['fp']:,} | {c['tn']:,} |"
              for ev in evs for c in [ev.metrics["confusion"]]]
    lines.append("")
    if any(ev.ablation for ev in evs):
        steps = list(dict.fromkeys(row["features"] for ev in evs for row in ev.ablation))
        lines += ["## Feature ablation (F1)", "", "| features | " + " | ".join(ev.model for ev in evs) + " |",
                  "|---|" + "---:|" * len(evs)]
        by = [{row["features"]: row["f1"] for row in ev.ablation} for ev in evs]
        lines += [f"| {s} | " + " | ".join(f"{b[s]:.4f}" if s in b else "" for b in by) + " |" for s in steps]
        lines.append("")
    names = list(dict.fromkeys(n for ev in evs for n in ev.typology_recall))
    if names:
        scope = "every attempt of the test world" if first.protocol == "transfer" else \
            "attempts with a transaction in the test period"
        lines += [f"## Recall per typology ({scope}): attempts with an alert / transactions alerted", "",
                  "| typology | " + " | ".join(ev.model for ev in evs) + " |", "|---|" + "---:|" * len(evs)]
        lines += [f"| {n} | " + " | ".join(f"{ev.typology_recall[n]:.3f} / {ev.typology_tx_recall[n]:.3f}"
                                           if n in ev.typology_recall else "" for ev in evs) + " |" for n in names]
        lines.append("")
    for title, file in images:
        lines += [f"## {title}", "", f"![{title}]({file})", ""]
    return "\n".join(lines)


REPORT_FILES = frozenset({"report.md", "report.html", "metrics.json", "prequential.png", "pr_curve.png",
                          "score_histogram.png", "feature_importance.png", "typology_recall.png"})


def report_file_names(directory) -> frozenset:
    """What `write_report` may have written in a directory: the only entries it may replace."""
    return REPORT_FILES


def write_report(result, directory) -> Path:
    """Write the report of `result` (a list of `Evaluation`s of scorers on one split, or a
    `Prequential`) as a whole directory, atomically. Its files depend only on the results (no run
    time, no dates, no timings), so the same results give the same bytes."""
    with atomic_directory(directory, report_file_names) as tmp:
        if isinstance(result, Prequential):
            images = _prequential_plot(result, tmp)
            md = prequential_markdown(result, images)
            metrics = {k: v for k, v in prequential_json(result).items() if k != "seconds"}
        else:
            images = _plots(result, tmp)
            md = markdown(result, images)
            metrics = comparison_json(result)
            for entry in metrics["models"].values():
                for timing in ("seconds", "train_seconds", "score_rows_per_second"):
                    del entry[timing]
        write_text_atomic(tmp / "report.md", md)
        write_text_atomic(tmp / "metrics.json", json.dumps(metrics, indent=2))
        write_text_atomic(tmp / "report.html", _html(md))
    return Path(directory)


def _prequential_plot(result: Prequential, out: Path) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    days = [w["start"] for w in result.windows]
    x = [(d - days[0]) / 86400 for d in days]
    for kind in result.models:
        axes[0].plot(x, [w["models"][kind]["f1"] for w in result.windows], marker="o", label=kind)
        axes[1].plot(x, [w["models"][kind]["pr_auc"] if w["models"][kind]["pr_auc"] is not None else np.nan
                         for w in result.windows], marker="o", label=kind)
    axes[0].set_ylabel("F1")
    axes[1].set_ylabel("PR-AUC")
    axes[1].set_xlabel("days since the first scored window")
    for ax in axes:
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend()
    _save(fig, out / "prequential.png")
    plt.close(fig)
    return [("F1 and PR-AUC per window", "prequential.png")]


def prequential_markdown(result: Prequential, images: list[tuple[str, str]]) -> str:
    import datetime as dt

    lines = ["# BlazingAML evaluation report", "",
             f"Protocol: **prequential** (windows of {result.window_days:g} days in time order; labels arrive "
             f"{result.label_delay_days:g} days after their transaction; streaming scorers learn every arrived label, "
             f"the others are retrained before each window on the labels that arrived in the last "
             f"{result.train_days:g} days); {result.rows:,} transactions.", "",
             "| window | transactions | laundering | " + " | ".join(f"{k} F1 | {k} PR-AUC" for k in result.models)
             + " | laundering by typology |",
             "|---|---:|---:|" + "---:|---:|" * len(result.models) + "---|"]
    for w in result.windows:
        day = dt.datetime.fromtimestamp(w["start"], dt.timezone.utc).strftime("%Y-%m-%d %H:%M")
        cells = []
        for k in result.models:
            m = w["models"][k]
            cells += [f"{m['f1']:.3f}", "" if m["pr_auc"] is None else f"{m['pr_auc']:.3f}"]
        mix = ", ".join(f"{t} {n}" for t, n in w.get("typologies", {}).items())
        lines.append(f"| {day} | {w['rows']:,} | {w['laundering']:,} | " + " | ".join(cells) + f" | {mix} |")
    lines.append("| mean | | | " + " | ".join(f"{result.mean[k]['f1']:.3f} | {result.mean[k]['pr_auc']:.3f}"
                                               for k in result.models) + " | |")
    lines.append("")
    for title, file in images:
        lines += [f"## {title}", "", f"![{title}]({file})", ""]
    return "\n".join(lines)


def _html(md: str) -> str:
    """The markdown report as a plain HTML page (headings, paragraphs, tables, images)."""
    body = []
    for line in md.splitlines():
        if line.startswith("!["):
            src = line[line.index("(") + 1:-1]
            body.append(f'<img src="{html.escape(src)}" style="max-width:700px">')
        elif line.startswith("# "):
            body.append(f"<h1>{html.escape(line[2:])}</h1>")
        elif line.startswith("## "):
            body.append(f"<h2>{html.escape(line[3:])}</h2>")
        elif line.startswith("|"):
            if set(line) <= set("|-: "):
                continue
            cells = [html.escape(x.strip()).replace("**", "") for x in line.strip("|").split("|")]
            body.append("<tr>" + "".join(f"<td>{x}</td>" for x in cells) + "</tr>")
        elif line.strip():
            body.append(f"<p>{html.escape(line).replace('**', '')}</p>")
    # wrap consecutive rows into tables
    page, in_table = [], False
    for b in body:
        if b.startswith("<tr>") and not in_table:
            page.append("<table border=1 cellspacing=0 cellpadding=4>")
            in_table = True
        if not b.startswith("<tr>") and in_table:
            page.append("</table>")
            in_table = False
        page.append(b)
    if in_table:
        page.append("</table>")
    doc = ("<!doctype html><html><head><meta charset='utf-8'><title>BlazingAML report</title></head>"
           "<body style='font-family:sans-serif'>" + "\n".join(page) + "</body></html>")
    return doc
