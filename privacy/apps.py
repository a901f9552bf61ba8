"""Consent, the PII vault, discovery and masking, DSAR, retention and legal hold.

Stands on: dos, tenancy.
"""

from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "privacy"
    default_auto_field = "django.db.models.BigAutoField"
