"""Retention runs: dry-run → approval by someone else → execution in batches (ADR 0017).

* ``retention_plan`` (the daily beat job as ``system:retention``, or a person) computes each active
  rule's cutoff and what it would touch — rows past the cutoff, of which held — into a run that
  waits for approval. A newer dry-run supersedes an older one still waiting.
* ``retention_approve``: a person holding ``retention.approve`` who did not propose the run (four
  eyes through ``tenancy.approvals`` when a person proposed it; a job's proposal needs any holder).
* ``retention_execute`` works rule by rule in batches, each batch one transaction with the item's
  cursor, so a killed run resumes after its last batch. Legal holds are re-read for every batch: a
  hold placed after the approval still spares its rows. Chained datasets are never deleted from:
  ``retain`` counts them, ``crypto_shred`` destroys the keys of subjects whose every record is due.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from celery_app import app as celery_app
from dos.audit import actor_label, audit_record
from dos.authz import PermissionRefused, action, authorize, system_actor
from dos.errors import DomainError, FieldErrors
from privacy.models import (
    ChainTreatment,
    HoldScope,
    RetentionAction,
    RetentionRule,
    RetentionRun,
    RetentionRunItem,
    RunStatus,
    Sensitivity,
)
from privacy.retention.datasets import DATASETS, Dataset
from privacy.retention.holds import active_holds, case_ids

RULE_SAVE = action("retention.rule_save", "privacy.manage")
PLAN = action("retention.plan", "privacy.manage")
APPROVE = action("retention.approve", "retention.approve")
REJECT = action("retention.reject", "retention.approve")
EXECUTE = action("retention.execute", "retention.approve")
APPROVAL_ACTION = "retention.run"  # the four-eyes action of tenancy.approvals
SYSTEM = system_actor("retention")
BATCH = 500
SAMPLE = 10
# Called with (dataset, rows done) after each committed batch; tests stop a run there as a kill would.
fault_points: list = []


class RetentionStateError(DomainError):
    status, code = 409, "retention_state"


def rules_seed(*, org_id) -> int:
    """The default rules of every dataset an org has no rule for yet (idempotent)."""
    have = set(RetentionRule.objects.values_list("dataset", flat=True))
    missing = [RetentionRule(org_id=org_id, dataset=d.key, sensitivity=d.sensitivity, ttl_days=d.default_ttl_days,
                             action=d.default_action, chain_treatment=d.chain_treatment, legal_basis=d.legal_basis,
                             updated_by="system:retention")
               for d in DATASETS.values() if d.key not in have]
    RetentionRule.objects.bulk_create(missing)
    return len(missing)


def rule_save(*, org_id, actor, dataset: str, ttl_days: int, action: str, legal_basis: str,
              sensitivity: str = Sensitivity.P1, chain_treatment: str = "", active: bool = True) -> RetentionRule:
    actor = authorize(actor, RULE_SAVE)
    errors: dict[str, list[str]] = {}
    spec = DATASETS.get(dataset)
    if spec is None:
        errors["dataset"] = [f"One of {', '.join(DATASETS)}."]
    elif action not in spec.actions():
        errors["action"] = [f"{spec.title}: one of {', '.join(spec.actions())}"
                            + (" (chained: never deleted)" if spec.chained else "") + "."]
    if spec is not None and spec.chained and chain_treatment not in ChainTreatment.values:
        errors["chain_treatment"] = ["A chained dataset says what happens instead: retain or crypto_shred."]
    if spec is not None and spec.chained and chain_treatment == ChainTreatment.CRYPTO_SHRED and not spec.subject_path:
        errors["chain_treatment"] = ["This chain holds no subject key to destroy: retain it."]
    if not isinstance(ttl_days, int) or isinstance(ttl_days, bool) or not 1 <= ttl_days <= 36_500:
        errors["ttl_days"] = ["Whole days from 1 to 36,500."]
    if sensitivity not in Sensitivity.values:
        errors["sensitivity"] = [f"One of {', '.join(Sensitivity.values)}."]
    if not (legal_basis or "").strip():
        errors["legal_basis"] = ["Say why the data is kept this long."]
    if errors:
        raise FieldErrors(errors)
    with transaction.atomic():
        rule, _ = RetentionRule.objects.update_or_create(
            org_id=org_id, dataset=dataset,
            defaults={"ttl_days": ttl_days, "action": action, "legal_basis": legal_basis.strip()[:200],
                      "sensitivity": sensitivity, "chain_treatment": chain_treatment if spec.chained else "",
                      "active": active, "updated_by": actor_label(actor), "updated_at": timezone.now()})
        audit_record(org_id=org_id, action="retention.rule_saved", actor=actor, target=f"retention_rule:{rule.id}",
                     data={"dataset": dataset, "ttl_days": ttl_days, "action": action, "active": active})
    return rule


# -- holds, as filters ----------------------------------------------------------------------------

def _holds_filter(spec: Dataset, at) -> Q | None:
    """Rows of ``spec`` under an active hold (re-read on every call); None: the whole dataset is held."""
    held = Q(pk__in=[])
    for hold in active_holds(at=at):
        targets = [str(t) for t in hold.targets or []]
        if hold.scope == HoldScope.DATASETS and spec.key in targets:
            return None
        if hold.scope == HoldScope.SUBJECTS and spec.subject_path:
            held |= Q(**{f"{spec.subject_path}__in": targets})
        if hold.scope == HoldScope.CASES:
            cases = case_ids(targets)  # a malformed target (placed before ids were checked) holds nothing
            if spec.case_path:
                held |= Q(**{f"{spec.case_path}__in": cases})
            elif spec.subject_path == "subject_token":  # decision records of the held cases
                from hitl.models import Case

                held |= Q(id__in=Case.objects.filter(id__in=cases).values("decision_id"))
    return held


def _eligible(spec: Dataset, cutoff, at):
    due = spec.due(cutoff)
    held = _holds_filter(spec, at)
    if held is None:
        return due.none(), due.count()
    eligible = due.exclude(held)
    return eligible, due.filter(held).count()


def _shred_candidates(spec: Dataset, cutoff, at) -> tuple[list[str], int]:
    """Subjects whose every record is past the cutoff (newer records keep the key), unless held."""
    model = spec.model_class
    tokens = (model.objects.values(spec.subject_path).annotate(last=Max(spec.time_field))
              .filter(last__lt=cutoff).values_list(spec.subject_path, flat=True))
    tokens = sorted(set(tokens))
    held = _holds_filter(spec, at)
    if held is None:
        return [], len(tokens)
    held_tokens = set(model.objects.filter(held, **{f"{spec.subject_path}__in": tokens})
                      .values_list(spec.subject_path, flat=True))
    return [t for t in tokens if t not in held_tokens], len(held_tokens)


# -- plan ---------------------------------------------------------------------------------------

def retention_plan(*, org_id, actor, now=None, catch_up_for=None) -> RetentionRun:
    """The dry-run: one item per active rule with what it would touch; waits for approval."""
    from tenancy.approvals import approval_require
    from tenancy.models import Org

    actor = authorize(actor, PLAN)
    now = now or timezone.now()
    user = getattr(actor, "user", None)
    with transaction.atomic():
        rules_seed(org_id=org_id)
        RetentionRun.objects.filter(status=RunStatus.PROPOSED).update(status=RunStatus.SUPERSEDED)
        run = RetentionRun.objects.create(org_id=org_id, as_of=now, proposed_by=user,
                                          proposed_by_label=actor_label(actor), catch_up_for=catch_up_for,
                                          note="Catch-up after a legal hold was released" if catch_up_for else "")
        items = []
        for rule in RetentionRule.objects.filter(active=True).order_by("dataset"):
            spec = DATASETS.get(rule.dataset)
            if spec is None:
                continue
            cutoff = now - dt.timedelta(days=rule.ttl_days)
            item = RetentionRunItem(org_id=org_id, run=run, rule=rule, dataset=rule.dataset, cutoff=cutoff,
                                    action=rule.chain_treatment if spec.chained else rule.action)
            if spec.chained and rule.chain_treatment == ChainTreatment.CRYPTO_SHRED:
                subjects, held = _shred_candidates(spec, cutoff, now)
                item.matched, item.held, item.sample = len(subjects) + held, held, subjects[:SAMPLE]
            else:
                eligible, held = _eligible(spec, cutoff, now)
                item.matched = eligible.count() + held
                item.held = held
                item.sample = [str(pk) for pk in eligible.order_by("pk").values_list("pk", flat=True)[:SAMPLE]]
            items.append(item)
        RetentionRunItem.objects.bulk_create(items)
        if user is not None:
            run.approval = approval_require(org=Org.objects.get(id=org_id), action=APPROVAL_ACTION,
                                            target=f"retention_run:{run.id}", requested_by=user,
                                            payload={"items": len(items)}, reason="Retention dry-run")
            run.save(update_fields=["approval"])
        audit_record(org_id=org_id, action="retention.planned", actor=actor, target=f"retention_run:{run.id}",
                     data={"items": {i.dataset: i.matched for i in items},
                           "catch_up_for": str(catch_up_for.id) if catch_up_for else None})
    return run


# -- approve / reject ----------------------------------------------------------------------------

def _locked(run: RetentionRun) -> RetentionRun:
    return RetentionRun.objects.select_for_update().get(pk=run.pk)


def retention_approve(*, run: RetentionRun, actor, reason: str = "", now=None) -> RetentionRun:
    """A second person approves the dry-run; execution starts after COMMIT."""
    from tenancy.approvals import FourEyesViolation, approval_grant

    actor = authorize(actor, APPROVE)
    user = getattr(actor, "user", None)
    if user is None:
        raise PermissionRefused("Approving a retention run needs a person.", permission="retention.approve",
                                code="person_required")
    now = now or timezone.now()
    with transaction.atomic():
        run = _locked(run)
        if run.status != RunStatus.PROPOSED:
            raise RetentionStateError(f"This run is {run.status}; only a proposed run can be approved.")
        if run.proposed_by_id == user.pk:
            raise FourEyesViolation("You proposed this run; someone else must approve it (four eyes).",
                                    permission="retention.approve")
        if run.approval is not None:
            approval_grant(request=run.approval, actor=actor, reason=reason)
        run.status, run.approved_by, run.approved_at = RunStatus.APPROVED, user, now
        run.save(update_fields=["status", "approved_by", "approved_at"])
        audit_record(org_id=run.org_id, action="retention.approved", actor=actor, target=f"retention_run:{run.id}")
        org_id, run_id = str(run.org_id), str(run.id)

        # By name: the task module imports this one.
        transaction.on_commit(lambda: celery_app.send_task("privacy.tasks.retention_run_execute",
                                                            kwargs={"org_id": org_id, "run_id": run_id}))
    return run


def retention_reject(*, run: RetentionRun, actor, reason: str = "") -> RetentionRun:
    from tenancy.approvals import approval_reject

    actor = authorize(actor, REJECT)
    with transaction.atomic():
        run = _locked(run)
        if run.status != RunStatus.PROPOSED:
            raise RetentionStateError(f"This run is {run.status}; only a proposed run can be rejected.")
        if run.approval is not None and getattr(actor, "user", None) is not None:
            approval_reject(request=run.approval, actor=actor, reason=reason)
        run.status = RunStatus.REJECTED
        run.save(update_fields=["status"])
        audit_record(org_id=run.org_id, action="retention.rejected", actor=actor, target=f"retention_run:{run.id}",
                     data={"reason": (reason or "")[:200]})
    return run


# -- execute --------------------------------------------------------------------------------------

def _batch(item: RetentionRunItem, spec: Dataset, at, batch: int) -> bool:
    """One batch of one item in the caller's transaction; True when the item is finished."""
    from privacy.vault import erase_subject, is_erased

    if spec.chained and item.action == ChainTreatment.CRYPTO_SHRED:
        subjects, held = _shred_candidates(spec, item.cutoff, at)
        todo = [s for s in subjects if s > item.cursor][:batch]
        for token in todo:
            if not is_erased(org_id=item.org_id, subject_token=token):
                erase_subject(actor=SYSTEM, org_id=item.org_id, subject_token=token,
                              reason=f"retention: {spec.key} older than {item.cutoff:%Y-%m-%d}")
                item.done += 1
        item.held_at_execution = held
        item.cursor = todo[-1] if todo else item.cursor
        return len(todo) < batch
    eligible, held = _eligible(spec, item.cutoff, at)
    item.held_at_execution = held
    if spec.chained or spec.frozen:
        item.retained = eligible.count()
        return True
    cursor = int(item.cursor) if item.cursor and spec.model_class._meta.pk.get_internal_type() in (
        "BigAutoField", "AutoField") else item.cursor
    chunk = eligible.order_by("pk")
    if cursor:
        chunk = chunk.filter(pk__gt=cursor)
    pks = list(chunk.values_list("pk", flat=True)[:batch])
    if pks:
        rows = spec.model_class.objects.filter(pk__in=pks)
        if item.action == RetentionAction.DELETE:
            rows.delete()
        else:
            rows.update(**spec.anonymize)
        item.done += len(pks)
        item.cursor = str(pks[-1])
    return len(pks) < batch


