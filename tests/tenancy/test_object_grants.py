"""django-guardian object grants, scoped like every tenant table."""

import pytest

from dos import scope
from tenancy import services
from tenancy.models import ProjectUserObjectPermission
from tenancy.permissions import user_permissions
from tests.factories import default_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def leads(acme):
    with scope.org_scope(acme.id):
        return services.project_create(org=acme, name="Leads", actor="system:test")


def test_a_project_grant_adds_the_permission_on_that_project_only(acme, alice, leads):
    with scope.org_scope(acme.id):
        assert "policy.write" not in user_permissions(alice, acme.id, leads.id)
        services.project_grant(project=leads, user=alice, permission="policy.write", actor="system:test")
        assert "policy.write" in user_permissions(alice, acme.id, leads.id)
        assert "policy.write" not in user_permissions(alice, acme.id, default_project(acme).id)
        assert "policy.write" not in user_permissions(alice, acme.id)
        assert alice.has_perm("tenancy.policy_write", leads)  # guardian's backend agrees


def test_only_project_scoped_primitives_and_members_can_be_granted(acme, leads, mallory):
    with scope.org_scope(acme.id):
        with pytest.raises(services.TenancyError, match="cannot be granted per project"):
            services.project_grant(project=leads, user=mallory, permission="billing.manage", actor="system:test")
        with pytest.raises(services.TenancyError, match="Only members"):
            services.project_grant(project=leads, user=mallory, permission="policy.read", actor="system:test")


def test_an_outsider_never_sees_another_orgs_grants(acme, outsider, alice, leads):
    with scope.org_scope(acme.id):
        services.project_grant(project=leads, user=alice, permission="decisions.run", actor="system:test")
    with scope.org_scope(outsider.id):
        assert not ProjectUserObjectPermission.objects.exists()
        assert not ProjectUserObjectPermission.unscoped_objects.filter(org_id=acme.id).exists()


def test_revoking_a_grant_is_audited(acme, alice, leads):
    from dos.models import LedgerEntry

    with scope.org_scope(acme.id):
        # policy.write is not a reviewer's by role: only the grant gives it, so only its revoke takes it away.
        grant = services.project_grant(project=leads, user=alice, permission="policy.write", actor="system:test")
        assert "policy.write" in user_permissions(alice, acme.id, leads.id)
        services.project_grant_revoke(grant=grant, actor="system:test")
        assert "policy.write" not in user_permissions(alice, acme.id, leads.id)
        assert LedgerEntry.objects.filter(chain="audit", action="project_grant.revoked").exists()
