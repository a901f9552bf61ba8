"""Human review end to end in headless chromium: a lending application that needs a person opens a
case, routed to the documents queue and its only reviewer with that skill; she signs in (SSO +
TOTP), finds it in My work, approves it with the keyboard; the decision is finalized with an
override record and `dosctl audit verify` passes for the audit and decisions chains."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from decisions.choices import RecordKind
from decisions.models import DecisionRecord
from dos import cli, scope
from dos.models import OutboxEvent
from hitl.models import Case
from tests.conftest import api_client
from tests.decisions.test_decide_api import decide
from tests.e2e.conftest import ROOT, enrol_totp, sign_in_with_sso
from tests.factories import make_key

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _dosctl(capsys, *args) -> dict:
    capsys.readouterr()
    assert cli.main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_reviewer_approves_a_routed_case_in_the_admin(live_server, idp, browser_page, capsys, acme, lending, desk,
                                                        alice):
    decided = decide(api_client(make_key(acme, scopes=["decisions.run"])), documents_missing=["income_proof"]).json()
    assert decided["outcome"] == "review" and decided["case_id"]
    with scope.org_scope(acme.id):
        case = Case.objects.select_related("queue", "owner").get(pk=decided["case_id"])
        assert (case.queue.name, case.owner.email) == ("documents", "alice@acme.example")

    page, base = browser_page, live_server.url
    sign_in_with_sso(page, base, "alice@acme.example")
    enrol_totp(page, base)
    page.click("#dos-inbox-links >> text=My work")
    page.wait_for_selector("#result_list")
    assert page.locator("#result_list a.case-link").all_inner_texts() == [f"#{case.number}"]

    page.keyboard.press("j")  # highlight the first case, open it with the keyboard
    page.keyboard.press("o")
    page.wait_for_selector("#case-page")
    assert "DOCS_MISSING" in page.inner_text("#reason-codes")
    assert page.locator("#rule-path tr.fired").count() >= 1

    page.keyboard.press("?")
    assert page.is_visible("#kb-help")
    page.keyboard.press("Escape")
    page.once("dialog", lambda dialog: dialog.accept())
    page.keyboard.press("a")
    page.wait_for_selector("#case-outcome")
    assert page.inner_text("#case-status") == "Closed" and page.inner_text("#case-outcome") == "approve"
    page.screenshot(path=str(Path(os.environ.get("DOS_VAR_DIR", ROOT / "var")) / "e2e-review-desk.png"))

    with scope.org_scope(acme.id):
        final = DecisionRecord.objects.get(kind=RecordKind.OVERRIDE)
        assert (final.outcome, final.refs["overrides"], final.refs["case_id"]) == (
            "approve", decided["decision_id"], str(case.id))
        assert OutboxEvent.objects.filter(topic="decision.finalized").count() == 1
    for chain in ("audit", "decisions"):
        report = _dosctl(capsys, "audit", "verify", "--org", "acme", "--chain", chain)
        assert report["ok"] and report["chains"][0]["checked"] > 0, chain
