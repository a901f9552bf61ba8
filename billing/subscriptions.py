"""Subscriptions: which price version an org pays and where it is in its lifecycle, and the month's
rating input built from them.

Lifecycle (``TRANSITIONS``): trial → active → past_due → active | cancelled. A plan change happens
now (the month splits into phases, each plan's base fee prorated by day) or at the period end (held
as ``scheduled_*`` and applied by ``subscription_roll`` on the first day of the next month). The
tenant previews a change first; the confirmation carries the preview's token and is refused when
anything that priced it changed since (409 ``preview_stale``).

The org's plan in tenancy (``Org.plan``: entitlements, quotas) follows the subscription: every
change that moves the plan calls ``tenancy.services.org_update`` in the same transaction, as the
named system actor ``billing.subscriptions`` after the person's own authorization here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet, Sum
from django.utils import timezone

from billing import credits, terms
from billing.accounts import billing_profile
from billing.models import (
    BillingCycle,
    PricePlan,
    PriceVersion,
    SeatLevel,
    Subscription,
    SubscriptionEvent,
    SubscriptionPhase,
    SubscriptionStatus,
    UsageAdjustment,
    UsageMonthly,
)
from billing.periods import month_start_utc, next_month
from billing.pricebook import price_spec, version_in_force
from billing.rating import PlanSegment, RatingInput, Usage, rate
from billing.rating import SeatLevel as RatingSeatLevel
from dos.audit import audit_record
from dos.authz import PermissionRefused, action, authorize, system_actor
from dos.canonical import canonical_json, sha256_hex
from dos.errors import DomainError, FieldErrors
from tenancy.models import Org

__all__ = [
    "billable_subscriptions",
    "billing_profile",
    "change_preview",
    "on_invoice_issued",
    "rating_input",
    "subscription_cancel",
    "subscription_change",
    "subscription_for",
    "subscription_resume",
    "subscription_roll",
    "subscription_start",
    "subscription_status_set",
]

SUBSCRIPTION_START = action("subscription.start", "billing.manage")
SUBSCRIPTION_CHANGE = action("subscription.change", "billing.manage")
SUBSCRIPTION_CANCEL = action("subscription.cancel", "billing.manage")
SUBSCRIPTION_RESUME = action("subscription.resume", "billing.manage")
SUBSCRIPTION_STATUS = action("subscription.status", "billing.manage")

TRANSITIONS: dict[str, set[str]] = {
    SubscriptionStatus.TRIAL: {SubscriptionStatus.ACTIVE, SubscriptionStatus.CANCELLED},
    SubscriptionStatus.ACTIVE: {SubscriptionStatus.PAST_DUE, SubscriptionStatus.CANCELLED},
    SubscriptionStatus.PAST_DUE: {SubscriptionStatus.ACTIVE, SubscriptionStatus.CANCELLED},
    SubscriptionStatus.CANCELLED: set(),
}
FREE_PLANS = ("sandbox",)  # nothing to invoice
TENANCY_SYNC = system_actor("billing.subscriptions")
# Rollup metrics → priced metrics (storage is metered in GB-hours and priced in GB-days).
RATED_FROM_METERS: dict[str, tuple[str, Decimal]] = {
    "decision_calls": ("decision_calls", Decimal(1)),
    "ingest_calls": ("ingest_calls", Decimal(1)),
    "storage_gb_hours": ("storage_gb_days", Decimal(24)),
    "hitl_tasks": ("hitl_tasks", Decimal(1)),
}


class SubscriptionConflict(DomainError):
    status, code = 409, "subscription_conflict"


class IllegalTransition(DomainError):
    status, code = 409, "illegal_transition"


class PreviewStale(DomainError):
    status, code = 409, "preview_stale"


# ---------------------------------------------------------------------------------------------- reads


def subscription_for(org_id) -> Subscription | None:
    """The org's live (not cancelled) subscription, or ``None``."""
    return (Subscription.objects.select_related("plan", "price_version", "scheduled_plan", "scheduled_version")
            .filter(org_id=org_id).exclude(status=SubscriptionStatus.CANCELLED).first())


