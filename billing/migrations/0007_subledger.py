"""The double-entry subledger: journals and their lines (append-only, balanced at COMMIT) and the
usage ↔ invoice drift report (docs/decisions/0014-subledger.md)."""

import django.db.models.deletion
import django.db.models.manager
import django.utils.timezone
from django.db import migrations, models

import dos.citus
from dos.append_only import frozen_table
from dos.citus import tenant_keys
from dos.rls import EnableRLS

# Checked at COMMIT (a deferred constraint trigger), once per inserted journal and line: the journal's
# lines must number at least two and sum to zero. The tenant scope may be gone by COMMIT (an inner
# org_scope restores the outer settings on exit), so the sum is read with the platform flag on and
# the flag restored right after; the lookup is by (org_id, journal_id) all the same.
BALANCED_FUNCTION = """
CREATE OR REPLACE FUNCTION billing_journal_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    saved text := current_setting('dos.platform', true);
    jid bigint;
    total numeric;
    lines integer;
BEGIN
    IF TG_TABLE_NAME = 'billing_journal' THEN
        jid := NEW.id;
    ELSE
        jid := NEW.journal_id;
    END IF;
    PERFORM set_config('dos.platform', 'on', true);
    SELECT coalesce(sum(amount), 0), count(*) INTO total, lines
      FROM billing_journalline WHERE org_id = NEW.org_id AND journal_id = jid;
    PERFORM set_config('dos.platform', coalesce(saved, ''), true);
    IF lines < 2 THEN
        RAISE EXCEPTION 'unbalanced journal: journal % of org % has % line(s), a journal needs two or more',
            jid, NEW.org_id, lines USING ERRCODE = 'check_violation';
    END IF;
    IF total <> 0 THEN
        RAISE EXCEPTION 'unbalanced journal: the lines of journal % of org % sum to % (debits must equal credits)',
            jid, NEW.org_id, total USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$;
"""

BALANCED_TRIGGERS = """
CREATE CONSTRAINT TRIGGER billing_journal_balanced AFTER INSERT ON billing_journal
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION billing_journal_balanced();
CREATE CONSTRAINT TRIGGER billing_journalline_balanced AFTER INSERT ON billing_journalline
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION billing_journal_balanced();
"""

DROP_BALANCED = """
DROP TRIGGER IF EXISTS billing_journalline_balanced ON billing_journalline;
DROP TRIGGER IF EXISTS billing_journal_balanced ON billing_journal;
DROP FUNCTION IF EXISTS billing_journal_balanced();
"""

MANAGERS = [
    ("objects", django.db.models.manager.Manager()),
    ("unscoped_objects", django.db.models.manager.Manager()),
]
ORG = models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name="+",
                        to="tenancy.org")


