"""Policy sets and versions, CEL rules, /decide /simulate /explain /replay, decision ledger, packs.

Stands on: dos, tenancy, billing.
"""

from django.apps import AppConfig


class DecisionsConfig(AppConfig):
    name = "decisions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from decisions.chain import decision_records_verify
        from decisions.demo import seed_policy
        from decisions.schema import tailor_decide_request
        from dos.api.schema import caller_tailors
        from dos.demo import demo_steps
        from dos.ledger import record_check_register

        # `dosctl audit verify` holds every decision record against its decisions-chain entry.
        record_check_register("decisions", decision_records_verify)
        demo_steps.register((20, seed_policy))
        # /api/schema/ fetched with an API key describes /decide's `input` as the key's published contracts.
        caller_tailors.register(tailor_decide_request)
        # Subject requests (DSAR) find the subject's decisions here; later collectors follow their ids.
        from decisions.subject_data import subject_decisions
        from dos.subject_data import collector_register

        collector_register("decisions", subject_decisions, order=10)
