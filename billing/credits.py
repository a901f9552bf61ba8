"""Coupons and prepaid credit: redeeming a coupon, granting credit, and recording what an issued
invoice used of both (billing.subscriptions.on_invoice_issued calls ``usage_record``).

A coupon's use is counted per billed month when the invoice carrying it is issued, so a draft that
is recomputed ten times during its review window uses it once. Credit is spent the same way: one
``CreditConsumption`` per grant and invoice (unique), so re-running the hook changes nothing.
"""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from billing.models import (
    Coupon,
    CouponRedemption,
    CreditConsumption,
    CreditGrant,
    RedemptionStatus,
)
from billing.periods import next_month, seoul_day
from billing.rating import CouponGrant, CreditBalance
from dos import scope
from dos.audit import audit_record
from dos.authz import PermissionRefused, action, authorize
from dos.errors import DomainError, FieldErrors

COUPON_SAVE = action("coupon.save", "billing.manage")
COUPON_REDEEM = action("coupon.redeem", "billing.manage")
CREDIT_GRANT = action("credit.grant", "billing.manage")


class CouponRefused(DomainError):
    status, code = 409, "coupon_refused"


class CreditsChanged(DomainError):
    """An invoice would use prepaid credit or a coupon period that another issued invoice has used
    since its draft was computed: the issue is refused and the draft must be recomputed."""

    status, code = 409, "credits_changed"


def coupon_save(*, coupon: Coupon, actor) -> Coupon:
    """Create or change a coupon of the price book (platform finance). Redemptions already made keep
    counting against the new limits; a code never changes once redeemed."""
    actor = authorize(actor, COUPON_SAVE)
    if not getattr(actor, "platform", False):
        raise PermissionRefused("Only platform finance offers coupons.", permission="billing.manage",
                                code="platform_only")
    errors = coupon_errors(coupon)
    if errors:
        raise FieldErrors(errors)
    coupon.code = coupon.code.strip().upper()
    coupon.save()
    if not coupon.active:
        # Withdrawn: every org's running redemption ends now (drafts recomputed from here on drop it).
        with scope.platform_scope(reason=f"coupon withdrawn {coupon.code}", actor=actor):
            CouponRedemption.objects.filter(coupon=coupon, status=RedemptionStatus.ACTIVE).update(
                status=RedemptionStatus.EXPIRED)
    return coupon


def coupon_errors(coupon: Coupon) -> dict[str, list[str]]:
    """What is wrong with a coupon about to be saved, by field (empty when nothing): forms run it in
    their validation so a bad coupon is a field error, never a half-saved page."""
    errors = {}
    if coupon.kind == "percent" and not (coupon.percent_off and 0 < coupon.percent_off <= 100):
        errors["percent_off"] = ["A percentage above 0 and at most 100."]
    if coupon.kind == "fixed" and not (coupon.amount_off and coupon.amount_off > 0):
        errors["amount_off"] = ["Won above zero."]
    if not isinstance(coupon.plans, list) or not all(isinstance(p, str) for p in coupon.plans):
        errors["plans"] = ["A list of plan codes."]
    if coupon.pk:
        before = Coupon.objects.filter(pk=coupon.pk).values_list("code", flat=True).first()
        if before and before != coupon.code and CouponRedemption.objects.filter(coupon_id=coupon.pk).exists():
            errors["code"] = ["A redeemed coupon keeps its code."]
    return errors


def credit_grant_errors(*, amount, reason: str) -> dict[str, list[str]]:
    """What is wrong with a credit grant's amount and reason, by field (empty when nothing)."""
    errors = {}
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        errors["amount"] = ["A whole number of won above zero."]
    if not (reason or "").strip():
        errors["reason"] = ["Say why the credit is given."]
    return errors


