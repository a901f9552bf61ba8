"""Model registry, deployments (shadow, canary, blue-green), drift and skew."""

from django.apps import AppConfig


class ModelopsConfig(AppConfig):
    name = "modelops"
    default_auto_field = "django.db.models.BigAutoField"