def billable_subscriptions(month: dt.date) -> QuerySet[Subscription]:
    """Subscriptions with at least one billed day in ``month``: live ones started (and out of trial)
    before it ends, and ones cancelled during it, that spent any day of the month on a paid plan. The
    month's phases decide, not the plan the subscription is on now: a switch to Sandbox late in the
    month (or after it ends, before the close) still bills the paid days. Cross-org: the caller
    evaluates it in platform scope (the month close) and then works on each org in that org's scope
    (docs/scale.md)."""
    end = next_month(month)
    paid_phase = (SubscriptionPhase.objects.filter(org_id=OuterRef("org_id"), subscription_id=OuterRef("pk"),
                                                   start__lt=end)
                  .filter(Q(end__isnull=True) | Q(end__gt=month))
                  .exclude(price_version__plan__code__in=FREE_PLANS))
    return (Subscription.objects.select_related("plan", "price_version")
            .filter(started_on__lt=end)
            .filter(Exists(paid_phase))
            .filter(Q(trial_ends_on__isnull=True) | Q(trial_ends_on__lt=end))
            .filter(~Q(status=SubscriptionStatus.CANCELLED) | Q(cancelled_on__gt=month))
            .order_by("org_id", "id"))


def _segments(subscription: Subscription, month: dt.date) -> tuple[PlanSegment, ...]:
    """The phases of the subscription clipped to the month, without trial days and days after a cancellation."""
    start, end = month, next_month(month)
    if subscription.trial_ends_on:
        start = max(start, subscription.trial_ends_on)
    if subscription.cancelled_on:
        end = min(end, subscription.cancelled_on)
    phases = (SubscriptionPhase.objects.filter(org_id=subscription.org_id, subscription=subscription,
                                               start__lt=end).filter(Q(end__isnull=True) | Q(end__gt=start))
              .select_related("price_version__plan").order_by("start", "id"))
    segments = []
    for phase in phases:
        seg_start, seg_end = max(phase.start, start), min(phase.end or end, end)
        if seg_start < seg_end:
            segments.append(PlanSegment(price_spec(phase.price_version), seg_start, seg_end))
    return tuple(segments)


def _usage(org_id, month: dt.date) -> tuple[Usage, ...]:
    rows = (UsageMonthly.objects.filter(org_id=org_id, month=month, metric__in=list(RATED_FROM_METERS))
            .values("metric").annotate(total=Sum("value")).order_by("metric"))
    usage = [Usage(RATED_FROM_METERS[r["metric"]][0], r["total"] / RATED_FROM_METERS[r["metric"]][1])
             for r in rows if r["total"]]
    late = (UsageAdjustment.objects.filter(org_id=org_id, apply_to_month=month, metric__in=list(RATED_FROM_METERS))
            .values("metric").annotate(total=Sum("value")).order_by("metric"))
    usage += [Usage(RATED_FROM_METERS[r["metric"]][0], r["total"] / RATED_FROM_METERS[r["metric"]][1],
                    adjustment=True) for r in late if r["total"]]
    return tuple(usage)


def rating_input(subscription: Subscription, month: dt.date) -> RatingInput:
    """Everything ``billing.rating.rate`` needs for ``month`` of ``subscription``: its phases, the
    month's usage rollups and late adjustments, seat levels, coupons and credit balances. Run in the
    subscription's org scope."""
    org_id = subscription.org_id
    segments = _segments(subscription, month)
    seats = tuple(RatingSeatLevel(level.role, level.since, level.quantity)
                  for level in SeatLevel.objects.filter(org_id=org_id, since__lt=next_month(month)).order_by("since"))
    rated = RatingInput(org_id=str(org_id), period_start=month, period_end=next_month(month), segments=segments).price
    plan_code = rated.plan if rated else subscription.plan.code  # coupons follow the price that rates the month
    return RatingInput(
        org_id=str(org_id), period_start=month, period_end=next_month(month), segments=segments,
        usage=_usage(org_id, month), seats=seats,
        coupons=tuple(credits.coupon_grants(org_id, plan_code=plan_code, month=month)),
        credits=tuple(credits.credit_balances(org_id, at=month_start_utc(next_month(month)))),
        billing_cycle=subscription.billing_cycle, annual_term_start=terms.annual_term_opens(subscription, month),
        meta={"subscription_id": subscription.pk})


