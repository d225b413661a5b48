"""Scoring like a service: 30 daily files, each scored on arrival with the days before it as history.

A bank scores each day's transactions as they arrive, passing the previous days as `--history` so
that the first transactions of the day see their full pattern windows. Every daily call must give
exactly the scores and alerts that scoring the whole 30-day period in one call gives those rows.
The 30 days come from three generated 10-day worlds placed one after another; each day is its own
IBM Trans.csv, converted on its own (so accounts are re-keyed across files), exactly as a feed
would deliver it.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from blazingaml.cli import EXIT_OK, main
from blazingaml.generator import generate

from .conftest import ROOT

PATTERNS = [str(ROOT / "patterns" / "gfp" / "fan.pattern"), str(ROOT / "patterns" / "gfp" / "scatter_gather.pattern")]
DAYS = 30
FORMAT = "%Y/%m/%d %H:%M"


def daily_files(directory: Path, scale: float) -> tuple[list[Path], Path]:
    """30 daily Trans.csv files and the whole period as one file (their rows, in the same order)."""
    header, days = None, {}
    start = dt.datetime(2022, 9, 1)
    for world in range(DAYS // 10):
        files = generate(directory / f"world{world}", scale=scale, seed=20 + world)
        lines = files.trans.read_text().splitlines()
        header = lines[0]
        for line in lines[1:]:
            when = dt.datetime.strptime(line[:16], FORMAT)
            day = (when - start).days
            if day >= 10:   # the generator's sparse tail beyond the tenth day
                continue
            shifted = when + dt.timedelta(days=10 * world)
            days.setdefault(day + 10 * world, []).append(shifted.strftime(FORMAT) + line[16:])
    paths = []
    for day in range(DAYS):
        path = directory / f"day{day:02d}_Trans.csv"
        path.write_text("\n".join([header, *days[day]]) + "\n")
        paths.append(path)
    whole = directory / "period_Trans.csv"
    whole.write_text("\n".join([header, *(row for day in range(DAYS) for row in days[day])]) + "\n")
    return paths, whole


def convert(csv: Path) -> Path:
    out = csv.with_name(csv.name.replace("_Trans.csv", ".parquet"))
    assert main(["convert", str(csv), "--out", str(out), "--quiet"]) == EXIT_OK
    return out


def stream_equals_whole_period(tmp_path: Path, scale: float, patterns: list[str]) -> int:
    csvs, whole_csv = daily_files(tmp_path, scale)
    days = [convert(c) for c in csvs]
    whole = convert(whole_csv)
    model = tmp_path / "model"
    assert main(["train", "--input", str(whole), "--patterns", *patterns, "--out", str(model), "--quiet"]) == EXIT_OK
    window = json.loads((model / "model.json").read_text())["max_window_seconds"]
    lookback = math.ceil(window / 86400)     # just enough whole days of history for the longest window
    scored = tmp_path / "whole.scored.parquet"
    assert main(["score", "--model", str(model), "--input", str(whole), "--output", str(scored), "--quiet"]) == EXIT_OK
    expected = pq.read_table(scored)
    offset, alerts = 0, 0
    for k, day in enumerate(days):
        out = tmp_path / f"day{k:02d}.scored.parquet"
        history = [str(d) for d in days[max(0, k - lookback):k]]
        argv = ["score", "--model", str(model), "--input", str(day), "--output", str(out), "--quiet"]
        assert main(argv + (["--history", *history] if history else [])) == EXIT_OK
        got = pq.read_table(out)
        rows = expected.slice(offset, got.num_rows)
        assert np.array_equal(got["score"].to_numpy(), rows["score"].to_numpy()), f"day {k}"
        assert np.array_equal(got["alert"].to_numpy(), rows["alert"].to_numpy()), f"day {k}"
        offset += got.num_rows
        alerts += int(got["alert"].to_numpy().sum())
    assert offset == expected.num_rows
    return alerts


def test_thirty_daily_calls_equal_one_call_on_the_whole_period(tmp_path):
    stream_equals_whole_period(tmp_path, scale=0.002, patterns=PATTERNS)


@pytest.mark.slow
def test_thirty_days_with_the_whole_library(tmp_path):
    """The full pattern library: typology windows of up to 8 days, so up to 8 days of history per call."""
    stream_equals_whole_period(tmp_path, scale=0.01, patterns=[str(ROOT / "patterns")])
