"""Primary key (org_id, id) on the kernel's tenant tables (docs/decisions/0011-citus-ready-schema.md).
None of them has a foreign key to another tenant table; the org counter was created with its
(org_id, name) key."""

from django.db import migrations

from dos.citus import tenant_keys


class Migration(migrations.Migration):
    dependencies = [("dos", "0007_org_counter")]

    operations = tenant_keys("ChainHead", "LedgerEntry", "ChainAnchor", "IdempotencyKey", "OutboxEvent")
