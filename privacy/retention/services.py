"""Retention runs: dry-run → approval by someone else → execution in batches (ADR 0017).

* ``retention_plan`` (the daily beat job as ``system:retention``, or a person) computes each active
  rule's cutoff and what it would touch — rows past the cutoff, of which held — into a run that
  waits for approval. A newer dry-run supersedes an older one still waiting.
* ``retention_approve``: a person holding ``retention.approve`` who did not propose the run (four
  eyes through ``tenancy.approvals`` when a person proposed it) and who changed none of the rules it
  acts on since the last executed run — four eyes bound to the rule change, so a job's proposal is no
  way around them. Each rule keeps its changes since its last executed run (``RetentionRule.changes``;
  a change that shortens the ttl or turns on delete/crypto-shred is marked ``tightened`` and audited as
  such) and each run item records them as planned (``RetentionRunItem.rule_changes``).
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
from django.utils.module_loading import import_string

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
from privacy.retention.holds import active_holds, case_ids, decision_refs
from tenancy.choices import ApprovalStatus

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
    elif spec is not None and ttl_days < spec.min_ttl_days:
        errors["ttl_days"] = [f"{spec.title}: at least {spec.min_ttl_days} days (they are kept that long for billing)."]
    if sensitivity not in Sensitivity.values:
        errors["sensitivity"] = [f"One of {', '.join(Sensitivity.values)}."]
    if not (legal_basis or "").strip():
        errors["legal_basis"] = ["Say why the data is kept this long."]
    if errors:
        raise FieldErrors(errors)
    chain_treatment = chain_treatment if spec.chained else ""
    now = timezone.now()
    with transaction.atomic():
        current = RetentionRule.objects.select_for_update().filter(org_id=org_id, dataset=dataset).first()
        before = _rule_terms(current) if current is not None else {  # a rule not seeded yet: the defaults
            "ttl_days": spec.default_ttl_days, "action": spec.default_action, "chain_treatment": spec.chain_treatment,
            "active": True}
        after = {"ttl_days": ttl_days, "action": action, "chain_treatment": chain_treatment, "active": active}
        tightened = _tightens(before, after)
        user = getattr(actor, "user", None)
        change = {"by": actor_label(actor), "user": str(user.pk) if user is not None else None,
                  "at": now.isoformat(), "tightened": tightened, "before": before, "after": after}
        rule = current or RetentionRule(org_id=org_id, dataset=dataset)
        rule.ttl_days, rule.action, rule.chain_treatment, rule.active = ttl_days, action, chain_treatment, active
        rule.legal_basis, rule.sensitivity = legal_basis.strip()[:200], sensitivity
        rule.updated_by, rule.updated_at = actor_label(actor), now
        rule.changes = [*(rule.changes or []), change]
        rule.save()
        audit_record(org_id=org_id, action="retention.rule_saved", actor=actor, target=f"retention_rule:{rule.id}",
                     data={"dataset": dataset, "ttl_days": ttl_days, "action": action, "active": active,
                           "chain_treatment": chain_treatment, "tightened": tightened, "before": before})
        if tightened:  # its own entry: the change a mass deletion or crypto-shredding would start from
            audit_record(org_id=org_id, action="retention.rule_tightened", actor=actor,
                         target=f"retention_rule:{rule.id}", data={"dataset": dataset, "before": before,
                                                                    "after": after})
    return rule


def _rule_terms(rule: RetentionRule) -> dict:
    return {"ttl_days": rule.ttl_days, "action": rule.action, "chain_treatment": rule.chain_treatment,
            "active": rule.active}


def _tightens(before: dict, after: dict) -> bool:
    """Would the rule now remove, or make unreadable, more than before?"""
    if not after["active"]:
        return False
    return (not before["active"] or after["ttl_days"] < before["ttl_days"]
            or (after["action"] == RetentionAction.DELETE and before["action"] != RetentionAction.DELETE)
            or (after["chain_treatment"] == ChainTreatment.CRYPTO_SHRED
                and before["chain_treatment"] != ChainTreatment.CRYPTO_SHRED))


def rule_changers(run: RetentionRun) -> list[dict]:
    """Who changed the rules a run acts on since the last executed run: as planned, and since."""
    changes = []
    for item in run.items.select_related("rule").order_by("dataset"):
        seen = []
        for change in [*(item.rule_changes or []), *(item.rule.changes or [])]:
            if change not in seen:
                seen.append(change)
        changes.extend({**change, "dataset": item.dataset} for change in seen)
    return changes


def _changed_a_rule(run: RetentionRun, actor, user) -> list[str]:
    label, pk = actor_label(actor), str(user.pk)
    return sorted({c.get("dataset", "") for c in rule_changers(run) if c.get("by") == label or c.get("user") == pk})


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
        elif hold.scope == HoldScope.SUBJECTS and spec.decision_ref:  # rows naming the subject's decisions
            held |= Q(**{f"{spec.decision_ref}__in": decision_refs(subject_tokens=targets)})
        if hold.scope == HoldScope.CASES:
            cases = case_ids(targets)  # a malformed target (placed before ids were checked) holds nothing
            if spec.case_path:
                held |= Q(**{f"{spec.case_path}__in": cases})
            elif spec.subject_path == "subject_token":  # decision records of the held cases
                from hitl.models import Case

                held |= Q(id__in=Case.objects.filter(id__in=cases).values("decision_id"))
            elif spec.decision_ref:  # rows naming the held cases' decisions
                held |= Q(**{f"{spec.decision_ref}__in": decision_refs(cases=cases)})
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
            # A rule saved before its dataset's floor existed acts at the floor.
            cutoff = now - dt.timedelta(days=max(rule.ttl_days, spec.min_ttl_days))
            item = RetentionRunItem(org_id=org_id, run=run, rule=rule, dataset=rule.dataset, cutoff=cutoff,
                                    action=rule.chain_treatment if spec.chained else rule.action,
                                    rule_changes=list(rule.changes or []))
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
        changed = _changed_a_rule(run, actor, user)
        if changed:
            raise FourEyesViolation(
                f"You changed the rules of {', '.join(changed)} since the last executed run; someone else must "
                "approve a run acting on them (four eyes).", permission="retention.approve", code="rule_changer")
        if run.approval is not None:
            if run.approval.status == ApprovalStatus.PENDING:
                approval_grant(request=run.approval, actor=actor, reason=reason)
            elif run.approval.status != ApprovalStatus.APPROVED:  # rejected on the Approvals page
                raise RetentionStateError(f"This run's approval request was {run.approval.status}.")
        _mark_approved(run, actor=actor, user=user, now=now)
    return run


def _mark_approved(run: RetentionRun, *, actor, user, now) -> None:
    """In the caller's transaction, on a locked proposed run: approved, and sent for execution at COMMIT."""
    run.status, run.approved_by, run.approved_at = RunStatus.APPROVED, user, now
    run.save(update_fields=["status", "approved_by", "approved_at"])
    audit_record(org_id=run.org_id, action="retention.approved", actor=actor, target=f"retention_run:{run.id}",
                 data={"rule_changes": [{"dataset": c.get("dataset"), "by": c.get("by"), "tightened": c.get("tightened")}
                                        for c in rule_changers(run)]})
    _send(run)


