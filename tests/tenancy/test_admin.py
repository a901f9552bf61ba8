"""The back office is scoped like the API: TOTP first, then only the user's org (SPEC §5, §6)."""

import re

import pytest

from dos import scope
from dos.models import LedgerEntry
from tenancy.models import PLATFORM_ORG_ID, ApiKey, PlatformRole, Project
from tests.factories import UserFactory, make_key, query_count, verified_client

pytestmark = pytest.mark.django_db


def test_a_staff_user_without_totp_cannot_reach_admin_pages(client, alice):
    client.force_login(alice)
    response = client.get("/admin/tenancy/project/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    login = client.get(response["Location"])
    assert login.status_code == 302 and login["Location"].startswith("/account/otp/")
    otp_page = client.get(login["Location"])
    assert otp_page.status_code == 200
    assert b"Set up two-step verification" in otp_page.content


def pass_the_enrolment_token_step(client) -> None:
    """The first enrolment starts with the set-up code e-mailed to the person (tenancy.otp)."""
    from django.core import mail

    client.get("/account/otp/")
    token = re.search(r"Set-up code: ([A-Z0-9-]+)", mail.outbox[-1].body).group(1)
    assert client.post("/account/otp/", {"enrolment_token": token}).status_code == 302
    client.get("/account/otp/")


def test_a_wrong_totp_code_is_refused_and_audited(client, alice, acme):
    client.force_login(alice)
    pass_the_enrolment_token_step(client)
    response = client.post("/account/otp/", {"token": "000000"})
    assert response.status_code == 400
    assert client.get("/admin/").status_code == 302
    with scope.org_scope(acme.id):
        assert LedgerEntry.objects.filter(chain="audit", action="auth.otp_failed").exists()


def test_totp_enrolment_with_a_valid_code_opens_the_admin(client, alice):
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    client.force_login(alice)
    pass_the_enrolment_token_step(client)
    device = TOTPDevice.objects.get(user=alice)
    response = client.post("/account/otp/", {"token": f"{totp(device.bin_key):06d}", "next": "/admin/"})
    assert response.status_code == 200
    codes = re.findall(r"<li>([0-9a-f]{8})</li>", response.content.decode())
    assert len(codes) == 10
    assert client.get("/admin/").status_code == 200


def test_password_login_is_for_break_glass_superusers_only(client, alice):
    alice.set_password("correct horse battery staple")
    alice.save()
    response = client.post("/admin/login/", {"username": alice.email, "password": "correct horse battery staple",
                                             "otp_token": "123456"})
    assert response.status_code == 200
    assert b"break-glass" in response.content


def test_members_see_only_their_orgs_rows(client, olivia, mallory, acme, outsider):
    acme_key = make_key(acme, name="acme production")
    make_key(outsider, name="outsider production")
    acme_page = verified_client(client, olivia).get("/admin/tenancy/apikey/").content.decode()
    assert "acme production" in acme_page and "outsider production" not in acme_page

    client.logout()
    mallory_client = verified_client(client, mallory)
    page = mallory_client.get("/admin/tenancy/apikey/").content.decode()
    assert "outsider production" in page and "acme production" not in page
    # Opening Acme's key by id behaves as if it did not exist.
    response = mallory_client.get(f"/admin/tenancy/apikey/{acme_key.key.id}/change/")
    assert response.status_code == 302 and response["Location"] == "/admin/"
    audit = mallory_client.get("/admin/dos/ledgerentry/").content.decode()
    assert "apikey:" + acme_key.key.prefix not in audit


def test_a_reviewer_sees_no_key_or_audit_screens(client, alice):
    c = verified_client(client, alice)
    assert c.get("/admin/tenancy/apikey/").status_code == 403
    assert c.get("/admin/dos/ledgerentry/").status_code == 403
    assert c.get("/admin/tenancy/project/").status_code == 200


def test_revoking_keys_asks_for_confirmation_first(client, olivia, acme):
    created = make_key(acme, name="ci runner")
    c = verified_client(client, olivia)
    data = {"action": "revoke_selected", "_selected_action": [str(created.key.id)]}
    confirm = c.post("/admin/tenancy/apikey/", data)
    assert confirm.status_code == 200 and b"Yes, revoked 1" in confirm.content
    with scope.org_scope(acme.id):
        assert ApiKey.objects.get(id=created.key.id).revoked_at is None
    c.post("/admin/tenancy/apikey/", {**data, "confirmed": "yes"})
    with scope.org_scope(acme.id):
        assert ApiKey.objects.get(id=created.key.id).revoked_at is not None
        assert LedgerEntry.objects.filter(chain="audit", action="apikey.revoked",
                                          target=f"apikey:{created.key.prefix}").exists()


def test_creating_a_key_in_the_admin_shows_the_secret_once(client, olivia, acme):
    with scope.org_scope(acme.id):
        project = Project.objects.get(org=acme, slug="default")
    c = verified_client(client, olivia)
    response = c.post("/admin/tenancy/apikey/add/", {"project": project.id, "name": "from admin",
                                                     "scopes": ["decisions.run"]})
    secret = re.search(r'id="api-key-secret"[^>]*>(dos_[0-9a-f]{12}_[^<]+)<', response.content.decode()).group(1)
    listing = c.get("/admin/tenancy/apikey/").content.decode()
    assert "from admin" in listing and secret not in listing


def test_platform_staff_see_every_org_and_each_use_is_audited(client, acme, outsider):
    staff = UserFactory(email="ops@decisionos.example")
    PlatformRole.objects.create(user=staff, role="platform_ops")
    page = verified_client(client, staff).get("/admin/tenancy/project/")
    body = page.content.decode()
    assert "Acme Lending" in body and "Outsider Co" in body  # org column
    assert "Platform scope" in body
    with scope.platform_scope(reason="test: read platform audit"):
        uses = LedgerEntry.objects.filter(org_id=PLATFORM_ORG_ID, action="platform_scope.used",
                                          data__reason__startswith="admin GET /admin/tenancy/project/")
        assert uses.exists()


def test_the_project_changelist_runs_a_constant_number_of_queries(client, olivia, acme):
    from tenancy import services

    c = verified_client(client, olivia)
    query_count(c, "/admin/tenancy/project/")  # warm-up: session and caches
    few = query_count(c, "/admin/tenancy/project/")
    with scope.org_scope(acme.id):
        for i in range(8):
            services.project_create(org=acme, name=f"Project {i}", actor="system:test")
    assert query_count(c, "/admin/tenancy/project/") == few


def test_verify_chain_reports_an_intact_chain(client, olivia):
    c = verified_client(client, olivia)
    response = c.post("/admin/dos/ledgerentry/verify/", follow=True)
    assert b"intact" in response.content


def test_actions_are_offered_only_with_their_permission(client, alice, olivia):
    reviewer_page = verified_client(client, alice).get("/admin/tenancy/project/").content.decode()
    assert "archive_selected" not in reviewer_page
    client.logout()
    owner_page = verified_client(client, olivia).get("/admin/tenancy/project/").content.decode()
    assert "archive_selected" in owner_page
