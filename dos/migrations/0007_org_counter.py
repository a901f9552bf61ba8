"""Per-org counters for user-visible numbers (dos.counters); tenant-owned, so RLS like every tenant table."""

import django.db.models.deletion
import django.db.models.manager
from django.db import migrations, models

from dos.rls import EnableRLS


class Migration(migrations.Migration):

    dependencies = [
        ('dos', '0006_outbox_delivery'),
        ('tenancy', '0007_tenant_foreign_keys'),
    ]

    operations = [
        migrations.CreateModel(
            name='OrgCounter',
            fields=[
                ('pk', models.CompositePrimaryKey('org_id', 'name', blank=True, editable=False, primary_key=True, serialize=False)),
                ('name', models.CharField(help_text='The series, e.g. hitl.case.', max_length=40)),
                ('value', models.BigIntegerField(default=0, help_text='The last number handed out.')),
                ('org', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='tenancy.org')),
            ],
            options={
                'verbose_name': 'org counter',
            },
            managers=[
                ('objects', django.db.models.manager.Manager()),
                ('unscoped_objects', django.db.models.manager.Manager()),
            ],
        ),
        EnableRLS("OrgCounter"),
    ]
