import io
import json

import pytest
from django.core.management import call_command

from decisions.packs import load_pack
from decisions.simulation import simulate


def rows(n=300):
    generator = load_pack("lending_brokerage").dataset_module()
    return [{"lead_id": r["lead_id"], **generator.as_input(r)} for r in generator.generate(n)]


def test_the_report_counts_outcomes_rule_hits_reasons_and_flips():
    source = load_pack("lending_brokerage").rules["lending_triage"]
    stricter = source.replace('"dsr > 40.0"', '"dsr > 25.0"')
    report = simulate(source=stricter, rows=rows(), champion_source=source)
    assert report["decided"] == 300 and sum(report["outcomes"].values()) == 300
    assert report["rule_hits"]["P010_dsr_high"] == report["reason_codes"]["DSR_HIGH"]
    assert report["flips"]["total"] > 0
    assert set(report["flips"]["by_change"]) <= {"approve->deny", "review->deny"}  # only stricter
    example = report["flips"]["examples"][0]
    assert example["to"] == "deny" and "DSR_HIGH" in example["reasons"]


def test_invalid_rows_are_counted_not_fatal():
    data = rows(10)
    data[3]["credit_score"] = "n/a"
    report = simulate(source=load_pack("lending_brokerage").rules["lending_triage"], rows=data)
    assert (report["decided"], report["invalid"]) == (9, 1)
    assert "input.credit_score" in report["invalid_examples"][0]["errors"]


@pytest.mark.django_db
def test_dosctl_policy_simulate_writes_a_json_and_an_html_report(tmp_path):
    out = io.StringIO()
    call_command("policy", "simulate", "--pack", "lending_brokerage", "--out", str(tmp_path), "--json", stdout=out)
    summary = json.loads(out.getvalue())
    report = json.loads((tmp_path / "simulation.json").read_text(encoding="utf-8"))
    html = (tmp_path / "simulation.html").read_text(encoding="utf-8")
    assert report["rows"] == 1000 and summary["outcomes"] == report["outcomes"]
    assert 'id="rule-hits"' in html and "R090_fast_track" in html and "lending_triage" in html


def test_dosctl_policy_lint_and_eval(tmp_path):
    path = load_pack("lending_brokerage").path / "rules" / "lending_triage.yaml"
    out = io.StringIO()
    call_command("policy", "lint", str(path), "--json", stdout=out)
    assert json.loads(out.getvalue())["ok"] is True
    broken = tmp_path / "broken.yaml"
    broken.write_text(path.read_text(encoding="utf-8").replace('"age < 19"', '"age <"'), encoding="utf-8")
    with pytest.raises(SystemExit):
        call_command("policy", "lint", str(broken), stdout=io.StringIO())
    out = io.StringIO()
    sample = {"age": 35, "income_monthly": 3500000, "dsr": 48.5, "credit_score": 720, "employment_months": 36,
              "delinquencies_12m": 0, "documents_missing": [], "consent_credit_check": True, "loan_amount": 1,
              "product": "auto"}
    call_command("policy", "eval", str(path), "--input", json.dumps(sample), "--json", stdout=out)
    assert json.loads(out.getvalue())["outcome"] == "deny"
