"""Per-org privacy settings: read by the decide path, DSAR deadlines and the back office; changed by
a privacy officer (``privacy.manage``), validated in full and audited."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from dos.audit import actor_label, audit_record
from dos.authz import action, authorize
from dos.errors import FieldErrors
from privacy.models import PrivacySettings

PRIVACY_SETTINGS_SAVE = action("privacy_settings.save", "privacy.manage")

EDITABLE = ("consent_mode", "lawful_bases", "dsar_due_days", "dsar_legal_max_days", "dsar_target_days",
            "dsar_warning_hours")


def privacy_settings(org_id) -> PrivacySettings:
    """The org's settings; unsaved defaults (``PrivacySettings.defaults``) when it never saved any."""
    return PrivacySettings.objects.filter(org_id=org_id).first() or PrivacySettings.defaults(org_id)


def privacy_settings_save(*, org_id, actor, **changes) -> PrivacySettings:
    """Create or change the org's settings: only ``EDITABLE`` fields, validated together (400 with
    field errors, nothing saved), audited with what changed."""
    actor = authorize(actor, PRIVACY_SETTINGS_SAVE)
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise FieldErrors({name: ["Not a privacy setting."] for name in unknown})
    with transaction.atomic():
        current = PrivacySettings.objects.select_for_update().filter(org_id=org_id).first()
        settings = current or PrivacySettings(org_id=org_id)
        before = {name: getattr(settings, name) for name in EDITABLE} if current else {}
        for name, value in changes.items():
            setattr(settings, name, value)
        try:
            settings.full_clean(exclude=["org"])
        except ValidationError as exc:
            raise FieldErrors({k: [str(m) for m in v] for k, v in exc.message_dict.items()}) from exc
        settings.updated_at, settings.updated_by = timezone.now(), actor_label(actor)
        settings.save()
        after = {name: getattr(settings, name) for name in EDITABLE}
        audit_record(org_id=org_id, action="privacy_settings.saved", actor=actor, target=f"privacy_settings:{org_id}",
                     data={"changed": {k: after[k] for k in after if before.get(k, object()) != after[k]}})
    return settings
