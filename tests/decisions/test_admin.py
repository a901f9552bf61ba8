import re

import pytest

from decisions import services
from decisions.models import PolicyVersion
from dos import scope
from tests.conftest import api_client
from tests.decisions.test_decide_api import decide
from tests.factories import as_member, default_project, make_key, query_count, verified_client

pytestmark = pytest.mark.django_db


def test_a_decision_page_shows_the_rule_path_and_the_explanation(client, olivia, acme, lending):
    decision_id = decide(api_client(make_key(acme, scopes=["decisions.run"])), dsr=48.5).json()["decision_id"]
    page = verified_client(client, olivia).get(f"/admin/decisions/decisionrecord/{decision_id}/change/")
    body = page.content.decode()
    assert page.status_code == 200 and 'id="rule-path"' in body
    assert "P010_dsr_high" in body and "FIRED" in body and "총부채원리금상환비율" in body


def test_the_author_cannot_approve_in_the_admin_but_a_second_person_can(client, olivia, bob, acme, lending):
    with scope.org_scope(acme.id):
        v2 = services.version_create(project=default_project(acme), source=lending.source.replace("40.0", "45.0"),
                                     semver="0.2.0", actor=as_member(acme, olivia))
        services.version_submit(version=v2, actor=as_member(acme, olivia))
    author = verified_client(client, olivia)
    response = author.post("/admin/decisions/policyversion/", {"action": "approve_selected",
                                                              "_selected_action": [str(v2.id)]}, follow=True)
    assert "second person" in response.content.decode()
    client.logout()
    verified_client(client, bob).post("/admin/decisions/policyversion/", {"action": "approve_selected",
                                                                         "_selected_action": [str(v2.id)]})
    with scope.org_scope(acme.id):
        assert PolicyVersion.objects.get(id=v2.id).status == "approved"


def test_the_diff_page_shows_what_changes_against_the_published_version(client, olivia, acme, lending):
    with scope.org_scope(acme.id):
        v2 = services.version_create(project=default_project(acme), source=lending.source.replace('"dsr > 40.0"', '"dsr > 35.0"'),
                                     semver="0.2.0", actor=as_member(acme, olivia))
    page = verified_client(client, olivia).get(f"/admin/decisions/policyversion/{v2.id}/diff/").content.decode()
    text = re.sub(r"<[^>]+>", "", page).replace("&nbsp;", " ").replace("&gt;", ">")
    assert 'id="policy-diff"' in page and 'class="diff_chg"' in page
    assert "dsr > 35.0" in text and "dsr > 40.0" in text and "0.1.0 (published)" in text


def test_an_outsider_sees_no_policies_or_decisions(client, mallory, acme, lending):
    decide(api_client(make_key(acme, scopes=["decisions.run"])))
    c = verified_client(client, mallory)
    for page in ("policyset", "policyversion", "decisionrecord"):
        response = c.get(f"/admin/decisions/{page}/")
        assert response.status_code == 200 and response.context_data["cl"].result_count == 0, page


def test_the_decisions_changelist_runs_a_constant_number_of_queries(client, olivia, acme, lending):
    api = api_client(make_key(acme, scopes=["decisions.run"]))
    decide(api)
    c = verified_client(client, olivia)
    query_count(c, "/admin/decisions/decisionrecord/")  # warm-up: session and caches
    before = query_count(c, "/admin/decisions/decisionrecord/")
    for i in range(6):
        decide(api, subject=f"more-{i}")
    assert query_count(c, "/admin/decisions/decisionrecord/") == before


def test_an_org_can_word_a_reason_code_its_own_way(client, olivia, acme, lending):
    from decisions.models import ReasonCode

    c = verified_client(client, olivia)
    page = c.get("/admin/decisions/reasoncode/").content.decode()
    assert 'id="system-reason-codes"' in page and "DSR_HIGH" in page
    c.post("/admin/decisions/reasoncode/add/", {"code": "DSR_HIGH", "category": "affordability",
                                                 "ko": "부채 비율이 기준을 넘었습니다.", "en": "Debt ratio too high."})
    with scope.org_scope(acme.id):
        assert ReasonCode.objects.get(code="DSR_HIGH").en == "Debt ratio too high."
    api = api_client(make_key(acme, scopes=["decisions.run", "decisions.read"]))
    decision_id = decide(api, dsr=48.5).json()["decision_id"]
    explained = api.get(f"/api/v1/decisions/{decision_id}/explain").json()
    assert explained["reasons"][0]["ko"] == "부채 비율이 기준을 넘었습니다."


def test_deleting_an_orgs_wording_goes_through_the_service_and_is_audited(client, olivia, acme, lending):
    from decisions.models import ReasonCode
    from dos.models import LedgerEntry

    c = verified_client(client, olivia)
    c.post("/admin/decisions/reasoncode/add/", {"code": "DSR_HIGH", "category": "affordability",
                                                 "ko": "부채 비율 초과", "en": "Debt ratio too high."})
    with scope.org_scope(acme.id):
        row = ReasonCode.objects.get(code="DSR_HIGH")
    c.post(f"/admin/decisions/reasoncode/{row.pk}/delete/", {"post": "yes"})
    with scope.org_scope(acme.id):
        assert not ReasonCode.objects.filter(code="DSR_HIGH").exists()
        assert LedgerEntry.objects.filter(chain="audit", action="reason_code.deleted",
                                          target="reason_code:DSR_HIGH").exists()
