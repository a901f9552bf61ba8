"""Identity edges: who may sign in through SSO, and the first TOTP enrolment after it.

alice (Acme reviewer) signs in through the IdP; a superuser is a break-glass account that never
does; mallory (Outsider) tries to take over accounts by presenting their e-mail with her own subject.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.db import SessionStore
from django.core import mail
from django.core.management import call_command
from django.test import Client, RequestFactory
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from dos import scope
from dos.models import LedgerEntry
from tenancy import services
from tenancy.models import PLATFORM_ORG_ID, User
from tenancy.oidc import DosOIDCBackend
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def backend(settings):
    for name in ("OIDC_OP_AUTHORIZATION_ENDPOINT", "OIDC_OP_TOKEN_ENDPOINT", "OIDC_OP_USER_ENDPOINT",
                 "OIDC_OP_JWKS_ENDPOINT"):
        setattr(settings, name, f"http://idp.test/{name.lower()}")
    settings.OIDC_RP_CLIENT_ID, settings.OIDC_RP_CLIENT_SECRET = "client", "secret"
    return DosOIDCBackend()


def sign_in(backend, claims: dict):
    """What the OIDC callback does once the IdP's tokens are verified: resolve the account."""
    request = RequestFactory().get("/oidc/callback/", REMOTE_ADDR="203.0.113.7")
    request.session = SessionStore()
    request._messages = FallbackStorage(request)
    backend.request = request
    backend.get_userinfo = lambda *args: claims
    return backend.get_or_create_user("access", "id", {}), [str(m) for m in get_messages(request)]


def claims_for(email: str, sub: str, *, verified=True, roles=None) -> dict:
    claims = {"sub": sub, "email": email, "name": email.split("@")[0].title(), "dos_roles": roles or []}
    if verified is not None:
        claims["email_verified"] = verified
    return claims


def audit_actions(org_id, action: str) -> list[dict]:
    with scope.org_scope(org_id):
        return list(LedgerEntry.objects.filter(chain="audit", action=action).order_by("seq").values_list("data", flat=True))


def set_org_setting(org, key, value):
    with scope.org_scope(org.id):
        org.refresh_from_db()
        org.settings = {**org.settings, key: value}
        services.org_update(org=org, fields=["settings"], actor="system:test")


# -- e-mail verification ------------------------------------------------------------------------

@pytest.mark.parametrize("verified", [False, "false", None], ids=["false", "the string false", "claim absent"])
def test_it_refuses_an_unverified_email(backend, acme, verified):
    user, shown = sign_in(backend, claims_for("newcomer@acme.example", "idp-new", verified=verified,
                                              roles=["acme:reviewer"]))
    assert user is None
    assert not User.objects.filter(email="newcomer@acme.example").exists()
    assert any("not verified your e-mail" in m for m in shown)
    assert audit_actions(PLATFORM_ORG_ID, "auth.oidc_refused")[-1]["reason"] == "email_unverified"


def test_it_accepts_the_string_true_some_providers_send(backend, acme):
    user, _ = sign_in(backend, claims_for("newcomer@acme.example", "idp-new", verified="true"))
    assert user is not None and user.oidc_subject == "idp-new"


def test_an_org_may_turn_the_requirement_off_and_that_is_audited(backend, acme, alice):
    set_org_setting(acme, "oidc_require_email_verified", False)
    [change] = [d for d in audit_actions(acme.id, "org.updated") if "security_settings" in d]
    assert change["security_settings"] == {"oidc_require_email_verified": {"from": True, "to": False}}

    user, _ = sign_in(backend, claims_for(alice.email, "idp-alice", verified=False, roles=["acme:reviewer"]))
    assert user == alice
    assert audit_actions(acme.id, "auth.oidc_unverified_email_accepted")


def test_the_switch_of_one_org_does_not_open_another(backend, acme, outsider):
    set_org_setting(acme, "oidc_require_email_verified", False)
    user, _ = sign_in(backend, claims_for("both@acme.example", "idp-both", verified=False,
                                          roles=["acme:reviewer", "outsider:owner"]))
    assert user is None
    user, _ = sign_in(backend, claims_for("both@acme.example", "idp-both", verified=False, roles=["acme:reviewer"]))
    assert user is not None


def test_the_setting_only_takes_true_or_false(acme):
    with pytest.raises(services.TenancyError, match="oidc_require_email_verified"):
        set_org_setting(acme, "oidc_require_email_verified", "no")


# -- subject binding ----------------------------------------------------------------------------

