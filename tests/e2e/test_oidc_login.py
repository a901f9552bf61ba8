"""Browser sign-in end to end: headless Debian chromium (Playwright) → the admin → the local OIDC
provider (npm oidc-provider, a real OP) → back to DecisionOS → TOTP enrolment → an admin scoped to
the person's org."""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from django_otp.oath import totp

from dos import scope
from dos.models import LedgerEntry
from tenancy import services

ROOT = Path(__file__).resolve().parents[2]
IDP = ROOT / "dos/devstack/idp"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "correct-horse-battery-staple"

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def idp(live_server, tmp_path, settings):
    port = _free_port()
    accounts = tmp_path / "accounts.json"
    accounts.write_text(json.dumps([
        {"sub": "idp-alice", "email": "alice@acme.example", "password": PASSWORD, "name": "Alice Reviewer",
         "roles": ["acme:reviewer"]},
        {"sub": "idp-mallory", "email": "mallory@outsider.example", "password": PASSWORD, "name": "Mallory",
         "roles": ["outsider:owner"]},
    ]))
    env = {**os.environ, "DOS_IDP_PORT": str(port), "DOS_IDP_ACCOUNTS": str(accounts),
           "DOS_IDP_CLIENT_ID": "e2e-client", "DOS_IDP_CLIENT_SECRET": "e2e-secret",
           "DOS_IDP_REDIRECT_URIS": f"{live_server.url}/oidc/callback/"}
    proc = subprocess.Popen(["node", str(IDP / "server.mjs")], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout:
        if "dev IdP ready" in line:
            break
    else:
        pytest.fail(f"the local IdP did not start (exit {proc.wait()})")
    issuer = f"http://127.0.0.1:{port}"
    settings.OIDC_RP_CLIENT_ID = "e2e-client"
    settings.OIDC_RP_CLIENT_SECRET = "e2e-secret"
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = f"{issuer}/auth"
    settings.OIDC_OP_TOKEN_ENDPOINT = f"{issuer}/token"
    settings.OIDC_OP_USER_ENDPOINT = f"{issuer}/me"
    settings.OIDC_OP_JWKS_ENDPOINT = f"{issuer}/jwks"
    settings.AUTHENTICATION_BACKENDS = ["tenancy.oidc.DosOIDCBackend", "django.contrib.auth.backends.ModelBackend"]
    yield issuer
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def browser_page(monkeypatch):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the ORM calls the test makes are
    # still synchronous, so Django's async-safety guard does not apply here.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.set_default_timeout(20_000)
        yield page
        browser.close()


def _sign_in_with_sso(page, base: str, email: str) -> None:
    page.goto(f"{base}/admin/")
    page.click("#sso-login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("#sign-in")
    page.wait_for_url(f"{base}/account/otp/**")


def test_oidc_then_totp_then_an_admin_scoped_to_the_users_org(live_server, idp, browser_page, acme, outsider):
    with scope.org_scope(acme.id):
        services.project_create(org=acme, name="Acme mortgages", actor="system:test")
    with scope.org_scope(outsider.id):
        services.project_create(org=outsider, name="Outsider secret pipeline", actor="system:test")
    page, base = browser_page, live_server.url

    _sign_in_with_sso(page, base, "alice@acme.example")
    assert "Set up two-step verification" in page.content()

    # Signed in, but without a second factor no admin page opens.
    page.goto(f"{base}/admin/tenancy/project/")
    page.wait_for_url(f"{base}/account/otp/**")

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
    assert {"auth.login", "auth.otp_enrolled"} <= actions


def test_a_wrong_idp_password_never_reaches_decisionos(live_server, idp, browser_page, acme):
    page, base = browser_page, live_server.url
    page.goto(f"{base}/admin/")
    page.click("#sso-login")
    page.fill("#email", "alice@acme.example")
    page.fill("#password", "not-the-password")
    page.click("#sign-in")
    assert "Wrong e-mail or password" in page.content()
    assert page.url.startswith(idp)
