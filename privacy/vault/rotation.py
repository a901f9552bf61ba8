"""KEK rotation: re-wrap an org's data keys under a newer key-encryption key (ADR 0015).

1. ``rotation_request`` (a person holding ``keys.rotate``) opens a four-eyes approval
   (``tenancy.approvals``, action ``keys.rotate``) and a rotation in state *requested*.
2. A second holder approves it; ``rotation_start`` (either of them) moves it to *running*: from then
   on new data keys of the org are wrapped with the new version.
3. ``rotation_run`` (the Celery task ``privacy.vault_rotation_run``) re-wraps in batches, each batch
   its own transaction that records progress, so a killed job resumes where it stopped. The plain
   data keys never change, so values sealed meanwhile — with a cached key or a new one — stay readable.
4. When nothing older remains it completes under an exclusive lock that waits for data keys being
   created; from then on the old version is refused for the org (logged and on the audit chain).
"""

from __future__ import annotations

import structlog
from celery import shared_task
from django.db import connection, transaction
from django.utils import timezone

import privacy.vault.crypto as crypto
from dos.audit import actor_label, audit_record
from dos.authz import PermissionRefused, action, authorize, system_actor
from dos.errors import DomainError
from dos.scope import org_scope
from privacy.models import KekRotation, RotationStatus, SubjectKey
from privacy.principals import refuse_platform
from privacy.vault.keystore import key_provider
from privacy.vault.services import data_keys, kek_lock_id, org_kek_state, unwrap

log = structlog.get_logger(__name__)

ROTATE_REQUEST = action("vault.rotate_request", "keys.rotate")
ROTATE_START = action("vault.rotate_start", "keys.rotate")
ROTATE_RESUME = action("vault.rotate_resume", "keys.rotate")
APPROVAL_ACTION = "keys.rotate"
BATCH = 500
JOB = system_actor("vault.rotation")


class RotationRefused(DomainError):
    status, code = 409, "rotation_refused"


def _exclusive(org_id) -> None:
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", [kek_lock_id(org_id)])


def _pending(rotation: KekRotation):
    return SubjectKey.objects.filter(org_id=rotation.org_id, kek_version__lt=rotation.to_version,
                                     erased_at__isnull=True, wrapped_key__isnull=False)


def rotation_request(*, actor, org_id, to_version: int | None = None, reason: str = "") -> KekRotation:
    """Propose re-wrapping the org's data keys under ``to_version`` (default: the keystore's newest)."""
    from tenancy.approvals import approval_require
    from tenancy.models import Org

    actor = refuse_platform(authorize(actor, ROTATE_REQUEST), permission="keys.rotate", org_id=org_id)
    user = getattr(actor, "user", None)
    if user is None:
        raise PermissionRefused("A key rotation is proposed by a person (four eyes).", permission="keys.rotate",
                                code="person_required")
    provider = key_provider()
    to_version = to_version or max(provider.versions())
    with org_scope(org_id):
        current, _floor = org_kek_state(org_id)
        oldest = (SubjectKey.objects.filter(org_id=org_id, erased_at__isnull=True).order_by("kek_version")
                  .values_list("kek_version", flat=True).first())
        from_version = min(current, oldest or current)
        if to_version not in provider.versions():
            raise RotationRefused(f"KEK version {to_version} is not in the keystore; add it first "
                                  "(dosctl vault keystore add-key).", errors={"to_version": ["not in the keystore"]})
        if to_version <= from_version:
            raise RotationRefused(f"Nothing to rotate: the org's data keys are on KEK version {from_version} "
                                  f"already; add a newer key to the keystore first.",
                                  errors={"to_version": ["must be newer than the keys in use"]})
        if KekRotation.objects.filter(org_id=org_id, status__in=[RotationStatus.REQUESTED,
                                                                 RotationStatus.RUNNING]).exists():
            raise RotationRefused("A rotation is already open for this org.")
        approval = approval_require(org=Org.objects.get(id=org_id), action=APPROVAL_ACTION,
                                    target=f"vault.kek:{to_version}", requested_by=user,
                                    payload={"from_version": from_version, "to_version": to_version},
                                    reason=(reason or "")[:500])
        rotation = KekRotation.objects.create(org_id=org_id, from_version=from_version, to_version=to_version,
                                              approval_id=approval.pk, requested_by=actor_label(actor),
                                              reason=(reason or "")[:500])
        audit_record(org_id=org_id, action="vault.rotation_requested", actor=actor_label(actor),
                     target=f"kek_rotation:{rotation.pk}", data={"from": from_version, "to": to_version})
    return rotation


