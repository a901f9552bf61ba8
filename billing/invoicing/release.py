"""What a void gives back: the prepaid credit and the coupon periods its invoice used.

An issued invoice records what it used (``billing.credits.usage_record``): a ``CreditConsumption``
per grant (append-only) and the billed month on each coupon redemption. Voiding the invoice undoes
the sale, so both come back to the org for the invoice that replaces it:

- credit: a new grant of what each grant lost to this invoice (``source="invoice_void"``, the same
  expiry as the grant it came from) — consumptions are facts and are never deleted; the subledger
  agrees, since reversing the issue journal puts the credits back on the Prepaid credits account;
- coupons: the month leaves the redemption's ``applied_months``, and a redemption the invoice had
  used up is active again.
"""

from __future__ import annotations

from billing import credits
from billing.models import CouponRedemption, CreditConsumption, Invoice, LineKind, RedemptionStatus
from dos.audit import audit_record


def usage_release(invoice: Invoice, *, actor) -> dict:
    """Give back the credit and coupon periods ``invoice`` used (inside the voiding transaction)."""
    ref = str(invoice.pk)
    restored = []
    for used in (CreditConsumption.objects.filter(org_id=invoice.org_id, invoice_ref=ref)
                 .select_related("grant").order_by("id")):
        grant = credits.credit_grant(
            org_id=invoice.org_id, amount=used.amount, actor=actor, expires_at=used.grant.expires_at,
            reason=f"Returned by the void of {invoice.number}", source="invoice_void", source_ref=ref)
        restored.append({"grant_id": used.grant_id, "amount": used.amount, "returned_as": grant.pk})
    month = invoice.period_start.isoformat()
    redemption_ids = {line.meta.get("redemption_id") for line in invoice.lines.filter(kind=LineKind.DISCOUNT)} - {None}
    coupons = []
    for redemption in (CouponRedemption.objects.select_for_update().select_related("coupon")
                       .filter(org_id=invoice.org_id, pk__in=redemption_ids).order_by("id")):
        if month not in redemption.applied_months:
            continue
        redemption.applied_months = [m for m in redemption.applied_months if m != month]
        redemption.periods_applied = len(redemption.applied_months)
        duration = redemption.coupon.duration_months
        if redemption.status == RedemptionStatus.EXHAUSTED and (duration is None or redemption.periods_applied < duration):
            redemption.status = RedemptionStatus.ACTIVE
        redemption.save(update_fields=["applied_months", "periods_applied", "status"])
        coupons.append(redemption.coupon.code)
    if restored or coupons:
        audit_record(org_id=invoice.org_id, action="billing.credits_returned", actor=actor, target=f"invoice:{ref}",
                     data={"number": invoice.number, "credit": restored, "coupons": coupons})
    return {"credit": restored, "coupons": coupons}