def _send(run: RetentionRun) -> None:
    org_id, run_id = str(run.org_id), str(run.id)
    # By name: the task module imports this one.
    transaction.on_commit(lambda: celery_app.send_task("privacy.tasks.retention_run_execute",
                                                        kwargs={"org_id": org_id, "run_id": run_id}))


def retention_reject(*, run: RetentionRun, actor, reason: str = "") -> RetentionRun:
    from tenancy.approvals import approval_reject

    actor = authorize(actor, REJECT)
    with transaction.atomic():
        run = _locked(run)
        if run.status != RunStatus.PROPOSED:
            raise RetentionStateError(f"This run is {run.status}; only a proposed run can be rejected.")
        if (run.approval is not None and getattr(actor, "user", None) is not None
                and run.approval.status == ApprovalStatus.PENDING):
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
    if spec.chained:
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
        if spec.purge:  # an append-only table: its owner's purge removes what may go
            removed = import_string(spec.purge)(org_id=item.org_id, ids=pks)
            item.done += removed
            item.retained += len(pks) - removed
        elif item.action == RetentionAction.DELETE:
            rows.delete()
            item.done += len(pks)
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
            _changes_acted_on(run)
            totals = {i.dataset: {"done": i.done, "held": i.held_at_execution, "retained": i.retained}
                      for i in run.items.all()}
            audit_record(org_id=org_id, action="retention.executed", actor=actor, target=f"retention_run:{run.id}",
                         data={"items": totals})
    return run


def _changes_acted_on(run: RetentionRun) -> None:
    """A run executed: the rule changes it was planned from have had their second person. Changes made
    after it was planned stay, for the next run's approver."""
    for item in run.items.select_related("rule"):
        rule = RetentionRule.objects.select_for_update().get(pk=item.rule.pk)
        later = [c for c in rule.changes or [] if dt.datetime.fromisoformat(c["at"]) > run.as_of]
        if later != (rule.changes or []):
            rule.changes = later
            rule.save(update_fields=["changes"])


def retention_follow_up(*, org_id, actor=SYSTEM, now=None, stale=dt.timedelta(minutes=15)) -> dict[str, int]:
    """The daily job's first step (the caller's org scope): runs decided on the general Approvals page
    follow their approval request — rejected there → rejected; approved there by someone who may approve
    the run → approved and sent; by someone who changed one of its rules → rejected — and runs left
    approved longer than ``stale`` (their execution was never sent, or lost) are sent again."""
    actor = authorize(actor, EXECUTE)
    now = now or timezone.now()
    counts = {"adopted": 0, "rejected": 0, "resent": 0}
    with transaction.atomic():
        decided = (RetentionRun.objects.select_for_update(of=("self",)).select_related("approval__decided_by")
                   .filter(status=RunStatus.PROPOSED, approval__isnull=False)
                   .exclude(approval__status=ApprovalStatus.PENDING))
        for run in decided:
            approver = run.approval.decided_by
            changed = (_changed_a_rule(run, f"user:{approver.pk}", approver)
                       if run.approval.status == ApprovalStatus.APPROVED and approver is not None else None)
            if changed == []:
                _mark_approved(run, actor=approver, user=approver, now=now)
                counts["adopted"] += 1
                continue
            why = (f"approved on the Approvals page by a person who changed the rules of {', '.join(changed)}"
                   if changed else f"its approval request was {run.approval.status} on the Approvals page")
            run.status, run.note = RunStatus.REJECTED, why[:500]
            run.save(update_fields=["status", "note"])
            audit_record(org_id=run.org_id, action="retention.rejected", actor=actor, target=f"retention_run:{run.id}",
                         data={"reason": why[:200]})
            counts["rejected"] += 1
        for run in RetentionRun.objects.filter(status=RunStatus.APPROVED, approved_at__lt=now - stale):
            _send(run)
            audit_record(org_id=run.org_id, action="retention.resent", actor=actor, target=f"retention_run:{run.id}")
            counts["resent"] += 1
    return counts
