"""Human review: cases, tasks, queues, SLA policies, routing, appeals, notes and attachments.

Stands on: dos, tenancy, billing, decisions.
"""

from django.apps import AppConfig


class HitlConfig(AppConfig):
    name = "hitl"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Human review"

    def ready(self) -> None:
        from decisions.hooks import review_requested
        from dos.demo import demo_steps
        from hitl.demo import seed_desk
        from hitl.services import decision_cases_open

        review_requested.register(decision_cases_open)  # review decisions open cases (same transaction)
        demo_steps.register((30, seed_desk))
        from dos.subject_data import collector_register
        from hitl.subject_data import subject_cases

        collector_register("cases", subject_cases, order=20)  # after decisions: cases follow the decision ids
