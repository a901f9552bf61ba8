"""The price book: parse and validate price versions, find the version in force, publish new ones,
and show what changed between two versions.

A version's ``spec`` (JSON)::

    {"base": "300000",                      # won per month
     "minimum": "2000000",                  # optional monthly minimum commitment
     "annual_discount_pct": "10",           # optional: prepaying a year takes this off the base
     "metrics": {"decision_calls": {"model": "standard", "unit_price": "20", "included": "0"},
                 "…": {"model": "graduated" | "volume", "tiers": [{"up_to": "100000", "unit_price": "20"}, …]},
                 "…": {"model": "package", "package_size": "1000", "package_price": "500"}},
     "seats": {"agent": {"included": 5, "monthly_price": "10000"}}}

Amounts are decimal strings (never floats); unit prices may be fractional.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from billing.models import PricePlan, PriceVersion, PriceVersionStatus
from billing.money import MoneyError, to_decimal
from billing.rating import PRICE_MODELS, SEAT_ROLES, MetricPrice, PriceSpec, SeatPrice, Tier
from dos import scope
from dos.audit import audit_record
from dos.authz import PermissionRefused, action, authorize
from dos.canonical import canonical_json, sha256_hex
from dos.errors import DomainError, FieldErrors

PRICEBOOK_DRAFT = action("pricebook.draft", "billing.manage")
PRICEBOOK_PUBLISH = action("pricebook.publish", "billing.manage")

# Metric → (unit, English description). Rollup metrics feed them (billing.subscriptions.rating_input).
METRICS: dict[str, tuple[str, str]] = {
    "decision_calls": ("call", "Successful decisions (/decide)"),
    "ingest_calls": ("call", "Ingest calls"),
    "storage_gb_days": ("GB-day", "Storage"),
    "hitl_tasks": ("task", "Human review tasks"),
    "tokens": ("token", "Model tokens"),
}


class PriceBookError(DomainError):
    status, code = 409, "price_book_conflict"


class NoPriceInForce(DomainError):
    status, code = 409, "no_price_in_force"


def _dec(value, where: str, errors: dict, *, minimum: Decimal | None = Decimal(0)) -> Decimal | None:
    try:
        number = to_decimal(value)
    except MoneyError as exc:
        errors.setdefault(where, []).append(str(exc))
        return None
    if minimum is not None and number < minimum:
        errors.setdefault(where, []).append(f"Must be at least {minimum}.")
    return number


def _tiers(raw, where: str, errors: dict) -> tuple[Tier, ...]:
    if not isinstance(raw, list) or not raw:
        errors.setdefault(where, []).append("Give at least one tier.")
        return ()
    result, previous = [], Decimal(0)
    for i, item in enumerate(raw):
        key = f"{where}[{i}]"
        if not isinstance(item, dict):
            errors.setdefault(key, []).append("A tier is an object {up_to, unit_price, flat_fee?}.")
            continue
        up_to = item.get("up_to")
        bound = None if up_to is None else _dec(up_to, f"{key}.up_to", errors)
        last = i == len(raw) - 1
        if bound is None and up_to is None and not last:
            errors.setdefault(f"{key}.up_to", []).append("Only the last tier is unbounded.")
        if up_to is not None and last:
            errors.setdefault(f"{key}.up_to", []).append("The last tier has no upper bound (up_to: null).")
        if bound is not None and bound <= previous:
            errors.setdefault(f"{key}.up_to", []).append("Tier bounds must increase.")
        previous = bound if bound is not None else previous
        price = _dec(item.get("unit_price"), f"{key}.unit_price", errors)
        fee = _dec(item.get("flat_fee", "0"), f"{key}.flat_fee", errors)
        if price is not None and fee is not None:
            result.append(Tier(up_to=bound, unit_price=price, flat_fee=fee))
    return tuple(result)


def parse_spec(spec, *, plan: str, title: str = "", version: int = 0, version_id: int | None = None,
               quoted: bool = False) -> PriceSpec:
    """The rating view of a version's spec; ``FieldErrors`` (400) naming each bad field."""
    errors: dict[str, list[str]] = {}
    if not isinstance(spec, dict):
        raise FieldErrors({"spec": ["A price spec is a JSON object."]})
    unknown = set(spec) - {"base", "minimum", "annual_discount_pct", "metrics", "seats"}
    if unknown:
        errors["spec"] = [f"Unknown keys: {', '.join(sorted(unknown))}."]
    base = _dec(spec.get("base", "0"), "base", errors)
    minimum = None if spec.get("minimum") in (None, "") else _dec(spec["minimum"], "minimum", errors)
    annual = _dec(spec.get("annual_discount_pct", "0"), "annual_discount_pct", errors)
    if annual is not None and annual > 100:
        errors.setdefault("annual_discount_pct", []).append("At most 100.")
    metrics = []
    for name, raw in (spec.get("metrics") or {}).items():
        where = f"metrics.{name}"
        if name not in METRICS:
            errors.setdefault(where, []).append(f"Unknown metric; known: {', '.join(METRICS)}.")
            continue
        model = raw.get("model") if isinstance(raw, dict) else None
        if model not in PRICE_MODELS:
            errors.setdefault(f"{where}.model", []).append(f"One of {', '.join(PRICE_MODELS)}.")
            continue
        unit, description = METRICS[name]
        fields = {"metric": name, "model": model, "unit": unit, "description": description,
                  "included": _dec(raw.get("included", "0"), f"{where}.included", errors)}
        if model == "standard":
            fields["unit_price"] = _dec(raw.get("unit_price"), f"{where}.unit_price", errors)
        elif model in ("graduated", "volume"):
            fields["tiers"] = _tiers(raw.get("tiers"), f"{where}.tiers", errors)
        else:
            fields["package_size"] = _dec(raw.get("package_size"), f"{where}.package_size", errors,
                                          minimum=Decimal(1))
            fields["package_price"] = _dec(raw.get("package_price"), f"{where}.package_price", errors)
        if not any(v is None for k, v in fields.items() if k in ("included", "unit_price", "package_size",
                                                                   "package_price")):
            metrics.append(MetricPrice(**fields))
    seats = []
    for role, raw in (spec.get("seats") or {}).items():
        where = f"seats.{role}"
        if role not in SEAT_ROLES:
            errors.setdefault(where, []).append(f"One of {', '.join(SEAT_ROLES)}.")
            continue
        included = raw.get("included", 0) if isinstance(raw, dict) else None
        if not isinstance(included, int) or isinstance(included, bool) or included < 0:
            errors.setdefault(f"{where}.included", []).append("A whole number of seats, 0 or more.")
            continue
        price = _dec(raw.get("monthly_price"), f"{where}.monthly_price", errors)
        if price is not None:
            seats.append(SeatPrice(role=role, included=included, monthly_price=price))
    if errors:
        raise FieldErrors(errors)
    return PriceSpec(plan=plan, title=title or plan, version=version, version_id=version_id, base=base,
                     minimum=minimum, annual_discount_pct=annual, metrics=tuple(metrics), seats=tuple(seats),
                     quoted=quoted)


