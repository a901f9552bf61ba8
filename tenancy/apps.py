"""Orgs, projects, environments, people, roles and grants, API keys, plans and overrides, org status.

Stands on: dos.
"""

from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "tenancy"
    verbose_name = "Tenancy and identity"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from dos.admin_site import admin_views
        from dos.api.views import register_request_check
        from dos.audit import platform_org_ensure
        from dos.authz import action_checks
        from dos.demo import demo_steps
        from dos.ledger import expected_chains
        from dos.management.base import org_resolver
        from dos.tasks import register_org_filter
        from tenancy import audit_auth, models, schema, sessions  # noqa: F401 - signal receivers, OpenAPI schemes
        from tenancy.admin.pages import admin_urls
        from tenancy.demo import seed_tenancy
        from tenancy.selectors import org_by_slug_or_id, orgs_with_an_audit_chain
        from tenancy.status import api_request_check, orgs_a_job_may_visit, service_action_check

        # The org's status applies to every API request and every job that visits orgs (the kernel
        # cannot import tenancy, so tenancy plugs its rule in).
        register_request_check(api_request_check)
        platform_org_ensure.register(models.platform_org_ensure)
        demo_steps.register((10, seed_tenancy))
        admin_views.register(admin_urls)
        org_resolver.register(org_by_slug_or_id)
        action_checks.register(service_action_check)
        expected_chains.register(orgs_with_an_audit_chain)
        register_org_filter(orgs_a_job_may_visit)