def test_it_never_rebinds_an_account_to_another_subject(backend, acme, alice):
    alice.oidc_subject = "idp-alice"
    alice.save(update_fields=["oidc_subject"])
    user, shown = sign_in(backend, claims_for(alice.email, "idp-mallory"))
    assert user is None
    alice.refresh_from_db()
    assert alice.oidc_subject == "idp-alice"
    assert any("linked to a different identity" in m for m in shown)
    refused = audit_actions(acme.id, "auth.oidc_refused")[-1]
    assert refused["reason"] == "subject_mismatch"
    assert "idp-mallory" not in str(refused) and alice.email not in str(refused)


def test_the_linked_subject_signs_in_even_after_an_email_change_at_the_idp(backend, acme, alice):
    alice.oidc_subject = "idp-alice"
    alice.save(update_fields=["oidc_subject"])
    user, _ = sign_in(backend, claims_for("alice.new@acme.example", "idp-alice"))
    assert user == alice


def test_the_first_sso_sign_in_links_an_invited_account_and_says_so(backend, acme, alice):
    assert alice.oidc_subject == ""
    user, _ = sign_in(backend, claims_for(alice.email.upper(), "idp-alice"))
    assert user == alice
    alice.refresh_from_db()
    assert alice.oidc_subject == "idp-alice"
    assert audit_actions(acme.id, "auth.oidc_linked")


# -- break-glass accounts -------------------------------------------------------------------------

def test_a_superuser_is_never_matched_by_email(backend, acme):
    root = User.objects.create_superuser(email="root@acme.example", password="a long enough password 1")
    user, shown = sign_in(backend, claims_for("root@acme.example", "idp-root"))
    assert user is None
    root.refresh_from_db()
    assert root.oidc_subject == ""
    assert User.objects.filter(email="root@acme.example").count() == 1
    assert any("Break-glass" in m for m in shown)
    assert audit_actions(PLATFORM_ORG_ID, "auth.oidc_refused")[-1]["reason"] == "superuser"


def test_a_superuser_linked_to_a_subject_still_cannot_use_sso(backend, acme):
    User.objects.create_superuser(email="root@acme.example", password="a long enough password 1",
                                  oidc_subject="idp-root")
    user, _ = sign_in(backend, claims_for("someone@acme.example", "idp-root"))
    assert user is None


# -- the first TOTP enrolment needs the e-mailed token ---------------------------------------------

def signed_in(user) -> Client:
    client = Client(REMOTE_ADDR="203.0.113.7")
    client.force_login(user)
    return client


def mailed_token(to: str) -> str:
    [message] = [m for m in mail.outbox if to in m.to]
    return re.search(r"Set-up code: ([A-Z0-9-]+)", message.body).group(1)


def totp_secret(page) -> bytes:
    device = TOTPDevice.objects.get(user=page.wsgi_request.user, confirmed=False)
    return device.bin_key


