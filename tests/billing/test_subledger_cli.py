"""dosctl ledger: trial balance, drift, exports and reversals from the shell."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from openpyxl import load_workbook

from billing.models import Journal, UsageMonthly
from dos import scope
from dos.cli import main
from tests.billing.invoicing_support import NOVEMBER, issued_for, pov_rating

pytestmark = pytest.mark.django_db


def dosctl(*args) -> tuple[str, int]:
    out = io.StringIO()
    try:
        call_command("ledger", *args, stdout=out)
        return out.getvalue(), 0
    except SystemExit as exc:
        return out.getvalue(), exc.code


@pytest.fixture
def billed(acme, outsider):
    invoices = {org.slug: issued_for(org, rating=pov_rating(calls=n)) for org, n in ((acme, 12_345), (outsider, 10))}
    for org, calls in ((acme, 12_345), (outsider, 5_000)):
        with scope.org_scope(org.id):
            UsageMonthly.objects.create(org_id=org.id, metric="decision_calls", value=Decimal(calls), month=NOVEMBER)
    return invoices


def test_the_trial_balance_of_one_org_or_every_org(billed, acme, outsider):
    text, code = dosctl("trial-balance", "--month", "2026-12", "--org", acme.slug)
    assert code == 0 and "1 journals, balanced." in text and f"₩{billed[acme.slug].total:,}" in text
    data = json.loads(dosctl("trial-balance", "--month", "2026-12", "--json")[0])
    assert (data["journals"], data["balanced"], data["debit_total"]) == (
        2, True, billed[acme.slug].total + billed[outsider.slug].total)


def test_drift_exits_non_zero_when_an_org_is_above_the_tolerance(billed, acme):
    text, code = dosctl("drift", "--month", "2026-11", "--org", acme.slug)
    assert code == 0 and "ok    decision_calls" in text
    data, code = dosctl("drift", "--month", "2026-11", "--json")
    assert code == 1 and json.loads(data) == {"month": "2026-11-01", "orgs": 2, "rows": 2, "alerts": 1}


def test_exports_are_written_to_a_file(billed, acme, tmp_path):
    target = tmp_path / "journals.xlsx"
    text, code = dosctl("export", "--dataset", "journals", "--out", str(target), "--org", acme.slug)
    assert code == 0 and "Wrote journals" in text
    rows = list(load_workbook(target).active.iter_rows(values_only=True))
    assert len(rows) == 1 + 3 and {r[1] for r in rows[1:]} == {acme.slug}
    with pytest.raises(CommandError, match="--format"):
        dosctl("export", "--dataset", "invoices", "--out", str(tmp_path / "invoices.txt"))


def test_a_reversal_from_the_shell_is_the_operators_and_never_an_org_members(billed, acme, olivia):
    with scope.org_scope(acme.id):
        journal = Journal.objects.get()
    with pytest.raises(CommandError, match="Not allowed"):
        dosctl("reverse", "--org", acme.slug, "--journal", str(journal.pk), "--reason", "x", "--as", olivia.email)
    text, code = dosctl("reverse", "--org", acme.slug, "--journal", str(journal.pk), "--reason", "booked twice")
    assert code == 0 and f"J-{journal.pk} reversed by J-" in text
    with pytest.raises(CommandError, match="No journal"):
        dosctl("reverse", "--org", acme.slug, "--journal", "999999", "--reason", "x")


def test_dosctl_lists_the_ledger_group(capsys):
    assert main(["--help"]) == 0
    assert "ledger" in capsys.readouterr().out
