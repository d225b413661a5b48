"""Evaluation reports: report.md, report.html and matplotlib PNGs (PR curve, score histogram,
feature importance, per-typology recall)."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np

from .io.atomic import atomic_directory, atomic_path, write_text_atomic
from .pipeline import Evaluation, evaluation_json


def _save(fig, path: Path):
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")


def _plots(ev: Evaluation, out: Path) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = []
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot(ev.curves["recall"], ev.curves["precision"], color="#c0392b")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title(f"Precision-recall (PR-AUC {ev.metrics['pr_auc']:.3f})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    _save(fig, out / "pr_curve.png")
    plt.close(fig)
    made.append(("Precision-recall curve", "pr_curve.png"))

    scores, labels = np.asarray(ev.curves["scores"]), np.asarray(ev.curves["labels"])
    fig, ax = plt.subplots(figsize=(6, 3.5))
    bins = np.linspace(0, 1, 41)
    ax.hist(scores[labels == 0], bins=bins, alpha=0.6, label="legitimate", log=True)
    ax.hist(scores[labels == 1], bins=bins, alpha=0.8, label="laundering", log=True)
    ax.axvline(ev.metrics["threshold"], color="k", linestyle="--", label="threshold")
    ax.set_xlabel("score")
    ax.set_ylabel("transactions (log)")
    ax.legend()
    _save(fig, out / "score_histogram.png")
    plt.close(fig)
    made.append(("Score histogram", "score_histogram.png"))

    if ev.importance:
        top = sorted(ev.importance.items(), key=lambda kv: kv[1], reverse=True)[:20][::-1]
        fig, ax = plt.subplots(figsize=(6, 5))
        ax.barh([k for k, _ in top], [v for _, v in top], color="#2980b9")
        ax.set_xlabel("total gain")
        ax.set_title("Feature importance (top 20)")
        _save(fig, out / "feature_importance.png")
        plt.close(fig)
        made.append(("Feature importance", "feature_importance.png"))

    if ev.typology_recall:
        names = list(ev.typology_recall)
        fig, ax = plt.subplots(figsize=(7, 3.5))
        x = np.arange(len(names))
        ax.bar(x - 0.2, [ev.typology_recall[n] for n in names], 0.4, label="attempts with an alert")
        ax.bar(x + 0.2, [ev.typology_tx_recall[n] for n in names], 0.4, label="transactions alerted")
        ax.set_xticks(x, names, rotation=30, ha="right")
        ax.set_ylim(0, 1)
        ax.set_ylabel("recall")
        ax.legend()
        _save(fig, out / "typology_recall.png")
        plt.close(fig)
        made.append(("Recall per typology", "typology_recall.png"))
    return made


def markdown(ev: Evaluation, images: list[tuple[str, str]]) -> str:
    m = ev.metrics
    c = m["confusion"]
    lines = [
        "# BlazingAML evaluation report", "",
        f"Protocol: **{ev.protocol}** ({'first 80% of transactions by time train, last 20% test, threshold 0.5' if ev.protocol == 'paper' else '60/20/20 by time, threshold chosen on validation'}); "
        f"{ev.rows:,} transactions.", "",
        "| minority-class F1 | precision | recall | PR-AUC | threshold |", "|---:|---:|---:|---:|---:|",
        f"| {m['f1']:.4f} | {m['precision']:.4f} | {m['recall']:.4f} | {m['pr_auc']:.4f} | {m['threshold']:.3f} |", "",
        "Confusion matrix (test period):", "",
        "| | predicted laundering | predicted legitimate |", "|---|---:|---:|",
        f"| actual laundering | {c['tp']:,} | {c['fn']:,} |", f"| actual legitimate | {c['fp']:,} | {c['tn']:,} |", "",
    ]
    if ev.ablation:
        lines += ["## Feature ablation", "", "| features | F1 |", "|---|---:|"]
        lines += [f"| {row['features']} | {row['f1']:.4f} |" for row in ev.ablation]
        lines.append("")
    if ev.typology_recall:
        lines += ["## Recall per typology (attempts with a transaction in the test period)", "",
                  "| typology | attempts with an alert | transactions alerted |", "|---|---:|---:|"]
        lines += [f"| {k} | {v:.3f} | {ev.typology_tx_recall[k]:.3f} |" for k, v in ev.typology_recall.items()]
        lines.append("")
    for title, file in images:
        lines += [f"## {title}", "", f"![{title}]({file})", ""]
    return "\n".join(lines)


REPORT_FILES = frozenset({"report.md", "report.html", "metrics.json", "pr_curve.png", "score_histogram.png",
                          "feature_importance.png", "typology_recall.png"})


def report_file_names(directory) -> frozenset:
    """What `write_report` may have written in a directory: the only entries it may replace."""
    return REPORT_FILES


def write_report(ev: Evaluation, directory) -> Path:
    """Write the report directory as a whole, atomically. Its files depend only on the evaluation
    (no run time, no dates), so the same evaluation gives the same bytes."""
    with atomic_directory(directory, report_file_names) as tmp:
        _write_report_files(ev, tmp)
    return Path(directory)


def _write_report_files(ev: Evaluation, out: Path) -> None:
    images = _plots(ev, out)
    md = markdown(ev, images)
    write_text_atomic(out / "report.md", md)
    metrics = {k: v for k, v in evaluation_json(ev).items() if k != "seconds"}
    write_text_atomic(out / "metrics.json", json.dumps(metrics, indent=2))
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
    write_text_atomic(out / "report.html", doc)
