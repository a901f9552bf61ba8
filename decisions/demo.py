"""The decisions part of the demo seed: Acme's lending policy, published under four eyes (author:
the owner, approver: the senior reviewer), and a ready-to-paste /decide call."""

from __future__ import annotations

from django.conf import settings

from dos import scope

DECIDE_BODY = ('{"subject_id": "lead-0001", "purpose": "loan_screening", "input": {"age": 35, '
               '"income_monthly": 3500000, "dsr": 48.5, "credit_score": 720, "employment_months": 36, '
               '"delinquencies_12m": 0, "documents_missing": [], "consent_credit_check": true, '
               '"loan_amount": 30000000, "product": "personal"}}')


def seed_policy() -> list[str]:
    from decisions import services
    from decisions.choices import VersionStatus
    from decisions.models import PolicyVersion
    from decisions.packs.install import pack_install
    from dos.demo import demo_warn
    from tenancy.demo import demo_api_key, demo_org, demo_project
    from tenancy.principals import member_principal

    acme = demo_org("acme")
    repairs = []
    project = demo_project(acme)
    with scope.org_scope(acme.id):
        approver = member_principal(acme, "senior.reviewer@acme.example")
        versions = pack_install(project=project, domain="lending_brokerage",
                                author=member_principal(acme, "owner@acme.example"), approver=approver)
        for n, version in enumerate(versions):
            # A tenant retired the demo policy and published nothing in its place: /decide would
            # have no policy, so the seed puts the pack's version back (a rollback, audited).
            if version.status == VersionStatus.RETIRED and not PolicyVersion.objects.filter(
                    policy_set=version.policy_set, status=VersionStatus.PUBLISHED).exists():
                versions[n] = services.version_rollback(version=version, actor=approver)
                repairs.append(demo_warn(f"policy {version.policy_set.name} {version.semver} was retired with "
                                         "nothing published in its place: published it again"))
        published = ", ".join(f"{v.policy_set.name} {v.semver} ({v.status})" for v in versions)
    return [*repairs,
        f"Policy       {published}",
        f"Decide       curl -s -X POST -H 'Authorization: Bearer {demo_api_key()}' -H 'Content-Type: "
        f"application/json' {settings.DOS_BASE_URL}/api/v1/decide -d '{DECIDE_BODY}'",
    ]
