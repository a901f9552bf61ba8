"""Writes for decisions: the policy version lifecycle and the decide path (SPEC §9).

Lifecycle: draft → pending_approval (submit; source frozen, lint must pass) → approved (a second
person, through tenancy.approvals) → published (exactly one per set; the previous one is retired)
→ retired. Rollback republishes a version that was published before. Every step is audited.

Decide: one transaction — validate against the published version's contract, evaluate, store the
record with a masked snapshot, append it to the ``decisions`` chain, meter ``decision_calls``.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from billing.services import MeterInput, meter_record, meter_record_many
from decisions.chain import decision_chain_data
from decisions.choices import RecordKind, VersionStatus
from decisions.hooks import ConsentVerdict, consent_check, input_seal, review_requested
from decisions.inputs import InputTooComplex, guard_input
from decisions.models import DecisionRecord, PolicySet, PolicyVersion
from decisions.policy.engine import compile_policy
from decisions.policy.language import parse_policy
from dos.audit import actor_label, audit_record
from dos.authz import PermissionRefused, action, authorize
from dos.canonical import sha256_hex
from dos.errors import DomainError
from dos.ledger import Entry, ledger_append, ledger_append_many
from dos.outbox import outbox_emit
from dos.sqlbatch import bulk_insert
from tenancy.approvals import approval_grant, approval_require

ALLOWED = {
    VersionStatus.DRAFT: ["submit"],
    VersionStatus.PENDING_APPROVAL: ["approve"],
    VersionStatus.APPROVED: ["publish"],
    VersionStatus.PUBLISHED: ["retire"],
    VersionStatus.RETIRED: ["rollback"],
}


class PolicyStateError(DomainError):
    """An action not allowed in the version's state (→ 409 with the allowed actions)."""

    status, code = 409, "illegal_transition"

    def __init__(self, version: PolicyVersion, action: str):
        self.allowed = ALLOWED.get(version.status, [])
        super().__init__(f"Cannot {action} a {version.status} version; allowed: {', '.join(self.allowed) or 'none'}.",
                         allowed=self.allowed)


class PolicyLintError(DomainError):
    """The source has problems (400 ``policy_invalid`` with ``issues``: rule id, line, column)."""

    status, code = 400, "policy_invalid"

    def __init__(self, issues):
        self.issues = issues
        super().__init__("The policy has problems; see issues.",
                         issues=[i.as_dict() if hasattr(i, "as_dict") else {"message": str(i)} for i in issues])


class PolicyNotFound(DomainError):
    """No published policy answers this call: 404 ``policy_not_found`` (``errors`` names ``policy``);
    several published and none named: 400 ``validation_error``."""

    def __init__(self, message: str, *, ambiguous: bool = False):
        super().__init__(message, status=400 if ambiguous else 404,
                         code="validation_error" if ambiguous else "policy_not_found", errors={"policy": [message]})


POLICY_DRAFT = action("policy.draft", "policy.write")
POLICY_SUBMIT = action("policy.submit", "policy.write")
POLICY_APPROVE = action("policy.approve", "policy.approve")
POLICY_PUBLISH = action("policy.publish", "policy.approve")
POLICY_ROLLBACK = action("policy.rollback", "policy.approve")
POLICY_RETIRE = action("policy.retire", "policy.approve")
REASON_CODE_SAVE = action("reason_code.save", "policy.write")
DECIDE = action("decision.make", "decisions.run")


def _person(actor, doing: str, permission: str):
    """The person behind the actor: authorship and four eyes need a name, not a job or a bare key."""
    user = getattr(actor, "user", None)
    if user is None:
        raise PermissionRefused(f"{doing} needs a person: act as a member, or use a key created by one.",
                                permission=permission, code="person_required")
    return user


def _audit(version: PolicyVersion, action: str, actor, **data) -> None:
    audit_record(org_id=version.org_id, action=f"policy.{action}", actor=actor, target=f"policy_version:{version.id}",
                 data={"policy": version.policy_set.name, "semver": version.semver, "sha256": version.sha256, **data})


