"""factory-boy factories shared by every app's tests. Tenant rows are created through the services,
inside the owning org's scope, exactly as production code creates them."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from dos import scope
from tenancy import services
from tenancy.models import Project


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("email",)

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    full_name = factory.Faker("name")
    is_staff = True


def make_org(name: str, *, plan: str = "pro", slug: str | None = None):
    return services.org_create(name=name, plan=plan, slug=slug, actor="system:test")


def add_member(org, user, role: str):
    with scope.org_scope(org.id):
        return services.membership_add(org=org, email=user.email, role=role, actor="system:test")


def default_project(org) -> Project:
    with scope.org_scope(org.id):
        return Project.objects.get(org=org, slug="default")


def make_key(org, *, scopes=None, project=None, expires_at=None, name="test key"):
    with scope.org_scope(org.id):
        project = project or Project.objects.get(org=org, slug="default")
        return services.apikey_create(project=project, name=name, scopes=scopes, expires_at=expires_at,
                                      actor="system:test")


def verified_client(client, user):
    """Sign the user in and pass the TOTP step (as the OTP page would after a valid code)."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device, _ = TOTPDevice.objects.get_or_create(user=user, name="test", defaults={"confirmed": True})
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def query_count(client, url: str) -> int:
    """Queries one GET of ``url`` runs (it must answer 200): for constant-query changelist tests."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def as_member(org, user, *, project_id=None):
    """The acting principal of ``user`` in ``org`` (their roles and grants), as a session would have it."""
    from tenancy.principals import member_principal

    with scope.org_scope(org.id):
        return member_principal(org, user.email, project_id=project_id)


def acting(user, permissions):
    """A principal for ``user`` holding exactly ``permissions`` (for service tests that vary them)."""
    from tenancy.principals import UserPrincipal

    return UserPrincipal(user=user, org=None, permissions=frozenset(permissions))


def plan_override(org, key: str, value, *, reason: str = "test"):
    """Change one of the org's commercial limits the only way there is: a platform-approved override."""
    from tenancy.overrides import plan_override_set

    approver = get_user_model().objects.filter(email="platform-ops@decisionos.example").first() or \
        get_user_model().objects.create_superuser(email="platform-ops@decisionos.example")
    return plan_override_set(org=org, key=key, value=value, reason=reason, actor=approver)
