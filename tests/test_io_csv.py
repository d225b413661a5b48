"""Trans.csv reading: exact format, round trips, and every kind of bad input."""

from __future__ import annotations

import csv

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blazingaml.errors import BadRowError, SchemaError
from blazingaml.io.ibm_csv import convert_trans_csv, read_trans_csv
from blazingaml.io.vocab import CURRENCIES, PAYMENT_FORMATS, TRANS_HEADER

from .conftest import SAMPLE

HEADER = ",".join(TRANS_HEADER)
GOOD = [
    "2022/09/01 00:20,010,8000EBD30,010,8000EBD30,3697.34,US Dollar,3697.34,US Dollar,Reinvestment,0",
    "2022/09/01 00:20,03208,8000F4580,001,8000F5340,0.01,US Dollar,0.01,US Dollar,Cheque,0",
    "2022/09/01 00:00,03209,8000F4670,03209,8000F4670,14675.57,US Dollar,14675.57,US Dollar,Reinvestment,0",
    "2022/09/01 00:02,012,8000F5030,012,8000F5030,2806.97,US Dollar,2806.97,US Dollar,Reinvestment,1",
]


def write(tmp_path, lines, name="t_Trans.csv", header=HEADER, end="\n"):
    path = tmp_path / name
    path.write_text("\n".join([header, *lines]) + end if header is not None else "\n".join(lines) + end)
    return path


def test_reads_the_real_first_rows_exactly(tmp_path):
    table, accounts = read_trans_csv(write(tmp_path, GOOD))
    assert table.num_rows == 4
    assert table["tx_id"].to_pylist() == [0, 1, 2, 3]
    assert table["ts"].to_pylist()[0] == 1661991600  # 2022-09-01 00:20 UTC
    # bank IDs keep their zero padding; accounts are (bank, account)
    keys = [f"{b}:{a}" for b, a in zip(accounts["bank"].to_pylist(), accounts["account_id"].to_pylist())]
    assert keys[:3] == ["010:8000EBD30", "03208:8000F4580", "001:8000F5340"]
    src, dst = table["src"].to_pylist(), table["dst"].to_pylist()
    assert src[0] == dst[0]  # self transfer
    assert table["label"].to_pylist() == [0, 0, 0, 1]
    assert table["payment_format"].to_pylist()[1] == PAYMENT_FORMATS.index("Cheque")
    assert table["amount_paid"].to_pylist()[1] == pytest.approx(0.01)


def test_shared_real_sample_converts(tmp_path):
    """The 1,000 real rows shipped in the sample, put back into the IBM layout, convert intact."""
    with open(SAMPLE / "transactions_sample.csv") as fh:
        rows = list(csv.DictReader(fh))
    lines = [",".join([r["timestamp"], r["from_bank_id"], r["from_account_id"], r["to_bank_id"], r["to_account_id"],
                       r["amount_received"], r["receiving_currency"], r["amount_paid"], r["payment_currency"],
                       r["payment_format"], r["is_laundering"]]) for r in rows]
    out = tmp_path / "s.parquet"
    summary = convert_trans_csv(write(tmp_path, lines), out)
    assert summary.rows_kept == 1000 and summary.rows_rejected == 0
    table = pq.read_table(out)
    paid = np.array([float(r["amount_paid"]) for r in rows])
    assert np.allclose(table["amount_paid"].to_numpy(), paid)
    fmts = [PAYMENT_FORMATS[c] for c in table["payment_format"].to_pylist()]
    assert fmts == [r["payment_format"] for r in rows]
    curs = [CURRENCIES[c] for c in table["recv_currency"].to_pylist()]
    assert curs == [r["receiving_currency"] for r in rows]


def test_generated_file_round_trips(small_world):
    files, parquet = small_world
    table = pq.read_table(parquet)
    with open(files.trans) as fh:
        lines = fh.read().splitlines()
    assert lines[0] == HEADER
    assert table.num_rows == len(lines) - 1 == files.transactions
    assert int(table["label"].to_numpy().sum()) == files.laundering
    # reading in tiny blocks gives identical output (ids do not depend on block size)
    from blazingaml.io.ibm_csv import TransactionReader
    import pyarrow as pa
    small_blocks = pa.concat_tables(list(TransactionReader(files.trans, block_bytes=4096)))
    assert small_blocks.equals(table)


