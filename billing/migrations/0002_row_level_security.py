from django.db import migrations

from dos.rls import EnableRLS


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]

    operations = [
        EnableRLS(name) for name in (
            "MeterEvent", "UsageHourly", "UsageDaily", "UsageMonthly", "UsageAdjustment", "RollupCursor",
            "UsageCounter", "ReconciliationReport",
        )
    ]