def coupon_redeem(*, org_id, code: str, plan_code: str, actor, now: dt.datetime | None = None) -> CouponRedemption:
    """Attach a coupon to the org (once per org), if it is active, not past ``redeem_by``, below its
    redemption cap and valid for the org's plan."""
    actor = authorize(actor, COUPON_REDEEM)
    now = now or timezone.now()
    with transaction.atomic():
        coupon = Coupon.objects.select_for_update().filter(code__iexact=code.strip()).first()
        if coupon is None or not coupon.active:
            raise FieldErrors({"code": ["No such coupon."]})
        if coupon.redeem_by and now > coupon.redeem_by:
            raise CouponRefused(f"Coupon {coupon.code} expired on {coupon.redeem_by:%Y-%m-%d}.", code="coupon_expired")
        if coupon.plans and plan_code not in coupon.plans:
            raise CouponRefused(f"Coupon {coupon.code} is not valid for this plan.", code="coupon_not_for_plan")
        if coupon.max_redemptions is not None:
            # The cap counts every org's redemptions (the coupon row lock serialises them).
            with scope.platform_scope(reason=f"coupon redemption cap {coupon.code}", actor=actor):
                used = CouponRedemption.objects.filter(coupon=coupon).count()
            if used >= coupon.max_redemptions:
                raise CouponRefused(f"Coupon {coupon.code} has been fully redeemed.", code="coupon_exhausted")
        try:
            with transaction.atomic():
                redemption = CouponRedemption.objects.create(org_id=org_id, coupon=coupon, redeemed_at=now,
                                                             redeemed_by=_label(actor))
        except IntegrityError:
            raise CouponRefused(f"Coupon {coupon.code} is already redeemed.", code="coupon_already_redeemed") from None
        audit_record(org_id=org_id, action="billing.coupon_redeemed", actor=actor, target=f"coupon:{coupon.code}",
                     data={"redemption_id": redemption.pk})
    return redemption


def credit_grant(*, org_id, amount: int, reason: str, actor, expires_at: dt.datetime | None = None,
                 source: str = "manual", source_ref: str = "") -> CreditGrant:
    """Give the org prepaid credit (won). Platform finance only: a tenant never credits itself."""
    actor = authorize(actor, CREDIT_GRANT)
    if not getattr(actor, "platform", False):
        raise PermissionRefused("Only platform finance grants credit.", permission="billing.manage",
                                code="platform_only")
    errors = credit_grant_errors(amount=amount, reason=reason)
    if errors:
        raise FieldErrors(errors)
    with transaction.atomic():
        grant = CreditGrant.objects.create(org_id=org_id, amount=amount, reason=reason.strip(), source=source,
                                           source_ref=source_ref, granted_by=_label(actor), expires_at=expires_at)
        audit_record(org_id=org_id, action="billing.credit_granted", actor=actor, target=f"credit:{grant.pk}",
                     data={"amount": amount, "reason": reason.strip(), "source": source,
                           "expires_at": expires_at.isoformat() if expires_at else None})
    return grant


def credit_balances(org_id, *, at: dt.datetime) -> list[CreditBalance]:
    """What is left of each unexpired grant at ``at``, soonest to expire first (never-expiring last)."""
    grants = (CreditGrant.objects.filter(org_id=org_id)
              .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=at))
              .annotate(spent=Sum("consumptions__amount")).order_by("expires_at", "granted_at", "id"))
    balances = [CreditBalance(grant_id=g.pk, remaining=g.amount - (g.spent or 0)) for g in grants]
    return [b for b in balances if b.remaining > 0]


def credit_remaining(org_id) -> int:
    return sum(b.remaining for b in credit_balances(org_id, at=timezone.now()))


