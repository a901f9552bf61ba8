"""Foreign keys between tenant tables become TenantForeignKey: Django drops their single-column
constraints; 0008_tenant_primary_keys adds the composite ones (docs/decisions/0011-citus-ready-schema.md)."""

import django.db.models.deletion
from django.db import migrations

import dos.citus


class Migration(migrations.Migration):

    dependencies = [
        ('tenancy', '0006_apikey_minted_by'),
    ]

    operations = [
        migrations.AlterField(
            model_name='apikey',
            name='created_by_key',
            field=dos.citus.TenantForeignKey(blank=True, db_index=False, help_text='The key that minted this one; revoking it revokes this.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='minted', to='tenancy.apikey'),
        ),
        migrations.AlterField(
            model_name='apikey',
            name='project',
            field=dos.citus.TenantForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='api_keys', to='tenancy.project'),
        ),
        migrations.AlterField(
            model_name='environment',
            name='project',
            field=dos.citus.TenantForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='environments', to='tenancy.project'),
        ),
        migrations.AlterField(
            model_name='grant',
            name='environment',
            field=dos.citus.TenantForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.environment'),
        ),
        migrations.AlterField(
            model_name='grant',
            name='project',
            field=dos.citus.TenantForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.project'),
        ),
        migrations.AlterField(
            model_name='projectmember',
            name='project',
            field=dos.citus.TenantForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='members', to='tenancy.project'),
        ),
        migrations.AlterField(
            model_name='projectuserobjectpermission',
            name='content_object',
            field=dos.citus.TenantForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='user_grants', to='tenancy.project'),
        ),
    ]
