# Four eyes bound to retention rule changes (docs/decisions/0017-dsar-and-retention.md).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('privacy', '0004_discovery'),
    ]

    operations = [
        migrations.AddField(
            model_name='retentionrule',
            name='changes',
            field=models.JSONField(blank=True, default=list, help_text='Changes since the last executed run that acted on the rule: who (label and person), when, before and after, and whether it tightened the rule (shorter ttl, delete or crypto-shred turned on). Whoever made one may not approve the next run (four eyes bound to the rule change).'),
        ),
        migrations.AddField(
            model_name='retentionrunitem',
            name='rule_changes',
            field=models.JSONField(blank=True, default=list, help_text="The rule's changes since the last executed run, as they stood when the run was planned."),
        ),
    ]
