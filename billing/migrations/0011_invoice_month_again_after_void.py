# A void monthly invoice no longer holds its month: the one-per-(org, month) rule covers live invoices
# only, so the month close drafts a replacement beside the void one (docs/decisions/0013).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0010_ledger_bad_debt_account'),
        ('tenancy', '0008_tenant_primary_keys'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='invoice',
            name='invoice_org_period_uniq',
        ),
        migrations.AddConstraint(
            model_name='invoice',
            constraint=models.UniqueConstraint(condition=models.Q(('kind', 'period'), models.Q(('status', 'void'), _negated=True)), fields=('org', 'period_start'), name='invoice_org_period_uniq'),
        ),
    ]
