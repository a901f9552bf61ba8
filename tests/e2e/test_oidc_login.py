"""Browser sign-in end to end: headless Debian chromium (Playwright) → the admin → the local OIDC
provider (npm oidc-provider, a real OP) → back to DecisionOS → TOTP enrolment → an admin scoped to
the person's org."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from django_otp.oath import totp

from dos import scope
from dos.models import LedgerEntry
from tenancy import services
from tests.e2e.conftest import ROOT, enter_enrolment_token, sign_in_with_sso

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_oidc_then_totp_then_an_admin_scoped_to_the_users_org(live_server, idp, browser_page, acme, outsider):
    with scope.org_scope(acme.id):
        services.project_create(org=acme, name="Acme mortgages", actor="system:test")
    with scope.org_scope(outsider.id):
        services.project_create(org=outsider, name="Outsider secret pipeline", actor="system:test")
    page, base = browser_page, live_server.url

    sign_in_with_sso(page, base, "alice@acme.example")
    assert "Set up two-step verification" in page.content()

    # Signed in, but without a second factor no admin page opens.
    page.goto(f"{base}/admin/tenancy/project/")
    page.wait_for_url(f"{base}/account/otp/**")
    # The authenticator key is shown only after the set-up code e-mailed to the person.
    assert page.locator("#totp-secret").count() == 0
    enter_enrolment_token(page)

    secret = page.inner_text("#totp-secret")
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    page.fill("#token", f"{totp(key):06d}")
    page.click("#otp-form button[type=submit]")
    assert len(page.locator("#backup-codes li").all()) == 10
    page.click("#continue")
    page.wait_for_url(f"{base}/admin/**")

    page.goto(f"{base}/admin/tenancy/project/")
    body = page.content()
    assert "Acme mortgages" in body
    assert "Outsider secret pipeline" not in body
    assert page.locator("#dos-org-switch select option:checked").inner_text() == "Acme Lending"
    page.screenshot(path=str(Path(os.environ.get("DOS_VAR_DIR", ROOT / "var")) / "e2e-admin-projects.png"))

    with scope.org_scope(acme.id):
        actions = set(LedgerEntry.objects.filter(chain="audit").values_list("action", flat=True))
    assert {"auth.login", "auth.otp_enrolment_token_sent", "auth.otp_enrolment_token_used", "auth.otp_enrolled"} <= actions


def test_a_wrong_idp_password_never_reaches_decisionos(live_server, idp, browser_page, acme):
    page, base = browser_page, live_server.url
    page.goto(f"{base}/admin/")
    page.click("#sso-login")
    page.fill("#email", "alice@acme.example")
    page.fill("#password", "not-the-password")
    page.click("#sign-in")
    assert "Wrong e-mail or password" in page.content()
    assert page.url.startswith(idp)
