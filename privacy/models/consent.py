"""Consent as an append-only history (SPEC §11): a grant is recorded once and never changes; its end
— revoked by the subject, or expired at ``valid_until`` — is a later event on it. Both tables refuse
UPDATE and DELETE in the database (migration 0002), so the history is what happened, in order.

Whether a consent covers a purpose at an instant is a pure function of the two tables:
``valid_from <= at < valid_until``, the purpose among ``purposes``, and no revoke or expiry event at
or before ``at`` (see ``privacy.consent``).
"""

import uuid

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dos.citus import TenantForeignKey
from dos.rls import TenantModel

PURPOSE_MAX = 64


class LawfulBasis(models.TextChoices):
    """The grounds of the Personal Information Protection Act, Art. 15(1), for processing."""

    CONSENT = "consent", _("Consent of the subject")
    CONTRACT = "contract", _("Necessary for a contract with the subject")
    LEGAL_OBLIGATION = "legal_obligation", _("Required by law")
    VITAL_INTERESTS = "vital_interests", _("Vital interests of the subject or another")
    PUBLIC_TASK = "public_task", _("Task of a public body")
    LEGITIMATE_INTEREST = "legitimate_interest", _("Legitimate interest that clearly overrides")


class ConsentEventKind(models.TextChoices):
    GRANTED = "granted", _("Granted")
    REVOKED = "revoked", _("Revoked")
    EXPIRED = "expired", _("Expired")


ENDING_KINDS = (ConsentEventKind.REVOKED, ConsentEventKind.EXPIRED)


class Consent(TenantModel):
    """One consent of one subject, as given. Never updated: revocation and expiry are events."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject_token = models.CharField(max_length=80, help_text=_("vt_… token of the subject; never the raw id."))
    purposes = ArrayField(models.CharField(max_length=PURPOSE_MAX), help_text=_("Purposes consented to, e.g. "
                                                                               "loan_screening."))
    scopes = ArrayField(models.CharField(max_length=64), default=list, blank=True,
                        help_text=_("Data categories the consent names, e.g. credit_bureau, income."))
    lawful_basis = models.CharField(max_length=24, choices=LawfulBasis.choices, default=LawfulBasis.CONSENT)
    source = models.CharField(max_length=120, help_text=_("Where it was collected, e.g. web_form:v3, branch:gangnam."))
    evidence_ref = models.CharField(max_length=200, blank=True,
                                    help_text=_("Your reference to the signed form or recording."))
    valid_from = models.DateTimeField()
    valid_until = models.DateTimeField(null=True, blank=True, help_text=_("Empty: until revoked."))
    recorded_at = models.DateTimeField(default=timezone.now, editable=False)
    recorded_by = models.CharField(max_length=160, help_text=_("Who recorded it (key, person or job)."))

    class Meta:
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        ordering = ["-valid_from"]
        indexes = [
            # The decide path's probe: one subject's consents, newest first (privacy.consent).
            models.Index(fields=["org", "subject_token", "valid_from"], name="consent_org_subject_idx"),
            # The expiry sweep: consents whose window closes.
            models.Index(fields=["org", "valid_until"], name="consent_org_until_idx",
                         condition=models.Q(valid_until__isnull=False)),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(valid_until__isnull=True) | models.Q(valid_until__gt=models.F(
                "valid_from")), name="consent_window_forward"),
            models.CheckConstraint(condition=~models.Q(purposes=[]), name="consent_has_purpose"),
        ]

    def __str__(self) -> str:
        return f"{', '.join(self.purposes)} · {self.subject_token[:14]}…"


class ConsentEvent(TenantModel):
    """The consent's history: granted, then at most one end (revoked or expired)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    consent = TenantForeignKey(Consent, on_delete=models.PROTECT, related_name="events", db_index=False)
    subject_token = models.CharField(max_length=80)
    kind = models.CharField(max_length=10, choices=ConsentEventKind.choices)
    at = models.DateTimeField(help_text=_("When it took effect."))
    recorded_at = models.DateTimeField(default=timezone.now, editable=False)
    actor = models.CharField(max_length=160)
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = _("consent event")
        verbose_name_plural = _("consent events")
        ordering = ["at", "recorded_at"]
        indexes = [
            models.Index(fields=["org", "consent", "kind"], name="consentevent_org_consent_idx"),
            models.Index(fields=["org", "subject_token", "at"], name="consentevent_org_subject_idx"),
        ]
        constraints = [
            # A consent ends once: a second revoke (or a sweep racing a revoke) is refused by the database.
            models.UniqueConstraint(fields=["org", "consent"], condition=models.Q(kind__in=["revoked", "expired"]),
                                    name="consentevent_one_end"),
            models.UniqueConstraint(fields=["org", "consent"], condition=models.Q(kind="granted"),
                                    name="consentevent_one_grant"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.at:%Y-%m-%d %H:%M}"
