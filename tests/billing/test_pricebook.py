"""The price book: seeded launch prices, validation of a spec, effective-dated versions that freeze
once published, and the diff between versions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import DatabaseError, transaction

from billing.models import PricePlan, PriceVersion
from billing.pricebook import (
    NoPriceInForce,
    PriceBookError,
    parse_spec,
    price_spec,
    price_version_draft,
    price_version_publish,
    spec_diff,
    version_in_force,
)
from dos.authz import PermissionRefused
from dos.errors import FieldErrors
from tenancy.plans import plan_names
from tests.billing.subscription_support import billing_admin, fiona

pytestmark = pytest.mark.django_db
JAN = dt.date(2027, 1, 1)


def test_the_launch_price_book_has_every_tenancy_plan_at_version_1():
    assert set(PricePlan.objects.values_list("code", flat=True)) == set(plan_names())
    pov = price_spec(version_in_force("pov", dt.date(2026, 11, 1)))
    assert pov.base == Decimal(300_000) and pov.metric("decision_calls").unit_price == Decimal(20)
    assert pov.seat("agent").included == 5 and pov.seat("agent").monthly_price == Decimal(10_000)
    pilot = price_spec(version_in_force("pilot", dt.date(2026, 11, 1)))
    assert pilot.minimum == Decimal(2_000_000)
    assert [t.up_to for t in pilot.metric("decision_calls").tiers] == [Decimal(100_000), Decimal(1_000_000), None]
    assert pilot.metric("ingest_calls").model == "package"
    assert price_spec(version_in_force("pro", dt.date(2026, 11, 1))).annual_discount_pct == Decimal(10)
    assert PricePlan.objects.get(code="enterprise").quoted
    with pytest.raises(NoPriceInForce):
        version_in_force("pov", dt.date(2025, 12, 31))


@pytest.mark.parametrize(("spec", "field"), [
    ({"base": 0.5}, "base"),
    ({"base": "-1"}, "base"),
    ({"metrics": {"decision_calls": {"model": "tiered"}}}, "metrics.decision_calls.model"),
    ({"metrics": {"nope": {"model": "standard", "unit_price": "1"}}}, "metrics.nope"),
    ({"metrics": {"decision_calls": {"model": "graduated", "tiers": [
        {"up_to": "10", "unit_price": "2"}, {"up_to": "5", "unit_price": "1"}, {"up_to": None, "unit_price": "1"}]}}},
     "metrics.decision_calls.tiers[1].up_to"),
    ({"metrics": {"decision_calls": {"model": "volume", "tiers": [{"up_to": "10", "unit_price": "2"}]}}},
     "metrics.decision_calls.tiers[0].up_to"),
    ({"seats": {"agent": {"included": -1, "monthly_price": "1"}}}, "seats.agent.included"),
    ({"seats": {"owner": {"included": 1, "monthly_price": "1"}}}, "seats.owner"),
])
def test_it_names_each_bad_field_of_a_price_spec(spec, field):
    with pytest.raises(FieldErrors) as refused:
        parse_spec(spec, plan="x")
    assert field in refused.value.errors


def test_platform_finance_drafts_publishes_and_the_new_price_applies_from_its_date():
    pov = PricePlan.objects.get(code="pov")
    spec = {**version_in_force("pov", JAN).spec, "base": "350000"}
    draft = price_version_draft(plan=pov, spec=spec, effective_from=JAN, actor=fiona(), notes="2027 list price")
    assert (draft.version, draft.status) == (2, "draft")
    assert version_in_force("pov", JAN).version == 1  # a draft is never in force
    published = price_version_publish(version=draft, actor=fiona(), today=dt.date(2026, 12, 2))
    assert published.status == "published" and len(published.spec_sha256) == 64
    assert version_in_force("pov", dt.date(2026, 12, 31)).version == 1
    assert version_in_force("pov", JAN).version == 2
    with pytest.raises(PriceBookError):
        price_version_publish(version=published, actor=fiona(), today=dt.date(2026, 12, 2))
    diff = spec_diff(PriceVersion.objects.get(plan=pov, version=1).spec, published.spec)
    assert diff == [{"field": "base", "before": "300000", "after": "350000", "change": "changed"}]


def test_a_published_price_never_changes_in_the_database():
    version = version_in_force("pov", JAN)
    version.spec = {**version.spec, "base": "1"}
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        version.save(update_fields=["spec"])
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        PriceVersion.objects.filter(pk=version.pk).delete()
    PriceVersion.objects.filter(pk=version.pk).update(status="retired")  # the one move left


def test_a_price_cannot_start_in_the_past_or_be_set_by_a_tenant(acme):
    pov = PricePlan.objects.get(code="pov")
    with pytest.raises(PermissionRefused):
        price_version_draft(plan=pov, spec={"base": "1"}, effective_from=JAN, actor=billing_admin(acme))
    draft = price_version_draft(plan=pov, spec={"base": "1"}, effective_from=dt.date(2026, 12, 1), actor=fiona())
    with pytest.raises(FieldErrors):
        price_version_publish(version=draft, actor=fiona(), today=dt.date(2026, 12, 2))


def test_the_diff_lists_added_removed_and_changed_fields():
    old = {"base": "1", "metrics": {"a": {"unit_price": "2"}}}
    new = {"base": "1", "minimum": "5", "metrics": {"a": {"unit_price": "3"}}}
    assert spec_diff(old, new) == [
        {"field": "metrics.a.unit_price", "before": "2", "after": "3", "change": "changed"},
        {"field": "minimum", "before": "", "after": "5", "change": "added"},
    ]
    assert spec_diff(new, old)[1]["change"] == "removed"
