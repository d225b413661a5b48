"""Patterns.txt: byte-exact round trip of the real file, grammar errors, joining to transactions."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from blazingaml.errors import SchemaError
from blazingaml.io.ibm_csv import accounts_path_for
from blazingaml.io.patterns_txt import format_patterns, join_attempts, parse_patterns, read_patterns
from blazingaml.io.vocab import TYPOLOGIES

from .conftest import DEV_PATTERNS


def test_real_dev_file_round_trips_byte_for_byte():
    text = DEV_PATTERNS.read_text()
    attempts = parse_patterns(text)
    assert len(attempts) == 185
    assert format_patterns(attempts) == text
    assert {a.typology for a in attempts} == set(TYPOLOGIES)
    first = attempts[0]
    assert first.typology == "FAN-OUT" and first.qualifier == "Max 16-degree Fan-Out" and len(first.rows) == 16
    assert first.rows[0][1] == "021174"  # zero padding kept


@pytest.mark.parametrize("text,match", [
    ("BEGIN LAUNDERING ATTEMPT - FAN-OUT\n", "missing END"),
    ("BEGIN LAUNDERING ATTEMPT - SMURF\n", "unknown typology"),
    ("hello\n", "expected 'BEGIN"),
    ("BEGIN LAUNDERING ATTEMPT - CYCLE\nEND LAUNDERING ATTEMPT - FAN-IN\n", "closes BEGIN CYCLE"),
    ("BEGIN LAUNDERING ATTEMPT - CYCLE\n1,2,3\nEND LAUNDERING ATTEMPT - CYCLE\n", "expected 11 fields"),
])
def test_grammar_errors_name_the_line(text, match):
    with pytest.raises(SchemaError, match=match):
        parse_patterns(text, "p.txt")


def test_join_matches_every_embedded_real_row(embedded_world):
    files, parquet = embedded_world
    tx = pq.read_table(parquet).to_pandas()
    accounts = pq.read_table(accounts_path_for(parquet)).to_pandas()
    attempts = read_patterns(files.patterns)
    joined = join_attempts(tx, accounts, attempts)
    n_rows = sum(len(a.rows) for a in attempts)
    assert joined.attrs["unmatched"] == 0
    assert int((joined["attempt_id"] >= 0).sum()) == n_rows
    # every pattern transaction is labelled laundering
    assert tx.loc[joined["attempt_id"] >= 0, "label"].eq(1).all()
    # the real attempts the world embedded (as many as its laundering rate holds) are written verbatim
    real_rows = {",".join(r) for a in read_patterns(DEV_PATTERNS) for r in a.rows}
    verbatim = [a for a in attempts if all(",".join(r) in real_rows for r in a.rows)]
    assert len(verbatim) == files.stats["embedded_attempts"] > 0


def test_join_handles_duplicate_transactions(tmp_path):
    import pandas as pd

    from blazingaml.io.patterns_txt import Attempt

    row = ["2022/09/01 00:06", "021174", "800737690", "012", "80011F990", "2848.96", "Euro", "2848.96", "Euro", "ACH", "1"]
    accounts = pd.DataFrame({"account": [0, 1], "bank": ["021174", "012"], "account_id": ["800737690", "80011F990"]})
    tx = pd.DataFrame({"ts": [1661990760] * 3, "src": [0] * 3, "dst": [1] * 3, "amount_paid": [2848.96] * 3,
                       "amount_received": [2848.96] * 3, "pay_currency": [1] * 3, "recv_currency": [1] * 3,
                       "payment_format": [2] * 3})
    joined = join_attempts(tx, accounts, [Attempt(0, "FAN-OUT", None, [row, row])])
    assert joined["attempt_id"].tolist() == [0, 0, -1]