BAD_CASES = [
    ("2022/13/01 00:20,010,A,010,B,1.00,US Dollar,1.00,US Dollar,Cheque,0", "Timestamp", "timestamp not in"),
    ("2022/09/01 00:20,010,A,010,B,abc,US Dollar,1.00,US Dollar,Cheque,0", "Amount Received", "not a number"),
    ("2022/09/01 00:20,010,A,010,B,1.00,US Dollar,NaN,US Dollar,Cheque,0", "Amount Paid", "not a finite number"),
    ("2022/09/01 00:20,010,A,010,B,-5.00,US Dollar,1.00,US Dollar,Cheque,0", "Amount Received", "negative amount"),
    ("2022/09/01 00:20,010,A,010,B,1.00,Dogecoin,1.00,US Dollar,Cheque,0", "Receiving Currency", "unknown currency"),
    ("2022/09/01 00:20,010,A,010,B,1.00,US Dollar,1.00,US Dollar,Telepathy,0", "Payment Format", "unknown payment format"),
    ("2022/09/01 00:20,010,A,010,B,1.00,US Dollar,1.00,US Dollar,Cheque,7", "Is Laundering", "label must be 0 or 1"),
    ("2022/09/01 00:20,,A,010,B,1.00,US Dollar,1.00,US Dollar,Cheque,0", "From Bank", "missing value"),
]


@pytest.mark.parametrize("line,column,reason", BAD_CASES)
def test_bad_row_stops_with_file_line_column_value(tmp_path, line, column, reason):
    path = write(tmp_path, [GOOD[0], line, GOOD[1]])
    out = tmp_path / "o.parquet"
    with pytest.raises(BadRowError) as err:
        convert_trans_csv(path, out)
    msg = str(err.value)
    assert f"{path}:3:" in msg and column in msg and reason in msg
    assert not out.exists()  # nothing half-written
    assert not list(tmp_path.glob(".o.parquet*"))


@pytest.mark.parametrize("line,column,reason", BAD_CASES)
def test_skip_sets_bad_rows_aside_verbatim(tmp_path, line, column, reason):
    path = write(tmp_path, [GOOD[0], line, GOOD[1]])
    summary = convert_trans_csv(path, tmp_path / "o.parquet", on_bad_rows="skip")
    assert summary.rows_kept == 2 and summary.rows_rejected == 1
    with open(summary.rejects_path) as fh:
        rejected = list(csv.DictReader(fh))
    assert rejected == [{"line": "3", "reason": rejected[0]["reason"], "text": line}]
    assert reason in rejected[0]["reason"]


def test_wrong_field_count_and_truncated_last_line(tmp_path):
    truncated = "2022/09/01 00:30,010,8000EBD30,010,8000E"
    path = write(tmp_path, [GOOD[0], "2022/09/01 00:20,010,A,010,B,1.00", GOOD[1], truncated], end="")
    with pytest.raises(BadRowError, match=r":3: .*expected 11 fields, found 6"):
        convert_trans_csv(path, tmp_path / "o.parquet")
    summary = convert_trans_csv(path, tmp_path / "o.parquet", on_bad_rows="skip")
    assert summary.rows_kept == 2 and summary.rows_rejected == 2
    with open(summary.rejects_path) as fh:
        rejected = list(csv.DictReader(fh))
    assert [r["line"] for r in rejected] == ["3", "5"]
    assert rejected[1]["text"] == truncated


def test_schema_errors(tmp_path):
    with pytest.raises(SchemaError, match="empty"):
        convert_trans_csv(write(tmp_path, [], header=None, end=""), tmp_path / "o.parquet")
    missing = HEADER.replace(",Payment Format", "")
    with pytest.raises(SchemaError, match="missing 'Payment Format'"):
        convert_trans_csv(write(tmp_path, GOOD, header=missing), tmp_path / "o.parquet")
    with pytest.raises(SchemaError, match="unexpected 'Extra'"):
        convert_trans_csv(write(tmp_path, GOOD, header=HEADER + ",Extra"), tmp_path / "o.parquet")


def test_unlabelled_file(tmp_path):
    lines = [line.rsplit(",", 1)[0] for line in GOOD]
    table, _ = read_trans_csv(write(tmp_path, lines, header=",".join(TRANS_HEADER[:-1])))
    assert "label" not in table.column_names and table.num_rows == 4


