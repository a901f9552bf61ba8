"""What platform finance cannot do to an invoice by accident or by splitting: void one a credit note
still stands against, split a credit under the four-eyes amount, or leave a voided month stuck; a
month close that one org breaks still closes the others; the invoice page shows a tenant only the
credit notes it received and refuses amounts that are not won."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.models import Sum
from structlog.testing import capture_logs

from billing.close import invoice_void_and_redraft, invoices_issue_due, month_close
from billing.credit_notes import credit_note_create, credit_note_reject
from billing.credits import coupon_redeem, coupon_save, credit_grant, credit_remaining
from billing.invoicing import InvoiceStateError, invoice_issue, invoice_void
from billing.models import (
    Coupon,
    CouponRedemption,
    CreditConsumption,
    CreditNote,
    CreditNoteStatus,
    Invoice,
    InvoiceStatus,
    Journal,
)
from dos import scope
from tenancy.models import PlatformRole
from tests.billing.invoicing_support import ISSUED_AT, NOVEMBER, finance_person, issued_for, launch_price_book, pov_rating
from tests.billing.test_close import CLOSE_AT, CLOSER, _customer
from tests.factories import UserFactory, add_member, make_org, verified_client

pytestmark = pytest.mark.django_db
LATER = ISSUED_AT + dt.timedelta(days=1)
VOIDED_AT = ISSUED_AT + dt.timedelta(days=2)


@pytest.fixture
def fiona(db):
    return finance_person()


@pytest.fixture
def felix(db):
    return finance_person("felix@decisionos.example")


def _note(invoice, actor, **kwargs):
    with scope.org_scope(invoice.org_id):
        return credit_note_create(invoice=invoice, actor=actor, reason=kwargs.pop("reason", "Outage"), now=LATER,
                                  **kwargs)


def _void(invoice, actor):
    with scope.org_scope(invoice.org_id):
        return invoice_void(invoice=invoice, actor=actor, reason="Billed the wrong plan", now=VOIDED_AT)


def _fresh(invoice):
    with scope.org_scope(invoice.org_id):
        return Invoice.objects.get(pk=invoice.pk)


# ------------------------------------------------------- M3: no void under a standing credit note


def test_an_invoice_with_a_carried_credit_note_cannot_be_voided(acme, fiona):
    invoice = issued_for(acme)
    _note(invoice, fiona, amount=100_000, application="carried")
    with pytest.raises(InvoiceStateError, match="credit note"):
        _void(invoice, fiona)
    assert _fresh(invoice).status == InvoiceStatus.ISSUED
    with scope.org_scope(acme.id):  # nothing was reversed: the issue and the note stand in the subledger
        assert not Journal.objects.filter(reverses__isnull=False).exists()
    december = issued_for(acme, month=NOVEMBER.replace(month=12), now=ISSUED_AT + dt.timedelta(days=30))
    assert december.amount_credited == 110_000  # the note still reaches the next invoice, backed by a live one


def test_a_pending_credit_note_blocks_the_void_until_it_is_rejected(acme, fiona, felix, settings):
    settings.BILLING_CREDIT_NOTE_FOUR_EYES_ABOVE = 100_000
    invoice = issued_for(acme)
    note = _note(invoice, fiona, amount=200_000)
    assert note.status == CreditNoteStatus.PENDING_APPROVAL
    with pytest.raises(InvoiceStateError, match="awaiting"):
        _void(invoice, fiona)
    with scope.org_scope(acme.id):
        credit_note_reject(note=note, actor=felix, reason="Void instead")
    assert _void(invoice, fiona).status == InvoiceStatus.VOID


# ------------------------------------------------------- M5: four eyes on what the invoice is credited in all


def test_splitting_a_credit_under_the_four_eyes_amount_still_needs_a_second_person(acme, fiona):
    invoice = issued_for(acme, rating=pov_rating(calls=250_000))  # ₩5,300,000 + VAT
    first = _note(invoice, fiona, amount=500_000)  # ₩550,000 in all: under ₩1,000,000
    assert first.status == CreditNoteStatus.ISSUED
    second = _note(invoice, fiona, amount=500_000)  # ₩1,100,000 credited on the invoice: above
    assert second.status == CreditNoteStatus.PENDING_APPROVAL and second.number == ""
    third = _note(invoice, fiona, amount=1_000)  # pending notes count too
    assert third.status == CreditNoteStatus.PENDING_APPROVAL


def test_a_rejected_note_no_longer_counts_towards_the_four_eyes_amount(acme, fiona, felix):
    invoice = issued_for(acme, rating=pov_rating(calls=250_000))
    pending = _note(invoice, fiona, amount=950_000)
    assert pending.status == CreditNoteStatus.PENDING_APPROVAL
    with scope.org_scope(acme.id):
        credit_note_reject(note=pending, actor=felix, reason="No")
    assert _note(invoice, fiona, amount=800_000).status == CreditNoteStatus.ISSUED


def run(*args) -> str:
    out = io.StringIO()
    call_command("billing", *args, stdout=out)
    return out.getvalue()


def test_the_shell_credits_small_amounts_only_and_not_in_slices(acme):
    issued_for(acme, rating=pov_rating(calls=250_000))
    create = ("credit-note", "create", "--org", "acme", "--invoice", "DOS-2026-000001", "--reason", "Goodwill")
    assert "DOS-CN-2026-000001" in run(*create, "--amount", "600000")
    with pytest.raises(CommandError, match="second person"):
        run(*create, "--amount", "600000")  # ₩1,320,000 credited in all: a person asks in the back office
    with scope.org_scope(acme.id):
        assert CreditNote.objects.count() == 1


# ------------------------------------------------------- L5 and L4: the invoice page


def _finance_user(email="fiona.page@decisionos.example"):
    user = UserFactory(email=email)
    PlatformRole.objects.create(user=user, role="platform_finance")
    return user


def test_a_tenant_sees_only_the_credit_notes_it_received_on_the_invoice_page(client, acme, fiona, felix, settings):
    settings.BILLING_CREDIT_NOTE_FOUR_EYES_ABOVE = 100_000
    invoice = issued_for(acme)
    _note(invoice, fiona, amount=10_000, reason="Outage on the 3rd")
    rejected = _note(invoice, fiona, amount=150_000, reason="Internal: sales promised it")
    with scope.org_scope(acme.id):
        credit_note_reject(note=rejected, actor=felix, reason="No")
    _note(invoice, fiona, amount=120_000, reason="Internal: churn risk")
    bill = UserFactory(email="bill@acme.example")
    add_member(acme, bill, "billing_admin")
    page = verified_client(client, bill).get(f"/admin/billing/invoice/{invoice.pk}/change/")
    assert page.status_code == 200
    assert [n.status for n in page.context["credit_notes"]] == [CreditNoteStatus.ISSUED]
    assert b"Outage on the 3rd" in page.content and b"Internal" not in page.content
    client.logout()
    staff = verified_client(client, _finance_user()).get(f"/admin/billing/invoice/{invoice.pk}/change/")
    assert len(staff.context["credit_notes"]) == 3  # platform finance sees every request


@pytest.mark.parametrize("typed", ["²", "١٢٠٠٠", "12e3", "-5", "9" * 20])
def test_the_invoice_page_refuses_an_amount_that_is_not_won(client, acme, typed):
    invoice = issued_for(acme)
    c = verified_client(client, _finance_user())
    response = c.post(f"/admin/billing/invoice/{invoice.pk}/change/",
                      {"op": "credit", "amount": typed, "application": "applied", "reason": "Outage"}, follow=True)
    assert response.status_code == 200
    assert "0-9" in " ".join(str(m) for m in response.context["messages"])  # whole won in digits 0-9
    with scope.org_scope(acme.id):
        assert not CreditNote.objects.exists()


def test_the_invoice_page_takes_won_with_separators(client, acme):
    invoice = issued_for(acme)
    verified_client(client, _finance_user()).post(f"/admin/billing/invoice/{invoice.pk}/change/", {
        "op": "credit", "amount": "10,000", "application": "applied", "reason": "Outage"})
    with scope.org_scope(acme.id):
        assert CreditNote.objects.get().net == 10_000


# ------------------------------------------------------- L3: one broken org never stops the run


@pytest.fixture
def customers(db):
    launch_price_book()
    return [_customer(make_org("Acme Lending", slug="acme-close"), calls=12_345, agents=7),
            _customer(make_org("Beta Credit", slug="beta-close"), calls=0, agents=5, brn="1208147521"),
            _customer(make_org("Gamma Capital", slug="gamma-close"), calls=2_000_000, agents=12, brn="1078155843")]


def _break_invoices_of(org, operation: str) -> None:
    """The database fails one org's invoice writes the way a real fault does (a DatabaseError that is
    no refusal of ours): a trigger, inside the test's transaction."""
    with connection.cursor() as cursor:
        cursor.execute(f"""
            CREATE FUNCTION pg_temp.broken_org() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.org_id = '{org.id}'::uuid THEN RAISE EXCEPTION 'disk full (simulated)'; END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER broken_org BEFORE {operation} ON billing_invoice
                FOR EACH ROW EXECUTE FUNCTION pg_temp.broken_org();""")