def rotation_start(*, actor, rotation: KekRotation, run: bool = True) -> KekRotation:
    """Begin re-wrapping once a second person approved; the job runs after commit (``run``)."""
    from tenancy.choices import ApprovalStatus
    from tenancy.models import ApprovalRequest

    actor = refuse_platform(authorize(actor, ROTATE_START), permission="keys.rotate", org_id=rotation.org_id)
    with org_scope(rotation.org_id):
        _exclusive(rotation.org_id)
        rotation = KekRotation.objects.select_for_update().get(pk=rotation.pk)
        if rotation.status != RotationStatus.REQUESTED:
            raise RotationRefused(f"This rotation is {rotation.get_status_display()}.")
        approval = ApprovalRequest.objects.filter(pk=rotation.approval_id, action=APPROVAL_ACTION).first()
        if approval is None or approval.status != ApprovalStatus.APPROVED:
            raise PermissionRefused("A second person holding 'keys.rotate' must approve the rotation first "
                                    "(four eyes).", permission="keys.rotate", code="four_eyes")
        rotation.status, rotation.started_at = RotationStatus.RUNNING, timezone.now()
        rotation.total = _pending(rotation).count()
        rotation.save(update_fields=["status", "started_at", "total"])
        audit_record(org_id=rotation.org_id, action="vault.rotation_started", actor=actor_label(actor),
                     target=f"kek_rotation:{rotation.pk}",
                     data={"from": rotation.from_version, "to": rotation.to_version, "keys": rotation.total,
                           "approved_by": f"user:{approval.decided_by_id}"})
        if run:
            org_id, rotation_id = str(rotation.org_id), str(rotation.pk)
            transaction.on_commit(lambda: vault_rotation_run.delay(org_id, rotation_id))
    return rotation


def rotation_resume(*, actor, rotation: KekRotation) -> KekRotation:
    """Send the re-wrapping job again for a running rotation whose job stopped (it resumes after its
    last committed batch). Only a member of the org holding ``keys.rotate``; recorded on the audit chain."""
    actor = refuse_platform(authorize(actor, ROTATE_RESUME), permission="keys.rotate", org_id=rotation.org_id)
    with org_scope(rotation.org_id), transaction.atomic():
        rotation = KekRotation.objects.select_for_update().get(pk=rotation.pk)
        if rotation.status != RotationStatus.RUNNING:
            raise RotationRefused(f"Only a running rotation resumes; this one is {rotation.get_status_display()}.")
        audit_record(org_id=rotation.org_id, action="vault.rotation_resumed", actor=actor_label(actor),
                     target=f"kek_rotation:{rotation.pk}", data={"done": rotation.done, "total": rotation.total})
        org_id, rotation_id = str(rotation.org_id), str(rotation.pk)
        transaction.on_commit(lambda: vault_rotation_run.delay(org_id, rotation_id))
    return rotation


def _rewrap_batch(rotation: KekRotation, size: int) -> int:
    provider = key_provider()
    with org_scope(rotation.org_id):
        rows = list(_pending(rotation).select_for_update(skip_locked=True).order_by("id")[:size])
        for row in rows:
            plain = unwrap(row)
            row.wrapped_key = provider.wrap(rotation.to_version, plain, crypto.wrap_aad(
                row.org_id, row.id, row.subject_token, rotation.to_version))
            row.kek_version, row.rewrapped_at = rotation.to_version, timezone.now()
        SubjectKey.objects.bulk_update(rows, ["wrapped_key", "kek_version", "rewrapped_at"])
        if rows:
            KekRotation.objects.filter(pk=rotation.pk).update(done=rotation.done + len(rows), cursor=rows[-1].id)
            rotation.done += len(rows)
    return len(rows)


def _complete(rotation: KekRotation) -> bool:
    with org_scope(rotation.org_id):
        _exclusive(rotation.org_id)  # waits for data keys being created under the shared lock
        if _pending(rotation).exists():
            return False
        KekRotation.objects.filter(pk=rotation.pk).update(status=RotationStatus.COMPLETED,
                                                          completed_at=timezone.now())
        audit_record(org_id=rotation.org_id, action="vault.rotation_completed", actor=JOB,
                     target=f"kek_rotation:{rotation.pk}",
                     data={"from": rotation.from_version, "to": rotation.to_version, "rewrapped": rotation.done,
                           "retired_below": rotation.to_version})
    log.info("vault.rotation_completed", org_id=str(rotation.org_id), rotation=str(rotation.pk),
             to_version=rotation.to_version, rewrapped=rotation.done)
    data_keys.drop(rotation.org_id)
    return True


def rotation_run(*, org_id, rotation_id, batch: int = BATCH, max_batches: int | None = None) -> KekRotation:
    """Re-wrap what is left, batch by batch (resumable), and complete when nothing older remains."""
    with org_scope(org_id):
        rotation = KekRotation.objects.get(pk=rotation_id)
    if rotation.status != RotationStatus.RUNNING:
        return rotation
    batches = 0
    while max_batches is None or batches < max_batches:
        moved = _rewrap_batch(rotation, batch)
        batches += 1
        if moved == 0:
            _complete(rotation)  # false while a key is locked elsewhere: the next run finishes it
            break
    with org_scope(org_id):
        return KekRotation.objects.get(pk=rotation_id)


@shared_task(name="privacy.vault_rotation_run", acks_late=True)
def vault_rotation_run(org_id: str, rotation_id: str) -> str:
    return rotation_run(org_id=org_id, rotation_id=rotation_id).status