def on_invoice_issued(invoice, *, actor) -> None:
    """Record what an issued invoice used: credit consumed per grant, one period of each coupon.
    Called by the issuing transaction; idempotent per invoice. Raises ``credits.CreditsChanged`` (409)
    when another invoice used that credit or coupon period since the draft was computed, so the issue
    is refused whole and the draft is recomputed."""
    credits.usage_record(org_id=invoice.org_id, invoice_ref=str(invoice.pk), month=invoice.period_start,
                         lines=list(invoice.lines.all()), actor=actor)


# --------------------------------------------------------------------------------------------- writes


def _event(subscription: Subscription, kind: str, actor, data: dict) -> None:
    SubscriptionEvent.objects.create(org_id=subscription.org_id, subscription=subscription, kind=kind, data=data,
                                     actor=_label(actor))
    audit_record(org_id=subscription.org_id, action=f"billing.subscription_{kind}", actor=actor,
                 target=f"subscription:{subscription.pk}", data=data)


def _tenancy_plan(org_id, plan_code: str) -> bool:
    """Keep ``Org.plan`` (what the org may use) equal to the plan it pays; True when it moved."""
    from tenancy.services import org_update

    org = Org.objects.get(pk=org_id)
    if org.plan == plan_code:
        return False
    org.plan = plan_code
    org_update(org=org, fields=["plan"], actor=TENANCY_SYNC)
    return True


def _pick_version(plan: PricePlan, on: dt.date, version: PriceVersion | None) -> PriceVersion:
    if version is not None:
        if version.plan_id != plan.pk or version.status != "published":
            raise FieldErrors({"price_version": [f"{version} is not a published price of {plan.code}."]})
        return version
    return version_in_force(plan, on)


def _plan(code: str) -> PricePlan:
    plan = PricePlan.objects.filter(code=code).first()
    if plan is None:
        raise FieldErrors({"plan": [f"Unknown plan '{code}'."]})
    return plan


def subscription_start(*, org_id, plan_code: str, actor, today: dt.date, trial_days: int | None = None,
                       billing_cycle: str = BillingCycle.MONTHLY, version: PriceVersion | None = None) -> Subscription:
    """Start the org's subscription today (platform onboarding, or a system job). One live per org."""
    actor = authorize(actor, SUBSCRIPTION_START)
    if not getattr(actor, "platform", False):
        raise PermissionRefused("Subscriptions are started by platform finance; tenants change theirs.",
                                permission="billing.manage", code="platform_only")
    plan = _plan(plan_code)
    if billing_cycle not in BillingCycle.values:
        raise FieldErrors({"billing_cycle": [f"One of {', '.join(BillingCycle.values)}."]})
    with transaction.atomic():
        if subscription_for(org_id) is not None:
            raise SubscriptionConflict("The organisation already has a live subscription; change it instead.")
        chosen = _pick_version(plan, today, version)
        trial_end = today + dt.timedelta(days=trial_days) if trial_days else None
        annual_start = (trial_end or today).replace(day=1) if billing_cycle == BillingCycle.ANNUAL else None
        subscription = Subscription.objects.create(
            org_id=org_id, plan=plan, price_version=chosen, billing_cycle=billing_cycle, started_on=today,
            trial_ends_on=trial_end, annual_term_start=annual_start,
            status=SubscriptionStatus.TRIAL if trial_end else SubscriptionStatus.ACTIVE)
        SubscriptionPhase.objects.create(org_id=org_id, subscription=subscription, price_version=chosen,
                                         billing_cycle=billing_cycle, start=today)
        _event(subscription, "started", actor, {"plan": plan.code, "price_version": chosen.version,
                                                "billing_cycle": billing_cycle,
                                                "trial_ends_on": trial_end.isoformat() if trial_end else None})
        _tenancy_plan(org_id, plan.code)
    return subscription