def test_a_close_reports_an_org_that_fails_unexpectedly_and_closes_the_others(customers):
    broken, *others = customers
    _break_invoices_of(broken, "INSERT")
    with capture_logs() as logs:
        report = month_close(month=NOVEMBER, actor=CLOSER, now=CLOSE_AT)
    assert (report.orgs, report.drafts) == (3, 2) and not report.ok
    assert list(report.failed) == [str(broken.id)] and "disk full" in report.failed[str(broken.id)]
    failed = [e for e in logs if e["event"] == "billing.close.org_failed"]
    assert len(failed) == 1 and failed[0]["exc_info"] and failed[0]["org_id"] == str(broken.id)
    for org in others:
        with transaction.atomic(), scope.org_scope(org.id):
            assert Invoice.objects.get().status == InvoiceStatus.DRAFT


def test_issuing_due_drafts_reports_one_that_fails_and_issues_the_others(customers):
    broken = customers[1]
    month_close(month=NOVEMBER, actor=CLOSER, now=CLOSE_AT)
    _break_invoices_of(broken, "UPDATE")
    with capture_logs() as logs:
        report = invoices_issue_due(actor="system:billing.issue", now=CLOSE_AT + dt.timedelta(hours=72))
    assert len(report.issued) == 2 and len(report.failed) == 1 and "disk full" in next(iter(report.failed.values()))
    assert [e["org_id"] for e in logs if e["event"] == "billing.issue_due.refused"] == [str(broken.id)]
    with transaction.atomic(), scope.org_scope(broken.id):
        assert Invoice.objects.get().status == InvoiceStatus.DRAFT  # left in the review queue


