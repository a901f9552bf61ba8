"""Row-level security for every tenant table of tenancy, and the platform org."""

from django.db import migrations

from dos.rls import EnableRLS

OWN_MEMBERSHIP = "user_id = (SELECT NULLIF(current_setting('dos.user_id', true), '')::uuid)"
MEMBER_ORGS = (
    "id IN (SELECT org_id FROM tenancy_membership "
    "WHERE user_id = (SELECT NULLIF(current_setting('dos.user_id', true), '')::uuid))"
)
PRESENTED_PREFIX = "prefix = (SELECT NULLIF(current_setting('dos.key_prefix', true), ''))"

PLATFORM_ORG = """
SELECT set_config('dos.platform', 'on', true);
INSERT INTO tenancy_org (id, slug, name, plan, status, region, ip_allowlist, settings, created_at)
VALUES ('00000000-0000-0000-0000-000000000000', '_platform', 'DecisionOS platform', 'enterprise',
        'active', 'KR', '[]', '{}', now())
ON CONFLICT (id) DO NOTHING;
SELECT set_config('dos.platform', 'off', true);
"""


class Migration(migrations.Migration):
    dependencies = [("tenancy", "0001_initial")]

    operations = [
        EnableRLS("Org", column="id", extra_using=MEMBER_ORGS),
        EnableRLS("Project"),
        EnableRLS("Environment"),
        EnableRLS("Membership", extra_using=OWN_MEMBERSHIP),
        EnableRLS("ProjectMember", extra_using=OWN_MEMBERSHIP),
        EnableRLS("ApiKey", extra_using=PRESENTED_PREFIX),
        EnableRLS("Grant"),
        EnableRLS("ApprovalRequest"),
        migrations.RunSQL(PLATFORM_ORG, reverse_sql=migrations.RunSQL.noop),
    ]