@dataclass(frozen=True)
class ChangePreview:
    """What a change would do: when it takes effect, the prorated base-fee lines of this period with
    and without it, and the difference the next invoice carries. ``token`` binds a confirmation to it."""

    plan: str
    price_version: int
    billing_cycle: str
    when: str
    effective_on: dt.date
    current_lines: tuple = ()
    changed_lines: tuple = ()
    proration: int = 0
    next_period_base: int = 0
    token: str = ""
    notes: list[str] = field(default_factory=list, hash=False, compare=False)


def _base_total(inp: RatingInput) -> tuple[int, tuple]:
    rating = rate(inp)
    base = tuple(line for line in rating.lines if line.kind in ("base", "discount") and line.code.startswith(
        ("plan:", "discount:annual")))
    return sum(line.amount for line in base), base


def _base_only(subscription: Subscription, month: dt.date, segments) -> RatingInput:
    return RatingInput(org_id=str(subscription.org_id), period_start=month, period_end=next_month(month),
                       segments=segments, billing_cycle=subscription.billing_cycle,
                       annual_term_start=terms.annual_term_opens(subscription, month))


def _tenant_limits(subscription: Subscription, target: PriceVersion, when: str, effective: dt.date) -> None:
    """What a tenant may not change by itself (platform finance may): a schedule platform finance set,
    a prepaid year before its end, a move to a cheaper plan before the period end (ADR 0012)."""
    if _platform_scheduled(subscription):
        raise PermissionRefused("Platform finance scheduled this subscription's next change; ask them to "
                                "change or withdraw it.", permission="billing.manage", code="platform_scheduled")
    term_end = terms.annual_term_end(subscription, effective)
    if term_end is not None:
        raise SubscriptionConflict(
            f"A prepaid year changes at its end ({term_end:%Y-%m-%d}); platform finance can change it earlier "
            "with a credit for the unused months.", code="annual_term_running",
            errors={"when": [f"The prepaid year ends on {term_end:%Y-%m-%d}."]})
    if when == "now" and terms.is_downgrade(subscription.price_version, target):
        raise SubscriptionConflict(
            "A move to a cheaper plan takes effect at the period end; the month is billed at the plan it "
            "started on.", code="downgrade_at_period_end", errors={"when": ["Use period_end."]})


def change_preview(*, subscription: Subscription, plan_code: str, when: str, today: dt.date,
                   billing_cycle: str | None = None, version: PriceVersion | None = None,
                   actor=None) -> ChangePreview:
    """Price a change without making it (reads only). ``when``: ``now`` | ``period_end``; ``version``
    pins a published version (an Enterprise quote) instead of the list price in force. With a tenant
    ``actor`` the preview already refuses what the tenant could not confirm."""
    plan = _plan(plan_code)
    cycle = billing_cycle or subscription.billing_cycle
    errors = {}
    if when not in ("now", "period_end"):
        errors["when"] = ["now or period_end."]
    if cycle not in BillingCycle.values:
        errors["billing_cycle"] = [f"One of {', '.join(BillingCycle.values)}."]
    if errors:
        raise FieldErrors(errors)
    if when == "now" and (cycle == BillingCycle.ANNUAL or subscription.billing_cycle == BillingCycle.ANNUAL):
        raise SubscriptionConflict("A prepaid year starts or changes at the period end.",
                                   code="annual_changes_at_period_end", errors={"when": ["Use period_end."]})
    if subscription.status == SubscriptionStatus.CANCELLED:
        raise SubscriptionConflict("A cancelled subscription does not change; start a new one.")
    if plan.pk == subscription.plan_id and cycle == subscription.billing_cycle and (
            version is None or version.pk == subscription.price_version_id):
        raise SubscriptionConflict(f"The subscription is already on {plan.code} ({cycle}).", code="no_change")
    month = today.replace(day=1)
    effective = today if when == "now" else next_month(month)
    target = _pick_version(plan, effective, version)
    if actor is not None and not getattr(actor, "platform", False):
        _tenant_limits(subscription, target, when, effective)
    target_spec = price_spec(target)
    current = _segments(subscription, month)
    before, before_lines = _base_total(_base_only(subscription, month, current))
    changed = current
    if when == "now":
        kept = (PlanSegment(seg.price, seg.start, min(seg.end, effective)) for seg in current)
        changed = tuple(seg for seg in kept if seg.start < seg.end)
        new_start = max(effective, subscription.trial_ends_on or effective)  # trial days stay free
        if new_start < next_month(month):
            changed += (PlanSegment(target_spec, new_start, next_month(month)),)
    after, after_lines = _base_total(_base_only(subscription, month, changed))
    next_base = int(target_spec.base) if cycle == BillingCycle.MONTHLY else int(target_spec.base * 12)
    notes = []
    if plan.quoted:
        notes.append("Quoted plans are priced per contract; platform finance makes this change.")
    unused, refund = terms.unused_prepay(subscription, effective)
    if refund:
        notes.append(f"The prepaid year ends early: its {unused} unused months come back as ₩{refund:,} of "
                     "prepaid credit on the change's date.")
    token = sha256_hex(canonical_json({
        "subscription": subscription.pk, "revision": subscription.revision, "plan": plan.code,
        "version": target.pk, "cycle": cycle, "when": when, "effective_on": effective, "proration": after - before}))
    return ChangePreview(plan=plan.code, price_version=target.version, billing_cycle=cycle, when=when,
                         effective_on=effective, current_lines=before_lines, changed_lines=after_lines,
                         proration=after - before, next_period_base=next_base, token=token, notes=notes)


