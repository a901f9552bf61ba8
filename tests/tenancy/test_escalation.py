"""Nobody grants what they do not hold: memberships, grants, project grants, API keys and platform
roles, for every actor kind (a member, an API key, a platform principal). Owners only by owners."""

import pytest

from dos import scope
from dos.authz import PermissionRefused
from tenancy import services
from tenancy.choices import OrgRole
from tenancy.models import ApiKey, Grant, Membership
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


def test_a_key_minted_by_a_key_never_outlives_it(acme):
    import datetime as dt

    from django.utils import timezone

    parent = make_key(acme, scopes=["keys.manage", "decisions.run"],
                      expires_at=timezone.now() + dt.timedelta(hours=1))
    project = default_project(acme)
    minted = api_client(parent).post(f"/api/v1/projects/{project.id}/api-keys",
                                     {"name": "child", "scopes": ["decisions.run"]}, format="json")
    assert minted.status_code == 201
    child = minted.json()
    assert child["expires_at"] is not None  # capped at the parent's expiry
    with scope.org_scope(acme.id):
        services.apikey_revoke(key=ApiKey.objects.get(pk=parent.key.pk), actor="system:test")
        assert ApiKey.objects.get(pk=child["id"]).revoked_at is not None
    assert api_client_for(child["secret"]).get("/api/v1/me").status_code == 401


def api_client_for(secret):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def test_a_security_admin_cannot_narrow_an_owner_and_an_owner_lifts_any_deny(acme, sam, olivia):
    with scope.org_scope(acme.id):
        with pytest.raises(PermissionRefused) as refused:
            services.grant_create(org=acme, user=olivia, permission="members.manage", effect="deny",
                                  actor=as_member(acme, sam))
        assert refused.value.code == "owner_only"
        deny = services.grant_create(org=acme, user=olivia, permission="members.manage", effect="deny",
                                     actor="system:test")
        services.grant_revoke(grant=deny, actor=as_member(acme, olivia))  # the owner is never locked out
        assert not Grant.objects.filter(pk=deny.pk).exists()


def test_platform_staff_can_look_at_accounts_but_only_a_superuser_changes_them(client):
    from tenancy.models import PlatformRole
    from tests.factories import verified_client

    root = UserFactory(email="root@decisionos.example", is_superuser=True)
    ops = UserFactory(email="ops@decisionos.example")
    PlatformRole.objects.create(user=ops, role="platform_ops")
    browser = verified_client(client, ops)
    assert browser.get(f"/admin/tenancy/user/{root.pk}/change/").status_code == 200
    refused = browser.post(f"/admin/tenancy/user/{root.pk}/change/", {"email": "evil@example.org", "full_name": "x"})
    assert refused.status_code == 403
    assert browser.get(f"/admin/tenancy/user/{root.pk}/password/").status_code in (302, 404)
    root.refresh_from_db()
    assert root.email == "root@decisionos.example" and root.is_active
