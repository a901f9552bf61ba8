"""Foreign keys between tenant tables become TenantForeignKey (single-column constraints dropped; the
composite ones come in 0005_tenant_primary_keys)."""

import django.db.models.deletion
from django.db import migrations

import dos.citus


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0003_meterevent_append_only'),
        ('tenancy', '0007_tenant_foreign_keys'),
    ]

    # The tables these fields point at get their (org_id, id) key next; it needs these
    # single-column constraints gone first.
    run_before = [('tenancy', '0008_tenant_primary_keys')]

    operations = [
        migrations.AlterField(
            model_name='meterevent',
            name='project',
            field=dos.citus.TenantForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='tenancy.project'),
        ),
        migrations.AlterField(
            model_name='usageadjustment',
            name='event',
            field=dos.citus.TenantForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='adjustments', to='billing.meterevent'),
        ),
        migrations.AlterField(
            model_name='usagedaily',
            name='project',
            field=dos.citus.TenantForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='tenancy.project'),
        ),
        migrations.AlterField(
            model_name='usagehourly',
            name='project',
            field=dos.citus.TenantForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='tenancy.project'),
        ),
        migrations.AlterField(
            model_name='usagemonthly',
            name='project',
            field=dos.citus.TenantForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='tenancy.project'),
        ),
    ]
