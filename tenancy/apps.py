from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "tenancy"
    verbose_name = "Tenancy and identity"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from dos.api.views import register_request_check
        from dos.tasks import register_org_filter
        from tenancy import audit_auth, schema, sessions  # noqa: F401 - signal receivers, OpenAPI schemes
        from tenancy.status import api_request_check, orgs_a_job_may_visit

        # The org's status applies to every API request and every job that visits orgs (the kernel
        # cannot import tenancy, so tenancy plugs its rule in).
        register_request_check(api_request_check)
        register_org_filter(orgs_a_job_may_visit)
