"""Foreign keys between tenant tables become TenantForeignKey (single-column constraints dropped; the
composite ones come in 0006_tenant_primary_keys)."""

import django.db.models.deletion
from django.db import migrations

import dos.citus


class Migration(migrations.Migration):

    dependencies = [
        ('decisions', '0007_tenant_foreign_keys'),
        ('hitl', '0004_caseevent_append_only'),
        ('tenancy', '0007_tenant_foreign_keys'),
    ]

    # The tables these fields point at get their (org_id, id) key next; it needs these
    # single-column constraints gone first.
    run_before = [('tenancy', '0008_tenant_primary_keys'), ('decisions', '0008_tenant_primary_keys')]

    operations = [
        migrations.AlterField(
            model_name='appeal',
            name='case',
            field=dos.citus.TenantForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='appeals', to='hitl.case'),
        ),
        migrations.AlterField(
            model_name='appeal',
            name='final_decision',
            field=dos.citus.TenantForeignKey(blank=True, db_index=False, help_text='The re-issued decision (with its explanation).', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='decisions.decisionrecord'),
        ),
        migrations.AlterField(
            model_name='attachment',
            name='case',
            field=dos.citus.TenantForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='attachments', to='hitl.case'),
        ),
        migrations.AlterField(
            model_name='case',
            name='decision',
            field=dos.citus.TenantForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='decisions.decisionrecord'),
        ),
        migrations.AlterField(
            model_name='case',
            name='project',
            field=dos.citus.TenantForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='tenancy.project'),
        ),
        migrations.AlterField(
            model_name='case',
            name='queue',
            field=dos.citus.TenantForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='cases', to='hitl.queue'),
        ),
        migrations.AlterField(
            model_name='case',
            name='sla_policy',
            field=dos.citus.TenantForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='hitl.slapolicy'),
        ),
        migrations.AlterField(
            model_name='caseevent',
            name='case',
            field=dos.citus.TenantForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='events', to='hitl.case'),
        ),
        migrations.AlterField(
            model_name='casenote',
            name='case',
            field=dos.citus.TenantForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='notes', to='hitl.case'),
        ),
        migrations.AlterField(
            model_name='notification',
            name='case',
            field=dos.citus.TenantForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='hitl.case'),
        ),
        migrations.AlterField(
            model_name='queue',
            name='overflow_queue',
            field=dos.citus.TenantForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='hitl.queue'),
        ),
        migrations.AlterField(
            model_name='queue',
            name='sla_policy',
            field=dos.citus.TenantForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='hitl.slapolicy'),
        ),
        migrations.AlterField(
            model_name='slamark',
            name='case',
            field=dos.citus.TenantForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='hitl.case'),
        ),
        migrations.AlterField(
            model_name='task',
            name='case',
            field=dos.citus.TenantForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='tasks', to='hitl.case'),
        ),
        migrations.AlterField(
            model_name='task',
            name='queue',
            field=dos.citus.TenantForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='hitl.queue'),
        ),
    ]
