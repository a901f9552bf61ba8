"""Shared e2e fixtures: the local OIDC provider (npm oidc-provider) on a free port, and headless
Debian chromium driven by Playwright; helpers that sign a person in through SSO and TOTP."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from django_otp.oath import totp

ROOT = Path(__file__).resolve().parents[2]
IDP = ROOT / "devstack/idp"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "correct-horse-battery-staple"
IDP_ACCOUNTS = [
    {"sub": "idp-alice", "email": "alice@acme.example", "password": PASSWORD, "name": "Alice Reviewer",
     "roles": ["acme:reviewer"]},
    {"sub": "idp-mallory", "email": "mallory@outsider.example", "password": PASSWORD, "name": "Mallory",
     "roles": ["outsider:owner"]},
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def idp(live_server, tmp_path, settings):
    port = _free_port()
    accounts = tmp_path / "accounts.json"
    accounts.write_text(json.dumps(IDP_ACCOUNTS))
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


def sign_in_with_sso(page, base: str, email: str) -> None:
    page.goto(f"{base}/admin/")
    page.click("#sso-login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("#sign-in")
    page.wait_for_url(f"{base}/account/otp/**")




def enter_enrolment_token(page) -> None:
    """A first enrolment starts with the one-time set-up code e-mailed to the person (the test mail
    backend keeps it in django.core.mail.outbox, which the live server shares)."""
    from django.core import mail

    token = re.search(r"Set-up code: ([A-Z0-9-]+)", mail.outbox[-1].body).group(1)
    page.fill("#enrolment-token", token)
    page.click("#enrolment-token-form button[type=submit]")
    page.wait_for_selector("#totp-secret")


def enrol_totp(page, base: str) -> None:
    """On the TOTP enrolment page after SSO: enter the e-mailed set-up code, read the secret, prove a
    code, continue to the admin."""
    enter_enrolment_token(page)
    secret = page.inner_text("#totp-secret")
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    page.fill("#token", f"{totp(key):06d}")
    page.click("#otp-form button[type=submit]")
    page.click("#continue")
    page.wait_for_url(f"{base}/admin/**")