def _lint(source: str) -> None:
    result = parse_policy(source)
    errors = [i for i in result.issues if i.severity == "error"]
    if errors or not result.ok:
        raise PolicyLintError(errors or result.issues)


def version_create(*, project, source: str, semver: str, actor, notes: str = "") -> PolicyVersion:
    """A new draft; its set (named after the policy's `name`) is created on first use."""
    actor = authorize(actor, POLICY_DRAFT)
    author = _person(actor, "Authoring a policy", "policy.write")
    result = parse_policy(source)
    if result.policy is None:
        raise PolicyLintError(result.issues)
    with transaction.atomic():
        policy_set, _ = PolicySet.objects.get_or_create(org_id=project.org_id, project=project,
                                                        name=result.policy.name)
        if PolicyVersion.objects.filter(policy_set=policy_set, semver=semver).exists():
            raise PolicyLintError([f"Version {semver} of {policy_set.name} exists already."])
        version = PolicyVersion.objects.create(org_id=project.org_id, policy_set=policy_set, semver=semver,
                                               source=source, sha256=sha256_hex(source),
                                               author=author, notes=notes)
        _audit(version, "draft_created", actor)
    return version


def version_submit(*, version: PolicyVersion, actor) -> PolicyVersion:
    actor = authorize(actor, POLICY_SUBMIT)
    if version.status != VersionStatus.DRAFT:
        raise PolicyStateError(version, "submit")
    _lint(version.source)
    with transaction.atomic():
        version.approval = approval_require(org=version.org, action="policy.publish",
                                            target=f"policy_version:{version.id}", requested_by=version.author,
                                            payload={"sha256": version.sha256})
        version.status = VersionStatus.PENDING_APPROVAL
        version.submitted_at = timezone.now()
        version.save(update_fields=["approval", "status", "submitted_at"])
        _audit(version, "submitted", actor)
    return version


def version_approve(*, version: PolicyVersion, actor, reason: str = "") -> PolicyVersion:
    """Four eyes: approval_grant refuses the author and anyone without policy.approve."""
    actor = authorize(actor, POLICY_APPROVE)
    approver = _person(actor, "Approving a policy", "policy.approve")
    if version.status != VersionStatus.PENDING_APPROVAL:
        raise PolicyStateError(version, "approve")
    with transaction.atomic():
        approval_grant(request=version.approval, actor=actor, reason=reason)
        version.status = VersionStatus.APPROVED
        version.approver = approver
        version.approved_at = timezone.now()
        version.save(update_fields=["status", "approver", "approved_at"])
        _audit(version, "approved", actor)
    return version


def _make_published(version: PolicyVersion, actor, action: str) -> PolicyVersion:
    with transaction.atomic():
        now = timezone.now()
        current = (PolicyVersion.objects.select_for_update()
                   .filter(policy_set_id=version.policy_set_id, status=VersionStatus.PUBLISHED).first())
        if current and current.pk != version.pk:
            current.status = VersionStatus.RETIRED
            current.retired_at = now
            current.save(update_fields=["status", "retired_at"])
        version.status = VersionStatus.PUBLISHED
        version.published_at = now
        version.retired_at = None
        version.save(update_fields=["status", "published_at", "retired_at"])
        compile_policy(version.source)  # fail here, not on the first decision
        _audit(version, action, actor, replaced=str(current.id) if current else None)
    return version


def version_publish(*, version: PolicyVersion, actor) -> PolicyVersion:
    actor = authorize(actor, POLICY_PUBLISH)
    if version.status != VersionStatus.APPROVED:
        raise PolicyStateError(version, "publish")
    return _make_published(version, actor, "published")


def version_rollback(*, version: PolicyVersion, actor) -> PolicyVersion:
    """Republish a version that was published before (no source changes, a new audit entry)."""
    actor = authorize(actor, POLICY_ROLLBACK)
    if version.status != VersionStatus.RETIRED or version.published_at is None:
        raise PolicyStateError(version, "rollback")
    return _make_published(version, actor, "rolled_back")


