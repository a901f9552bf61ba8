"""Vault v2: a data key per (org, subject) and KEK rotations; row-level security and (org_id, id) keys."""

import uuid

import django.db.models.deletion
import django.db.models.manager
import django.utils.timezone
from django.db import migrations, models

from dos.citus import tenant_keys
from dos.rls import EnableRLS


class Migration(migrations.Migration):

    dependencies = [
        ('privacy', '0002_dsar_retention_holds'),
        ('tenancy', '0009_privacy_roles'),
    ]

    operations = [
        migrations.CreateModel(
            name='KekRotation',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('from_version', models.PositiveIntegerField(verbose_name='from KEK version')),
                ('to_version', models.PositiveIntegerField(verbose_name='to KEK version')),
                ('status', models.CharField(choices=[('requested', "Waiting for a second person's approval"), ('running', 'Re-wrapping data keys'), ('completed', 'Completed: the old KEK is refused'), ('cancelled', 'Cancelled')], default='requested', max_length=12, verbose_name='status')),
                ('approval_id', models.UUIDField(help_text='The keys.rotate approval request (four eyes).', verbose_name='approval')),
                ('requested_by', models.CharField(max_length=120, verbose_name='requested by')),
                ('reason', models.CharField(blank=True, max_length=500, verbose_name='reason')),
                ('total', models.PositiveIntegerField(default=0, verbose_name='data keys to re-wrap')),
                ('done', models.PositiveIntegerField(default=0, verbose_name='re-wrapped')),
                ('cursor', models.UUIDField(blank=True, help_text='The last subject key re-wrapped (resume point).', null=True)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False, verbose_name='requested')),
                ('started_at', models.DateTimeField(blank=True, null=True, verbose_name='started')),
                ('completed_at', models.DateTimeField(blank=True, null=True, verbose_name='completed')),
                ('org', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='tenancy.org')),
            ],
            options={
                'verbose_name': 'KEK rotation',
                'verbose_name_plural': 'KEK rotations',
                'ordering': ['-created_at'],
                'constraints': [models.UniqueConstraint(condition=models.Q(('status__in', ['requested', 'running'])), fields=('org',), name='kekrotation_one_open_per_org'), models.CheckConstraint(condition=models.Q(('to_version__gt', models.F('from_version'))), name='kekrotation_forward_only')],
            },
            managers=[
                ('objects', django.db.models.manager.Manager()),
                ('unscoped_objects', django.db.models.manager.Manager()),
            ],
        ),
        migrations.CreateModel(
            name='SubjectKey',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('subject_token', models.CharField(help_text='vt_… token of the subject.', max_length=80, verbose_name='subject token')),
                ('version', models.PositiveSmallIntegerField(default=1, verbose_name='data key version')),
                ('kek_version', models.PositiveIntegerField(help_text='The key-encryption key that wraps it.', verbose_name='KEK version')),
                ('wrapped_key', models.BinaryField(help_text='nonce ‖ AES-256-GCM(KEK, data key); NULL once the subject is erased.', null=True)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False, verbose_name='created')),
                ('rewrapped_at', models.DateTimeField(blank=True, null=True, verbose_name='re-wrapped')),
                ('erased_at', models.DateTimeField(blank=True, null=True, verbose_name='erased')),
                ('erased_reason', models.CharField(blank=True, max_length=200, verbose_name='erasure reason')),
                ('org', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='tenancy.org')),
            ],
            options={
                'verbose_name': 'subject key',
                'verbose_name_plural': 'subject keys',
                'indexes': [models.Index(fields=['org', 'kek_version'], name='subjectkey_org_kek_idx')],
                'constraints': [models.UniqueConstraint(fields=('org', 'subject_token'), name='subjectkey_org_subject_uniq')],
            },
            managers=[
                ('objects', django.db.models.manager.Manager()),
                ('unscoped_objects', django.db.models.manager.Manager()),
            ],
        ),
        EnableRLS("SubjectKey"),
        EnableRLS("KekRotation"),
        *tenant_keys("SubjectKey", "KekRotation"),
    ]
