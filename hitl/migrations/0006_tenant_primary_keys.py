"""Primary key (org_id, id) on every hitl table, then the composite foreign keys
(docs/decisions/0011-citus-ready-schema.md)."""

from django.db import migrations

from dos.citus import tenant_keys


class Migration(migrations.Migration):
    dependencies = [
        ("hitl", "0005_tenant_foreign_keys"),
        ("decisions", "0008_tenant_primary_keys"),
        ("tenancy", "0008_tenant_primary_keys"),
    ]

    operations = tenant_keys(
        "SLAPolicy", "Queue", "ReviewerProfile", "Case", "Task", "CaseEvent", "SlaMark", "Notification", "Appeal",
        "CaseNote", "Attachment",
        foreign_keys=(
            ("Queue", "sla_policy"),
            ("Queue", "overflow_queue"),
            ("Case", "project"),
            ("Case", "decision"),
            ("Case", "queue"),
            ("Case", "sla_policy"),
            ("Task", "case"),
            ("Task", "queue"),
            ("CaseEvent", "case"),
            ("SlaMark", "case"),
            ("Notification", "case"),
            ("Appeal", "case"),
            ("Appeal", "final_decision"),
            ("CaseNote", "case"),
            ("Attachment", "case"),
        ),
    )
