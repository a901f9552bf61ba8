"""Outsized input is a field error, never a 500: a DSAR warning lead time beyond the legal maximum, and a
discovery upload whose header field is over the CSV reader's field limit."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from dos import scope
from dos.authz import system_actor
from dos.errors import FieldErrors
from privacy.consent import privacy_settings, privacy_settings_save
from privacy.discovery import discovery_scan
from privacy.models import DiscoveryScan, DsarRequest, PrivacySettings
from privacy.models.settings import MAX_WARNING_HOURS
from tests.conftest import api_client
from tests.factories import UserFactory, add_member, as_member, make_key

pytestmark = pytest.mark.django_db
SYSTEM = system_actor("test")


def test_a_warning_lead_time_beyond_the_legal_maximum_is_refused(acme):
    with scope.org_scope(acme.id):
        for hours in (2_000_000_000, MAX_WARNING_HOURS + 1):
            with pytest.raises(FieldErrors) as refused:
                privacy_settings_save(org_id=acme.id, actor=SYSTEM, dsar_warning_hours=hours)
            assert "dsar_warning_hours" in refused.value.errors
        assert not PrivacySettings.objects.exists()
        saved = privacy_settings_save(org_id=acme.id, actor=SYSTEM, dsar_warning_hours=MAX_WARNING_HOURS)
        assert saved.dsar_warning_hours == MAX_WARNING_HOURS


def test_a_lead_time_saved_before_the_cap_still_lets_requests_in(acme, lending):
    with scope.org_scope(acme.id):
        PrivacySettings.objects.filter(org_id=acme.id).update(dsar_warning_hours=2_000_000_000)
        received = timezone.now()
        warn_at = privacy_settings(acme.id).dsar_warn_at("access", received)
        assert warn_at == privacy_settings(acme.id).dsar_due_at("access", received) - dt.timedelta(
            hours=MAX_WARNING_HOURS)
    api = api_client(make_key(acme, scopes=["dsar.fulfil", "privacy.read"], name="desk"))
    answer = api.post("/api/v1/dsar", {"kind": "access", "subject_id": "lead-1"}, format="json")
    assert answer.status_code == 201, answer.content
    with scope.org_scope(acme.id):
        assert DsarRequest.objects.count() == 1


@pytest.mark.parametrize("content", [b"a" * 200_000 + b"\nx\n", b'"' + b"a" * 200_000 + b'",phone\n1,2\n'])
def test_a_header_field_over_the_csv_limit_is_a_field_error(acme, content):
    steward = UserFactory(email="steward@acme.example")
    add_member(acme, steward, "data_steward")
    with scope.org_scope(acme.id):
        with pytest.raises(FieldErrors) as refused:
            discovery_scan(org_id=acme.id, dataset="leads", content=content, actor=as_member(acme, steward))
        assert "file" in refused.value.errors
        assert not DiscoveryScan.objects.exists()
