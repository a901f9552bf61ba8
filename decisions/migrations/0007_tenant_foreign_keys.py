"""Foreign keys between tenant tables become TenantForeignKey (single-column constraints dropped; the
composite ones come in 0008_tenant_primary_keys)."""

import django.db.models.deletion
from django.db import migrations

import dos.citus


class Migration(migrations.Migration):

    dependencies = [
        ('decisions', '0006_simulation_checkpoint'),
        ('tenancy', '0007_tenant_foreign_keys'),
    ]

    # The tables these fields point at get their (org_id, id) key next; it needs these
    # single-column constraints gone first.
    run_before = [('tenancy', '0008_tenant_primary_keys')]

    operations = [
        migrations.AlterField(
            model_name='decisionrecord',
            name='policy_version',
            field=dos.citus.TenantForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='decisions', to='decisions.policyversion'),
        ),
        migrations.AlterField(
            model_name='decisionrecord',
            name='project',
            field=dos.citus.TenantForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='tenancy.project'),
        ),
        migrations.AlterField(
            model_name='policyset',
            name='project',
            field=dos.citus.TenantForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='policy_sets', to='tenancy.project'),
        ),
        migrations.AlterField(
            model_name='policyversion',
            name='approval',
            field=dos.citus.TenantForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='tenancy.approvalrequest'),
        ),
        migrations.AlterField(
            model_name='policyversion',
            name='policy_set',
            field=dos.citus.TenantForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='versions', to='decisions.policyset'),
        ),
        migrations.AlterField(
            model_name='simulation',
            name='champion_version',
            field=dos.citus.TenantForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='decisions.policyversion'),
        ),
        migrations.AlterField(
            model_name='simulation',
            name='policy_version',
            field=dos.citus.TenantForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='decisions.policyversion'),
        ),
        migrations.AlterField(
            model_name='simulation',
            name='project',
            field=dos.citus.TenantForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='tenancy.project'),
        ),
    ]
