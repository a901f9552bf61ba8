"""The invoice back office: review queue, issue with a typed confirmation, the invoice page with its
lines' explanations and the PDF, settlement and credit from the page, credit-note approval."""

from __future__ import annotations

import pytest

from billing.models import CreditNote, CreditNoteStatus, Invoice, InvoiceStatus
from dos import scope
from dos.models import LedgerEntry
from tenancy.models import PlatformRole
from tests.billing.invoicing_support import NOVEMBER, draft_for, issued_for, launch_price_book
from tests.factories import UserFactory, query_count, verified_client

pytestmark = pytest.mark.django_db


def finance_user(email: str):
    user = UserFactory(email=email)
    PlatformRole.objects.create(user=user, role="platform_finance")
    return user


def test_platform_finance_issues_drafts_from_the_review_queue_after_typing_the_count(client, fiona, acme, outsider):
    drafts = [draft_for(acme), draft_for(outsider)]
    c = verified_client(client, fiona)
    queue = c.get("/admin/billing/invoice/", {"review": "due"})
    assert queue.status_code == 200 and queue.context_data["cl"].result_count == 0  # review_until not set: none due
    listed = c.get("/admin/billing/invoice/", {"status__exact": "draft"})
    assert listed.context_data["cl"].result_count == 2
    post = {"action": "issue_selected", "_selected_action": [str(d.pk) for d in drafts], "confirmed": "yes"}
    assert c.post("/admin/billing/invoice/", {**post, "typed_count": "1"}).context_data["typed_wrong"]
    c.post("/admin/billing/invoice/", {**post, "typed_count": "2"})
    with scope.platform_scope(reason="test"):
        assert sorted(Invoice.objects.values_list("number", flat=True)) == ["DOS-2026-000001", "DOS-2026-000002"]
        assert LedgerEntry.objects.filter(chain="audit", action="billing.invoice.issued").count() == 2


def test_the_invoice_page_explains_its_lines_and_serves_the_pdf(client, fiona, acme):
    invoice = issued_for(acme)
    c = verified_client(client, fiona)
    page = c.get(f"/admin/billing/invoice/{invoice.pk}/change/")
    assert page.status_code == 200
    assert b"DOS-2026-000001" in page.content, "number"
    assert b"once per invoice, half up" in page.content, "the VAT line's explanation"
    assert b"invoice-operations" in page.content, "the operations form"
    pdf = c.get(f"/admin/billing/invoice/{invoice.pk}/pdf/")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_it_credits_voids_and_writes_off_from_the_invoice_page(client, fiona, acme):
    invoice = issued_for(acme)
    second = issued_for(acme, month=NOVEMBER.replace(month=10))
    c = verified_client(client, fiona)
    url = f"/admin/billing/invoice/{invoice.pk}/change/"
    c.post(url, {"op": "credit", "amount": "10,000", "application": "applied", "reason": "Outage"})
    c.post(url, {"op": "void", "reason": ""})  # refused: a reason is required, and it has a credit
    c.post(f"/admin/billing/invoice/{second.pk}/change/", {"op": "uncollectible", "reason": "Receivership"})
    with scope.org_scope(acme.id):
        assert CreditNote.objects.get().status == CreditNoteStatus.ISSUED
        assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.ISSUED
        assert Invoice.objects.get(pk=second.pk).status == InvoiceStatus.UNCOLLECTIBLE


def test_a_second_person_approves_a_large_credit_note(client, fiona, acme, settings):
    settings.BILLING_CREDIT_NOTE_FOUR_EYES_ABOVE = 100_000
    felix = finance_user("felix@decisionos.example")
    invoice = issued_for(acme)
    verified_client(client, fiona).post(f"/admin/billing/invoice/{invoice.pk}/change/",
                                        {"op": "credit", "amount": "200000", "reason": "Settlement"})
    with scope.org_scope(acme.id):
        note = CreditNote.objects.get()
    assert note.status == CreditNoteStatus.PENDING_APPROVAL
    post = {"action": "approve_selected", "_selected_action": [str(note.pk)], "confirmed": "yes", "typed_count": "1"}
    verified_client(client, fiona).post("/admin/billing/creditnote/", post)  # the requester: refused
    with scope.org_scope(acme.id):
        assert CreditNote.objects.get().status == CreditNoteStatus.PENDING_APPROVAL
    client.logout()
    verified_client(client, felix).post("/admin/billing/creditnote/", post)
    with scope.org_scope(acme.id):
        assert CreditNote.objects.get().status == CreditNoteStatus.ISSUED


def test_a_tenants_billing_admin_sees_its_issued_invoices_but_no_drafts_and_cannot_act(client, bill, acme):
    issued = issued_for(acme)
    draft_for(acme, month=NOVEMBER.replace(month=12))
    c = verified_client(client, bill)
    listed = c.get("/admin/billing/invoice/")
    assert listed.context_data["cl"].result_count == 1 and b"issue_selected" not in listed.content
    c.post(f"/admin/billing/invoice/{issued.pk}/change/", {"op": "void", "reason": "mine"})
    with scope.org_scope(acme.id):
        assert Invoice.objects.get(pk=issued.pk).status == InvoiceStatus.ISSUED


def test_the_changelists_do_not_grow_a_query_per_row(client, fiona, acme, outsider):
    issued_for(acme)
    c = verified_client(client, fiona)
    one = {page: query_count(c, f"/admin/billing/{page}/") for page in ("invoice", "creditnote")}
    for month in (9, 10):
        issued_for(acme, month=NOVEMBER.replace(month=month))
        issued_for(outsider, month=NOVEMBER.replace(month=month))
    assert {page: query_count(c, f"/admin/billing/{page}/") for page in ("invoice", "creditnote")} == one


def test_platform_finance_starts_the_month_close_and_follows_its_progress(client, fiona, acme, outsider,
                                                                          django_capture_on_commit_callbacks):
    from tests.billing.test_close import _customer

    launch_price_book()
    _customer(acme, calls=12_345, agents=7)
    _customer(outsider, calls=10, agents=5, brn="1208147521")
    draft_for(acme)  # one of the two already has its November draft
    c = verified_client(client, fiona)
    page = c.get("/admin/billing/invoice/close/", {"period": "2026-11"})
    assert page.status_code == 200 and (page.context_data["billable"], page.context_data["done"]) == (2, 1)
    assert b'http-equiv="refresh"' in page.content  # still missing a draft: the page follows the run
    with django_capture_on_commit_callbacks() as callbacks:
        assert c.post("/admin/billing/invoice/close/", {"period": "2026-11"}).status_code == 302
    assert len(callbacks) == 1  # the close is handed to the billing workers after COMMIT
    with django_capture_on_commit_callbacks() as refused:
        c.post("/admin/billing/invoice/close/", {"period": "2099-01"})
    assert refused == []


def test_the_month_close_page_is_platform_finances(client, bill):
    assert verified_client(client, bill).get("/admin/billing/invoice/close/").status_code == 404
