"""The launch price book: Sandbox, PoV, Pilot, Pro and Enterprise at version 1 (seeds 000 "Pricing &
Packaging", "Trials & Onboarding", "Pricing Model v2"), published from 2026-01-01. Later prices are
new versions published from the back office (billing.pricebook), never edits of these rows."""

import datetime as dt

from django.db import migrations

from dos.canonical import canonical_json, sha256_hex

TIERS = [{"up_to": "100000"}, {"up_to": "1000000"}, {"up_to": None}]


def tiers(*prices):
    return [{**bound, "unit_price": price} for bound, price in zip(TIERS, prices, strict=True)]


PLANS = [
    ("sandbox", "Sandbox", 0, False, True, {"base": "0", "metrics": {}, "seats": {}}),
    ("pov", "PoV", 1, False, True, {
        "base": "300000",
        "annual_discount_pct": "10",
        "metrics": {"decision_calls": {"model": "standard", "unit_price": "20"}},
        "seats": {"agent": {"included": 5, "monthly_price": "10000"}},
    }),
    ("pilot", "Pilot", 2, False, True, {
        "base": "0",
        "minimum": "2000000",
        "annual_discount_pct": "10",
        "metrics": {
            "decision_calls": {"model": "graduated", "tiers": tiers("20", "15", "10")},
            "ingest_calls": {"model": "package", "package_size": "1000", "package_price": "500"},
            "storage_gb_days": {"model": "standard", "unit_price": "30"},
            "hitl_tasks": {"model": "standard", "unit_price": "300"},
        },
        "seats": {"agent": {"included": 10, "monthly_price": "10000"},
                  "reviewer": {"included": 5, "monthly_price": "15000"},
                  "admin": {"included": 3, "monthly_price": "5000"}},
    }),
    ("pro", "Pro", 3, False, True, {
        "base": "1500000",
        "annual_discount_pct": "10",
        "metrics": {
            "decision_calls": {"model": "volume", "included": "50000", "tiers": tiers("18", "12", "8")},
            "ingest_calls": {"model": "package", "package_size": "1000", "package_price": "400"},
            "storage_gb_days": {"model": "standard", "unit_price": "25"},
            "hitl_tasks": {"model": "standard", "unit_price": "250"},
        },
        "seats": {"agent": {"included": 25, "monthly_price": "9000"},
                  "reviewer": {"included": 10, "monthly_price": "12000"},
                  "admin": {"included": 5, "monthly_price": "5000"}},
    }),
    ("enterprise", "Enterprise", 4, True, False, {"base": "0", "metrics": {}, "seats": {}}),
]


def seed(apps, schema_editor):
    PricePlan = apps.get_model("billing", "PricePlan")
    PriceVersion = apps.get_model("billing", "PriceVersion")
    for code, title, position, quoted, self_serve, spec in PLANS:
        plan, _ = PricePlan.objects.get_or_create(code=code, defaults={
            "title": title, "position": position, "quoted": quoted, "self_serve": self_serve})
        PriceVersion.objects.get_or_create(plan=plan, version=1, defaults={
            "status": "published", "effective_from": dt.date(2026, 1, 1), "spec": spec,
            "spec_sha256": sha256_hex(canonical_json(spec)), "created_by": "migration",
            "published_by": "migration", "published_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
            "quote_ref": "list price template: publish a quote per contract" if quoted else "",
            "notes": "Launch price book."})


class Migration(migrations.Migration):
    dependencies = [("billing", "0008_pricing_and_accounts")]

    # Published rows are frozen by a trigger, so the reverse leaves them (no-op).
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