def _lock(subscription: Subscription) -> Subscription:
    return (Subscription.objects.select_for_update(of=("self",))
            .select_related("plan", "price_version").get(org_id=subscription.org_id, pk=subscription.pk))


def subscription_change(*, subscription: Subscription, plan_code: str, when: str, token: str, actor,
                        today: dt.date, billing_cycle: str | None = None,
                        version: PriceVersion | None = None) -> Subscription:
    """Confirm a previewed change. Refused when the preview is stale (the subscription, the price in
    force or the proration moved since): preview again and confirm what was shown."""
    actor = authorize(actor, SUBSCRIPTION_CHANGE)
    with transaction.atomic():
        subscription = _lock(subscription)
        plan = _plan(plan_code)
        platform = bool(getattr(actor, "platform", False))
        if (plan.quoted or not plan.self_serve or version is not None) and not platform:
            raise PermissionRefused(f"{plan.title} is priced per contract: platform finance makes this change.",
                                    permission="billing.manage", code="platform_only")
        preview = change_preview(subscription=subscription, plan_code=plan_code, when=when, today=today,
                                 billing_cycle=billing_cycle, version=version, actor=actor)
        if not token or token != preview.token:
            raise PreviewStale("The change no longer matches its preview; preview it again.",
                               errors={"token": ["Stale or missing preview token."]})
        target = _pick_version(plan, preview.effective_on, version)
        data = {"from": subscription.plan.code, "to": plan.code, "price_version": target.version,
                "billing_cycle": preview.billing_cycle, "when": when, "effective_on": preview.effective_on.isoformat(),
                "proration": preview.proration, "platform": platform}
        if when == "now":
            _switch(subscription, plan, target, preview.billing_cycle, preview.effective_on, actor=actor)
            _event(subscription, "changed", actor, data)
            _tenancy_plan(subscription.org_id, plan.code)
        else:
            subscription.scheduled_plan, subscription.scheduled_version = plan, target
            subscription.scheduled_cycle, subscription.scheduled_for = preview.billing_cycle, preview.effective_on
            subscription.revision += 1
            subscription.updated_at = timezone.now()
            subscription.save(update_fields=["scheduled_plan", "scheduled_version", "scheduled_cycle",
                                             "scheduled_for", "revision", "updated_at"])
            _event(subscription, "change_scheduled", actor, data)
    return subscription


