from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [("decisions", "0005_append_only")]

    operations = [
        migrations.AddField(model_name="simulation", name="checkpoint", field=models.JSONField(blank=True, null=True)),
        migrations.AddField(model_name="simulation", name="attempts",
                            field=models.PositiveSmallIntegerField(default=0)),
        migrations.AddField(model_name="simulation", name="resumed_from", field=models.IntegerField(default=0)),
    ]
