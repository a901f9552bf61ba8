from django.db import migrations

from dos.rls import EnableRLS


class Migration(migrations.Migration):
    dependencies = [("decisions", "0001_initial")]

    operations = [EnableRLS("PolicySet"), EnableRLS("PolicyVersion"), EnableRLS("DecisionRecord")]