def _switch(subscription: Subscription, plan: PricePlan, version: PriceVersion, cycle: str, on: dt.date, *,
            actor) -> None:
    SubscriptionPhase.objects.filter(org_id=subscription.org_id, subscription=subscription, end__isnull=True).update(
        end=on)
    SubscriptionPhase.objects.create(org_id=subscription.org_id, subscription=subscription, price_version=version,
                                     billing_cycle=cycle, start=on)
    terms.unused_prepay_credit(subscription, on, actor=actor)
    if cycle == BillingCycle.ANNUAL and (subscription.billing_cycle != BillingCycle.ANNUAL
                                         or version.pk != subscription.price_version_id):
        subscription.annual_term_start = on.replace(day=1)  # a new plan's prepaid year starts with it
    subscription.plan, subscription.price_version, subscription.billing_cycle = plan, version, cycle
    subscription.scheduled_plan = subscription.scheduled_version = subscription.scheduled_for = None
    subscription.scheduled_cycle = ""
    subscription.revision += 1
    subscription.updated_at = timezone.now()
    subscription.save()


def _platform_scheduled(subscription: Subscription) -> bool:
    """Whether anything scheduled for the period end (a plan change, a cancellation) was put there by
    platform finance or a platform job: the latest event that scheduled it records who."""
    kinds = (["change_scheduled"] if subscription.scheduled_plan_id else []) + (
        ["cancel_scheduled"] if subscription.cancel_at_period_end else [])
    for kind in kinds:
        last = (SubscriptionEvent.objects.filter(org_id=subscription.org_id, subscription=subscription, kind=kind)
                .order_by("-id").values_list("data", flat=True).first())
        if (last or {}).get("platform"):
            return True
    return False


def _transition(subscription: Subscription, to: str) -> None:
    if to not in TRANSITIONS[subscription.status]:
        raise IllegalTransition(f"A {subscription.status} subscription cannot become {to}.",
                                allowed=sorted(TRANSITIONS[subscription.status]))
    subscription.status = to
    subscription.updated_at = timezone.now()


def subscription_cancel(*, subscription: Subscription, actor, today: dt.date, immediately: bool = False,
                        reason: str = "") -> Subscription:
    """Cancel at the period end (the default: the month is paid for) or now (billing stops today;
    the org falls back to Sandbox)."""
    actor = authorize(actor, SUBSCRIPTION_CANCEL)
    with transaction.atomic():
        subscription = _lock(subscription)
        if subscription.status == SubscriptionStatus.CANCELLED:
            raise IllegalTransition("The subscription is already cancelled.", allowed=[])
        if immediately:
            _transition(subscription, SubscriptionStatus.CANCELLED)
            subscription.cancelled_on = today
            SubscriptionPhase.objects.filter(org_id=subscription.org_id, subscription=subscription,
                                             end__isnull=True).update(end=today)
            _tenancy_plan(subscription.org_id, "sandbox")
        else:
            subscription.cancel_at_period_end = True
            subscription.cancelled_on = next_month(today.replace(day=1))
        subscription.revision += 1
        subscription.updated_at = timezone.now()
        subscription.save()
        _event(subscription, "cancelled" if immediately else "cancel_scheduled", actor,
               {"on": subscription.cancelled_on.isoformat(), "reason": reason,
                "platform": bool(getattr(actor, "platform", False))})
    return subscription


def subscription_resume(*, subscription: Subscription, actor) -> Subscription:
    """Undo a cancellation or plan change scheduled for the period end."""
    actor = authorize(actor, SUBSCRIPTION_RESUME)
    with transaction.atomic():
        subscription = _lock(subscription)
        if subscription.status == SubscriptionStatus.CANCELLED:
            raise IllegalTransition("A cancelled subscription does not resume; start a new one.", allowed=[])
        if not subscription.cancel_at_period_end and not subscription.scheduled_plan_id:
            raise SubscriptionConflict("Nothing is scheduled to undo.", code="nothing_scheduled")
        if not getattr(actor, "platform", False) and _platform_scheduled(subscription):
            raise PermissionRefused("Platform finance scheduled this; only platform finance undoes it.",
                                    permission="billing.manage", code="platform_scheduled")
        undone = {"cancel": subscription.cancel_at_period_end,
                  "change": subscription.scheduled_plan.code if subscription.scheduled_plan_id else None}
        if subscription.cancel_at_period_end:
            subscription.cancel_at_period_end, subscription.cancelled_on = False, None
        subscription.scheduled_plan = subscription.scheduled_version = subscription.scheduled_for = None
        subscription.scheduled_cycle = ""
        subscription.revision += 1
        subscription.updated_at = timezone.now()
        subscription.save()
        _event(subscription, "resumed", actor, undone)
    return subscription


