"""Invoices, invoice lines, credit notes and their lines (tenant tables: RLS, (org_id, id) keys,
composite foreign keys), the issuer's document number series, and the triggers that freeze an issued
invoice or credit note (docs/decisions/0013-invoices-and-credit-notes.md)."""

import uuid

import django.db.models.deletion
import django.db.models.expressions
import django.db.models.manager
import django.utils.timezone
from django.db import migrations, models

import dos.citus
from dos.citus import tenant_keys
from dos.rls import EnableRLS

# Once issued, an invoice's content never changes: only its settlement moves (status forward,
# amounts credited and paid upward, never past the total). Its lines, and an issued credit note's,
# are frozen with it. SQLSTATE 42501 and the word "append-only", like dos.append_only.
FROZEN_SQL = """
CREATE OR REPLACE FUNCTION billing_invoice_frozen_once_issued() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    moving text[] := '{status,amount_credited,amount_paid,settled_at,settle_reason,updated_at}';
BEGIN
    IF OLD.status = 'draft' THEN
        IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
        RETURN NEW;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'append-only: issued invoice % cannot be deleted', OLD.number
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF (to_jsonb(NEW) - moving) IS DISTINCT FROM (to_jsonb(OLD) - moving) THEN
        RAISE EXCEPTION 'append-only: issued invoice % keeps its content; only its settlement moves', OLD.number
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.status <> OLD.status AND NOT (
        (OLD.status = 'issued' AND NEW.status IN ('paid', 'void', 'uncollectible'))
        OR (OLD.status = 'uncollectible' AND NEW.status = 'paid')) THEN
        RAISE EXCEPTION 'append-only: invoice % cannot go from % to %', OLD.number, OLD.status, NEW.status
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.amount_credited < OLD.amount_credited OR NEW.amount_paid < OLD.amount_paid
       OR NEW.amount_credited + NEW.amount_paid > NEW.total THEN
        RAISE EXCEPTION 'append-only: invoice % credited and paid amounts only grow, up to the total', OLD.number
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$;

CREATE OR REPLACE FUNCTION billing_invoiceline_frozen_once_issued() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    row_org uuid;
    row_invoice uuid;
    parent_status text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        row_org := OLD.org_id; row_invoice := OLD.invoice_id;
    ELSE
        row_org := NEW.org_id; row_invoice := NEW.invoice_id;
    END IF;
    SELECT status INTO parent_status FROM billing_invoice WHERE org_id = row_org AND id = row_invoice;
    IF TG_OP = 'UPDATE' AND (OLD.org_id, OLD.invoice_id) IS DISTINCT FROM (NEW.org_id, NEW.invoice_id) THEN
        RAISE EXCEPTION 'append-only: an invoice line stays on its invoice' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF parent_status IS DISTINCT FROM 'draft' THEN
        RAISE EXCEPTION 'append-only: % of a line of an invoice that is % is refused', TG_OP, coalesce(parent_status, 'not visible')
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
END;
$$;

CREATE OR REPLACE FUNCTION billing_creditnote_frozen_once_decided() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status IN ('draft', 'pending_approval') THEN
        IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
        RETURN NEW;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'append-only: credit note % cannot be deleted', OLD.number USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- A carried credit is consumed once, by the next invoice: carried_to is set from NULL, nothing else moves.
    IF (to_jsonb(NEW) - 'carried_to_id') IS DISTINCT FROM (to_jsonb(OLD) - 'carried_to_id')
       OR (OLD.carried_to_id IS NOT NULL AND NEW.carried_to_id IS DISTINCT FROM OLD.carried_to_id) THEN
        RAISE EXCEPTION 'append-only: credit note % is % and keeps its content', OLD.number, OLD.status
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$;

CREATE OR REPLACE FUNCTION billing_creditnoteline_frozen_once_decided() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    row_org uuid;
    row_note uuid;
    parent_status text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        row_org := OLD.org_id; row_note := OLD.credit_note_id;
    ELSE
        row_org := NEW.org_id; row_note := NEW.credit_note_id;
    END IF;
    SELECT status INTO parent_status FROM billing_creditnote WHERE org_id = row_org AND id = row_note;
    IF TG_OP = 'UPDATE' OR parent_status IS NULL OR parent_status NOT IN ('draft', 'pending_approval') THEN
        RAISE EXCEPTION 'append-only: % of a credit note line is refused once the note is written', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
END;
$$;

CREATE OR REPLACE FUNCTION billing_documentseries_advance_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR NEW.value < OLD.value
       OR (NEW.issuer, NEW.kind, NEW.year) IS DISTINCT FROM (OLD.issuer, OLD.kind, OLD.year) THEN
        RAISE EXCEPTION 'append-only: a document number series only advances' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER billing_invoice_frozen BEFORE UPDATE OR DELETE ON billing_invoice
    FOR EACH ROW EXECUTE FUNCTION billing_invoice_frozen_once_issued();
CREATE TRIGGER billing_invoiceline_frozen BEFORE INSERT OR UPDATE OR DELETE ON billing_invoiceline
    FOR EACH ROW EXECUTE FUNCTION billing_invoiceline_frozen_once_issued();
CREATE TRIGGER billing_creditnote_frozen BEFORE UPDATE OR DELETE ON billing_creditnote
    FOR EACH ROW EXECUTE FUNCTION billing_creditnote_frozen_once_decided();
CREATE TRIGGER billing_creditnoteline_frozen BEFORE INSERT OR UPDATE OR DELETE ON billing_creditnoteline
    FOR EACH ROW EXECUTE FUNCTION billing_creditnoteline_frozen_once_decided();
CREATE TRIGGER billing_documentseries_advance_only BEFORE UPDATE OR DELETE ON billing_documentseries
    FOR EACH ROW EXECUTE FUNCTION billing_documentseries_advance_only();
"""

