"""Primary key (org_id, id) on every tenant table of tenancy, then the composite foreign keys between
them (docs/decisions/0011-citus-ready-schema.md). The Org table keeps its key: it is a reference
table. Higher apps drop their single-column keys to these tables first (their ``run_before``)."""

from django.db import migrations

from dos.citus import tenant_keys


class Migration(migrations.Migration):
    dependencies = [("tenancy", "0007_tenant_foreign_keys")]

    operations = tenant_keys(
        "Project", "Environment", "Membership", "ProjectMember", "ApiKey", "Grant", "ApprovalRequest",
        "ProjectUserObjectPermission", "PlanOverride",
        foreign_keys=(
            ("Environment", "project"),
            ("ProjectMember", "project"),
            ("ApiKey", "project"),
            ("ApiKey", "created_by_key"),
            ("Grant", "project"),
            ("Grant", "environment"),
            ("ProjectUserObjectPermission", "content_object"),
        ),
    )
