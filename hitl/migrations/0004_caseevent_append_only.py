"""The case timeline is append-only (SPEC §13): UPDATE and DELETE on case events are refused."""

from django.db import migrations

from dos.append_only import frozen_table


class Migration(migrations.Migration):
    dependencies = [("hitl", "0003_appeals_under_way"), ("dos", "0005_append_only")]

    operations = frozen_table("hitl_caseevent")