UNFROZEN_SQL = """
DROP TRIGGER IF EXISTS billing_documentseries_advance_only ON billing_documentseries;
DROP TRIGGER IF EXISTS billing_creditnoteline_frozen ON billing_creditnoteline;
DROP TRIGGER IF EXISTS billing_creditnote_frozen ON billing_creditnote;
DROP TRIGGER IF EXISTS billing_invoiceline_frozen ON billing_invoiceline;
DROP TRIGGER IF EXISTS billing_invoice_frozen ON billing_invoice;
DROP FUNCTION IF EXISTS billing_documentseries_advance_only();
DROP FUNCTION IF EXISTS billing_creditnoteline_frozen_once_decided();
DROP FUNCTION IF EXISTS billing_creditnote_frozen_once_decided();
DROP FUNCTION IF EXISTS billing_invoiceline_frozen_once_issued();
DROP FUNCTION IF EXISTS billing_invoice_frozen_once_issued();
"""


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0005_tenant_primary_keys'),
        ('tenancy', '0008_tenant_primary_keys'),
    ]

    operations = [
        migrations.CreateModel(
            name='DocumentSeries',
            fields=[
                ('pk', models.CompositePrimaryKey('issuer', 'kind', 'year', blank=True, editable=False, primary_key=True, serialize=False)),
                ('issuer', models.CharField(help_text="The issuing entity's series prefix, e.g. DOS.", max_length=16)),
                ('kind', models.CharField(choices=[('invoice', 'Invoice'), ('credit_note', 'Credit note')], max_length=16)),
                ('year', models.PositiveSmallIntegerField(help_text='Calendar year of issue (Asia/Seoul).')),
                ('value', models.BigIntegerField(default=0, help_text='The last number handed out.')),
            ],
            options={
                'verbose_name': 'document number series',
                'verbose_name_plural': 'document number series',
            },
        ),
        migrations.CreateModel(
            name='Invoice',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('kind', models.CharField(choices=[('period', 'Monthly invoice'), ('manual', 'One-off invoice')], default='period', max_length=16)),
                ('status', models.CharField(choices=[('draft', 'Draft'), ('issued', 'Issued'), ('paid', 'Paid'), ('void', 'Void'), ('uncollectible', 'Uncollectible')], default='draft', max_length=16)),
                ('issuer', models.CharField(help_text='Series prefix of the issuing entity.', max_length=16)),
                ('number', models.CharField(blank=True, default='', help_text='Set when issued: DOS-2026-000123.', max_length=32)),
                ('currency', models.CharField(default='KRW', max_length=3)),
                ('period_start', models.DateField(help_text='First day of the billed period (Asia/Seoul).')),
                ('period_end', models.DateField(help_text='Last day of the billed period (Asia/Seoul), inclusive.')),
                ('subscription_ref', models.CharField(blank=True, default='', help_text='The subscription rated into this invoice.', max_length=64)),
                ('subtotal', models.BigIntegerField(default=0, help_text='Won, before VAT.')),
                ('tax_rate', models.DecimalField(decimal_places=4, default=0, max_digits=5)),
                ('tax', models.BigIntegerField(default=0, help_text='Won: VAT rounded once per invoice, half up.')),
                ('total', models.BigIntegerField(default=0, help_text='Won, VAT included.')),
                ('tax_exempt', models.BooleanField(default=False)),
                ('amount_credited', models.BigIntegerField(default=0, help_text='Won credited against it by credit notes.')),
                ('amount_paid', models.BigIntegerField(default=0, help_text='Won received against it.')),
                ('customer', models.JSONField(blank=True, default=dict, help_text='Billed party as printed: company name, registration number, contact surname.')),
                ('seller', models.JSONField(blank=True, default=dict, help_text='Issuing entity as printed.')),
                ('rating', models.JSONField(blank=True, default=dict, help_text='How the lines were computed (price version, inputs).')),
                ('review_until', models.DateTimeField(blank=True, help_text='A draft is issued automatically once this has passed.', null=True)),
                ('issued_at', models.DateTimeField(blank=True, null=True)),
                ('due_at', models.DateField(blank=True, null=True)),
                ('content_hash', models.CharField(blank=True, default='', help_text='sha256 of the canonical JSON chained on the billing chain.', max_length=64)),
                ('ledger_seq', models.BigIntegerField(blank=True, help_text="Its entry on the org's billing chain.", null=True)),
                ('settled_at', models.DateTimeField(blank=True, help_text='When it became paid, void or uncollectible.', null=True)),
                ('settle_reason', models.CharField(blank=True, default='', max_length=500)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('updated_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('org', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='tenancy.org')),
            ],
            options={
                'ordering': ['-period_start', '-created_at'],
            },
            managers=[
                ('objects', django.db.models.manager.Manager()),
                ('unscoped_objects', django.db.models.manager.Manager()),
            ],
        ),
        migrations.CreateModel(
            name='CreditNote',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('status', models.CharField(choices=[('draft', 'Being written'), ('pending_approval', 'Awaiting a second approver'), ('issued', 'Issued'), ('rejected', 'Rejected')], max_length=20)),
                ('application', models.CharField(choices=[('applied', 'Applied to the invoice balance'), ('carried', 'Carried to the next invoice')], default='applied', max_length=16)),
                ('issuer', models.CharField(max_length=16)),
                ('number', models.CharField(blank=True, default='', help_text='Set when issued: DOS-CN-2026-000007.', max_length=32)),
                ('reason', models.CharField(max_length=500)),
                ('net', models.BigIntegerField(help_text='Won credited before VAT.')),
                ('tax', models.BigIntegerField(help_text="Won of VAT reversed, in proportion to the invoice's.")),
                ('total', models.BigIntegerField()),
                ('approval_ref', models.CharField(blank=True, default='', help_text='The four-eyes approval request, above the configured amount.', max_length=64)),
                ('requested_by', models.CharField(help_text='Who asked for it (audit label).', max_length=120)),
                ('approved_by', models.CharField(blank=True, default='', max_length=120)),
                ('content_hash', models.CharField(blank=True, default='', max_length=64)),
                ('ledger_seq', models.BigIntegerField(blank=True, null=True)),
                ('issued_at', models.DateTimeField(blank=True, null=True)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('org', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='tenancy.org')),
                ('carried_to', dos.citus.TenantForeignKey(blank=True, db_index=False, help_text='The invoice that consumed a carried credit.', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='carried_credits', to='billing.invoice')),
                ('invoice', dos.citus.TenantForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='credit_notes', to='billing.invoice')),
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
            name='InvoiceLine',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('position', models.PositiveIntegerField()),
                ('kind', models.CharField(choices=[('base', 'Plan'), ('usage', 'Usage'), ('seat', 'Seats'), ('minimum', 'Minimum commitment'), ('discount', 'Discount'), ('credit', 'Credit'), ('credit_note', 'Credit note carried forward'), ('tax', 'VAT')], max_length=16)),
                ('code', models.CharField(max_length=64)),
                ('description', models.CharField(help_text='English source; printed through gettext.', max_length=200)),
                ('quantity', models.DecimalField(decimal_places=6, max_digits=24)),
                ('unit', models.CharField(max_length=32)),
                ('unit_price', models.DecimalField(blank=True, decimal_places=6, max_digits=24, null=True)),
                ('amount', models.BigIntegerField(help_text='Won, this line rounded once (half up).')),
                ('meta', models.JSONField(blank=True, default=dict, help_text='How the line was computed.')),
                ('invoice', dos.citus.TenantForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='lines', to='billing.invoice')),
                ('org', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='tenancy.org')),
            ],
            options={
                'ordering': ['invoice', 'position'],
            },
            managers=[
                ('objects', django.db.models.manager.Manager()),
                ('unscoped_objects', django.db.models.manager.Manager()),
            ],
        ),
        migrations.CreateModel(
            name='CreditNoteLine',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('position', models.PositiveIntegerField()),
                ('description', models.CharField(max_length=200)),
                ('amount', models.BigIntegerField(help_text='Won credited before VAT.')),
                ('credit_note', dos.citus.TenantForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='lines', to='billing.creditnote')),
                ('org', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='tenancy.org')),
                ('invoice_line', dos.citus.TenantForeignKey(blank=True, db_index=False, help_text='The invoice line credited, when per line.', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='billing.invoiceline')),
            ],
            options={
                'ordering': ['credit_note', 'position'],
            },
            managers=[
                ('objects', django.db.models.manager.Manager()),
                ('unscoped_objects', django.db.models.manager.Manager()),
            ],
        ),
        migrations.AddIndex(
            model_name='invoice',
            index=models.Index(fields=['org', 'status', 'period_start'], name='invoice_org_status_idx'),
        ),
        migrations.AddIndex(
            model_name='invoice',
            index=models.Index(condition=models.Q(('status', 'draft')), fields=['org', 'review_until'], name='invoice_org_review_idx'),
        ),
        migrations.AddConstraint(
            model_name='invoice',
            constraint=models.UniqueConstraint(condition=models.Q(('number', ''), _negated=True), fields=('org', 'number'), name='invoice_org_number_uniq'),
        ),
        migrations.AddConstraint(
            model_name='invoice',
            constraint=models.UniqueConstraint(condition=models.Q(('kind', 'period')), fields=('org', 'period_start'), name='invoice_org_period_uniq'),
        ),
        migrations.AddConstraint(
            model_name='invoice',
            constraint=models.CheckConstraint(condition=models.Q(('status', 'draft'), models.Q(('number', ''), _negated=True), _connector='OR'), name='invoice_issued_has_number'),
        ),
        migrations.AddConstraint(
            model_name='invoice',
            constraint=models.CheckConstraint(condition=models.Q(('total', django.db.models.expressions.CombinedExpression(models.F('subtotal'), '+', models.F('tax')))), name='invoice_total_is_subtotal_plus_tax'),
        ),
        migrations.AddIndex(
            model_name='creditnote',
            index=models.Index(fields=['org', 'invoice'], name='creditnote_org_invoice_idx'),
        ),
        migrations.AddConstraint(
            model_name='creditnote',
            constraint=models.UniqueConstraint(condition=models.Q(('number', ''), _negated=True), fields=('org', 'number'), name='creditnote_org_number_uniq'),
        ),
        migrations.AddConstraint(
            model_name='creditnote',
            constraint=models.CheckConstraint(condition=models.Q(('total', django.db.models.expressions.CombinedExpression(models.F('net'), '+', models.F('tax')))), name='creditnote_total_is_net_plus_tax'),
        ),
        migrations.AddConstraint(
            model_name='creditnote',
            constraint=models.CheckConstraint(condition=models.Q(('net__gte', 0), ('tax__gte', 0)), name='creditnote_not_negative'),
        ),
        migrations.AddConstraint(
            model_name='invoiceline',
            constraint=models.UniqueConstraint(fields=('org', 'invoice', 'position'), name='invoiceline_position_uniq'),
        ),
        migrations.AddConstraint(
            model_name='creditnoteline',
            constraint=models.UniqueConstraint(fields=('org', 'credit_note', 'position'), name='creditnoteline_position_uniq'),
        ),
            *(EnableRLS(name) for name in ("Invoice", "InvoiceLine", "CreditNote", "CreditNoteLine")),
        *tenant_keys("Invoice", "InvoiceLine", "CreditNote", "CreditNoteLine",
                     foreign_keys=(("InvoiceLine", "invoice"), ("CreditNote", "invoice"), ("CreditNote", "carried_to"),
                                   ("CreditNoteLine", "credit_note"), ("CreditNoteLine", "invoice_line"))),
        migrations.RunSQL(FROZEN_SQL, reverse_sql=UNFROZEN_SQL),
    ]