def price_spec(version: PriceVersion) -> PriceSpec:
    return parse_spec(version.spec, plan=version.plan.code, title=version.plan.title, version=version.version,
                      version_id=version.pk, quoted=version.plan.quoted)


def version_in_force(plan: PricePlan | str, on: dt.date) -> PriceVersion:
    """The published list-price version of ``plan`` whose ``effective_from`` is the latest on or
    before ``on`` (quotes of quoted plans are pinned explicitly, never picked here)."""
    code = plan if isinstance(plan, str) else plan.code
    version = (PriceVersion.objects.select_related("plan")
               .filter(plan__code=code, status=PriceVersionStatus.PUBLISHED, effective_from__lte=on, quote_ref="")
               .order_by("-effective_from", "-version").first())
    if version is None:
        raise NoPriceInForce(f"No published price of plan '{code}' is in force on {on}.")
    return version


def _platform_only(actor, what: str) -> None:
    if not getattr(actor, "platform", False):
        raise PermissionRefused(f"Only platform finance {what}: the price book is the platform's.",
                                permission="billing.manage", code="platform_only")


def price_version_draft(*, plan: PricePlan, spec: dict, effective_from: dt.date, actor, notes: str = "",
                        quote_ref: str = "") -> PriceVersion:
    """A new draft version of ``plan`` (numbered after the highest), validated but not yet in force."""
    actor = authorize(actor, PRICEBOOK_DRAFT)
    _platform_only(actor, "draft prices")
    parse_spec(spec, plan=plan.code)
    with transaction.atomic():
        PricePlan.objects.select_for_update().get(pk=plan.pk)
        number = (PriceVersion.objects.filter(plan=plan).order_by("-version").values_list("version", flat=True)
                  .first() or 0) + 1
        return PriceVersion.objects.create(plan=plan, version=number, spec=spec, effective_from=effective_from,
                                           notes=notes, quote_ref=quote_ref, created_by=_label(actor))


