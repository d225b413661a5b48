"""Inputs as users have them: an IBM Trans.csv, the same rows as IBM-schema Parquet (written by
pandas) and as Parquet with other column names read through --columns score alike, and outputs
name accounts by bank and account."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from blazingaml.errors import SchemaError
from blazingaml.io.transactions import load_transactions

from .conftest import ROOT, cli

FAN = str(ROOT / "patterns" / "gfp" / "fan.pattern")
GFP = str(ROOT / "patterns" / "gfp")
RENAMED = {"Timestamp": "when", "From Bank": "payer_bank", "Account": "payer", "To Bank": "payee_bank",
           "Account.1": "payee", "Amount Paid": "paid", "Amount Received": "got", "Payment Currency": "paid_in",
           "Receiving Currency": "got_in", "Payment Format": "how", "Is Laundering": "bad"}
MAPPING = ["ts=when", "src_bank=payer_bank,src=payer", "dst_bank=payee_bank", "dst=payee", "amount_paid=paid",
           "amount_received=got", "pay_currency=paid_in", "recv_currency=got_in", "payment_format=how", "label=bad"]


@pytest.fixture(scope="module")
def inputs(small_world, tmp_path_factory):
    """(csv, IBM-schema Parquet, mapped Parquet, the CSV as pandas reads it with text identifiers)."""
    files, _ = small_world
    out = tmp_path_factory.mktemp("inputs")
    text_ids = {"From Bank": str, "To Bank": str, "Account": str, "Account.1": str}
    frame = pd.read_csv(files.trans, dtype=text_ids)
    frame.to_parquet(out / "ibm.parquet")
    # other names, another column order, banks as text: a mapping reads it
    frame.rename(columns=RENAMED)[list(reversed(RENAMED.values()))].to_parquet(out / "mapped.parquet")
    return files.trans, out / "ibm.parquet", out / "mapped.parquet", frame


def test_ibm_and_mapped_parquet_normalise_like_the_csv(inputs):
    csv, ibm, mapped, _ = inputs
    from blazingaml.io.user_tables import parse_column_mapping

    table, accounts = load_transactions(csv)
    for other in (load_transactions(ibm), load_transactions(mapped, columns=parse_column_mapping(MAPPING))):
        assert other[0].equals(table)
        assert other[1].equals(accounts)


def test_pandas_default_types_read_too(inputs, tmp_path):
    """pandas' own reading of a Trans.csv (banks as integers) gives the same graph."""
    csv, *_ = inputs
    pd.read_csv(csv).to_parquet(tmp_path / "plain.parquet")
    table, accounts = load_transactions(tmp_path / "plain.parquet")
    expected, expected_accounts = load_transactions(csv)
    assert table.equals(expected)
    assert accounts["bank"].to_pylist() == [str(int(b)) for b in expected_accounts["bank"].to_pylist()]


@pytest.fixture(scope="module")
def model(inputs, tmp_path_factory):
    csv, *_ = inputs
    out = tmp_path_factory.mktemp("model")
    r = cli("train", "--input", str(csv), "--patterns", GFP, "--only", "fan_in,fan_out", "--out", str(out),
            "--threads", "2", "--quiet")
    assert r.returncode == 0, r.stderr
    assert sorted(json.loads((out / "model.json").read_text())["patterns"]) == ["fan_in", "fan_out"]
    return out


@pytest.fixture(scope="module")
def scored(inputs, model, tmp_path_factory):
    """The three inputs scored with --explain: {name: (output table, alerts)}."""
    csv, ibm, mapped, _ = inputs
    out = tmp_path_factory.mktemp("scored")
    result = {}
    for name, path, extra in (("csv", csv, []), ("ibm", ibm, []), ("mapped", mapped, ["--columns", *MAPPING])):
        target = out / f"{name}.parquet"
        r = cli("score", "--model", str(model), "--input", str(path), "--output", str(target), "--explain",
                "--threads", "2", "--quiet", *extra)
        assert r.returncode == 0, r.stderr
        alerts = [json.loads(x) for x in target.with_suffix(".alerts.jsonl").read_text().splitlines()]
        result[name] = (pq.read_table(target), alerts)
    return result


def test_every_form_scores_like_the_csv(scored):
    table, alerts = scored["csv"]
    assert table["alert"].to_numpy().sum() == len(alerts) > 0
    for name in ("ibm", "mapped"):
        other, other_alerts = scored[name]
        np.testing.assert_array_equal(other["score"].to_numpy(), table["score"].to_numpy())
        assert other_alerts == alerts


def test_outputs_and_alerts_name_accounts_by_bank_and_account(scored, inputs):
    *_, frame = inputs
    table, alerts = scored["csv"]
    assert table.column_names[-6:] == ["from_bank", "from_account", "to_bank", "to_account", "score", "alert"]
    for ours, theirs in (("from_bank", "From Bank"), ("from_account", "Account"), ("to_bank", "To Bank"),
                         ("to_account", "Account.1")):
        assert table[ours].to_pylist() == frame[theirs].tolist()
    for alert in alerts:
        row = frame.iloc[alert["row"]]
        tx = alert["transaction"]
        assert (tx["from"], tx["to"]) == ({"bank": row["From Bank"], "account": row["Account"]},
                                          {"bank": row["To Bank"], "account": row["Account.1"]})
        assert tx["amount_paid"] == row["Amount Paid"]
        for inst in alert["instances"]:
            assert tx in inst["transactions"]   # the alerted transaction closes every instance