def version_retire(*, version: PolicyVersion, actor) -> PolicyVersion:
    actor = authorize(actor, POLICY_RETIRE)
    if version.status != VersionStatus.PUBLISHED:
        raise PolicyStateError(version, "retire")
    version.status = VersionStatus.RETIRED
    version.retired_at = timezone.now()
    version.save(update_fields=["status", "retired_at"])
    _audit(version, "retired", actor)
    return version


# -- decide ------------------------------------------------------------------------------------------

def subject_token(org_id, subject_id: str) -> str:
    """A stable per-org pseudonym for the subject; the raw id is never stored or chained.

    The one place a subject id is normalised: surrounding whitespace is not part of it, so
    ``"lead-1 "`` from one entry point and ``"lead-1"`` from another are the same subject."""
    return "vt_" + salted_hmac(f"dos.subject.{org_id}", subject_id.strip(), algorithm="sha256").hexdigest()[:40]


def input_hash(data) -> str:
    return sha256_hex(json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False))


# Version objects by id. Only fields that never change after submission are read from them
# (source, sha256, semver, the set's name); which version is published is asked fresh every time.
_VERSIONS: dict = {}


def published_version(*, project, policy: str | None) -> PolicyVersion:
    from django.db import connection

    sql = ("SELECT v.id FROM decisions_policyversion v JOIN decisions_policyset s ON s.id = v.policy_set_id "
           "WHERE v.org_id = %s AND s.org_id = %s AND s.project_id = %s AND v.status = 'published'")
    params = [project.org_id, project.org_id, project.pk]
    if policy:
        sql += " AND s.name = %s"
        params.append(policy)
    with connection.cursor() as cur:
        cur.execute(sql + " LIMIT 2", params)
        ids = [row[0] for row in cur.fetchall()]
    versions = []
    for version_id in ids:
        version = _VERSIONS.get(version_id)
        if version is None:
            version = PolicyVersion.objects.select_related("policy_set").get(id=version_id)
            if len(_VERSIONS) > 1000:
                _VERSIONS.clear()
            _VERSIONS[version_id] = version
        versions.append(version)
    if not versions:
        raise PolicyNotFound(f"No published policy{' named ' + repr(policy) if policy else ''} in this project.")
    if len(versions) > 1 and not policy:
        raise PolicyNotFound("This project has several published policies: name one with 'policy'.", ambiguous=True)
    return versions[0]


@dataclass
class Decided:
    record: DecisionRecord
    version: PolicyVersion
    case: object = None  # hitl.models.Case when the decision went to review


class ConsentMissing(DomainError):
    """No consent covers the purpose and the org refuses such calls (403; nothing recorded or metered)."""

    status, code = 403, "consent_missing"


CONSENT_MISSING = "CONSENT_MISSING"


def consent_verdicts(org_id, checks: list[tuple[str, str]]) -> list[ConsentVerdict | None]:
    """The policy enforcement point: privacy's verdict per (subject token, purpose), one query for
    all of them; None each when privacy is not installed."""
    if not consent_check:
        return [None] * len(checks)
    return consent_check.one(org_id=org_id, checks=checks)


def _consent_refused(verdict: ConsentVerdict | None, purpose: str) -> None:
    if verdict is not None and not verdict.covered and verdict.mode == "refuse":
        raise ConsentMissing(f"No consent of the subject covers the purpose '{purpose}'.", purpose=purpose)


def _consent_denied(verdict: ConsentVerdict | None) -> bool:
    return verdict is not None and not verdict.covered and verdict.mode == "deny"


def consent_denied(record) -> bool:
    """A record denied for want of consent: recorded and chained, never evaluated nor metered."""
    return (isinstance(record, DecisionRecord) and (record.refs or {}).get("consent") == "missing"
            and not record.rule_path and [c.get("code") for c in record.reason_codes or []] == [CONSENT_MISSING])


