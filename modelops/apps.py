"""Model registry, deployments (shadow, canary, blue-green), drift and skew.

Stands on: dos, tenancy.
"""

from django.apps import AppConfig


class ModelopsConfig(AppConfig):
    name = "modelops"
    default_auto_field = "django.db.models.BigAutoField"
