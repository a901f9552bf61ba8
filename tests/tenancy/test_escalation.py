"""Nobody grants what they do not hold: memberships, grants, project grants, API keys and platform
roles, for every actor kind (a member, an API key, a platform principal). Owners only by owners."""

import pytest

from dos import scope
from dos.authz import PermissionRefused
from tenancy import services
from tenancy.choices import OrgRole
from tenancy.models import ApiKey, Membership
from tenancy.principals import ApiKeyPrincipal
from tenancy.roles import ROLE_PERMISSIONS
from tests.conftest import api_client
from tests.factories import UserFactory, add_member, as_member, default_project, make_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def sam(acme):
    """A security admin: members.manage and keys.manage, but no product permissions."""
    user = UserFactory(email="sam@acme.example")
    add_member(acme, user, OrgRole.SECURITY_ADMIN)
    return user


@pytest.mark.parametrize("role", sorted(ROLE_PERMISSIONS))
def test_a_role_can_be_given_only_by_someone_holding_all_of_it(acme, sam, role):
    """Enumerates every role: the security admin may give exactly those within its own permissions."""
    within = ROLE_PERMISSIONS[role] <= ROLE_PERMISSIONS[OrgRole.SECURITY_ADMIN] and role != OrgRole.OWNER
    with scope.org_scope(acme.id):
        try:
            services.membership_add(org=acme, email=f"{role}@acme.example", role=role, actor=as_member(acme, sam))
            given = True
        except PermissionRefused as exc:
            given = False
            assert exc.code in ("escalation_refused", "owner_only")
        assert given is within
        assert Membership.objects.filter(user__email=f"{role}@acme.example").exists() is within


def test_owners_are_made_and_unmade_only_by_owners(acme, olivia):
    admin = UserFactory(email="adam@acme.example")
    add_member(acme, admin, OrgRole.ADMIN)
    with scope.org_scope(acme.id):
        with pytest.raises(PermissionRefused) as refused:
            services.membership_add(org=acme, email="coup@acme.example", role=OrgRole.OWNER, actor=as_member(acme, admin))
        assert refused.value.code == "owner_only"
        owner_row = Membership.objects.get(user=olivia, role=OrgRole.OWNER)
        with pytest.raises(PermissionRefused):
            services.membership_remove(membership=owner_row, actor=as_member(acme, admin))
        services.membership_add(org=acme, email="second.owner@acme.example", role=OrgRole.OWNER,
                                actor=as_member(acme, olivia))
        assert Membership.objects.filter(role=OrgRole.OWNER).count() == 2


def test_an_api_key_with_members_manage_cannot_add_an_owner_or_a_role_beyond_its_scopes(acme):
    key = api_client(make_key(acme, scopes=["members.manage", "policy.read"]))
    owner = key.post("/api/v1/members", {"email": "x@acme.example", "role": "owner"}, format="json")
    assert owner.status_code == 403 and owner.json()["code"] == "owner_only"
    admin = key.post("/api/v1/members", {"email": "x@acme.example", "role": "admin"}, format="json")
    assert admin.status_code == 403 and admin.json()["code"] == "escalation_refused"
    with scope.org_scope(acme.id):
        assert not Membership.objects.filter(user__email="x@acme.example").exists()


def test_a_security_admin_cannot_grant_itself_or_others_what_it_lacks(acme, sam, alice):
    with scope.org_scope(acme.id):
        for target in (sam, alice):
            with pytest.raises(PermissionRefused):
                services.grant_create(org=acme, user=target, permission="billing.manage", effect="allow",
                                      actor=as_member(acme, sam))
            with pytest.raises(PermissionRefused):
                services.project_grant(project=default_project(acme), user=target, permission="policy.write",
                                       actor=as_member(acme, sam))
        # What it holds it may grant (to a member only).
        services.grant_create(org=acme, user=alice, permission="audit.read", effect="allow", actor=as_member(acme, sam))
        with pytest.raises(services.TenancyError, match="Only members"):
            services.grant_create(org=acme, user=UserFactory(), permission="audit.read", effect="allow",
                                  actor=as_member(acme, sam))


def test_a_key_cannot_mint_a_broader_key_and_a_person_only_delegates_what_they_hold(acme, sam):
    with scope.org_scope(acme.id):
        project = default_project(acme)
        narrow = make_key(acme, scopes=["keys.manage", "decisions.run"])
        key_actor = ApiKeyPrincipal(key=ApiKey.objects.get(pk=narrow.key.pk), org=acme, project=project)
        with pytest.raises(PermissionRefused):
            services.apikey_create(project=project, name="wider", scopes=["decisions.run", "billing.read"],
                                   actor=key_actor)
        with pytest.raises(PermissionRefused):
            services.apikey_create(project=project, name="sam's", scopes=["decisions.run"], actor=as_member(acme, sam))
        created = services.apikey_create(project=project, name="sam's", scopes=["audit.read"],
                                         actor=as_member(acme, sam))
        assert created.key.created_by == sam


def test_keys_stop_working_when_their_creator_loses_a_delegated_scope(acme, sam, olivia):
    with scope.org_scope(acme.id):
        project = default_project(acme)
        mine = services.apikey_create(project=project, name="ops", scopes=["audit.read", "keys.manage"],
                                      actor=as_member(acme, sam))
        other = services.apikey_create(project=project, name="other", scopes=["audit.read"], actor="system:test")
        services.grant_create(org=acme, user=sam, permission="audit.read", effect="deny", actor=as_member(acme, olivia))
        mine.key.refresh_from_db()
        other.key.refresh_from_db()
        assert mine.key.revoked_at is not None and other.key.revoked_at is None
    response = api_client(mine).get("/api/v1/me")
    assert response.status_code == 401 and response.json()["code"] == "api_key_revoked"
    with scope.org_scope(acme.id):
        services.membership_remove(membership=Membership.objects.get(user=sam), actor=as_member(acme, olivia))
        assert not ApiKey.objects.filter(created_by=sam, revoked_at__isnull=True).exists()


def test_platform_roles_are_given_by_a_platform_superuser_only(acme, olivia):
    target = UserFactory(email="newstaff@decisionos.example")
    with pytest.raises(PermissionRefused):
        services.platform_role_grant(user=target, role="platform_ops", actor=as_member(acme, olivia))
    key = make_key(acme, scopes=["members.manage"])
    with scope.org_scope(acme.id):
        key_actor = ApiKeyPrincipal(key=ApiKey.objects.get(pk=key.key.pk), org=acme)
    with pytest.raises(PermissionRefused):
        services.platform_role_grant(user=target, role="platform_ops", actor=key_actor)
    assert services.platform_role_grant(user=target, role="platform_ops", actor="system:test").role == "platform_ops"


def test_new_members_are_not_made_staff(acme, olivia):
    with scope.org_scope(acme.id):
        membership = services.membership_add(org=acme, email="Someone@Example.org", role=OrgRole.AGENT,
                                             actor=as_member(acme, olivia))
    assert membership.user.is_staff is False and membership.user.email == "someone@example.org"
