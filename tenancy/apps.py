from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "tenancy"
    verbose_name = "Tenancy and identity"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tenancy import schema  # noqa: F401 - registers OpenAPI security schemes
