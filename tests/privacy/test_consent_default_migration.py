"""Consent is enforced by default, and switching that on does not stop existing tenants at once: the
migration gives every org that existed before it a saved ``monitor`` row, audited on its chain, and
leaves alone an org that had already chosen its mode; orgs created afterwards have no row (deny)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from dos import scope
from dos.authz import system_actor
from dos.models import LedgerEntry
from privacy.models import PrivacySettings
from privacy.settings import privacy_settings, privacy_settings_save
from tests.factories import make_org

pytestmark = pytest.mark.django_db
BEFORE, DEFAULT = ("privacy", "0005_retention_rule_changes"), ("privacy", "0006_consent_enforced_by_default")


def _migrate(target) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])


def _mode_changes(org) -> list[dict]:
    with scope.org_scope(org.id):
        return [e.data for e in LedgerEntry.objects.filter(org_id=org.id, chain="audit",
                                                           action="privacy_settings.saved").order_by("seq")]


def test_existing_orgs_are_kept_in_monitor_mode_and_new_ones_are_enforced(acme, outsider):
    _migrate(BEFORE)
    with scope.org_scope(outsider.id):
        privacy_settings_save(org_id=outsider.id, actor=system_actor("test"), consent_mode="refuse")
    _migrate(DEFAULT)
    with scope.org_scope(acme.id):
        kept = PrivacySettings.objects.get(org_id=acme.id)
        assert (kept.consent_mode, kept.lawful_bases, kept.updated_by) == (
            "monitor", {}, "system:migration.consent_default")
    [entry] = _mode_changes(acme)
    assert entry["changed"] == {"consent_mode": "monitor"} and "existed before" in entry["reason"]
    with scope.org_scope(outsider.id):
        assert privacy_settings(outsider.id).consent_mode == "refuse"  # its own choice stands
    assert len(_mode_changes(outsider)) == 1  # the org's own save only
    _migrate(BEFORE)
    _migrate(DEFAULT)  # a second run finds every org settled
    assert len(_mode_changes(acme)) == 1
    newcomer = make_org("Newco")
    with scope.org_scope(newcomer.id):
        assert not PrivacySettings.objects.filter(org_id=newcomer.id).exists()
        assert privacy_settings(newcomer.id).consent_mode == "deny"
