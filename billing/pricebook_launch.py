"""The launch price book (version 1 of every plan, seeds 000 "Pricing & Packaging", "Trials &
Onboarding", "Pricing Model v2"), written by migration 0009 and restored after a database flush
(``post_migrate``, as Django does for content types): the product never runs without its prices.
Later prices are new versions published from the back office, never edits of these rows."""

from __future__ import annotations

import datetime as dt

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


def launch_price_book_ensure(PricePlan, PriceVersion) -> None:
    """Create what is missing of the launch book (idempotent); never touches an existing row."""
    for code, title, position, quoted, self_serve, spec in PLANS:
        plan, _ = PricePlan.objects.get_or_create(code=code, defaults={
            "title": title, "position": position, "quoted": quoted, "self_serve": self_serve})
        PriceVersion.objects.get_or_create(plan=plan, version=1, defaults={
            "status": "published", "effective_from": dt.date(2026, 1, 1), "spec": spec,
            "spec_sha256": sha256_hex(canonical_json(spec)), "created_by": "migration",
            "published_by": "migration", "published_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
            "notes": "Launch price book." + (" A template: each contract is a quote version." if quoted else "")})
