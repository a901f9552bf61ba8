"""The evidence bundle's chain proof holds the decision record against what its chain entry
recorded, the same comparison `dosctl audit verify` makes for every record."""

import hashlib
import io
import json
import zipfile

import psycopg
import pytest
from django.db import connection

from decisions.chain import decision_records_verify
from decisions.choices import RecordKind
from decisions.models import DecisionRecord
from dos import scope
from dos.canonical import canonical_json
from hitl.actions import case_act
from hitl.models import Case
from tenancy.roles import ROLE_PERMISSIONS
from tests.conftest import api_client
from tests.decisions.test_decide_api import decide
from tests.factories import acting, make_key


def _proof(api, decision_id) -> dict:
    response = api.get(f"/api/v1/decisions/{decision_id}/evidence")
    assert response.status_code == 200
    return json.loads(zipfile.ZipFile(io.BytesIO(response.content)).read("chain_proof.json"))


@pytest.fixture
def lender(acme, lending):
    return api_client(make_key(acme, scopes=["decisions.run", "decisions.read"], name="lender"))


@pytest.mark.django_db
def test_it_proves_the_record_is_what_the_chain_recorded(lender):
    decision_id = decide(lender, dsr=48.5).json()["decision_id"]
    proof = _proof(lender, decision_id)
    assert (proof["record_matches_entry"], proof["record_mismatch"]) == (True, "")
    assert proof["record_chain_data"] == proof["entry"]["data"]
    recomputed = hashlib.sha256(canonical_json(proof["record_chain_data"]).encode()).hexdigest()
    assert recomputed == proof["record_chain_data_hash"] == proof["entry_data_hash"]


@pytest.mark.django_db
def test_an_override_record_matches_its_entry_too(acme, lending, desk, alice):
    lender = api_client(make_key(acme, scopes=["decisions.run", "decisions.read"], name="lender"))
    decide(lender, documents_missing=["id_card"])
    with scope.org_scope(acme.id):
        case_act(case=Case.objects.get(), action="approve", actor=acting(alice, ROLE_PERMISSIONS["reviewer"]),
                 comment="documents arrived")
        final = DecisionRecord.objects.get(kind=RecordKind.OVERRIDE)
        assert decision_records_verify(org_id=acme.id) == (2, [])
    proof = _proof(lender, final.id)
    assert proof["record_matches_entry"] is True and proof["entry"]["data"]["kind"] == "override"


@pytest.mark.django_db(transaction=True)
def test_it_shows_a_record_altered_behind_its_entry(lender, superuser_dsn):
    decision_id = decide(lender, dsr=48.5).json()["decision_id"]
    dsn = superuser_dsn.rsplit("/", 1)[0] + "/" + connection.settings_dict["NAME"]
    with psycopg.connect(dsn, autocommit=True) as dba:
        dba.execute("ALTER TABLE decisions_decisionrecord DISABLE TRIGGER USER")
        try:
            dba.execute("UPDATE decisions_decisionrecord SET outcome = 'approve' WHERE id = %s", [decision_id])
        finally:
            dba.execute("ALTER TABLE decisions_decisionrecord ENABLE TRIGGER USER")
    proof = _proof(lender, decision_id)
    assert proof["record_matches_entry"] is False and "record altered" in proof["record_mismatch"]
    assert proof["link_ok"] is True  # the chain itself is intact: the record is what changed
    assert proof["record_chain_data"]["outcome"] == "approve" != proof["entry"]["data"]["outcome"]
