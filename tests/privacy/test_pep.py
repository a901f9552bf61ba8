"""The policy enforcement point of purpose limitation at /decide and /decide/batch: a purpose not
covered by a consent of the subject (or by a lawful basis the org configured) is denied with
CONSENT_MISSING — or refused with 403, per org — and nothing is metered as a decision; a covered
purpose records the consent on the decision and on its chain entry."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing.models import MeterEvent
from decisions.models import DecisionRecord
from decisions.selectors import decision_replay
from dos import scope
from dos.authz import system_actor
from dos.models import LedgerEntry
from privacy.consent import (
    consent_covering,
    consent_expire_due,
    consent_grant,
    consent_revoke,
    privacy_settings_save,
    subject_token_of,
)
from privacy.consent.lookup import VERDICTS_SQL
from privacy.models import PrivacySettings
from tests.conftest import api_client
from tests.decisions.test_decide_api import BASE
from tests.factories import UserFactory, add_member, as_member, default_project, make_key, make_org

pytestmark = pytest.mark.django_db
SYSTEM = system_actor("test")


@pytest.fixture
def lender(acme, lending):
    return api_client(make_key(acme, scopes=["decisions.run", "decisions.read", "policy.read"], name="lender"))


def decide(client, subject="lead-1", purpose="loan_screening", **changes):
    return client.post("/api/v1/decide", {"subject_id": subject, "purpose": purpose, "input": {**BASE, **changes}},
                       format="json")


def mode(org, value, **more):
    """Set the consent mode; the lawful basis the ``lending`` fixture configures is taken away unless
    the test names its own."""
    more.setdefault("lawful_bases", {})
    with scope.org_scope(org.id):
        return privacy_settings_save(org_id=org.id, actor=SYSTEM, consent_mode=value, **more)


def grant(org, subject="lead-1", purposes=("loan_screening",), **kw):
    with scope.org_scope(org.id):
        return consent_grant(org_id=org.id, subject_token=subject_token_of(org.id, subject), purposes=purposes,
                             source="web_form:v3", actor=SYSTEM, **kw)


def metered(org) -> int:
    with scope.org_scope(org.id):
        return MeterEvent.objects.filter(org_id=org.id, metric="decision_calls").count()


def record_of(org, response) -> DecisionRecord:
    with scope.org_scope(org.id):
        return DecisionRecord.objects.get(id=response.json()["decision_id"])


def chain_entry(org, record) -> LedgerEntry:
    with scope.org_scope(org.id):
        return LedgerEntry.objects.get(org_id=org.id, chain="decisions", seq=record.ledger_seq)


def test_without_consent_the_decision_is_deny_consent_missing_recorded_chained_and_not_metered(lender, acme):
    mode(acme, "deny")
    response = decide(lender, credit_score=800)  # would be approved on the merits
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["outcome"], [r["code"] for r in body["reason_codes"]]) == ("deny", ["CONSENT_MISSING"])
    assert body["consent_ref"] == "" and body["rule_path"] == []
    record = record_of(acme, response)
    assert record.snapshot == {} and record.refs == {"consent": "missing"}  # the input was not processed
    assert chain_entry(acme, record).data["reason_codes"] == ["CONSENT_MISSING"]
    assert metered(acme) == 0
    with scope.org_scope(acme.id):
        replay = decision_replay(record)
    assert replay["match"] is True, replay


def test_with_consent_the_consent_id_is_on_the_record_and_its_chain_entry(lender, acme):
    mode(acme, "deny")
    consent = grant(acme)
    response = decide(lender, credit_score=800)
    assert (response.json()["outcome"], response.json()["consent_ref"]) == ("approve", str(consent.id))
    record = record_of(acme, response)
    assert record.consent_ref == str(consent.id)
    assert chain_entry(acme, record).data["consent"] == str(consent.id)
    assert metered(acme) == 1
    out = io.StringIO()
    call_command("audit", "verify", "--chain", "decisions", "--json", stdout=out)
    assert json.loads(out.getvalue())["ok"]


def test_a_consent_for_another_purpose_or_subject_does_not_cover(lender, acme):
    mode(acme, "deny")
    grant(acme, purposes=["marketing"])
    grant(acme, subject="lead-2")
    assert decide(lender).json()["reason_codes"][0]["code"] == "CONSENT_MISSING"


def test_refuse_mode_answers_403_problem_and_records_nothing(lender, acme):
    mode(acme, "refuse")
    response = decide(lender)
    assert response.status_code == 403
    assert response["Content-Type"].startswith("application/problem+json")
    assert response.json()["code"] == "consent_missing"
    with scope.org_scope(acme.id):
        assert not DecisionRecord.objects.filter(org_id=acme.id).exists()
    assert metered(acme) == 0


def test_a_lawful_basis_configured_for_the_purpose_needs_no_consent(lender, acme):
    mode(acme, "deny", lawful_bases={"fraud_check": "legal_obligation"})
    response = decide(lender, purpose="fraud_check", credit_score=800)
    assert (response.json()["outcome"], response.json()["consent_ref"]) == ("approve", "basis:legal_obligation")
    assert decide(lender).json()["reason_codes"][0]["code"] == "CONSENT_MISSING"  # loan_screening still needs one


@pytest.fixture
def newcomer():
    """A new org with the lending pack published that never saved privacy settings, and its key."""
    from decisions.packs.install import pack_install

    org = make_org("Newco Lending")
    owner, senior = UserFactory(), UserFactory()
    add_member(org, owner, "owner")
    add_member(org, senior, "senior_reviewer")
    with scope.org_scope(org.id):
        pack_install(project=default_project(org), domain="lending_brokerage", author=as_member(org, owner),
                     approver=as_member(org, senior))
    return org, api_client(make_key(org, scopes=["decisions.run", "decisions.read"], name="newcomer"))


def test_an_org_that_never_saved_privacy_settings_is_enforced(newcomer):
    org, client = newcomer
    with scope.org_scope(org.id):
        assert not PrivacySettings.objects.filter(org_id=org.id).exists()
    response = decide(client, credit_score=800)
    assert (response.json()["outcome"], response.json()["reason_codes"][0]["code"]) == ("deny", "CONSENT_MISSING")
    assert metered(org) == 0
    grant(org)
    assert decide(client, credit_score=800).json()["outcome"] == "approve"


def test_monitor_mode_decides_and_notes_the_missing_consent(lender, acme):
    mode(acme, "monitor")
    response = decide(lender, credit_score=800)
    assert response.json()["outcome"] == "approve"
    assert record_of(acme, response).refs.get("consent") == "missing"
    assert metered(acme) == 1


def test_revocation_takes_effect_for_the_next_decision(lender, acme):
    mode(acme, "deny")
    consent = grant(acme)
    assert decide(lender, credit_score=800).json()["outcome"] == "approve"
    with scope.org_scope(acme.id):
        consent_revoke(consent=consent, actor=SYSTEM, reason="withdrawn by phone")
    assert decide(lender, credit_score=800).json()["reason_codes"][0]["code"] == "CONSENT_MISSING"


def test_expiry_takes_effect_at_valid_until_and_the_sweep_records_it(lender, acme):
    mode(acme, "deny")
    now = timezone.now()
    # Recorded an hour ago, valid until a minute ago: it covered then, and covers nothing now —
    # before any sweep ran.
    lapsed = grant(acme, valid_from=now - timedelta(days=30), valid_until=now - timedelta(minutes=1),
                   now=now - timedelta(hours=1))
    with scope.org_scope(acme.id):
        assert consent_covering(org_id=acme.id, subject_token=lapsed.subject_token, purpose="loan_screening",
                                at=now - timedelta(minutes=2)) == lapsed
    assert decide(lender).json()["reason_codes"][0]["code"] == "CONSENT_MISSING"
    current = grant(acme, subject="lead-2", valid_until=now + timedelta(hours=1))
    assert decide(lender, subject="lead-2", credit_score=800).json()["consent_ref"] == str(current.id)
    with scope.org_scope(acme.id):
        assert consent_expire_due(org_id=acme.id, actor=SYSTEM, now=now) == 1  # the lapsed one only
        assert consent_expire_due(org_id=acme.id, actor=SYSTEM, now=now) == 0  # idempotent
        assert consent_expire_due(org_id=acme.id, actor=SYSTEM, now=now + timedelta(hours=2)) == 1
        for consent in (lapsed, current):
            [event] = consent.events.filter(kind="expired")
            assert event.at == consent.valid_until
        assert consent_covering(org_id=acme.id, subject_token=current.subject_token, purpose="loan_screening",
                                at=now + timedelta(hours=2)) is None


def test_batch_denies_refuses_and_meters_only_what_was_evaluated(lender, acme):
    mode(acme, "deny")
    consent = grant(acme, subject="lead-ok")
    items = [{"subject_id": "lead-ok", "purpose": "loan_screening", "input": {**BASE, "credit_score": 800}},
             {"subject_id": "lead-none", "purpose": "loan_screening", "input": BASE},
             {"subject_id": "lead-ok", "purpose": "loan_screening", "input": {**BASE, "dsr": "x"}}]
    response = lender.post("/api/v1/decide/batch", {"items": items}, format="json")
    assert response.status_code == 200, response.content
    ok, missing, invalid = response.json()["results"]
    assert (ok["outcome"], ok["consent_ref"]) == ("approve", str(consent.id))
    assert (missing["outcome"], missing["reason_codes"][0]["code"]) == ("deny", "CONSENT_MISSING")
    assert "errors" in invalid
    assert metered(acme) == 1
    mode(acme, "refuse")
    response = lender.post("/api/v1/decide/batch", {"items": items[:2]}, format="json")
    ok, refused = response.json()["results"]
    assert ok["outcome"] == "approve" and refused["code"] == "consent_missing" and "errors" in refused
    assert response.json()["rejected"] == 1 and metered(acme) == 2


def test_the_consent_check_costs_one_indexed_query(lender, acme):
    """One statement for a decide and one for a whole batch, and it probes the subject index."""
    mode(acme, "deny")
    grant(acme)
    with CaptureQueriesContext(connection) as single:
        decide(lender)
    items = [{"subject_id": f"lead-{i}", "purpose": "loan_screening", "input": BASE} for i in range(50)]
    with CaptureQueriesContext(connection) as batch:
        lender.post("/api/v1/decide/batch", {"items": items}, format="json")
    for captured in (single, batch):
        assert len([q for q in captured.captured_queries if "privacy_" in q["sql"]]) == 1
    # With many subjects recorded and statistics taken, the probe goes through the subject index.
    with scope.org_scope(acme.id), connection.cursor() as cur:
        cur.execute("INSERT INTO privacy_consent (id, org_id, subject_token, purposes, scopes, lawful_basis, source, "
                    "evidence_ref, valid_from, recorded_at, recorded_by) SELECT gen_random_uuid(), %s, 'vt_' || g, "
                    "ARRAY['loan_screening'], '{}', 'consent', 'bulk', '', now(), now(), 'test' "
                    "FROM generate_series(1, 5000) g", [acme.id])
        cur.execute("INSERT INTO privacy_consentevent (id, org_id, consent_id, subject_token, kind, at, recorded_at, "
                    "actor, reason) SELECT gen_random_uuid(), org_id, id, subject_token, 'revoked', now(), now(), 't', "
                    "'' FROM privacy_consent WHERE org_id = %s AND source = 'bulk' AND subject_token < 'vt_3'",
                    [acme.id])
        cur.execute("ANALYZE privacy_consent")
        cur.execute("ANALYZE privacy_consentevent")
        cur.execute("EXPLAIN " + VERDICTS_SQL, {"org": acme.id, "at": timezone.now(), "i": [0],
                                               "tokens": [subject_token_of(acme.id, "lead-1")],
                                               "purposes": ["loan_screening"]})
        plan = "\n".join(row[0] for row in cur.fetchall())
    # The end events come through the partial unique index that also makes a consent end only once.
    assert "consent_org_subject_idx" in plan and "consentevent_one_end" in plan, plan
    assert "Seq Scan on privacy_consent " not in plan and "Seq Scan on privacy_consentevent" not in plan, plan
