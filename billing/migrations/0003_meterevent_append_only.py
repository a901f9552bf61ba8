"""Meter events are append-only (SPEC §13): corrections are adjustments, never edits."""

from django.db import migrations

from dos.append_only import frozen_table


class Migration(migrations.Migration):
    dependencies = [("billing", "0002_row_level_security"), ("dos", "0005_append_only")]

    operations = frozen_table("billing_meterevent")