def test_account_index_matches_a_dictionary_across_blocks_and_regrowth():
    """Ids by first appearance (sender, then receiver, row by row), long keys (beyond the 24 bytes
    kept in a slot) and many keys (forcing the table to regrow) included."""
    import pyarrow as pa

    from blazingaml.io.accounts import AccountIndex

    rng = np.random.default_rng(4)
    banks = [str(b).zfill(int(rng.integers(1, 12))) for b in rng.integers(0, 500, 300)]
    accounts = [format(int(a), "X") * int(rng.integers(1, 4)) for a in rng.integers(0, 2**40, 40_000)]
    index, expected = AccountIndex(), {}
    for block in range(5):
        n = 30_000
        fb, fa = rng.choice(banks, n), rng.choice(accounts, n)
        tb, ta = rng.choice(banks, n), rng.choice(accounts, n)
        src, dst = index.lookup_pairs(pa.array(fb), pa.array(fa), pa.array(tb), pa.array(ta))
        want_src, want_dst = [], []
        for a, b, c, d in zip(fb, fa, tb, ta):
            want_src.append(expected.setdefault((a, b), len(expected)))
            want_dst.append(expected.setdefault((c, d), len(expected)))
        assert src.tolist() == want_src and dst.tolist() == want_dst
    assert max(len(b) + len(a) + 1 for b, a in expected) > 24
    table = index.table()
    assert len(index) == table.num_rows == len(expected)
    assert list(zip(table["bank"].to_pylist(), table["account_id"].to_pylist())) == list(expected)


# ----------------------------------------------------------------------------- fast path == full parser

_MUTATIONS = [
    lambda f, r: f,                                                   # unchanged
    lambda f, r: f[:0] + [f[0].replace("/", "-")] + f[1:],            # timestamp format
    lambda f, r: f[:1] + [""] + f[2:],                                # empty bank
    lambda f, r: f[:5] + ['"' + f[5] + '"'] + f[6:],                  # quoted amount
    lambda f, r: f[:5] + ["nan"] + f[6:],                             # NaN amount
    lambda f, r: f[:7] + ["-" + f[7]] + f[8:],                        # negative amount
    lambda f, r: f[:7] + ["1" * 19] + f[8:],                          # too many digits for the fast path
    lambda f, r: f[:7] + [f[7] + "."] + f[8:],                        # trailing dot
    lambda f, r: f[:6] + ["Euros"] + f[7:],                           # unknown currency
    lambda f, r: f[:9] + ["ach"] + f[10:],                            # unknown format (case)
    lambda f, r: f[:10] + ["2"],                                      # bad label
    lambda f, r: f[:10],                                              # missing field
    lambda f, r: f + ["x"],                                           # extra field
    lambda f, r: f[:0] + ["2022/02/30 10:00"] + f[1:],                # impossible date
    lambda f, r: f[:5] + [str(r.integers(0, 10**6)) + "." + "7" * int(r.integers(1, 12))] + f[6:],  # long decimals
]


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), bad=st.integers(0, len(_MUTATIONS) - 1), crlf=st.booleans(),
       mode=st.sampled_from(["stop", "skip"]))
def test_fast_path_gives_what_the_full_parser_gives(tmp_path_factory, seed, bad, crlf, mode):
    """Whatever a block holds, the one-pass scanner and the Arrow path agree: same table, same
    account table, same error (stop) or same rejected lines (skip)."""
    from blazingaml.io.ibm_csv import TransactionReader

    rng = np.random.default_rng(seed)
    lines = [GOOD[int(i)] for i in rng.integers(0, len(GOOD), 40)]
    lines = [",".join(f[:5] + [f"{rng.uniform(0, 1e5):.2f}"] + f[6:]) for f in (x.split(",") for x in lines)]
    where = int(rng.integers(0, len(lines)))
    lines[where] = ",".join(_MUTATIONS[bad](lines[where].split(","), rng))
    path = write(tmp_path_factory.mktemp("fast"), lines, end="\r\n" if crlf else "\n")
    if crlf:
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n").replace(b"\r\r\n", b"\r\n"))

    def run(fast):
        reader = TransactionReader(path, on_bad_rows=mode, block_bytes=512, fast_path=fast)
        try:
            parts = list(reader)
        except BadRowError as exc:
            return ("error", str(exc))
        import pyarrow as pa

        table = pa.concat_tables(parts) if parts else None
        return ("ok", table, reader.accounts.table(), reader.rejected, reader.rows_read)

    fast, full = run(True), run(False)
    assert fast[0] == full[0]
    if fast[0] == "error":
        assert fast[1] == full[1]
    else:
        assert (fast[1] is None) == (full[1] is None)
        if fast[1] is not None:
            assert fast[1].equals(full[1])
        assert fast[2].equals(full[2]) and fast[3] == full[3] and fast[4] == full[4]
