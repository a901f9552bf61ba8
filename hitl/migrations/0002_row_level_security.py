from django.db import migrations

from dos.rls import EnableRLS


class Migration(migrations.Migration):
    dependencies = [("hitl", "0001_initial")]

    operations = [EnableRLS(name) for name in (
        "SLAPolicy", "Queue", "ReviewerProfile", "Case", "Task", "CaseEvent", "SlaMark", "Notification", "Appeal",
        "CaseNote", "Attachment")]