def _consent_fields(verdict: ConsentVerdict | None) -> tuple[str, dict]:
    """(consent_ref, refs) for a record: the covering consent or basis, or a note that none did."""
    if verdict is None:
        return "", {}
    return (verdict.consent_ref, {}) if verdict.covered else ("", {"consent": "missing"})


def _denied_record(*, org, project, version, token: str, purpose: str, corr_id: str, hashed: str,
                   labels) -> DecisionRecord:
    """A deny for want of consent: the input is not evaluated and no snapshot of it is kept."""
    return DecisionRecord(
        id=uuid.uuid4(), org_id=org.id, project=project, policy_version=version, policy_sha256=version.sha256,
        subject_token=token, purpose=purpose, corr_id=corr_id[:64], input_hash=hashed, snapshot={},
        outcome="deny", reason_codes=[{"code": CONSENT_MISSING, "message": f"이용 목적 '{purpose}'에 대한 정보주체의 "
                                                                         f"유효한 동의가 없습니다."}],
        rule_path=[], labels=sorted(set(labels)), kind=RecordKind.ORIGINAL, refs={"consent": "missing"}, latency_ms=0)


def _masked_refs(org_id, token: str, decision_id, data: dict, findings) -> dict:
    """What the record keeps about masked personal data: the kinds found, and the original input
    sealed under the subject's data key (privacy's vault), so replay can use it until the subject is
    erased."""
    if not findings:
        return {}
    refs = {"pii_masked": findings}
    if input_seal:
        sealed = input_seal.one(org_id=org_id, subject_token=token, decision_id=decision_id, data=data)
        if sealed:
            refs["sealed_input"] = sealed
    return refs


def decision_make(*, org, project, subject_id: str, purpose: str, data: dict, policy: str | None = None,
                  labels=(), corr_id: str = "", actor, route: str = "decide") -> Decided:
    started = time.perf_counter()
    actor = authorize(actor, DECIDE)
    guarded = guard_input(data)  # InputTooComplex → 400 before any work
    version = published_version(project=project, policy=policy)
    token = subject_token(org.id, subject_id)
    [verdict] = consent_verdicts(org.id, [(token, purpose)])
    _consent_refused(verdict, purpose)  # refuse mode: 403 before anything is evaluated or written
    hashed = input_hash(data)
    if _consent_denied(verdict):
        record = _denied_record(org=org, project=project, version=version, token=token, purpose=purpose,
                                corr_id=corr_id, hashed=hashed, labels=labels)
        with transaction.atomic(savepoint=False):  # chained like any decision; not metered
            appended = ledger_append(chain="decisions", org_id=org.id, action="decision.made",
                                     actor=actor_label(actor), target=f"decision:{record.id}",
                                     data=decision_chain_data(record))
            record.latency_ms = round((time.perf_counter() - started) * 1000, 3)
            record.ledger_seq, record.ledger_hash = appended.seq, appended.hash
            record.save(force_insert=True)
        return Decided(record=record, version=version)
    compiled = compile_policy(version.source)
    normalised = compiled.validate(data)  # InputInvalid → 400 with field paths
    evaluation = compiled.evaluate(normalised, route=route, labels=labels)
    decision_id = uuid.uuid4()
    codes = [{"code": r["code"], "message": r["message"]} for r in evaluation.reason_codes]
    consent_ref, consent_refs = _consent_fields(verdict)
    refs = _masked_refs(org.id, token, decision_id, data, guarded.findings)
    # No savepoint: the API's request transaction (or this one) is all-or-nothing already.
    with transaction.atomic(savepoint=False):
        # Meter first: the chain append takes the chain head lock, held until COMMIT, so it comes
        # last with only the record insert after it.
        meter_record(org=org, metric="decision_calls", corr_id=str(decision_id), source="decide",
                     project_id=project.id, trusted_project=True)
        record = DecisionRecord(
            id=decision_id, org_id=org.id, project=project, policy_version=version, policy_sha256=version.sha256,
            subject_token=token, purpose=purpose, corr_id=corr_id[:64], input_hash=hashed,
            snapshot=guarded.snapshot, outcome=evaluation.outcome, reason_codes=codes,
            rule_path=[step.as_dict() for step in evaluation.rule_path], labels=sorted(set(labels)),
            kind=RecordKind.ORIGINAL, refs={**refs, **consent_refs}, consent_ref=consent_ref,
        )
        appended = ledger_append(chain="decisions", org_id=org.id, action="decision.made", actor=actor_label(actor),
                                 target=f"decision:{decision_id}", data=decision_chain_data(record))
        record.latency_ms = round((time.perf_counter() - started) * 1000, 3)
        record.ledger_seq, record.ledger_hash = appended.seq, appended.hash
        record.save(force_insert=True)
        case = None
        if evaluation.needs_review and review_requested:  # a review decision opens a case in this transaction
            [case] = review_requested.one(records=[(record, evaluation)], project=project, actor=actor)
    return Decided(record=record, version=version, case=case)


