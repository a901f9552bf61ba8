"""The decide path's single statement (``consent_verdicts``) and the ORM reading of the same rule
(``consent_covering``) agree on every history: whichever consents, windows, revocations and expiries
exist, and whenever the question is asked."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dos import scope
from privacy.consent import consent_covering, consent_verdicts
from privacy.models import Consent, ConsentEvent

pytestmark = pytest.mark.django_db
T0 = timezone.now().replace(microsecond=0)

consents = st.lists(st.fixed_dictionaries({
    "subject": st.sampled_from(["vt_a", "vt_b"]),
    "purposes": st.sets(st.sampled_from(["p", "q"]), min_size=1),
    "start": st.integers(-10, 10),
    "length": st.none() | st.integers(1, 20),
    "end": st.none() | st.sampled_from(["revoked", "expired"]),
    "end_after": st.integers(0, 15),
}), max_size=6)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=consents, ask_at=st.integers(-12, 30))
def test_the_single_statement_and_the_orm_agree(acme, history, ask_at):
    at = T0 + timedelta(days=ask_at)
    with scope.org_scope(acme.id), transaction.atomic():
        for item in history:
            start = T0 + timedelta(days=item["start"])
            until = start + timedelta(days=item["length"]) if item["length"] else None
            consent = Consent.objects.create(org_id=acme.id, subject_token=item["subject"],
                                             purposes=sorted(item["purposes"]), source="t", valid_from=start,
                                             valid_until=until, recorded_by="t")
            if item["end"] == "revoked" or (item["end"] == "expired" and until):
                ended_at = until if item["end"] == "expired" else start + timedelta(days=item["end_after"])
                ConsentEvent.objects.create(org_id=acme.id, consent=consent, subject_token=item["subject"],
                                            kind=item["end"], at=ended_at, actor="t")
        checks = [(s, p) for s in ("vt_a", "vt_b") for p in ("p", "q")]
        verdicts = consent_verdicts(org_id=acme.id, checks=checks, at=at)
        for (subject, purpose), verdict in zip(checks, verdicts, strict=True):
            covering = consent_covering(org_id=acme.id, subject_token=subject, purpose=purpose, at=at)
            assert verdict.covered == (covering is not None)
            assert verdict.consent_ref == (str(covering.id) if covering else "")
        transaction.set_rollback(True)