def test_the_first_enrolment_asks_for_the_token_emailed_to_the_person(acme, alice):
    client = signed_in(alice)
    page = client.get("/account/otp/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "enrolment-token" in body and "totp-secret" not in body
    assert not TOTPDevice.objects.filter(user=alice).exists()  # no authenticator key before the token
    token = mailed_token(alice.email)
    assert token not in body
    assert client.get("/account/otp/").status_code == 200
    assert len(mail.outbox) == 1  # reloading the page does not send another

    assert client.post("/account/otp/", {"enrolment_token": "WRONG-WRONG-WRON-GWRO"}).status_code == 400
    assert client.post("/account/otp/", {"enrolment_token": token.lower()}).status_code == 302
    page = client.get("/account/otp/")
    assert "totp-secret" in page.content.decode()
    done = client.post("/account/otp/", {"token": f"{totp(totp_secret(page)):06d}"})
    assert done.status_code == 200 and "backup-codes" in done.content.decode()
    assert TOTPDevice.objects.filter(user=alice, confirmed=True).exists()
    with scope.org_scope(acme.id):
        actions = list(LedgerEntry.objects.filter(chain="audit", action__startswith="auth.otp")
                       .order_by("seq").values_list("action", flat=True))
    assert actions == ["auth.otp_enrolment_token_sent", "auth.otp_enrolment_token_failed",
                       "auth.otp_enrolment_token_used", "auth.otp_enrolled"]


def test_the_enrolment_token_works_once(alice):
    first = signed_in(alice)
    first.get("/account/otp/")
    token = mailed_token(alice.email)
    assert first.post("/account/otp/", {"enrolment_token": token}).status_code == 302
    second = signed_in(alice)  # e.g. whoever else holds a session of alice's
    assert second.post("/account/otp/", {"enrolment_token": token}).status_code == 400
    assert "totp-secret" not in second.get("/account/otp/").content.decode()


def test_an_authenticator_code_cannot_skip_the_token(alice):
    client = signed_in(alice)
    client.get("/account/otp/")
    device = TOTPDevice.objects.create(user=alice, name="Authenticator app", confirmed=False)
    response = client.post("/account/otp/", {"token": f"{totp(device.bin_key):06d}"})
    assert response.status_code == 400
    device.refresh_from_db()
    assert not device.confirmed
    assert not TOTPDevice.objects.filter(user=alice, confirmed=True).exists()


def test_a_new_code_replaces_the_old_one(alice):
    client = signed_in(alice)
    client.get("/account/otp/")
    old = mailed_token(alice.email)
    mail.outbox.clear()
    client.post("/account/otp/", {"resend": "1"})
    new = mailed_token(alice.email)
    assert old != new
    assert client.post("/account/otp/", {"enrolment_token": old}).status_code == 400
    assert client.post("/account/otp/", {"enrolment_token": new}).status_code == 302


def test_a_pre_enrolled_account_signs_in_with_its_code_and_gets_no_token(alice):
    device = TOTPDevice.objects.create(user=alice, name="Dev authenticator", confirmed=True)
    client = signed_in(alice)
    page = client.get("/account/otp/")
    assert "enrolment-token" not in page.content.decode()
    assert mail.outbox == []
    assert client.post("/account/otp/", {"token": f"{totp(device.bin_key):06d}"}).status_code == 302


def test_an_administrators_reset_removes_the_authenticator_and_sends_a_new_token(acme, alice):
    TOTPDevice.objects.create(user=alice, name="Authenticator app", confirmed=True)
    call_command("otp", "reset", "--email", alice.email, "--reason", "SEC-42 lost phone")
    assert not TOTPDevice.objects.filter(user=alice).exists()
    token = mailed_token(alice.email)
    client = signed_in(alice)
    assert client.post("/account/otp/", {"enrolment_token": token}).status_code == 302
    with scope.org_scope(acme.id):
        [reset] = LedgerEntry.objects.filter(chain="audit", action="auth.otp_reset")
    assert "SEC-42" in reset.data["by"]


def test_a_token_is_never_sent_to_someone_already_enrolled_without_a_reset(alice):
    TOTPDevice.objects.create(user=alice, name="Authenticator app", confirmed=True)
    with pytest.raises(Exception, match="otp reset"):
        call_command("otp", "send-token", "--email", alice.email)
    assert mail.outbox == []


def test_people_created_by_sso_are_never_superusers_and_have_no_second_factor_yet(backend, acme):
    user, _ = sign_in(backend, claims_for("new@acme.example", "idp-new", roles=["acme:reviewer"]))
    assert not user.is_superuser and user.oidc_subject == "idp-new"
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert UserFactory._meta.model.objects.filter(email="new@acme.example").count() == 1


def test_an_operator_unlinks_a_recreated_idp_account_and_the_next_sign_in_links_the_new_one(backend, acme, alice):
    alice.oidc_subject = "idp-alice-old"
    alice.save(update_fields=["oidc_subject"])
    call_command("otp", "unlink-sso", "--email", alice.email, "--reason", "SEC-7 IdP account recreated")
    user, _ = sign_in(backend, claims_for(alice.email, "idp-alice-new", roles=["acme:reviewer"]))
    assert user == alice
    alice.refresh_from_db()
    assert alice.oidc_subject == "idp-alice-new"
    assert audit_actions(acme.id, "auth.oidc_unlinked") and audit_actions(acme.id, "auth.oidc_linked")


def test_a_session_cannot_turn_the_set_up_page_into_a_mail_cannon(alice):
    from tenancy.otp import SELF_SENDS_PER_HOUR

    client = signed_in(alice)
    client.get("/account/otp/")
    for _ in range(SELF_SENDS_PER_HOUR - 1):
        assert client.post("/account/otp/", {"resend": "1"}).status_code == 200
    refused = client.post("/account/otp/", {"resend": "1"})
    assert refused.status_code == 429
    assert "Too many set-up codes" in refused.content.decode()
    assert len(mail.outbox) == SELF_SENDS_PER_HOUR
    assert client.post("/account/otp/", {"enrolment_token": mailed_token_latest(alice.email)}).status_code == 302


def test_a_mail_server_failure_is_a_message_not_a_500(alice, settings):
    settings.EMAIL_BACKEND = "tests.tenancy.test_oidc_edges.RefusingMailBackend"
    page = signed_in(alice).get("/account/otp/")
    assert page.status_code == 503
    assert "could not be e-mailed" in page.content.decode()


class RefusingMailBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("smtp down")


def mailed_token_latest(to: str) -> str:
    message = [m for m in mail.outbox if to in m.to][-1]
    return re.search(r"Set-up code: ([A-Z0-9-]+)", message.body).group(1)
