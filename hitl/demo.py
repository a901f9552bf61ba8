"""The review-desk part of the demo seed: Acme's desk (default queues and a documents queue by rule,
the reviewers on it) and, once, a few applications that need a person so the inbox has work."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from dos import scope

APPLICATION = {"age": 35, "income_monthly": 3500000, "dsr": 32.0, "credit_score": 720, "employment_months": 36,
               "delinquencies_12m": 0, "documents_missing": [], "consent_credit_check": True,
               "loan_amount": 30000000, "product": "personal"}
NEEDS_A_PERSON = ({"documents_missing": ["income_proof"]}, {"credit_score": 650},
                  {"documents_missing": ["id_card"], "loan_amount": 80000000}, {"credit_score": 640})


def seed_desk() -> list[str]:
    from decisions.services import decision_make
    from hitl.desk import desk_install_defaults, reviewer_profile_save
    from hitl.models import Case, Queue
    from tenancy.demo import demo_org, demo_project

    User = get_user_model()
    acme = demo_org("acme")
    with scope.org_scope(acme.id):
        queues = desk_install_defaults(org_id=acme.id, actor="system:demo")
        Queue.objects.get_or_create(org_id=acme.id, name="documents", defaults={
            "rank": 10, "routing_rule": '"DOCS_MISSING" in reason_codes', "sla_policy": queues["review"].sla_policy,
            "overflow_queue": queues["burst"], "description": "Applications with missing documents."})
        reviewer_profile_save(org_id=acme.id, user=User.objects.get(email="reviewer@acme.example"), weight=2,
                              actor="system:demo")
        reviewer_profile_save(org_id=acme.id, user=User.objects.get(email="senior.reviewer@acme.example"),
                              skills=["senior"], weight=1, actor="system:demo")
        if not Case.objects.exists():
            project = demo_project(acme)
            for n, changes in enumerate(NEEDS_A_PERSON):
                decision_make(org=acme, project=project, subject_id=f"demo-lead-{n + 1:04d}",
                              purpose="loan_screening", data={**APPLICATION, **changes}, actor="system:demo")
    return []