# ------------------------------------------------------- L1: a void gives the month back


def _with_credit_and_coupon(org, fiona):
    coupon_save(coupon=Coupon(code="WELCOME", name="Welcome", kind="fixed", amount_off=50_000, duration_months=1),
                actor=fiona)
    with transaction.atomic(), scope.org_scope(org.id):
        credit_grant(org_id=org.id, amount=200_000, reason="Prepaid", actor=fiona)
        coupon_redeem(org_id=org.id, code="WELCOME", plan_code="pov", actor=fiona,
                      now=dt.datetime(2026, 11, 2, tzinfo=dt.UTC))


def _month(org) -> list[Invoice]:
    with transaction.atomic(), scope.org_scope(org.id):
        return list(Invoice.objects.filter(period_start=NOVEMBER).order_by("created_at"))


def _used(org) -> tuple[int, int, str]:
    with transaction.atomic(), scope.org_scope(org.id):
        redemption = CouponRedemption.objects.get()
        return credit_remaining(org.id), redemption.periods_applied, redemption.status


def _lines(invoice) -> dict[str, int]:
    with transaction.atomic(), scope.org_scope(invoice.org_id):
        return dict(invoice.lines.values_list("code", "amount"))


def test_a_void_gives_back_credit_and_coupon_and_the_month_is_drafted_again(customers):
    acme, fiona = customers[0], finance_person("fiona.void@decisionos.example")
    _with_credit_and_coupon(acme, fiona)
    month_close(month=NOVEMBER, actor=CLOSER, now=CLOSE_AT, org_ids=[acme.id])
    with transaction.atomic(), scope.org_scope(acme.id):
        first = invoice_issue(invoice=Invoice.objects.get(), actor=fiona, now=CLOSE_AT + dt.timedelta(days=1))
    charged = _lines(first)
    assert charged["credit"] == -200_000 and charged["coupon:WELCOME"] == -50_000
    assert _used(acme) == (0, 1, "exhausted")

    voided, replacement = invoice_void_and_redraft(invoice=first, actor=fiona, reason="Wrong seat count",
                                                   now=CLOSE_AT + dt.timedelta(days=2))
    assert voided.status == InvoiceStatus.VOID and _used(acme) == (200_000, 0, "active")  # given back
    assert replacement.status == InvoiceStatus.DRAFT and replacement.pk != first.pk
    assert _lines(replacement) == charged and replacement.total == first.total  # the same month, rated again
    with transaction.atomic(), scope.org_scope(acme.id):
        again = invoice_issue(invoice=replacement, actor=fiona, now=CLOSE_AT + dt.timedelta(days=3))
        assert CreditConsumption.objects.aggregate(s=Sum("amount"))["s"] == 400_000  # 200,000 twice, of 400,000
    assert again.number == "DOS-2026-000002" and _used(acme) == (0, 1, "exhausted")
    assert [i.status for i in _month(acme)] == [InvoiceStatus.VOID, InvoiceStatus.ISSUED]


