"""Data subject requests (checkpoints and timeline append-only), their exports, retention rules and runs,
legal holds: tables, row-level security, (org_id, id) keys and composite foreign keys."""

import uuid

import django.db.models.deletion
import django.db.models.manager
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

import dos.citus
from dos.append_only import frozen_table
from dos.citus import tenant_keys
from dos.rls import EnableRLS


class Migration(migrations.Migration):

    dependencies = [
        ('privacy', '0001_consent_and_settings'),
        ('tenancy', '0009_privacy_roles'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='DsarRequest',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('kind', models.CharField(choices=[('access', 'Access (a copy of their data)'), ('rectification', 'Rectification (correct their data)'), ('erasure', 'Erasure (delete their data)'), ('restriction', 'Restriction (stop processing)')], max_length=16)),
                ('state', models.CharField(choices=[('intake', 'Intake'), ('verify', 'Identity verification'), ('scope', 'Scope'), ('collect', 'Collect'), ('redact', 'Redact'), ('export', 'Export'), ('fulfil', 'Fulfil'), ('done', 'Done'), ('rejected', 'Rejected')], default='intake', max_length=10)),
                ('subject_token', models.CharField(help_text='vt_… token of the subject; never the raw id.', max_length=80)),
                ('subject_hint', models.CharField(blank=True, help_text="The subject's id, masked.", max_length=80)),
                ('channel', models.CharField(default='api', help_text='api, admin or dosctl', max_length=16)),
                ('requested_by', models.CharField(help_text='Who recorded the request (actor label).', max_length=160)),
                ('details', models.JSONField(blank=True, default=dict, help_text='What the subject asked for (masked); rectification: the fields named.')),
                ('details_sealed', models.TextField(blank=True, editable=False, help_text="The subject's own words and corrections, sealed.")),
                ('received_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('due_at', models.DateTimeField(help_text="The deadline from the org's privacy settings.")),
                ('target_at', models.DateTimeField(help_text="The team's internal target.")),
                ('warn_at', models.DateTimeField(help_text='When the deadline warning fires.')),
                ('warned_at', models.DateTimeField(blank=True, editable=False, null=True)),
                ('verified_at', models.DateTimeField(blank=True, null=True)),
                ('verification_method', models.CharField(blank=True, choices=[('account', 'Signed-in customer account'), ('document', 'Identity document checked'), ('kyc_lite', 'KYC-lite: known details matched'), ('agent', 'Authorised agent with a mandate')], max_length=16)),
                ('scope', models.JSONField(blank=True, default=dict, help_text='Collectors, holds and obligations in scope.')),
                ('working_sealed', models.TextField(blank=True, editable=False, help_text='The collected data between steps, sealed; dropped when done.')),
                ('result', models.JSONField(blank=True, default=dict, help_text='What was done, and what was kept and why.')),
                ('attempts', models.PositiveIntegerField(default=0, help_text='Pipeline runs started (redeliveries included).')),
                ('last_error', models.TextField(blank=True)),
                ('completed_at', models.DateTimeField(blank=True, null=True)),
                ('rejected_reason', models.CharField(blank=True, max_length=500)),
                ('approval', dos.citus.TenantForeignKey(blank=True, db_index=False, help_text="Erasure: the second person's approval (four eyes).", null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='tenancy.approvalrequest')),
                ('org', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='tenancy.org')),
                ('verified_by', models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'data subject request',
                'verbose_name_plural': 'data subject requests',
                'ordering': ['due_at'],
            },
            managers=[
                ('objects', django.db.models.manager.Manager()),
                ('unscoped_objects', django.db.models.manager.Manager()),
            ],
        ),
        migrations.CreateModel(
            name='DsarExport',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('archive_sealed', models.TextField(editable=False, help_text='The zip, sealed by the vault.')),
                ('sha256', models.CharField(help_text='sha256 of the zip as handed over.', max_length=64)),
                ('size', models.PositiveIntegerField()),
                ('sections', models.JSONField(default=dict, help_text='Rows per section.')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('downloads', models.PositiveIntegerField(default=0)),
                ('org', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='tenancy.org')),
                ('request', dos.citus.TenantForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='privacy.dsarrequest')),
            ],
            options={
                'ordering': ['-created_at'],
            },
            managers=[
                ('objects', django.db.models.manager.Manager()),
                ('unscoped_objects', django.db.models.manager.Manager()),
            ],
        ),
        migrations.CreateModel(
            name='DsarEvent',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('kind', models.CharField(max_length=32)),
                ('actor', models.CharField(max_length=160)),
                ('data', models.JSONField(blank=True, default=dict)),
                ('at', models.DateTimeField(default=django.utils.timezone.now)),
                ('org', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='tenancy.org')),
                ('request', dos.citus.TenantForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='events', to='privacy.dsarrequest')),
            ],
            options={
                'ordering': ['at', 'id'],
            },
            managers=[
                ('objects', django.db.models.manager.Manager()),
                ('unscoped_objects', django.db.models.manager.Manager()),
            ],
        ),
        migrations.CreateModel(
            name='DsarStep',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('step', models.CharField(max_length=10)),
                ('attempt', models.PositiveIntegerField(help_text='The pipeline run that finished it.')),
                ('result', models.JSONField(blank=True, default=dict)),
                ('completed_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('org', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='tenancy.org')),
                ('request', dos.citus.TenantForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='steps', to='privacy.dsarrequest')),
            ],
            options={
                'ordering': ['completed_at', 'id'],
            },
            managers=[
                ('objects', django.db.models.manager.Manager()),
                ('unscoped_objects', django.db.models.manager.Manager()),
            ],
        ),
        migrations.CreateModel(
            name='LegalHold',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('scope', models.CharField(choices=[('datasets', 'Datasets'), ('subjects', 'Subjects'), ('cases', 'Cases')], max_length=10)),
                ('targets', models.JSONField(help_text='Dataset names, subject tokens or case ids.')),
                ('reason', models.CharField(max_length=500)),
                ('reference', models.CharField(blank=True, help_text='Matter or court reference.', max_length=120)),
                ('starts_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('ends_at', models.DateTimeField(blank=True, null=True)),
                ('released_at', models.DateTimeField(blank=True, null=True)),
                ('released_by', models.CharField(blank=True, max_length=160)),
                ('created_by', models.CharField(max_length=160)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('org', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='tenancy.org')),
            ],
            options={
                'ordering': ['-starts_at'],
            },
            managers=[
                ('objects', django.db.models.manager.Manager()),
                ('unscoped_objects', django.db.models.manager.Manager()),
            ],
        ),
        migrations.CreateModel(
            name='RetentionRule',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('dataset', models.CharField(help_text='What the rule applies to (privacy.retention datasets).', max_length=40)),
                ('sensitivity', models.CharField(choices=[('P0', 'P0 — special category / identifiers'), ('P1', 'P1 — personal'), ('P2', 'P2 — internal'), ('P3', 'P3 — public')], default='P1', max_length=2)),
                ('ttl_days', models.PositiveIntegerField(help_text='Rows older than this many days are due.')),
                ('action', models.CharField(choices=[('delete', 'Delete'), ('anonymize', 'Anonymize (drop personal values, keep the row)'), ('tokenize', "Tokenize (crypto-shred the subject's key)")], max_length=10)),
                ('chain_treatment', models.CharField(blank=True, choices=[('retain', 'Retain (chained: kept whole)'), ('crypto_shred', 'Crypto-shred (chained: row kept, subject key destroyed)')], help_text='Chained datasets: what happens instead of deleting.', max_length=14)),
                ('legal_basis', models.CharField(help_text='Why the data is kept this long.', max_length=200)),
                ('active', models.BooleanField(default=True)),
                ('updated_by', models.CharField(blank=True, max_length=160)),
                ('updated_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('org', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='tenancy.org')),
            ],
            options={
                'ordering': ['dataset'],
            },
            managers=[
                ('objects', django.db.models.manager.Manager()),
                ('unscoped_objects', django.db.models.manager.Manager()),
            ],
        ),
        migrations.CreateModel(
            name='RetentionRun',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('status', models.CharField(choices=[('proposed', 'Proposed (dry-run, waiting for approval)'), ('approved', 'Approved'), ('executing', 'Executing'), ('done', 'Done'), ('rejected', 'Rejected'), ('superseded', 'Superseded by a newer dry-run')], default='proposed', max_length=10)),
                ('as_of', models.DateTimeField(help_text='The moment cutoffs were computed from.')),
                ('proposed_by_label', models.CharField(max_length=160)),
                ('approved_at', models.DateTimeField(blank=True, null=True)),
                ('started_at', models.DateTimeField(blank=True, null=True)),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
                ('note', models.CharField(blank=True, max_length=500)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('approval', dos.citus.TenantForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='tenancy.approvalrequest')),
                ('approved_by', models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('catch_up_for', dos.citus.TenantForeignKey(blank=True, db_index=False, help_text='Proposed because this hold was released.', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='privacy.legalhold')),
                ('org', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='tenancy.org')),
                ('proposed_by', models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['-created_at'],
            },
            managers=[
                ('objects', django.db.models.manager.Manager()),
                ('unscoped_objects', django.db.models.manager.Manager()),
            ],
        ),
        migrations.CreateModel(
            name='RetentionRunItem',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('dataset', models.CharField(max_length=40)),
                ('action', models.CharField(max_length=14)),
                ('cutoff', models.DateTimeField(help_text='Rows older than this are due.')),
                ('matched', models.PositiveIntegerField(default=0, help_text='Dry-run: rows past the cutoff.')),
                ('held', models.PositiveIntegerField(default=0, help_text='Dry-run: of those, spared by a legal hold.')),
                ('sample', models.JSONField(blank=True, default=list, help_text='Dry-run: the first ids that would change.')),
                ('done', models.PositiveIntegerField(default=0, help_text='Execution: rows changed.')),
                ('held_at_execution', models.PositiveIntegerField(default=0, help_text='Execution: rows spared by a hold.')),
                ('retained', models.PositiveIntegerField(default=0, help_text='Chained rows kept whole.')),
                ('cursor', models.CharField(blank=True, help_text='Last primary key handled.', max_length=64)),
                ('finished', models.BooleanField(default=False)),
                ('org', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='tenancy.org')),
                ('rule', dos.citus.TenantForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='privacy.retentionrule')),
                ('run', dos.citus.TenantForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='items', to='privacy.retentionrun')),
            ],
            options={
                'ordering': ['dataset'],
            },
            managers=[
                ('objects', django.db.models.manager.Manager()),
                ('unscoped_objects', django.db.models.manager.Manager()),
            ],
        ),
        migrations.AddIndex(
            model_name='dsarrequest',
            index=models.Index(fields=['org', 'state', 'due_at'], name='dsar_org_state_due_idx'),
        ),
        migrations.AddIndex(
            model_name='dsarrequest',
            index=models.Index(fields=['org', 'subject_token'], name='dsar_org_subject_idx'),
        ),
        migrations.AddIndex(
            model_name='dsarrequest',
            index=models.Index(fields=['org', 'warn_at'], name='dsar_org_warn_idx'),
        ),
        migrations.AddConstraint(
            model_name='dsarexport',
            constraint=models.UniqueConstraint(fields=('org', 'request'), name='dsarexport_org_request_uniq'),
        ),
        migrations.AddIndex(
            model_name='dsarevent',
            index=models.Index(fields=['org', 'request', 'at'], name='dsarevent_org_request_idx'),
        ),
        migrations.AddConstraint(
            model_name='dsarstep',
            constraint=models.UniqueConstraint(fields=('org', 'request', 'step'), name='dsarstep_org_request_step_uniq'),
        ),
        migrations.AddIndex(
            model_name='legalhold',
            index=models.Index(fields=['org', 'released_at', 'starts_at'], name='legalhold_org_active_idx'),
        ),
        migrations.AddConstraint(
            model_name='retentionrule',
            constraint=models.UniqueConstraint(fields=('org', 'dataset'), name='retentionrule_org_dataset_uniq'),
        ),
        migrations.AddIndex(
            model_name='retentionrun',
            index=models.Index(fields=['org', 'status', 'created_at'], name='retentionrun_org_status_idx'),
        ),
        migrations.AddConstraint(
            model_name='retentionrunitem',
            constraint=models.UniqueConstraint(fields=('org', 'run', 'rule'), name='retentionrunitem_org_run_rule_uniq'),
        ),
        *[EnableRLS(name) for name in ("DsarRequest", "DsarStep", "DsarEvent", "DsarExport", "RetentionRule",
                                       "RetentionRun", "RetentionRunItem", "LegalHold")],
        *tenant_keys("DsarRequest", "DsarStep", "DsarEvent", "DsarExport", "RetentionRule", "RetentionRun",
                     "RetentionRunItem", "LegalHold",
                     foreign_keys=(("DsarRequest", "approval"), ("DsarStep", "request"), ("DsarEvent", "request"),
                                   ("DsarExport", "request"), ("RetentionRun", "approval"),
                                   ("RetentionRun", "catch_up_for"), ("RetentionRunItem", "run"),
                                   ("RetentionRunItem", "rule"))),
        # A finished step's checkpoint and the request timeline are facts: never changed, never removed.
        *frozen_table("privacy_dsarstep"),
        *frozen_table("privacy_dsarevent"),
    ]