class Migration(migrations.Migration):

    dependencies = [
        ("billing", "0006_invoices"),
        ("tenancy", "0008_tenant_primary_keys"),
        ("dos", "0005_append_only"),
    ]

    operations = [
        migrations.CreateModel(
            name="Journal",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("event", models.CharField(help_text="The posting rule applied, e.g. invoice.issued.", max_length=48,
                                           verbose_name="event")),
                ("rule_version", models.PositiveSmallIntegerField(verbose_name="rule version")),
                ("source_type", models.CharField(max_length=48, verbose_name="source type")),
                ("source_id", models.CharField(max_length=64, verbose_name="source id")),
                ("source_label", models.CharField(blank=True, help_text="What people call the source, e.g. the invoice number.",
                                                  max_length=64, verbose_name="source")),
                ("occurred_at", models.DateTimeField(verbose_name="occurred at")),
                ("period", models.DateField(help_text="First day of the Asia/Seoul month the journal is booked in.",
                                            verbose_name="period")),
                ("amounts", models.JSONField(default=dict, help_text="The parts the posting rule was given (won).",
                                             verbose_name="amounts")),
                ("total", models.BigIntegerField(help_text="Sum of the debits (won).", verbose_name="total")),
                ("memo", models.CharField(blank=True, max_length=200, verbose_name="memo")),
                ("actor", models.CharField(max_length=120, verbose_name="actor")),
                ("corr_id", models.CharField(blank=True, max_length=64)),
                ("chain_seq", models.BigIntegerField(blank=True, null=True, verbose_name="billing chain entry")),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now, verbose_name="created at")),
                ("org", ORG.clone()),
                ("reverses", dos.citus.TenantForeignKey(blank=True, db_index=False, null=True,
                                                        on_delete=django.db.models.deletion.PROTECT,
                                                        related_name="reversals", to="billing.journal",
                                                        verbose_name="reverses")),
            ],
            options={"verbose_name": "journal", "verbose_name_plural": "journals", "ordering": ["-id"]},
            managers=MANAGERS,
        ),
        migrations.CreateModel(
            name="JournalLine",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("account", models.CharField(choices=[
                    ("ar", "Accounts receivable"), ("cash", "Cash"), ("revenue", "Revenue"),
                    ("tax_payable", "VAT payable"), ("refunds", "Refunds"), ("chargebacks", "Chargebacks"),
                    ("fees", "Payment fees"), ("credits", "Prepaid credits")], max_length=16, verbose_name="account")),
                ("amount", models.BigIntegerField(help_text="Won; debit positive, credit negative.", verbose_name="amount")),
                ("journal", dos.citus.TenantForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT,
                                                       related_name="lines", to="billing.journal",
                                                       verbose_name="journal")),
                ("org", ORG.clone()),
            ],
            options={"verbose_name": "journal line", "verbose_name_plural": "journal lines", "ordering": ["id"]},
            managers=MANAGERS,
        ),
        migrations.CreateModel(
            name="InvoiceDrift",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("month", models.DateField(verbose_name="month")),
                ("metric", models.CharField(max_length=32, verbose_name="metric")),
                ("metered", models.DecimalField(decimal_places=6, max_digits=28, verbose_name="metered")),
                ("invoiced", models.DecimalField(decimal_places=6, max_digits=28, verbose_name="invoiced")),
                ("drift_pct", models.DecimalField(decimal_places=3, max_digits=9, verbose_name="drift %")),
                ("alert", models.BooleanField(default=False, verbose_name="alert")),
                ("invoices", models.JSONField(blank=True, default=list, verbose_name="invoices")),
                ("computed_at", models.DateTimeField(default=django.utils.timezone.now, verbose_name="computed at")),
                ("org", ORG.clone()),
            ],
            options={"verbose_name": "usage ↔ invoice drift", "verbose_name_plural": "usage ↔ invoice drift",
                     "ordering": ["-month", "metric"]},
            managers=MANAGERS,
        ),
        migrations.AddIndex(model_name="journal",
                            index=models.Index(fields=["org", "period"], name="journal_org_period_idx")),
        migrations.AddIndex(model_name="journal",
                            index=models.Index(fields=["org", "source_type", "source_id"], name="journal_org_source_idx")),
        migrations.AddConstraint(
            model_name="journal",
            constraint=models.UniqueConstraint(condition=models.Q(("reverses__isnull", True)),
                                               fields=("org", "event", "source_type", "source_id"),
                                               name="journal_source_event_uniq")),
        migrations.AddConstraint(
            model_name="journal",
            constraint=models.UniqueConstraint(condition=models.Q(("reverses__isnull", False)),
                                               fields=("org", "reverses"), name="journal_reversed_once")),
        migrations.AddConstraint(
            model_name="journal",
            constraint=models.CheckConstraint(condition=models.Q(("total__gte", 0)), name="journal_total_not_negative")),
        migrations.AddIndex(model_name="journalline",
                            index=models.Index(fields=["org", "journal"], name="journalline_org_journal_idx")),
        migrations.AddConstraint(
            model_name="journalline",
            constraint=models.CheckConstraint(condition=models.Q(("amount", 0), _negated=True),
                                              name="journalline_amount_not_zero")),
        migrations.AddConstraint(
            model_name="journalline",
            constraint=models.CheckConstraint(
                condition=models.Q(("account__in", ["ar", "cash", "revenue", "tax_payable", "refunds", "chargebacks",
                                                    "fees", "credits"])),
                name="journalline_account_known")),
        migrations.AddConstraint(
            model_name="invoicedrift",
            constraint=models.UniqueConstraint(fields=("org", "month", "metric"), name="invoicedrift_org_month_uniq")),
        EnableRLS("Journal"),
        EnableRLS("JournalLine"),
        EnableRLS("InvoiceDrift"),
        *tenant_keys("Journal", "JournalLine", "InvoiceDrift",
                     foreign_keys=(("Journal", "reverses"), ("JournalLine", "journal"))),
        *frozen_table("billing_journal"),
        *frozen_table("billing_journalline"),
        migrations.RunSQL(BALANCED_FUNCTION + BALANCED_TRIGGERS, reverse_sql=DROP_BALANCED),
    ]
