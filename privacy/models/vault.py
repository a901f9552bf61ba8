"""Vault v2 (ADR 0015): one data key per (org, subject), wrapped by a key-encryption key (KEK).

The wrapped data key is the only copy of the key: erasing a subject overwrites it (crypto-shredding),
and every value sealed under it becomes unreadable wherever it is stored, while masked snapshots,
hashes and the chains that cover them stay as they were. A KEK rotation re-wraps the data keys of an
org under a newer KEK version in resumable batches; once it completes, the older version is refused
for that org.
"""

import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dos.rls import TenantModel


class SubjectKey(TenantModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject_token = models.CharField(_("subject token"), max_length=80, help_text=_("vt_… token of the subject."))
    version = models.PositiveSmallIntegerField(_("data key version"), default=1)
    kek_version = models.PositiveIntegerField(_("KEK version"), help_text=_("The key-encryption key that wraps it."))
    wrapped_key = models.BinaryField(null=True, editable=False,
                                     help_text="nonce ‖ AES-256-GCM(KEK, data key); NULL once the subject is erased.")
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    rewrapped_at = models.DateTimeField(_("re-wrapped"), null=True, blank=True)
    erased_at = models.DateTimeField(_("erased"), null=True, blank=True)
    erased_reason = models.CharField(_("erasure reason"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("subject key")
        verbose_name_plural = _("subject keys")
        constraints = [models.UniqueConstraint(fields=["org", "subject_token"], name="subjectkey_org_subject_uniq")]
        indexes = [models.Index(fields=["org", "kek_version"], name="subjectkey_org_kek_idx")]

    def __str__(self) -> str:
        return f"{self.subject_token} (v{self.version}, KEK v{self.kek_version})"

    @property
    def erased(self) -> bool:
        return self.erased_at is not None


class RotationStatus(models.TextChoices):
    REQUESTED = "requested", _("Waiting for a second person's approval")
    RUNNING = "running", _("Re-wrapping data keys")
    COMPLETED = "completed", _("Completed: the old KEK is refused")
    CANCELLED = "cancelled", _("Cancelled")


class KekRotation(TenantModel):
    """Re-wrapping an org's data keys from one KEK version to a newer one (four eyes, resumable)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    from_version = models.PositiveIntegerField(_("from KEK version"))
    to_version = models.PositiveIntegerField(_("to KEK version"))
    status = models.CharField(_("status"), max_length=12, choices=RotationStatus.choices,
                              default=RotationStatus.REQUESTED)
    approval_id = models.UUIDField(_("approval"), help_text=_("The keys.rotate approval request (four eyes)."))
    requested_by = models.CharField(_("requested by"), max_length=120)
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    total = models.PositiveIntegerField(_("data keys to re-wrap"), default=0)
    done = models.PositiveIntegerField(_("re-wrapped"), default=0)
    cursor = models.UUIDField(null=True, blank=True, help_text="The last subject key re-wrapped (resume point).")
    created_at = models.DateTimeField(_("requested"), default=timezone.now, editable=False)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)

    class Meta:
        verbose_name = _("KEK rotation")
        verbose_name_plural = _("KEK rotations")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["org"], condition=models.Q(status__in=["requested", "running"]),
                                    name="kekrotation_one_open_per_org"),
            models.CheckConstraint(condition=models.Q(to_version__gt=models.F("from_version")),
                                   name="kekrotation_forward_only"),
        ]

    def __str__(self) -> str:
        return f"KEK v{self.from_version} → v{self.to_version} ({self.get_status_display()})"

    @property
    def progress_pct(self) -> int:
        return 100 if not self.total else min(100, round(100 * self.done / self.total))