def coupon_grants(org_id, *, plan_code: str, month: dt.date) -> list[CouponGrant]:
    """Redemptions that apply to ``month``: active (or already applied to this very month, for a
    re-draft), valid for the plan, within their duration."""
    out = []
    for r in CouponRedemption.objects.filter(org_id=org_id).select_related("coupon").order_by("redeemed_at", "id"):
        coupon, key = r.coupon, month.isoformat()
        if key not in r.applied_months:
            if r.status != RedemptionStatus.ACTIVE or seoul_day(r.redeemed_at) >= next_month(month):
                continue
            if coupon.duration_months is not None and r.periods_applied >= coupon.duration_months:
                continue
        if coupon.plans and plan_code not in coupon.plans:
            continue
        out.append(CouponGrant(code=coupon.code, redemption_id=r.pk, kind=coupon.kind,
                               percent_off=coupon.percent_off or 0, amount_off=coupon.amount_off or 0,
                               min_subtotal=coupon.min_subtotal, max_discount=coupon.max_discount))
    return out


def _stale(what: str) -> CreditsChanged:
    return CreditsChanged(f"{what} Recompute the draft before issuing it.",
                          errors={"lines": [f"{what} Recompute the draft."]})


def usage_record(*, org_id, invoice_ref: str, month: dt.date, lines, actor) -> dict:
    """Record what an issued invoice's lines used: a consumption per credit grant named in the credit
    line's meta, one applied period per coupon line. Idempotent per invoice.

    Each grant and redemption is locked and re-checked first: credit another invoice consumed after
    this draft was computed, or a coupon whose periods ran out (or that was withdrawn) since, raise
    ``CreditsChanged`` so the issuing transaction refuses and the draft is recomputed — credit is
    never spent twice, a coupon never applies beyond its duration."""
    spent, coupons = [], []
    for line in lines:
        meta = line.meta or {}
        if line.kind == "credit":
            for part in meta.get("grants", []):
                if part.get("grant_id") is None or part["amount"] <= 0:
                    continue
                grant = CreditGrant.objects.select_for_update().filter(org_id=org_id, pk=part["grant_id"]).first()
                if grant is None:
                    raise _stale(f"Prepaid credit {part['grant_id']} no longer exists.")
                others = (CreditConsumption.objects.filter(org_id=org_id, grant_id=grant.pk)
                          .exclude(invoice_ref=invoice_ref).aggregate(s=Sum("amount"))["s"] or 0)
                if grant.amount - others < part["amount"]:
                    raise _stale(f"Only ₩{max(0, grant.amount - others):,} of prepaid credit {grant.pk} is left, "
                                 f"not the ₩{part['amount']:,} this draft applies.")
                try:
                    with transaction.atomic():
                        CreditConsumption.objects.create(org_id=org_id, grant_id=part["grant_id"],
                                                         amount=part["amount"], invoice_ref=invoice_ref)
                    spent.append(part)
                except IntegrityError:
                    continue  # already recorded for this invoice
        elif line.kind == "discount" and meta.get("redemption_id"):
            r = CouponRedemption.objects.select_for_update().select_related("coupon").filter(
                org_id=org_id, pk=meta["redemption_id"]).first()
            if r is None:
                raise _stale(f"Coupon redemption {meta['redemption_id']} no longer exists.")
            if month.isoformat() in r.applied_months:
                continue
            if r.status != RedemptionStatus.ACTIVE or (
                    r.coupon.duration_months is not None and r.periods_applied >= r.coupon.duration_months):
                raise _stale(f"Coupon {r.coupon.code} has no period left for {month:%Y-%m}.")
            r.applied_months = [*r.applied_months, month.isoformat()]
            r.periods_applied = len(r.applied_months)
            if r.coupon.duration_months is not None and r.periods_applied >= r.coupon.duration_months:
                r.status = RedemptionStatus.EXHAUSTED
            r.save(update_fields=["applied_months", "periods_applied", "status"])
            coupons.append(r.coupon.code)
    if spent or coupons:
        audit_record(org_id=org_id, action="billing.credits_used", actor=actor, target=f"invoice:{invoice_ref}",
                     data={"credit": spent, "coupons": coupons})
    return {"credit": spent, "coupons": coupons}


def _label(actor) -> str:
    label = getattr(actor, "audit_label", None)
    return label() if callable(label) else str(actor)[:120]