def decision_finalize(*, original_id, outcome: str, actor, reason_code: str, message: str, refs: dict,
                      override: bool, event: dict | None = None) -> DecisionRecord:
    """A person's final word on a decision — human review deciding a case, or an appeal re-issuing
    it: a new record of kind override on the decisions chain (the original never changes) and a
    ``decision.finalized`` outbox event, in the caller's transaction. ``event`` adds members to it."""
    original = DecisionRecord.objects.get(pk=original_id)
    record = _override_record(original=original, outcome=outcome, actor=actor, reason_code=reason_code,
                              message=message, refs=refs)
    outbox_emit(org_id=original.org_id, topic="decision.finalized", key=f"decision:{original.id}", payload={
        "decision_id": str(original.id), "final_decision_id": str(record.id), "outcome": outcome,
        "case_id": refs.get("case_id"), "reason_codes": [reason_code], "override": override, **(event or {})})
    return record


def _override_record(*, original: DecisionRecord, outcome: str, actor, reason_code: str, message: str,
                     refs: dict) -> DecisionRecord:
    record = DecisionRecord(
        id=uuid.uuid4(), org_id=original.org_id, project_id=original.project_id,
        policy_version_id=original.policy_version_id, policy_sha256=original.policy_sha256,
        subject_token=original.subject_token, purpose=original.purpose, corr_id=original.corr_id,
        input_hash=original.input_hash, snapshot=original.snapshot, outcome=outcome,
        reason_codes=[{"code": reason_code, "message": message}], rule_path=[], labels=original.labels, latency_ms=0,
        kind=RecordKind.OVERRIDE, refs={**refs, "overrides": str(original.id)})
    with transaction.atomic(savepoint=False):
        appended = ledger_append(chain="decisions", org_id=original.org_id, action="decision.overridden",
                                 actor=actor_label(actor), target=f"decision:{record.id}",
                                 data=decision_chain_data(record))
        record.ledger_seq, record.ledger_hash = appended.seq, appended.hash
        record.save(force_insert=True)
    return record


@dataclass
class BatchItem:
    subject_id: str
    purpose: str
    data: dict
    labels: tuple = ()


