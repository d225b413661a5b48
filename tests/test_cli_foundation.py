"""CLI: the foundation commands run end to end and user mistakes give one line, no traceback."""

from __future__ import annotations

import json
import subprocess
import sys


def run(*args):
    return subprocess.run([sys.executable, "-m", "blazingaml.cli", *args], capture_output=True, text=True)


def test_generate_convert_info(tmp_path):
    r = run("generate", "--scale", "0.001", "--seed", "2", "--out", str(tmp_path), "--quiet")
    assert r.returncode == 0, r.stderr
    trans = tmp_path / "HI-Small-like_Trans.csv"
    r = run("convert", str(trans), "--out", str(tmp_path / "tx.parquet"), "--quiet")
    assert r.returncode == 0, r.stderr
    r = run("info", str(tmp_path / "tx.parquet"))
    info = json.loads(r.stdout)
    assert info["transactions"] == len(trans.read_text().splitlines()) - 1


def test_user_mistakes_are_one_line(tmp_path):
    bad = tmp_path / "bad_Trans.csv"
    bad.write_text("Timestamp,Amount\n1,2\n")
    r = run("convert", str(bad), "--out", str(tmp_path / "o.parquet"))
    assert r.returncode == 1 and "Traceback" not in r.stderr and "not an IBM AML transactions header" in r.stderr
    r = run("convert", str(tmp_path / "missing.csv"))
    assert r.returncode == 1 and "no such file" in r.stderr
    r = run("generate", "--preset", "nope", "--out", str(tmp_path))
    assert r.returncode == 1 and "unknown preset" in r.stderr
