"""Bad input, class by class: one clear located error with a hint, exit code 1, nothing lost.

Every case runs the real command line (`blazingaml.cli.main`, in process) on a file made wrong in
one way, and checks the message, that the command wrote nothing under its output's name, left no
temporary file, and did not touch its input. Inputs that are only unusual (a byte-order mark, CRLF
line ends, quoted fields) must give exactly the output of the plain file instead.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blazingaml.cli import EXIT_INPUT, EXIT_OK, EXIT_USAGE, main
from blazingaml.io.ibm_csv import accounts_path_for
from blazingaml.io.vocab import TRANS_HEADER

from .conftest import ROOT

FAN = str(ROOT / "patterns" / "gfp" / "fan.pattern")
HEADER = ",".join(TRANS_HEADER)
ROWS = [
    "2022/09/01 00:20,010,8000EBD30,010,8000EBD30,3697.34,US Dollar,3697.34,US Dollar,Reinvestment,0",
    "2022/09/01 00:20,03208,8000F4580,001,8000F5340,0.01,US Dollar,0.01,US Dollar,Cheque,0",
    "2022/09/01 00:00,03209,8000F4670,03209,8000F4670,14675.57,US Dollar,14675.57,US Dollar,Reinvestment,0",
    "2022/09/01 00:02,012,8000F5030,012,8000F5030,2806.97,Euro,2806.97,Euro,ACH,1",
]


def run(capsys, *argv) -> tuple[int, str]:
    code = main([*map(str, argv), "--quiet"])
    return code, capsys.readouterr().err


def digest(path: Path) -> str | None:
    """Content digest of a file or a directory tree; None when absent."""
    if not path.exists():
        return None
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    h = hashlib.sha256()
    for f in files:
        h.update(str(f.relative_to(path.parent)).encode() + f.read_bytes())
    return h.hexdigest()


def temporaries(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.rglob(".*") if p.name.endswith((".tmp", ".old")))


def assert_clear_error(code: int, err: str, *fragments: str) -> None:
    """Exit 1, one `error:` line naming the problem, then a `hint:` line; never a traceback."""
    assert code == EXIT_INPUT, err
    assert "Traceback" not in err
    lines = err.rstrip("\n").splitlines()
    assert lines[0].startswith("error: ") and sum(line.startswith("error: ") for line in lines) == 1, err
    assert lines[-1].startswith("  hint: "), err
    for fragment in fragments:
        assert fragment in err, (fragment, err)


def csv_file(tmp_path: Path, rows, header=HEADER, name="day_Trans.csv", newline="\n") -> Path:
    path = tmp_path / name
    path.write_bytes((newline.join([header, *rows]) + newline).encode() if header is not None else b"")
    return path


def convert_fails(capsys, tmp_path, path: Path, *fragments):
    out = tmp_path / "out" / "tx.parquet"
    before = digest(path)
    code, err = run(capsys, "convert", path, "--out", out)
    assert_clear_error(code, err, *fragments)
    assert not out.exists() and not accounts_path_for(out).exists()      # nothing under the output's name
    assert temporaries(tmp_path) == []                                    # and nothing half-written beside it
    assert digest(path) == before                                         # the input untouched


def replace(row: str, column: int, value: str) -> str:
    fields = row.split(",")
    fields[column] = value
    return ",".join(fields)


# ----------------------------------------------------------------------------- Trans.csv

CSV_CASES = {
    # name: (rows, header, fragments)
    "empty file": (None, None, ["the file is empty", "hint: Trans.csv starts with"]),
    "header only": ([], HEADER, ["no transactions after the header"]),
    "UTF-16 byte-order mark": ("utf16", None, [":1: the file is UTF-16 (little-endian) text", "iconv"]),
    "Latin-1 byte": ([ROWS[0], ROWS[1].replace("8000F4580", "8000F\xe9580")], HEADER,
                     [":3: column 'Account (from)': not UTF-8 text (byte 0xE9", "'8000F\xe9580'", "iconv -f LATIN1"]),
    "missing column": (ROWS, HEADER.replace(",Payment Format", ""), [":1: not an IBM AML", "missing 'Payment Format'"]),
    "extra column": (ROWS, HEADER + ",Branch", [":1: not an IBM AML", "unexpected 'Branch'"]),
    "swapped columns": (ROWS, HEADER.replace("Payment Currency,Payment Format", "Payment Format,Payment Currency"),
                        ["column 9 is 'Payment Format', expected 'Payment Currency'"]),
    "row with a missing field": ([ROWS[0], ROWS[1].rsplit(",", 1)[0]], HEADER, [":3:", "expected 11 fields, found 10"]),
    "row with an extra field": ([ROWS[0], ROWS[1] + ",7"], HEADER, [":3:", "expected 11 fields, found 12"]),
    "impossible date": ([ROWS[0], replace(ROWS[1], 0, "2022/02/30 00:20")], HEADER,
                        [":3: column 'Timestamp': no such calendar date: '2022/02/30 00:20'", "does not exist"]),
    "timestamp format": ([replace(ROWS[0], 0, "01.09.2022 00:20")], HEADER, [":2: column 'Timestamp'", "format"]),
    "out of time order": ([ROWS[0], ROWS[1], replace(ROWS[2], 0, "2022/08/28 23:00")], HEADER,
                          [":4: column 'Timestamp': out of time order: 3 days 1 h earlier than line 2 "
                           "(2022/09/01 00:20)", "--max-disorder"]),
    "NaN amount": ([replace(ROWS[0], 7, "NaN")], HEADER, [":2: column 'Amount Paid': amount is not a finite number"]),
    "Inf amount": ([replace(ROWS[0], 5, "inf")], HEADER, [":2: column 'Amount Received'", "not a finite number"]),
    "negative amount": ([replace(ROWS[0], 5, "-3697.34")], HEADER, [":2: column 'Amount Received': negative amount"]),
    "huge amount": ([replace(ROWS[0], 7, "36973400000000000000.00")], HEADER,
                    [":2: column 'Amount Paid': amount of 1e15 or more", "decimal point"]),
    "unknown currency": ([replace(ROWS[0], 6, "Doubloon")], HEADER,
                         [":2: column 'Receiving Currency': unknown currency: 'Doubloon'"]),
    "unknown payment format": ([replace(ROWS[0], 9, "Telepathy")], HEADER,
                               [":2: column 'Payment Format': unknown payment format: 'Telepathy'"]),
    "label other than 0/1": ([replace(ROWS[0], 10, "yes")], HEADER, [":2: column 'Is Laundering'"]),
    "empty field": ([replace(ROWS[0], 1, "")], HEADER, [":2: column 'From Bank': missing value"]),
}


@pytest.mark.parametrize("case", list(CSV_CASES))
def test_bad_trans_csv(capsys, tmp_path, case):
    rows, header, fragments = CSV_CASES[case]
    if rows == "utf16":
        path = tmp_path / "day_Trans.csv"
        path.write_bytes("\n".join([HEADER, *ROWS]).encode("utf-16"))
    elif rows is not None and any("\xe9" in r for r in rows):
        path = tmp_path / "day_Trans.csv"
        path.write_bytes("\n".join([header, *rows]).encode("latin-1") + b"\n")
    else:
        path = csv_file(tmp_path, rows or [], header)
    convert_fails(capsys, tmp_path, path, *fragments)


def test_bad_rows_are_set_aside_verbatim_with_skip(capsys, tmp_path):
    """--on-bad-rows skip keeps the good rows and writes each bad line, byte for byte, to the side file."""
    latin = ROWS[1].replace("8000F4580", "8000F\xe9580").encode("latin-1")
    bad = [replace(ROWS[2], 0, "2022/02/30 00:00").encode(), latin, replace(ROWS[3], 7, "NaN").encode()]
    path = tmp_path / "day_Trans.csv"
    path.write_bytes(b"\n".join([HEADER.encode(), ROWS[0].encode(), *bad]) + b"\n")
    out = tmp_path / "tx.parquet"
    code, err = run(capsys, "convert", path, "--out", out, "--on-bad-rows", "skip")
    assert code == EXIT_OK, err
    assert pq.read_table(out).num_rows == 1
    side = out.with_name("tx.rejected.csv").read_bytes()
    for line in bad:
        assert line in side


ACCEPTED = {
    "UTF-8 byte-order mark": lambda text: b"\xef\xbb\xbf" + text,
    "CRLF line ends": lambda text: text.replace(b"\n", b"\r\n"),
    "quoted fields": lambda text: b"\n".join(b",".join(b'"' + f + b'"' for f in line.split(b","))
                                            for line in text.rstrip(b"\n").split(b"\n")) + b"\n",
    "quoted fields, CRLF and a byte-order mark": lambda text: b"\xef\xbb\xbf" + b"\r\n".join(
        b",".join(b'"' + f + b'"' for f in line.split(b",")) for line in text.rstrip(b"\n").split(b"\n")) + b"\r\n",
}


@pytest.mark.parametrize("case", list(ACCEPTED))
def test_unusual_but_valid_csv_gives_the_plain_files_output(capsys, tmp_path, case):
    plain = csv_file(tmp_path, ROWS, name="plain_Trans.csv")
    odd = tmp_path / "odd_Trans.csv"
    odd.write_bytes(ACCEPTED[case](plain.read_bytes()))
    for src, out in ((plain, "plain.parquet"), (odd, "odd.parquet")):
        code, err = run(capsys, "convert", src, "--out", tmp_path / out)
        assert code == EXIT_OK, err
    assert (tmp_path / "plain.parquet").read_bytes() == (tmp_path / "odd.parquet").read_bytes()
    assert (tmp_path / "plain.accounts.parquet").read_bytes() == (tmp_path / "odd.accounts.parquet").read_bytes()


def test_repeated_rows_are_kept_with_one_warning(capsys, tmp_path):
    path = csv_file(tmp_path, [ROWS[0], ROWS[1], ROWS[2], ROWS[1], ROWS[3], ROWS[1]])
    code = main(["convert", str(path), "--out", str(tmp_path / "tx.parquet"), "--quiet"])
    err = capsys.readouterr().err
    assert code == EXIT_OK
    assert [line for line in err.splitlines() if line.startswith("warning:")] == [
        f"warning: {path}:5: repeats line 3 exactly (2 such rows in the file); kept as separate transactions"]
    assert "hint: if the file holds an export twice" in err
    assert pq.read_table(tmp_path / "tx.parquet").num_rows == 6      # nothing dropped


def test_disorder_within_the_tolerance_is_accepted_and_the_bound_is_an_option(capsys, tmp_path):
    rows = [ROWS[0], ROWS[1], replace(ROWS[2], 0, "2022/08/31 02:00")]      # 22 h 20 min before line 2
    path = csv_file(tmp_path, rows)
    assert run(capsys, "convert", path, "--out", tmp_path / "a.parquet")[0] == EXIT_OK
    code, err = run(capsys, "convert", path, "--out", tmp_path / "b.parquet", "--max-disorder", "12h")
    assert_clear_error(code, err, ":4: column 'Timestamp': out of time order: 22 h 20 min earlier")
    assert run(capsys, "convert", csv_file(tmp_path, [ROWS[0], replace(ROWS[1], 0, "2021/01/01 00:00")]),
               "--out", tmp_path / "c.parquet", "--max-disorder", "off")[0] == EXIT_OK


# ----------------------------------------------------------------------------- Parquet


@pytest.fixture
def converted(tmp_path, capsys):
    path = csv_file(tmp_path, ROWS)
    out = tmp_path / "tx.parquet"
    assert run(capsys, "convert", path, "--out", out)[0] == EXIT_OK
    return out


def mine_fails(capsys, tmp_path, parquet: Path, *fragments):
    out = tmp_path / "features.parquet"
    code, err = run(capsys, "mine", "--patterns", FAN, "--input", parquet, "--output", out)
    assert_clear_error(code, err, *fragments)
    assert not out.exists() and temporaries(tmp_path) == []


def test_truncated_parquet(capsys, tmp_path, converted):
    data = converted.read_bytes()
    converted.write_bytes(data[: len(data) * 2 // 3])
    mine_fails(capsys, tmp_path, converted, f"{converted}: not a readable Parquet file", "truncated")


def test_parquet_with_wrong_types(capsys, tmp_path, converted):
    table = pq.read_table(converted)
    table = table.set_column(1, "ts", pa.array([str(v) for v in table["ts"].to_pylist()]))
    pq.write_table(table, converted)
    mine_fails(capsys, tmp_path, converted, "column 'ts' has type string, expected int64", "blazingaml convert")


def test_parquet_with_codes_outside_the_vocabulary(capsys, tmp_path, converted):
    table = pq.read_table(converted)
    codes = table["pay_currency"].to_numpy().copy()
    codes[2] = 99
    pq.write_table(table.set_column(6, "pay_currency", pa.array(codes)), converted)
    mine_fails(capsys, tmp_path, converted, "row 2, column 'pay_currency': not a code below 15: 99")


def test_parquet_with_nan_amounts(capsys, tmp_path, converted):
    table = pq.read_table(converted)
    amounts = table["amount_paid"].to_numpy().copy()
    amounts[1] = np.nan
    pq.write_table(table.set_column(4, "amount_paid", pa.array(amounts)), converted)
    mine_fails(capsys, tmp_path, converted, "row 1, column 'amount_paid': not a finite, non-negative amount")


def test_parquet_with_another_conversions_key_table(capsys, tmp_path, converted):
    other = csv_file(tmp_path, [replace(r, 2, r.split(",")[2] + "X") for r in ROWS], name="other_Trans.csv")
    assert run(capsys, "convert", other, "--out", tmp_path / "other.parquet")[0] == EXIT_OK
    shutil.copy(tmp_path / "other.accounts.parquet", accounts_path_for(converted))
    mine_fails(capsys, tmp_path, converted, "tx.accounts.parquet: this key table does not belong to tx.parquet",
               "keep the two files")


def test_parquet_without_its_key_table(capsys, tmp_path, converted):
    accounts_path_for(converted).unlink()
    mine_fails(capsys, tmp_path, converted, "its account key table tx.accounts.parquet is missing")


# ----------------------------------------------------------------------------- Patterns.txt

ATTEMPT_ROW = "2022/09/01 00:02,012,8000F5030,012,8000F5030,2806.97,Euro,2806.97,Euro,ACH,1"
PATTERNS_CASES = {
    "BEGIN without END": ("BEGIN LAUNDERING ATTEMPT - CYCLE\n" + ATTEMPT_ROW + "\n\nBEGIN LAUNDERING ATTEMPT - FAN-IN\n",
                          ":3: an empty line inside the attempt begun at line 1, which has no END line"),
    "END without BEGIN": ("END LAUNDERING ATTEMPT - CYCLE\n", ":1: END without a BEGIN"),
    "BEGIN inside an attempt": ("BEGIN LAUNDERING ATTEMPT - CYCLE\n" + ATTEMPT_ROW + "\nBEGIN LAUNDERING ATTEMPT - FAN-IN\n",
                                ":3: BEGIN inside the attempt begun at line 1"),
    "file ends inside an attempt": ("BEGIN LAUNDERING ATTEMPT - STACK\n" + ATTEMPT_ROW + "\n",
                                    ":1: the file ends inside the attempt begun here"),
    "impossible date in an attempt": ("BEGIN LAUNDERING ATTEMPT - STACK\n" + ATTEMPT_ROW.replace("09/01", "02/30") +
                                      "\nEND LAUNDERING ATTEMPT - STACK\n\n", ":2: timestamp '2022/02/30 00:02'"),
}


@pytest.mark.parametrize("case", list(PATTERNS_CASES))
def test_bad_patterns_txt(capsys, tmp_path, converted, case):
    text, fragment = PATTERNS_CASES[case]
    attempts = tmp_path / "day_Patterns.txt"
    attempts.write_text(text)
    report = tmp_path / "report"
    code, err = run(capsys, "evaluate", "--transactions", converted, "--patterns-file", attempts, "--patterns", FAN,
                    "--report", report, "--no-ablation")
    assert_clear_error(code, err, f"{attempts}{fragment}")
    assert not report.exists() and temporaries(tmp_path) == []


# ----------------------------------------------------------------------------- model directories


@pytest.fixture(scope="module")
def models(small_world, tmp_path_factory):
    """Two models of the small world: one on the fan pattern, one on the degree pattern."""
    _, parquet = small_world
    out = tmp_path_factory.mktemp("models")
    for name, pattern in (("fan", FAN), ("degree", str(ROOT / "patterns" / "gfp" / "degree.pattern"))):
        assert main(["train", "--input", str(parquet), "--patterns", pattern, "--out", str(out / name),
                     "--quiet"]) == EXIT_OK
    return parquet, out


@pytest.fixture
def model(models, tmp_path):
    parquet, out = models
    shutil.copytree(out / "fan", tmp_path / "model")
    return parquet, tmp_path / "model"


def score_fails(capsys, tmp_path, parquet, model_dir, *fragments, patterns=()):
    before = digest(model_dir)
    out = tmp_path / "scored.parquet"
    code, err = run(capsys, "score", "--model", model_dir, "--input", parquet, "--output", out,
                    *(("--patterns", *patterns) if patterns else ()))
    assert_clear_error(code, err, *fragments)
    assert not out.exists() and temporaries(tmp_path) == [] and digest(model_dir) == before


def test_model_directory_without_model_json(capsys, tmp_path, model):
    parquet, model_dir = model
    (model_dir / "model.json").unlink()
    score_fails(capsys, tmp_path, parquet, model_dir, "not a model directory (no model.json)", "blazingaml train")


def test_model_directory_missing_its_booster(capsys, tmp_path, model):
    parquet, model_dir = model
    (model_dir / "booster.txt").unlink()
    score_fails(capsys, tmp_path, parquet, model_dir, "the model file booster.txt is missing", "train it again")


def test_model_json_that_is_not_json(capsys, tmp_path, model):
    parquet, model_dir = model
    meta = model_dir / "model.json"
    meta.write_text(meta.read_text().replace('"threshold":', '"threshold"', 1))
    score_fails(capsys, tmp_path, parquet, model_dir, f"{meta}:", "not valid JSON (Expecting ':' delimiter)",
                "edited by hand")


def test_model_json_with_a_field_of_the_wrong_type(capsys, tmp_path, model):
    parquet, model_dir = model
    meta_path = model_dir / "model.json"
    meta = json.loads(meta_path.read_text())
    meta["threshold"] = "high"
    meta_path.write_text(json.dumps(meta))
    score_fails(capsys, tmp_path, parquet, model_dir, "the field 'threshold' must be a number between 0 and 1",
                '"high"')


def test_model_json_listing_a_path_outside_the_directory(capsys, tmp_path, model):
    parquet, model_dir = model
    meta_path = model_dir / "model.json"
    meta = json.loads(meta_path.read_text())
    meta["files"]["../../etc/passwd"] = "0" * 64
    meta_path.write_text(json.dumps(meta))
    score_fails(capsys, tmp_path, parquet, model_dir, "'files' lists '../../etc/passwd'")


def test_booster_from_another_feature_set(capsys, tmp_path, model, models):
    parquet, model_dir = model
    shutil.copy(models[1] / "degree" / "booster.txt", model_dir / "booster.txt")
    score_fails(capsys, tmp_path, parquet, model_dir, "booster.txt: changed since the model was saved",
                "a file from another model?")


def test_patterns_that_no_longer_match_the_model(capsys, tmp_path, model):
    parquet, model_dir = model
    edited = tmp_path / "fan.pattern"
    edited.write_text(Path(FAN).read_text().replace("window 24h", "window 12h"))
    score_fails(capsys, tmp_path, parquet, model_dir, "the patterns differ from those the model was trained with",
                "changed ['fan_in', 'fan_out']", patterns=[edited])


def test_training_into_a_directory_holding_other_files(capsys, tmp_path, model):
    parquet, model_dir = model
    (model_dir / "notes.txt").write_text("do not lose me")
    before = digest(model_dir)
    code, err = run(capsys, "train", "--input", parquet, "--patterns", FAN, "--out", model_dir)
    assert_clear_error(code, err, "holds entries blazingaml did not write (notes.txt)", "new or empty directory")
    assert digest(model_dir) == before


# ----------------------------------------------------------------------------- usage


def test_usage_errors_exit_2(capsys, tmp_path):
    for argv in (["convert"], ["convert", "x.csv", "--max-disorder", "soon"], ["score", "--nonsense"], []):
        with pytest.raises(SystemExit) as stop:
            if not argv:
                raise SystemExit(main([]))
            main(argv)
        assert stop.value.code == EXIT_USAGE
    capsys.readouterr()



@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), blocks=st.integers(1, 8), tolerance=st.sampled_from([600, 3600]))
def test_row_order_checks_agree_with_a_plain_python_oracle(seed, blocks, tolerance):
    """Out-of-order rows and repeated rows, whatever the block boundaries, as a row-by-row loop sees them."""
    from blazingaml.io.row_order import RowOrder

    rng = np.random.default_rng(seed)
    m = 400
    ts = np.sort(rng.integers(0, 20_000, m)) + rng.integers(-5000, 5000, m) * (rng.random(m) < 0.03)
    values = [rng.integers(0, 3, m).astype(np.int32), rng.integers(0, 3, m).astype(np.int32),
              rng.integers(0, 2, m).astype(np.float64), np.full(m, 1.5), rng.integers(0, 2, m).astype(np.int8),
              np.zeros(m, np.int8), np.zeros(m, np.int8)]
    table = pa.table([np.arange(m), ts, *values], names=["tx_id", "ts", "src", "dst", "amount_paid",
                                                          "amount_received", "pay_currency", "recv_currency",
                                                          "payment_format"])
    lines = np.arange(2, m + 2)
    order, flagged = RowOrder(tolerance), np.zeros(m, bool)
    for part in np.array_split(np.arange(m), blocks):
        bad, _, _ = order.out_of_order(ts[part], lines[part])
        flagged[part] = bad
        kept = part[~bad]
        order.advance(ts[kept], lines[kept])
        order.count_repeats(table.take(pa.array(kept)))
    latest, seen, repeats, first, expected = None, {}, 0, None, np.zeros(m, bool)
    for i in range(m):
        if latest is not None and ts[i] < latest - tolerance:
            expected[i] = True
            continue
        latest = ts[i] if latest is None else max(latest, ts[i])
        key = (ts[i], *(v[i] for v in values))
        if key in seen:
            repeats += 1
            first = first or (int(lines[i]), int(seen[key]))
        else:
            seen[key] = lines[i]
    assert np.array_equal(flagged, expected)
    assert (order.repeated_rows, order.first_repeat) == (repeats, first)