def decision_make_many(*, org, project, items: list[BatchItem], policy: str | None = None, corr_id: str = "",
                       actor) -> list[DecisionRecord | dict]:
    """Decide up to 1,000 items in one transaction: invalid items get their field errors, the rest are
    recorded, chained (one head lock) and metered (one insert) together."""
    from decisions.policy.engine import InputInvalid

    actor = authorize(actor, DECIDE)

    started = time.perf_counter()
    version = published_version(project=project, policy=policy)
    compiled = compile_policy(version.source)
    label = actor_label(actor)
    tokens = [subject_token(org.id, item.subject_id) for item in items]
    verdicts = consent_verdicts(org.id, [(t, item.purpose) for t, item in zip(tokens, items, strict=True)])
    results: list[DecisionRecord | dict] = []
    pending = []
    for item, token, verdict in zip(items, tokens, verdicts, strict=True):
        if verdict is not None and not verdict.covered and verdict.mode == "refuse":
            results.append({"errors": {"purpose": [f"No consent of the subject covers the purpose '{item.purpose}'."]},
                            "code": "consent_missing"})
            continue
        if _consent_denied(verdict):
            record = _denied_record(org=org, project=project, version=version, token=token, purpose=item.purpose,
                                    corr_id=corr_id, hashed=input_hash(item.data), labels=item.labels)
            record.evaluation = None
            results.append(record)
            continue
        try:
            guarded = guard_input(item.data)
            evaluation = compiled.evaluate(compiled.validate(item.data), labels=item.labels)
        except (InputInvalid, InputTooComplex) as exc:
            results.append({"errors": exc.errors})
            continue
        decision_id = uuid.uuid4()
        codes = [{"code": r["code"], "message": r["message"]} for r in evaluation.reason_codes]
        consent_ref, consent_refs = _consent_fields(verdict)
        record = DecisionRecord(
            id=decision_id, org_id=org.id, project=project, policy_version=version, policy_sha256=version.sha256,
            subject_token=token, purpose=item.purpose, corr_id=corr_id[:64],
            input_hash=input_hash(item.data), snapshot=guarded.snapshot, outcome=evaluation.outcome,
            reason_codes=codes, rule_path=[step.as_dict() for step in evaluation.rule_path],
            labels=sorted(set(item.labels)), latency_ms=0, kind=RecordKind.ORIGINAL,
            refs={**_masked_refs(org.id, token, decision_id, item.data, guarded.findings), **consent_refs},
            consent_ref=consent_ref)
        record.evaluation = evaluation  # not a field: kept for the review cases opened below
        results.append(record)
        pending.append(record)
    with transaction.atomic():
        # Only evaluated decisions are metered: a deny for want of consent is recorded and chained, free.
        meter_record_many(org=org, items=[MeterInput(metric="decision_calls", value=1, corr_id=str(r.id),
                                                     source="decide", project_id=project.id) for r in pending])
        chained = [r for r in results if isinstance(r, DecisionRecord)]  # in request order
        appended = ledger_append_many(chain="decisions", org_id=org.id, entries=[
            Entry(action="decision.made", actor=label, target=f"decision:{r.id}", data=decision_chain_data(r))
            for r in chained])
        latency = round((time.perf_counter() - started) * 1000 / max(1, len(items)), 3)
        for record, link in zip(chained, appended, strict=True):
            record.ledger_seq, record.ledger_hash, record.latency_ms = link.seq, link.hash, latency
        bulk_insert(DecisionRecord, chained)
        reviews = [r for r in pending if r.evaluation.needs_review]
        if reviews and review_requested:
            opened = review_requested.one(records=[(r, r.evaluation) for r in reviews], project=project, actor=actor)
            for record, case in zip(reviews, opened, strict=True):
                record.case_id = case.id
    return results


def reason_code_save(*, org_id, code: str, ko: str, en: str, category: str = "", actor):
    """An org's own customer wording for a reason code (creates or replaces), audited."""
    from decisions.models import ReasonCode

    actor = authorize(actor, REASON_CODE_SAVE)
    with transaction.atomic():
        reason, _ = ReasonCode.objects.update_or_create(
            org_id=org_id, code=code, defaults={"ko": ko, "en": en, "category": category, "updated_at": timezone.now()})
        audit_record(org_id=org_id, action="reason_code.saved", actor=actor, target=f"reason_code:{code}",
                     data={"ko": ko, "en": en, "category": category})
    return reason


def reason_code_delete(*, reason, actor) -> None:
    """Drop an org's own wording: the domain packs' default applies again; audited."""
    actor = authorize(actor, REASON_CODE_SAVE)
    with transaction.atomic():
        audit_record(org_id=reason.org_id, action="reason_code.deleted", actor=actor,
                     target=f"reason_code:{reason.code}")
        reason.delete()
