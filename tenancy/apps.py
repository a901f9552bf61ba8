from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "tenancy"
    verbose_name = "Tenancy and identity"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tenancy import audit_auth, schema, sessions  # noqa: F401 - signal receivers, OpenAPI schemes
