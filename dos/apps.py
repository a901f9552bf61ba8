"""The platform kernel: settings, API base, tenant scope and RLS, ledger, idempotency, outbox, PII,
vault, authorization registry and hooks.

Stands on: nothing (no app of this project).
"""

from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class DosConfig(AppConfig):
    default = True
    name = "dos"
    verbose_name = "DecisionOS core"


class DosAdminConfig(admin_apps.AdminConfig):
    """The back office runs on our admin site: TOTP required, tenant-scoped, break-glass aware."""

    default = False
    default_site = "dos.admin_site.DosAdminSite"
