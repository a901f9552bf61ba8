"""Policy sets and versions, CEL rules, /decide /simulate /explain /replay, decision ledger, packs."""

from django.apps import AppConfig


class DecisionsConfig(AppConfig):
    name = "decisions"
    default_auto_field = "django.db.models.BigAutoField"
