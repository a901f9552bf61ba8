"""Primary key (org_id, id) on every decisions table, then the composite foreign keys
(docs/decisions/0011-citus-ready-schema.md)."""

from django.db import migrations

from dos.citus import tenant_keys


class Migration(migrations.Migration):
    dependencies = [("decisions", "0007_tenant_foreign_keys"), ("tenancy", "0008_tenant_primary_keys")]

    operations = tenant_keys(
        "PolicySet", "PolicyVersion", "DecisionRecord", "Simulation", "ReasonCode",
        foreign_keys=(
            ("PolicySet", "project"),
            ("PolicyVersion", "policy_set"),
            ("PolicyVersion", "approval"),
            ("DecisionRecord", "project"),
            ("DecisionRecord", "policy_version"),
            ("Simulation", "project"),
            ("Simulation", "policy_version"),
            ("Simulation", "champion_version"),
        ),
    )
