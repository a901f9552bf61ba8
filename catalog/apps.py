"""Data assets, datasets, fields, contracts, lineage, search and connectors.

Stands on: dos, tenancy.
"""

from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "catalog"
    default_auto_field = "django.db.models.BigAutoField"
