"""The launch price book: Sandbox, PoV, Pilot, Pro and Enterprise at version 1, published from
2026-01-01 (billing/pricebook_launch.py). Later prices are new versions published from the back office
(billing.pricebook), never edits of these rows."""

from django.db import migrations

from billing.pricebook_launch import launch_price_book_ensure


def seed(apps, schema_editor):
    launch_price_book_ensure(apps.get_model("billing", "PricePlan"), apps.get_model("billing", "PriceVersion"))


class Migration(migrations.Migration):
    dependencies = [("billing", "0008_pricing_and_accounts")]

    # Published rows are frozen by a trigger, so the reverse leaves them (no-op).
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
