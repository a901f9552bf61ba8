"""One subject, one token: an applicant id padded with whitespace is the same subject at every entry
point — /decide, /decide/batch, consent (grant and lookup) and data subject requests — so an erasure
of "lead-4242 " erases lead-4242, and never a subject that does not exist."""

from __future__ import annotations

import pytest

from decisions.models import DecisionRecord
from decisions.services import subject_token
from dos import scope
from privacy.consent import subject_token_of
from privacy.models import DsarRequest
from tests.conftest import api_client
from tests.decisions.test_decide_api import BASE
from tests.factories import make_key

pytestmark = pytest.mark.django_db
PADDED = ("lead-4242", " lead-4242", "lead-4242 ", "\tlead-4242\n")


def test_the_token_ignores_surrounding_whitespace_only(acme):
    tokens = {subject_token(acme.id, s) for s in PADDED} | {subject_token_of(acme.id, s) for s in PADDED}
    assert len(tokens) == 1
    assert subject_token(acme.id, "lead 4242") not in tokens  # inner whitespace is part of the id


def test_every_entry_point_derives_the_same_token_for_a_padded_id(acme, lending):
    expected = subject_token(acme.id, "lead-4242")
    api = api_client(make_key(acme, scopes=["decisions.run", "decisions.read", "privacy.read", "privacy.manage",
                                            "dsar.fulfil"], name="desk"))
    for n, subject in enumerate(PADDED):
        decided = api.post("/api/v1/decide", {"subject_id": subject, "purpose": "loan_screening", "input": BASE},
                           format="json", HTTP_IDEMPOTENCY_KEY=f"d{n}")
        assert decided.status_code == 200, decided.content
        batch = api.post("/api/v1/decide/batch", {"items": [{"subject_id": subject, "purpose": "loan_screening",
                                                             "input": BASE}]},
                         format="json", HTTP_IDEMPOTENCY_KEY=f"b{n}")
        assert batch.status_code == 200 and batch.json()["decided"] == 1, batch.content
        granted = api.post("/api/v1/consent", {"subject_id": subject, "purposes": ["marketing"],
                                               "source": "web_form:v3"}, format="json", HTTP_IDEMPOTENCY_KEY=f"c{n}")
        assert granted.status_code == 201, granted.content
        assert granted.json()["subject_token"] == expected
        looked_up = api.get("/api/v1/consent", {"subject": subject})
        assert looked_up.json()["subject_token"] == expected and len(looked_up.json()["consents"]) == n + 1
        asked = api.post("/api/v1/dsar", {"kind": "erasure", "subject_id": subject}, format="json",
                         HTTP_IDEMPOTENCY_KEY=f"r{n}")
        assert asked.status_code == 201, asked.content
        assert asked.json()["subject_token"] == expected
    with scope.org_scope(acme.id):
        assert set(DecisionRecord.objects.values_list("subject_token", flat=True)) == {expected}
        assert DecisionRecord.objects.count() == 2 * len(PADDED)
        assert set(DsarRequest.objects.values_list("subject_token", flat=True)) == {expected}


def test_a_blank_subject_id_is_a_field_error_not_a_subject(acme, lending):
    api = api_client(make_key(acme, scopes=["dsar.fulfil", "privacy.read"], name="desk"))
    answer = api.post("/api/v1/dsar", {"kind": "erasure", "subject_id": "   "}, format="json")
    assert answer.status_code == 400 and "subject_id" in answer.json()["errors"]
    with scope.org_scope(acme.id):
        assert DsarRequest.objects.count() == 0
