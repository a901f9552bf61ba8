"""Per-org privacy settings: how /decide enforces consent, which purposes rest on another lawful
basis, and the deadlines of data subject requests (PIPA: 10 days; never beyond the legal maximum)."""

import uuid
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dos.rls import TenantModel
from privacy.models.consent import LawfulBasis

DSAR_KINDS = ("access", "rectification", "erasure", "restriction")
DEFAULT_DSAR_DAYS = 10  # PIPA Enforcement Decree Art. 41: within 10 days
LEGAL_MAX_DAYS = 30
MAX_WARNING_HOURS = LEGAL_MAX_DAYS * 24  # a warning earlier than the legal maximum warns at intake anyway
INTERNAL_TARGET_DAYS = 7
DEFAULT_WARNING_HOURS = 48


class ConsentMode(models.TextChoices):
    MONITOR = "monitor", _("Monitor: decide, and record that consent was missing")
    DENY = "deny", _("Deny: record a deny decision with CONSENT_MISSING")
    REFUSE = "refuse", _("Refuse: answer 403 consent_missing, record nothing")


def _default_dsar_days() -> dict:
    return dict.fromkeys(DSAR_KINDS, DEFAULT_DSAR_DAYS)


class PrivacySettings(TenantModel):
    """One row per org (an org without one gets ``PrivacySettings.defaults``)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    consent_mode = models.CharField(max_length=10, choices=ConsentMode.choices, default=ConsentMode.DENY,
                                    help_text=_("What /decide does when no consent covers the purpose."))
    lawful_bases = models.JSONField(default=dict, blank=True, help_text=_(
        'Purposes that need no consent, with their lawful basis, e.g. {"fraud_check": "legal_obligation"}.'))
    dsar_due_days = models.JSONField(default=_default_dsar_days, blank=True,
                                     help_text=_("Days to answer, per request type (access, rectification, erasure, "
                                                 "restriction)."))
    dsar_legal_max_days = models.PositiveSmallIntegerField(default=LEGAL_MAX_DAYS,
                                                           help_text=_("The law's outer limit, extensions included."))
    dsar_target_days = models.PositiveSmallIntegerField(default=INTERNAL_TARGET_DAYS,
                                                        help_text=_("The team's own target."))
    dsar_warning_hours = models.PositiveIntegerField(default=DEFAULT_WARNING_HOURS,
                                                     help_text=_("Warn this long before a request's deadline."))
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.CharField(max_length=160, blank=True)

    class Meta:
        verbose_name = _("privacy settings")
        verbose_name_plural = _("privacy settings")
        constraints = [models.UniqueConstraint(fields=["org"], name="privacysettings_org_uniq")]

    def __str__(self) -> str:
        return str(_("Privacy settings"))

    @classmethod
    def defaults(cls, org_id) -> "PrivacySettings":
        """An unsaved row with the defaults — what an org that never saved its settings gets: consent
        enforced (``deny``), no lawful basis configured. Orgs that existed before consent was checked
        were given a saved ``monitor`` row by migration 0006 (docs/decisions/0016)."""
        return cls(org_id=org_id)

    def basis_for(self, purpose: str) -> str | None:
        """The configured lawful basis that needs no consent for ``purpose``, if any."""
        basis = (self.lawful_bases or {}).get(purpose)
        return basis if basis in LawfulBasis.values and basis != LawfulBasis.CONSENT else None

    def dsar_days(self, kind: str) -> int:
        return int((self.dsar_due_days or {}).get(kind, DEFAULT_DSAR_DAYS))

    def dsar_due_at(self, kind: str, received_at):
        return received_at + timedelta(days=self.dsar_days(kind))

    def dsar_warn_at(self, kind: str, received_at):
        # Capped like clean() caps it: a row saved before the cap must not break every intake.
        hours = min(self.dsar_warning_hours or 0, MAX_WARNING_HOURS)
        return self.dsar_due_at(kind, received_at) - timedelta(hours=hours)

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        bases = self.lawful_bases if isinstance(self.lawful_bases, dict) else None
        if bases is None:
            errors["lawful_bases"] = [str(_("An object of purpose → lawful basis."))]
        else:
            wrong = sorted(p for p, b in bases.items() if b not in LawfulBasis.values or b == LawfulBasis.CONSENT)
            if wrong:
                errors["lawful_bases"] = [str(_("Not a lawful basis that needs no consent: %(p)s (one of %(b)s).") % {
                    "p": ", ".join(wrong), "b": ", ".join(v for v in LawfulBasis.values if v != "consent")})]
        days = self.dsar_due_days if isinstance(self.dsar_due_days, dict) else None
        if days is None:
            errors["dsar_due_days"] = [str(_("An object of request type → days."))]
        else:
            unknown = sorted(set(days) - set(DSAR_KINDS))
            bad = sorted(k for k, v in days.items() if not isinstance(v, int) or isinstance(v, bool) or not
                         1 <= v <= (self.dsar_legal_max_days or LEGAL_MAX_DAYS))
            if unknown:
                errors["dsar_due_days"] = [str(_("Unknown request types: %s.") % ", ".join(unknown))]
            elif bad:
                errors["dsar_due_days"] = [str(_("Days must be whole numbers from 1 to the legal maximum (%(max)s): "
                                                 "%(k)s.") % {"max": self.dsar_legal_max_days, "k": ", ".join(bad)})]
        if isinstance(self.dsar_warning_hours, int) and self.dsar_warning_hours > MAX_WARNING_HOURS:
            errors["dsar_warning_hours"] = [str(_("At most %s hours (the legal maximum in hours).") % MAX_WARNING_HOURS)]
        if self.dsar_legal_max_days and self.dsar_legal_max_days > LEGAL_MAX_DAYS:
            errors["dsar_legal_max_days"] = [str(_("The law allows %s days at most.") % LEGAL_MAX_DAYS)]
        if self.dsar_target_days and self.dsar_legal_max_days and self.dsar_target_days > self.dsar_legal_max_days:
            errors["dsar_target_days"] = [str(_("The target cannot be later than the legal maximum."))]
        if errors:
            raise ValidationError(errors)
