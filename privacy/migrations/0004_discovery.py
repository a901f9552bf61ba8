"""PII discovery: scans and their findings (proposed tags until a data steward reviews them), with
row-level security and (org_id, id) keys."""

import uuid

import django.db.models.deletion
import django.db.models.manager
import django.utils.timezone
from django.db import migrations, models

import dos.citus
from dos.citus import tenant_keys
from dos.rls import EnableRLS


class Migration(migrations.Migration):

    dependencies = [
        ('privacy', '0003_vault'),
        ('tenancy', '0009_privacy_roles'),
    ]

    operations = [
        migrations.CreateModel(
            name='DiscoveryScan',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('dataset', models.CharField(help_text="The dataset's name, or the file's.", max_length=200, verbose_name='dataset')),
                ('source', models.CharField(default='upload', max_length=20, verbose_name='source')),
                ('rows_seen', models.PositiveIntegerField(default=0, verbose_name='rows read')),
                ('sample_size', models.PositiveIntegerField(default=1000, verbose_name='sample per column')),
                ('columns', models.JSONField(default=list, verbose_name='columns')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False, verbose_name='scanned')),
                ('created_by', models.CharField(max_length=160, verbose_name='scanned by')),
                ('org', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='tenancy.org')),
            ],
            options={
                'verbose_name': 'discovery scan',
                'verbose_name_plural': 'discovery scans',
                'ordering': ['-created_at'],
            },
            managers=[
                ('objects', django.db.models.manager.Manager()),
                ('unscoped_objects', django.db.models.manager.Manager()),
            ],
        ),
        migrations.CreateModel(
            name='DiscoveryFinding',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('dataset', models.CharField(max_length=200, verbose_name='dataset')),
                ('column', models.CharField(max_length=200, verbose_name='column')),
                ('pii_type', models.CharField(max_length=20, verbose_name='kind of data')),
                ('confidence', models.DecimalField(decimal_places=3, max_digits=4, verbose_name='confidence')),
                ('hits', models.PositiveIntegerField(verbose_name='matching values')),
                ('sampled', models.PositiveIntegerField(verbose_name='values sampled')),
                ('examples', models.JSONField(default=list, verbose_name='examples (masked)')),
                ('proposed_pii', models.BooleanField(default=True, verbose_name='proposed: personal data')),
                ('proposed_sensitivity', models.CharField(choices=[('P0', 'P0 — special category / identifiers'), ('P1', 'P1 — personal'), ('P2', 'P2 — internal'), ('P3', 'P3 — public')], max_length=2, verbose_name='proposed sensitivity')),
                ('status', models.CharField(choices=[('proposed', 'Proposed'), ('confirmed', 'Confirmed'), ('rejected', 'Rejected')], default='proposed', max_length=10, verbose_name='status')),
                ('pii', models.BooleanField(blank=True, help_text='As confirmed.', null=True, verbose_name='personal data')),
                ('sensitivity', models.CharField(blank=True, choices=[('P0', 'P0 — special category / identifiers'), ('P1', 'P1 — personal'), ('P2', 'P2 — internal'), ('P3', 'P3 — public')], help_text='As confirmed.', max_length=2, verbose_name='sensitivity')),
                ('reviewed_by', models.CharField(blank=True, max_length=160, verbose_name='reviewed by')),
                ('reviewed_at', models.DateTimeField(blank=True, null=True, verbose_name='reviewed')),
                ('note', models.CharField(blank=True, max_length=300, verbose_name='note')),
                ('org', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='tenancy.org')),
                ('scan', dos.citus.TenantForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='findings', to='privacy.discoveryscan')),
            ],
            options={
                'verbose_name': 'discovery finding',
                'verbose_name_plural': 'discovery findings',
                'ordering': ['dataset', 'column', '-confidence'],
            },
            managers=[
                ('objects', django.db.models.manager.Manager()),
                ('unscoped_objects', django.db.models.manager.Manager()),
            ],
        ),
        migrations.AddIndex(
            model_name='discoveryscan',
            index=models.Index(fields=['org', 'created_at'], name='discoveryscan_org_created_idx'),
        ),
        migrations.AddIndex(
            model_name='discoveryfinding',
            index=models.Index(fields=['org', 'scan'], name='finding_org_scan_idx'),
        ),
        migrations.AddIndex(
            model_name='discoveryfinding',
            index=models.Index(fields=['org', 'status', 'dataset'], name='finding_org_status_idx'),
        ),
        migrations.AddConstraint(
            model_name='discoveryfinding',
            constraint=models.UniqueConstraint(fields=('org', 'scan', 'column', 'pii_type'), name='finding_org_scan_col_uniq'),
        ),
        migrations.AddConstraint(
            model_name='discoveryfinding',
            constraint=models.CheckConstraint(condition=models.Q(('confidence__gte', 0), ('confidence__lte', 1)), name='finding_confidence_range'),
        ),
        EnableRLS("DiscoveryScan"),
        EnableRLS("DiscoveryFinding"),
        *tenant_keys("DiscoveryScan", "DiscoveryFinding", foreign_keys=(("DiscoveryFinding", "scan"),)),
    ]