def _fails(*args):
    r = cli(*args)
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr
    return r.stderr


def test_wrong_schemas_and_mappings_are_one_clear_error(inputs, model, tmp_path):
    csv, ibm, mapped, frame = inputs
    score = ["score", "--model", str(model), "--output", str(tmp_path / "x.parquet"), "--input"]
    assert "neither the IBM columns" in _fails(*score, str(mapped))
    assert "unknown field 'sender'" in _fails(*score, str(mapped), "--columns", "sender=payer")
    assert "no column given for dst, amount" in _fails(*score, str(mapped), "--columns", "ts=when", "src=payer")
    err = _fails(*score, str(mapped), "--columns", "ts=when", "src=payer", "dst=payee", "amount=amount")
    assert "no column 'amount' (for amount)" in err and "its columns are" in err
    assert "not FIELD=COLUMN" in _fails(*score, str(mapped), "--columns", "ts")
    assert "CSV is read as an IBM Trans.csv" in _fails(*score, str(csv), "--columns", *MAPPING)
    bad = frame.copy()
    bad.loc[7, "Payment Currency"] = "Doubloon"
    bad.to_parquet(tmp_path / "bad.parquet")
    err = _fails(*score, str(tmp_path / "bad.parquet"))
    assert "row 7, column 'Payment Currency' (pay_currency): unknown name: 'Doubloon'" in err
    assert "hint: IBM names only" in err
    bad = frame.copy()
    bad["Timestamp"] = bad["Timestamp"].str.replace("2022", "year ")
    bad.to_parquet(tmp_path / "bad.parquet")
    assert "column 'Timestamp' (ts): not a time" in _fails(*score, str(tmp_path / "bad.parquet"))
    err = _fails("mine", "--patterns", GFP, "--only", "fan_in,fan_sideways", "--input", str(ibm),
                 "--output", str(tmp_path / "f.parquet"))
    assert "no pattern named fan_sideways" in err and "fan_out" in err


def test_mapping_without_banks_and_with_one_amount(inputs):
    """The smallest mapping: when, who, how much; every account then sits in bank ""."""
    _, _, mapped, frame = inputs
    from blazingaml.io.user_tables import parse_column_mapping

    table, accounts = load_transactions(mapped, columns=parse_column_mapping(["ts=when,src=payer,dst=payee,amount=paid"]))
    assert set(accounts["bank"].to_pylist()) == {""}
    assert accounts.num_rows == len(set(frame["Account"]) | set(frame["Account.1"]))
    np.testing.assert_array_equal(table["amount_received"].to_numpy(), frame["Amount Paid"].to_numpy())
    assert "label" not in table.column_names
    with pytest.raises(SchemaError, match="give 'amount' or 'amount_paid'"):
        parse_column_mapping(["ts=when,src=payer,dst=payee,amount=paid,amount_paid=paid"])


def test_an_alert_in_words_names_accounts_instances_amounts_and_times(scored):
    from blazingaml.alert_words import SHOWN_INSTANCES, describe_alert, most_telling

    _, alerts = scored["csv"]
    chosen = most_telling(alerts)
    assert chosen in alerts and chosen["instances"]
    text = describe_alert(chosen)
    tx = chosen["transaction"]
    first = text.splitlines()[0]
    for part in (f"bank {tx['from']['bank']} account {tx['from']['account']}",
                 f"to bank {tx['to']['bank']} account {tx['to']['account']}", f"{tx['amount_paid']:,.2f}",
                 f"{tx['tx_id']:,}", tx["currency"]):
        assert part in first
    for inst in chosen["instances"][:SHOWN_INSTANCES]:
        assert f"  {inst['pattern']}" in text
        earliest = min(inst["transactions"], key=lambda t: (t["ts"], t["tx_id"]))
        assert f"{earliest['amount_paid']:,.2f} {earliest['currency']}" in text


def test_summary_renders_in_a_pipe(capsys):
    """Not a terminal: the title is one unbroken line, and no ablation means no (empty) table."""
    from blazingaml.cli_pipeline import print_summary
    from blazingaml.pipeline import Evaluation

    metrics = {"f1": 0.5, "precision": 0.4, "recall": 0.6, "pr_auc": 0.3}
    ev = Evaluation(metrics, [], {}, {}, {}, {}, 1.0, 123_456, "paper")
    print_summary([ev], "report")
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "minority-class F1 (paper protocol, 123,456 transactions)"
    assert "┃" not in out and "│" not in out and "F1 0.500" in out
    ev.ablation = [{"features": "raw", "f1": 0.25}, {"features": "+fan", "f1": 0.5}]
    print_summary([ev], "report")
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "minority-class F1 (paper protocol, 123,456 transactions)"
    assert "┃ features" in out and "│ raw " in out and "0.250" in out