def subscription_status_set(*, subscription: Subscription, status: str, actor, reason: str,
                            now: dt.datetime | None = None) -> Subscription:
    """Move between active and past_due (payments and dunning), by a system job or platform finance."""
    actor = authorize(actor, SUBSCRIPTION_STATUS)
    if not getattr(actor, "platform", False):
        raise PermissionRefused("Only platform finance or a billing job changes a subscription's standing.",
                                permission="billing.manage", code="platform_only")
    if status not in (SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE):
        raise FieldErrors({"status": ["active or past_due (cancel with subscription_cancel)."]})
    with transaction.atomic():
        subscription = _lock(subscription)
        previous = subscription.status
        _transition(subscription, status)
        subscription.past_due_since = (now or timezone.now()) if status == SubscriptionStatus.PAST_DUE else None
        subscription.revision += 1
        subscription.updated_at = timezone.now()
        subscription.save()
        _event(subscription, "status", actor, {"from": previous, "to": status, "reason": reason})
    return subscription


def subscription_roll(*, subscription: Subscription, today: dt.date, actor) -> list[str]:
    """What a new day brings (idempotent; the daily job runs it): a trial that ended becomes active,
    a period-end cancellation or scheduled change takes effect on its first day, and the org's
    tenancy plan is put back to the plan it pays if it was changed elsewhere."""
    actor = authorize(actor, SUBSCRIPTION_STATUS)
    done = []
    with transaction.atomic():
        subscription = _lock(subscription)
        if subscription.status == SubscriptionStatus.CANCELLED:
            return done
        if subscription.status == SubscriptionStatus.TRIAL and subscription.trial_ends_on and \
                subscription.trial_ends_on <= today:
            _transition(subscription, SubscriptionStatus.ACTIVE)
            subscription.save()
            _event(subscription, "activated", actor, {"trial_ended_on": subscription.trial_ends_on.isoformat()})
            done.append("activated")
        if subscription.cancel_at_period_end and subscription.cancelled_on and subscription.cancelled_on <= today:
            _transition(subscription, SubscriptionStatus.CANCELLED)
            period_end = subscription.cancelled_on
            SubscriptionPhase.objects.filter(org_id=subscription.org_id, subscription=subscription,
                                             end__isnull=True).update(end=period_end)
            subscription.save()
            _event(subscription, "cancelled", actor, {"on": period_end.isoformat(), "reason": "period end"})
            _tenancy_plan(subscription.org_id, "sandbox")
            done.append("cancelled")
        elif subscription.scheduled_for and subscription.scheduled_for <= today:
            plan, version, on = subscription.scheduled_plan, subscription.scheduled_version, subscription.scheduled_for
            data = {"from": subscription.plan.code, "to": plan.code, "price_version": version.version,
                    "billing_cycle": subscription.scheduled_cycle, "when": "period_end", "effective_on": on.isoformat()}
            _switch(subscription, plan, version, subscription.scheduled_cycle or subscription.billing_cycle, on,
                    actor=actor)
            _event(subscription, "changed", actor, data)
            _tenancy_plan(subscription.org_id, plan.code)
            done.append("changed")
        # The subscription is the source of truth: a plan edited by hand in tenancy comes back (audited).
        if subscription.status != SubscriptionStatus.CANCELLED and _tenancy_plan(subscription.org_id,
                                                                                  subscription.plan.code):
            done.append("plan_synced")
    return done


def _label(actor) -> str:
    label = getattr(actor, "audit_label", None)
    return label() if callable(label) else str(actor)[:120]
