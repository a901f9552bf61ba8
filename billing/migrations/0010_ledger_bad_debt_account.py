# A bad-debt expense account: invoices written off as uncollectible (posting rule invoice.written_off).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0009_seed_price_book'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='journalline',
            name='journalline_account_known',
        ),
        migrations.AlterField(
            model_name='journalline',
            name='account',
            field=models.CharField(choices=[('ar', 'Accounts receivable'), ('cash', 'Cash'), ('revenue', 'Revenue'), ('tax_payable', 'VAT payable'), ('refunds', 'Refunds'), ('chargebacks', 'Chargebacks'), ('fees', 'Payment fees'), ('credits', 'Prepaid credits'), ('bad_debt', 'Bad debts')], max_length=16, verbose_name='account'),
        ),
        migrations.AddConstraint(
            model_name='journalline',
            constraint=models.CheckConstraint(condition=models.Q(('account__in', ['ar', 'cash', 'revenue', 'tax_payable', 'refunds', 'chargebacks', 'fees', 'credits', 'bad_debt'])), name='journalline_account_known'),
        ),
    ]
