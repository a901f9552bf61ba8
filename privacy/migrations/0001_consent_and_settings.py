"""Consent history (append-only) and per-org privacy settings: tables, row-level security, (org_id, id)
keys and the refusal of UPDATE and DELETE on the consent history."""

import uuid

import django.contrib.postgres.fields
import django.db.models.deletion
import django.db.models.manager
import django.utils.timezone
from django.db import migrations, models

import dos.citus
import privacy.models.settings
from dos.append_only import frozen_table
from dos.citus import tenant_keys
from dos.rls import EnableRLS


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('tenancy', '0009_privacy_roles'),
        ('dos', '0005_append_only'),
    ]

    operations = [
        migrations.CreateModel(
            name='Consent',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('subject_token', models.CharField(help_text='vt_… token of the subject; never the raw id.', max_length=80)),
                ('purposes', django.contrib.postgres.fields.ArrayField(base_field=models.CharField(max_length=64), help_text='Purposes consented to, e.g. loan_screening.', size=None)),
                ('scopes', django.contrib.postgres.fields.ArrayField(base_field=models.CharField(max_length=64), blank=True, default=list, help_text='Data categories the consent names, e.g. credit_bureau, income.', size=None)),
                ('lawful_basis', models.CharField(choices=[('consent', 'Consent of the subject'), ('contract', 'Necessary for a contract with the subject'), ('legal_obligation', 'Required by law'), ('vital_interests', 'Vital interests of the subject or another'), ('public_task', 'Task of a public body'), ('legitimate_interest', 'Legitimate interest that clearly overrides')], default='consent', max_length=24)),
                ('source', models.CharField(help_text='Where it was collected, e.g. web_form:v3, branch:gangnam.', max_length=120)),
                ('evidence_ref', models.CharField(blank=True, help_text='Your reference to the signed form or recording.', max_length=200)),
                ('valid_from', models.DateTimeField()),
                ('valid_until', models.DateTimeField(blank=True, help_text='Empty: until revoked.', null=True)),
                ('recorded_at', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                ('recorded_by', models.CharField(help_text='Who recorded it (key, person or job).', max_length=160)),
                ('org', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='tenancy.org')),
            ],
            options={
                'verbose_name': 'consent',
                'verbose_name_plural': 'consents',
                'ordering': ['-valid_from'],
            },
            managers=[
                ('objects', django.db.models.manager.Manager()),
                ('unscoped_objects', django.db.models.manager.Manager()),
            ],
        ),
        migrations.CreateModel(
            name='ConsentEvent',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('subject_token', models.CharField(max_length=80)),
                ('kind', models.CharField(choices=[('granted', 'Granted'), ('revoked', 'Revoked'), ('expired', 'Expired')], max_length=10)),
                ('at', models.DateTimeField(help_text='When it took effect.')),
                ('recorded_at', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                ('actor', models.CharField(max_length=160)),
                ('reason', models.CharField(blank=True, max_length=200)),
                ('consent', dos.citus.TenantForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='events', to='privacy.consent')),
                ('org', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='tenancy.org')),
            ],
            options={
                'verbose_name': 'consent event',
                'verbose_name_plural': 'consent events',
                'ordering': ['at', 'recorded_at'],
            },
            managers=[
                ('objects', django.db.models.manager.Manager()),
                ('unscoped_objects', django.db.models.manager.Manager()),
            ],
        ),
        migrations.CreateModel(
            name='PrivacySettings',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('consent_mode', models.CharField(choices=[('monitor', 'Monitor: decide, and record that consent was missing'), ('deny', 'Deny: record a deny decision with CONSENT_MISSING'), ('refuse', 'Refuse: answer 403 consent_missing, record nothing')], default='deny', help_text='What /decide does when no consent covers the purpose.', max_length=10)),
                ('lawful_bases', models.JSONField(blank=True, default=dict, help_text='Purposes that need no consent, with their lawful basis, e.g. {"fraud_check": "legal_obligation"}.')),
                ('dsar_due_days', models.JSONField(blank=True, default=privacy.models.settings._default_dsar_days, help_text='Days to answer, per request type (access, rectification, erasure, restriction).')),
                ('dsar_legal_max_days', models.PositiveSmallIntegerField(default=30, help_text="The law's outer limit, extensions included.")),
                ('dsar_target_days', models.PositiveSmallIntegerField(default=7, help_text="The team's own target.")),
                ('dsar_warning_hours', models.PositiveIntegerField(default=48, help_text="Warn this long before a request's deadline.")),
                ('updated_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('updated_by', models.CharField(blank=True, max_length=160)),
                ('org', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='tenancy.org')),
            ],
            options={
                'verbose_name': 'privacy settings',
                'verbose_name_plural': 'privacy settings',
            },
            managers=[
                ('objects', django.db.models.manager.Manager()),
                ('unscoped_objects', django.db.models.manager.Manager()),
            ],
        ),
        migrations.AddIndex(
            model_name='consent',
            index=models.Index(fields=['org', 'subject_token', 'valid_from'], name='consent_org_subject_idx'),
        ),
        migrations.AddIndex(
            model_name='consent',
            index=models.Index(condition=models.Q(('valid_until__isnull', False)), fields=['org', 'valid_until'], name='consent_org_until_idx'),
        ),
        migrations.AddConstraint(
            model_name='consent',
            constraint=models.CheckConstraint(condition=models.Q(('valid_until__isnull', True), ('valid_until__gt', models.F('valid_from')), _connector='OR'), name='consent_window_forward'),
        ),
        migrations.AddConstraint(
            model_name='consent',
            constraint=models.CheckConstraint(condition=models.Q(('purposes', []), _negated=True), name='consent_has_purpose'),
        ),
        migrations.AddIndex(
            model_name='consentevent',
            index=models.Index(fields=['org', 'consent', 'kind'], name='consentevent_org_consent_idx'),
        ),
        migrations.AddIndex(
            model_name='consentevent',
            index=models.Index(fields=['org', 'subject_token', 'at'], name='consentevent_org_subject_idx'),
        ),
        migrations.AddConstraint(
            model_name='consentevent',
            constraint=models.UniqueConstraint(condition=models.Q(('kind__in', ['revoked', 'expired'])), fields=('org', 'consent'), name='consentevent_one_end'),
        ),
        migrations.AddConstraint(
            model_name='consentevent',
            constraint=models.UniqueConstraint(condition=models.Q(('kind', 'granted')), fields=('org', 'consent'), name='consentevent_one_grant'),
        ),
        migrations.AddConstraint(
            model_name='privacysettings',
            constraint=models.UniqueConstraint(fields=('org',), name='privacysettings_org_uniq'),
        ),
        EnableRLS("Consent"),
        EnableRLS("ConsentEvent"),
        EnableRLS("PrivacySettings"),
        *tenant_keys("Consent", "ConsentEvent", "PrivacySettings", foreign_keys=(("ConsentEvent", "consent"),)),
        *frozen_table("privacy_consent"),
        *frozen_table("privacy_consentevent"),
    ]
