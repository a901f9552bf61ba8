"""dosctl billing close | issue-due | invoice show | credit-note create."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from billing.models import CreditNote
from dos import scope
from tests.billing.invoicing_support import draft_for, issued_for

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command("billing", *args, stdout=out)
    return out.getvalue()


def test_close_refuses_a_malformed_or_running_month(acme):
    with pytest.raises(CommandError, match="YYYY-MM"):
        run("close", "--period", "November")
    with pytest.raises(CommandError, match="not ended"):
        run("close", "--period", "2099-01")


def test_close_reports_what_it_did(acme):
    assert "Closed 2026-10: 0 billable orgs" in run("close", "--period", "2026-10", "--org", "acme")


def test_invoice_show_prints_lines_and_totals_and_writes_the_pdf(acme, tmp_path):
    issued_for(acme)
    text = run("invoice", "show", "DOS-2026-000001", "--org", "acme", "--pdf", str(tmp_path / "i.pdf"))
    assert "plan:pov" in text and "₩623,590" in text and (tmp_path / "i.pdf").read_bytes().startswith(b"%PDF")
    data = json.loads(run("invoice", "show", "DOS-2026-000001", "--org", "acme", "--json"))
    assert (data["total"], data["tax"]) == (623_590, 56_690)
    with pytest.raises(CommandError, match="No invoice"):
        run("invoice", "show", "DOS-2026-999999", "--org", "acme")


def test_credit_note_create_from_the_shell(acme, olivia):
    issued_for(acme)
    assert "DOS-CN-2026-000001 against DOS-2026-000001" in run(
        "credit-note", "create", "--org", "acme", "--invoice", "DOS-2026-000001", "--amount", "1000",
        "--reason", "Goodwill")
    with pytest.raises(CommandError, match="Not allowed"):  # an org's own owner does not credit itself
        run("credit-note", "create", "--org", "acme", "--invoice", "DOS-2026-000001", "--full", "--reason", "x",
            "--as", olivia.email)
    with scope.org_scope(acme.id):
        assert CreditNote.objects.count() == 1


def test_issue_due_issues_nothing_before_the_window(acme):
    draft_for(acme)
    assert run("issue-due").strip() == "Issued 0 invoices."
