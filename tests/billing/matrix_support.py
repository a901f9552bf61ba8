"""The finance rows of the permission matrix (tests/tenancy/test_permission_matrix.py): pricing,
invoicing and the subledger, with the objects each row acts on."""

from __future__ import annotations

import datetime as dt

from billing import accounts as billing_accounts
from billing import close as billing_close
from billing import credit_notes, invoicing, pricebook, subledger, subscriptions
from billing import credits as billing_credits
from billing import drift as billing_drift
from billing import seats as billing_seats
from tests.billing import invoicing_support as inv
from tests.billing import subscription_support as bs

SYSTEM = "system:test"
_NOV = dt.datetime(2026, 11, 14, tzinfo=dt.UTC)


def _drift_row(w):
    return billing_drift.InvoiceDrift.objects.create(org_id=w.org.id, month=_NOV.date().replace(day=1),
                                                     metric="matrix", metered=1, invoiced=1, drift_pct=0)


def _journal(w):
    return subledger.post("invoice.issued", org_id=w.org.id, source=subledger.SourceRef("billing.invoice", "m-1", "M-1"),
                          amounts={"net": 100, "tax": 10, "total": 110}, occurred_at=_NOV, actor=SYSTEM)



def entries(Entry, *, none, system=SYSTEM) -> dict:
    """name → Entry for every finance action (``Entry`` and ``none`` come from the matrix test)."""
    _none = none
    return {
        # The subledger is the platform's books: org roles read their journals, platform finance books them.
        "billing.journal.post": Entry(_none, lambda w, a, o: subledger.post(
            "invoice.issued", org_id=w.org.id, source=subledger.SourceRef("billing.invoice", "m-2", "M-2"),
            amounts={"net": 100, "tax": 10, "total": 110}, occurred_at=_NOV, actor=a), platform_only=True),
        "billing.journal.reverse": Entry(
            _journal, lambda w, a, o: subledger.reverse(o, actor=a, reason="matrix"), platform_only=True,
            admin=lambda w, c, o: c.post(f"/admin/billing/journal/{o.pk}/reverse/", {"reason": "matrix"}),
            cli=lambda w, o: ["ledger", "reverse", "--org", w.org.slug, "--journal", str(o.pk), "--reason", "matrix"]),
        "billing.drift.compute": Entry(
            _drift_row, lambda w, a, o: billing_drift.invoice_drift_compute(org_id=w.org.id, month=_NOV.date(), actor=a),
            platform_only=True, admin=lambda w, c, o: c.post("/admin/billing/invoicedrift/", {
                "action": "recompute_selected", "_selected_action": [str(o.pk)], "confirmed": "yes"})),
        # Invoicing is platform finance's: no org role drafts, issues, settles or credits its own invoices.
        "invoice.draft": Entry(_none, lambda w, a, o: inv.draft_for(w.org, actor=a), platform_only=True),
        "invoice.issue": Entry(inv.matrix_draft, lambda w, a, o: invoicing.invoice_issue(invoice=o, actor=a),
                               platform_only=True),
        "invoice.void": Entry(inv.matrix_issued, lambda w, a, o: invoicing.invoice_void(
            invoice=o, actor=a, reason="matrix", now=inv.MATRIX_LATER), platform_only=True),
        "invoice.uncollectible": Entry(inv.matrix_issued, lambda w, a, o: invoicing.invoice_mark_uncollectible(
            invoice=o, actor=a, reason="matrix", now=inv.MATRIX_LATER), platform_only=True),
        "invoice.paid": Entry(inv.matrix_issued, lambda w, a, o: invoicing.invoice_mark_paid(
            invoice=o, actor=a, reference="matrix", now=inv.MATRIX_LATER), platform_only=True),
        "invoice.issue_due": Entry(_none, lambda w, a, o: billing_close.invoices_issue_due(actor=a), platform_only=True),
        "billing.close": Entry(_none, lambda w, a, o: billing_close.month_close(
            month=inv.NOVEMBER, actor=a, now=inv.ISSUED_AT), platform_only=True),
        "credit_note.create": Entry(
            inv.matrix_issued, lambda w, a, o: credit_notes.credit_note_create(
                invoice=o, actor=a, amount=1_000, reason="matrix", now=inv.MATRIX_LATER), platform_only=True,
            cli=lambda w, o: ["billing", "credit-note", "create", "--org", w.org.slug, "--invoice", o.number,
                              "--amount", "1000", "--reason", "matrix"]),
        "credit_note.decide": Entry(inv.matrix_pending_note, lambda w, a, o: credit_notes.credit_note_approve(
            note=o, actor=a, now=inv.MATRIX_LATER), platform_only=True),
        # Pricing: the price book, credit, seats and tax status are platform finance's; the org's billing
        # manager keeps its account, redeems coupons and changes, cancels or resumes its subscription.
        "pricebook.draft": Entry(bs.matrix_draft_price, lambda w, a, o: pricebook.price_version_draft(
            plan=o, spec={"base": "1"}, effective_from=dt.date(2027, 1, 1), actor=a), platform_only=True),
        "pricebook.publish": Entry(lambda w: pricebook.price_version_draft(
            plan=bs.matrix_draft_price(w), spec={"base": "1"}, effective_from=dt.date(2027, 1, 1), actor=bs.fiona()),
            lambda w, a, o: pricebook.price_version_publish(version=o, actor=a), platform_only=True,
            admin=lambda w, c, o: c.post("/admin/billing/priceversion/", {
                "action": "publish_selected", "_selected_action": [str(o.pk)], "confirmed": "yes", "typed_count": "1"})),
        "billing_account.update": Entry(_none, lambda w, a, o: billing_accounts.billing_account_update(
            org_id=w.org.id, changes={"legal_name": "Acme Lending Co."}, actor=a)),
        "billing_account.tax_status": Entry(_none, lambda w, a, o: billing_accounts.billing_account_tax_status_set(
            org_id=w.org.id, status="exempt", reason="matrix", evidence=[{"kind": "doc", "reference": "M"}], actor=a),
            platform_only=True),
        "seats.set": Entry(_none, lambda w, a, o: billing_seats.seats_set(
            org_id=w.org.id, role="agent", quantity=9, since=bs.NOV, actor=a, reason="matrix"), platform_only=True),
        "coupon.redeem": Entry(bs.matrix_coupon, lambda w, a, o: billing_credits.coupon_redeem(
            org_id=w.org.id, code=o.code, plan_code="pov", actor=a)),
        "coupon.save": Entry(_none, lambda w, a, o: billing_credits.coupon_save(
            coupon=billing_credits.Coupon(code="m2", name="Matrix", kind="fixed", amount_off=1), actor=a),
            platform_only=True),
        "credit.grant": Entry(_none, lambda w, a, o: billing_credits.credit_grant(
            org_id=w.org.id, amount=1000, reason="matrix", actor=a), platform_only=True,
            admin=lambda w, c, o: c.post("/admin/billing/creditgrant/add/", {
                "org": str(w.org.id), "amount": "1000", "reason": "matrix"})),
        "subscription.start": Entry(_none, lambda w, a, o: subscriptions.subscription_start(
            org_id=w.org.id, plan_code="pov", actor=a, today=bs.NOV), platform_only=True),
        "subscription.change": Entry(bs.matrix_subscribed, bs.matrix_change, api=bs.matrix_change_api,
                                     admin=bs.matrix_change_admin),
        "subscription.cancel": Entry(bs.matrix_subscribed, lambda w, a, o: subscriptions.subscription_cancel(
            subscription=o, actor=a, today=bs.MATRIX_DAY),
            admin=lambda w, c, o: c.post("/admin/billing/subscription/", {
                "action": "cancel_at_period_end_selected", "_selected_action": [str(o.pk)], "confirmed": "yes"})),
        "subscription.resume": Entry(bs.matrix_cancel_scheduled, lambda w, a, o: subscriptions.subscription_resume(
            subscription=o, actor=a)),
        "subscription.status": Entry(bs.matrix_subscribed, lambda w, a, o: subscriptions.subscription_status_set(
            subscription=o, status="past_due", actor=a, reason="matrix"), platform_only=True),
    }


def admin_changed(name: str) -> bool:
    """What a finance action changed through the admin (called inside the org's scope)."""
    return {
        "billing.journal.reverse": lambda: subledger.Journal.objects.filter(reverses__isnull=False).exists(),
        # Recomputing a month without a billed invoice clears its rows.
        "billing.drift.compute": lambda: not billing_drift.InvoiceDrift.objects.filter(metric="matrix").exists(),
    }.get(name, lambda: bs.matrix_changed(name))()  # pricing: tests/billing/subscription_support.py