def test_after_a_plain_void_the_next_close_drafts_the_month_again(customers):
    acme, fiona = customers[0], finance_person("fiona.void@decisionos.example")
    month_close(month=NOVEMBER, actor=CLOSER, now=CLOSE_AT, org_ids=[acme.id])
    with transaction.atomic(), scope.org_scope(acme.id):
        first = invoice_issue(invoice=Invoice.objects.get(), actor=fiona, now=CLOSE_AT + dt.timedelta(days=1))
        invoice_void(invoice=first, actor=fiona, reason="Wrong", now=CLOSE_AT + dt.timedelta(days=2))
    report = month_close(month=NOVEMBER, actor=CLOSER, now=CLOSE_AT + dt.timedelta(days=2), org_ids=[acme.id])
    assert (report.drafts, report.already_issued) == (1, 0)
    assert [i.status for i in _month(acme)] == [InvoiceStatus.VOID, InvoiceStatus.DRAFT]
    month_close(month=NOVEMBER, actor=CLOSER, now=CLOSE_AT + dt.timedelta(days=3), org_ids=[acme.id])
    assert len(_month(acme)) == 2  # still one live invoice for the month


def test_voiding_on_the_invoice_page_puts_the_replacement_in_the_review_queue(client, customers):
    acme = customers[0]
    month_close(month=NOVEMBER, actor=CLOSER, now=CLOSE_AT, org_ids=[acme.id])
    first = _month(acme)[0]
    with transaction.atomic(), scope.org_scope(acme.id):
        invoice_issue(invoice=first, actor=finance_person("felix.void@decisionos.example"), now=CLOSE_AT)
    response = verified_client(client, _finance_user()).post(
        f"/admin/billing/invoice/{first.pk}/change/", {"op": "void", "reason": "Wrong seat count"}, follow=True)
    assert "2026-11" in " ".join(str(m) for m in response.context["messages"])  # the replacement draft of 2026-11
    assert [i.status for i in _month(acme)] == [InvoiceStatus.VOID, InvoiceStatus.DRAFT]


def test_a_write_off_books_bad_debts_and_a_later_payment_reverses_it_first(fiona):
    """Uncollectible moves the open balance from receivables to bad debts; if the customer pays
    after all, the write-off is reversed before the payment clears the receivable."""
    from billing.invoicing import invoice_mark_paid, invoice_mark_uncollectible
    from billing.subledger import trial_balance

    launch_price_book()
    org = make_org("Written Off", slug="written-off")
    invoice = issued_for(org, rating=pov_rating())
    with scope.org_scope(org.id):
        invoice = invoice_mark_uncollectible(invoice=invoice, actor=fiona, reason="no answer for 90 days", now=LATER)
        write_off = Journal.objects.get(org_id=org.id, event="invoice.written_off")
        amounts = {line.account: line.amount for line in write_off.lines.all()}
        assert amounts == {"bad_debt": invoice.total, "ar": -invoice.total}
        invoice_mark_paid(invoice=invoice, actor=fiona, reference="late transfer", now=VOIDED_AT)
        assert Journal.objects.filter(org_id=org.id, reverses=write_off).count() == 1
        balance = trial_balance(month=LATER.date().replace(day=1), org_id=org.id)
    accounts = {row.account: row.closing for row in balance.rows}
    assert balance.balanced and accounts.get("bad_debt", 0) == 0 and accounts.get("ar", 0) == 0