def retention_execute(*, org_id, run_id, actor=SYSTEM, batch: int = BATCH, now=None) -> RetentionRun:
    """Execute an approved run (or carry on a started one) in batches. Safe to call again."""
    from dos import scope

    with scope.org_scope(org_id):
        actor = authorize(actor, EXECUTE)
        run = _locked(RetentionRun.objects.get(id=run_id))
        if run.status not in (RunStatus.APPROVED, RunStatus.EXECUTING):
            return run
        if run.status == RunStatus.APPROVED:
            run.status, run.started_at = RunStatus.EXECUTING, now or timezone.now()
            run.save(update_fields=["status", "started_at"])
            audit_record(org_id=org_id, action="retention.started", actor=actor, target=f"retention_run:{run.id}")
        item_ids = list(run.items.filter(finished=False).order_by("dataset").values_list("id", flat=True))
    for item_id in item_ids:
        finished = False
        while not finished:
            with scope.org_scope(org_id):
                item = RetentionRunItem.objects.select_for_update().get(id=item_id)
                if item.finished:
                    break
                at = now or timezone.now()
                finished = _batch(item, DATASETS[item.dataset], at, batch)
                item.finished = finished
                item.save(update_fields=["done", "held_at_execution", "retained", "cursor", "finished"])
            for point in fault_points:
                point(item.dataset, item.done)
    with scope.org_scope(org_id):
        run = _locked(run)
        if run.status == RunStatus.EXECUTING and not run.items.filter(finished=False).exists():
            run.status, run.finished_at = RunStatus.DONE, now or timezone.now()
            run.save(update_fields=["status", "finished_at"])
            totals = {i.dataset: {"done": i.done, "held": i.held_at_execution, "retained": i.retained}
                      for i in run.items.all()}
            audit_record(org_id=org_id, action="retention.executed", actor=actor, target=f"retention_run:{run.id}",
                         data={"items": totals})
    return run