def price_version_publish(*, version: PriceVersion, actor, today: dt.date | None = None) -> PriceVersion:
    """Publish a draft: from then on it is frozen (trigger), hashed, and in force from
    ``effective_from`` for new periods. Refuses a start in the past (a billed month never re-prices)."""
    actor = authorize(actor, PRICEBOOK_PUBLISH)
    _platform_only(actor, "publish prices")
    today = today or timezone.localdate()
    with transaction.atomic():
        version = PriceVersion.objects.select_for_update().select_related("plan").get(pk=version.pk)
        if version.status != PriceVersionStatus.DRAFT:
            raise PriceBookError(f"{version} is {version.status}; only a draft is published.")
        if version.effective_from < today:
            raise FieldErrors({"effective_from": ["A new price starts today or later; past periods keep theirs."]})
        price_spec(version)
        version.status = PriceVersionStatus.PUBLISHED
        version.spec_sha256 = sha256_hex(canonical_json(version.spec))
        version.published_by, version.published_at = _label(actor), timezone.now()
        version.save(update_fields=["status", "spec_sha256", "published_by", "published_at"])
        for org_id in _orgs_pinned_to(version.plan):
            with scope.org_scope(org_id):
                audit_record(org_id=org_id, action="billing.price_published", actor=actor,
                             target=f"price_version:{version.pk}",
                             data={"plan": version.plan.code, "version": version.version,
                                   "effective_from": version.effective_from.isoformat(),
                                   "sha256": version.spec_sha256})
    return version


def _orgs_pinned_to(plan: PricePlan) -> list:
    """Orgs with a live subscription of ``plan`` (their audit chain records the new price)."""
    from billing.models import Subscription, SubscriptionStatus

    with scope.platform_scope(reason="price book publication notice"):
        return list(Subscription.objects.exclude(status=SubscriptionStatus.CANCELLED)
                    .filter(plan=plan).values_list("org_id", flat=True).distinct())


def _label(actor) -> str:
    label = getattr(actor, "audit_label", None)
    return label() if callable(label) else str(getattr(actor, "user", None) or actor)[:120]


def _flatten(value, prefix: str = "") -> dict[str, str]:
    if isinstance(value, dict):
        out = {}
        for key in sorted(value):
            out |= _flatten(value[key], f"{prefix}.{key}" if prefix else str(key))
        return out
    if isinstance(value, list):
        out = {}
        for i, item in enumerate(value):
            out |= _flatten(item, f"{prefix}[{i}]")
        return out
    return {prefix: "—" if value is None else str(value)}


def spec_diff(old: dict | None, new: dict) -> list[dict]:
    """What changed from ``old`` to ``new``: ``[{field, before, after, change}]`` sorted by field,
    ``change`` one of added | removed | changed (the admin's version diff)."""
    before, after = _flatten(old or {}), _flatten(new)
    rows = []
    for key in sorted(set(before) | set(after)):
        if key not in before:
            rows.append({"field": key, "before": "", "after": after[key], "change": "added"})
        elif key not in after:
            rows.append({"field": key, "before": before[key], "after": "", "change": "removed"})
        elif before[key] != after[key]:
            rows.append({"field": key, "before": before[key], "after": after[key], "change": "changed"})
    return rows


def previous_version(version: PriceVersion) -> PriceVersion | None:
    return PriceVersion.objects.filter(plan_id=version.plan_id, version__lt=version.version).order_by("-version").first()
