"""The permission matrix, generated from ``tenancy.roles`` and the registry of state-changing actions
(``dos.authz.ACTIONS``): for every org role × every action, through every surface that exposes it
(the service itself, the tenant API as a signed-in person, the admin by POST, ``dosctl --as``), the
action succeeds exactly when the role holds what it needs. A registered action without an entry
here fails the suite.

Each role gets one world (Acme with the lending pack published and a review desk) and one member of
that role, ``riley``; every action runs in its own savepoint, rolled back afterwards, so actions
never see each other's effects.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from rest_framework.test import APIClient

from billing import accounts as billing_accounts
from billing import close as billing_close
from billing import credit_notes, invoicing, pricebook, subledger, subscriptions
from billing import credits as billing_credits
from billing import drift as billing_drift
from billing import seats as billing_seats
from decisions import services as decision_services
from decisions.choices import VersionStatus
from dos import scope
from dos.authz import ACTIONS, PermissionRefused
from dos.models import OutboxEvent
from dos.outbox import outbox_retry
from hitl import appeals, notes
from hitl.actions import case_act
from hitl.choices import CaseSource, TaskKind
from hitl.desk import reviewer_profile_save
from hitl.models import Task
from hitl.qa import qa_record
from hitl.services import case_open
from privacy import consent as privacy_consent
from privacy import holds as privacy_holds
from privacy import models as privacy_models
from privacy.dsar import services as dsar_services
from privacy.retention import services as retention
from privacy.vault import rotation as vault_rotation
from privacy.vault import services as vault
from tenancy import services
from tenancy.approvals import approval_grant, approval_require
from tenancy.choices import OrgRole
from tenancy.models import ApprovalRequest, Membership, Org, PlatformRole, Project
from tenancy.roles import ROLE_PERMISSIONS
from tests.billing import invoicing_support as inv
from tests.billing import subscription_support as bs
from tests.decisions.test_decide_api import BASE
from tests.factories import UserFactory, add_member, as_member, default_project, verified_client

pytestmark = pytest.mark.django_db(transaction=False)
SYSTEM = "system:test"
ROLES = sorted(ROLE_PERMISSIONS)


@dataclass
class World:
    org: Org
    project: Project
    owner: object  # olivia
    senior: object  # bob, who approves and decides in set-ups
    riley: object  # the member whose role is under test
    role: str
    published: object

    def actor(self):
        return as_member(self.org, self.riley)

    def person(self, user):
        return as_member(self.org, user)


@dataclass
class Entry:
    prepare: Callable[[World], object]
    service: Callable[[World, object, object], object]
    needs: set[str] = field(default_factory=set)  # besides the action's own primitive (nobody grants more)
    platform_only: bool = False
    api: Callable[[World, APIClient, object], object] | None = None  # returns the response
    admin: Callable[[World, object, object], object] | None = None  # returns the response
    cli: Callable[[World, object], list[str]] | None = None  # dosctl arguments (--as is added)


def _none(w):
    return None


def _member(w, role=OrgRole.READ_ONLY):
    user = UserFactory()
    add_member(w.org, user, role)
    return user


def _key(w):
    return services.apikey_create(project=w.project, name="k", scopes=["policy.read"], actor=SYSTEM).key


def _draft(w, semver="9.0.0"):
    return decision_services.version_create(project=w.project, source=w.published.source, semver=semver,
                                            actor=w.person(w.owner))


def _pending(w):
    return decision_services.version_submit(version=_draft(w), actor=w.person(w.owner))


def _approved(w):
    return decision_services.version_approve(version=_pending(w), actor=w.person(w.senior))


def _retired(w):
    decision_services.version_publish(version=_approved(w), actor=w.person(w.senior))
    return type(w.published).objects.get(pk=w.published.pk)  # the pack's version: published before, retired now


def _case(w):
    return case_open(org_id=w.org.id, project=w.project, source=CaseSource.ADMIN, actor=SYSTEM)


def _decided(w):
    case = _case(w)
    return case_act(case=case, action="approve", actor=w.person(w.senior))


def _note(w, body="Called 010-1234-5678 about the payslip."):
    return notes.note_add(case=_case(w), actor=SYSTEM, body_md=body)


def _approved_reveal(w):
    note = _note(w)
    request = approval_require(org=w.org, action="vault.unseal", target=f"case_note:{note.pk}", requested_by=w.riley)
    approval_grant(request=request, actor=as_member(w.org, w.owner))
    return note


def _appealed(w):
    case = _decided(w)
    return appeals.appeal_submit(case=case, reason="the applicant disputes it", actor=SYSTEM)


def _qa_task(w):
    case = _decided(w)
    return Task.objects.create(org_id=w.org.id, case=case, kind=TaskKind.QA, payload={})


def _grant(w):
    return services.grant_create(org=w.org, user=_member(w), permission="policy.read", effect="allow", actor=SYSTEM)


def _project_grant(w):
    return services.project_grant(project=w.project, user=_member(w), permission="policy.read", actor=SYSTEM)


def _dead_event(w):
    return OutboxEvent.objects.create(org_id=w.org.id, topic="matrix.retry", key="k", status="dead", attempts=8)


def _finding(w):
    from privacy.discovery import discovery_scan

    scan = discovery_scan(org_id=w.org.id, dataset="m.csv", content=b"email\nminji@naver.com\n", actor=SYSTEM)
    return scan.findings.get()


def _consent(w):
    return privacy_consent.consent_grant(org_id=w.org.id, subject_token="vt_matrix", purposes=["loan_screening"],
                                         source="matrix", actor=SYSTEM)


def _sealed(w):
    return vault.seal(actor=SYSTEM, org_id=w.org.id, subject_token="vt_matrix", table="t", row="1", field="f",
                      plaintext=b"secret")


def _approved_unseal(w):
    sealed = _sealed(w)
    request = vault.unseal_request(actor=w.person(w.owner), org_id=w.org.id, sealed=sealed)
    request.requested_by = w.riley  # riley asks, olivia approves (four eyes)
    request.save(update_fields=["requested_by"])
    approval_grant(request=request, actor=w.person(w.owner))
    return sealed, request


def _approved_rotation(w):
    rotation = vault_rotation.rotation_request(actor=w.person(w.owner), org_id=w.org.id, reason="matrix")
    approver = _member(w, OrgRole.SECURITY_ADMIN)
    approval_grant(request=ApprovalRequest.objects.get(pk=rotation.approval_id), actor=w.person(approver))
    return rotation


def _dsar(w, kind="access"):
    return dsar_services.dsar_submit(org_id=w.org.id, kind=kind, subject_id="lead-1", actor=SYSTEM)


def _dsar_exported(w):
    return matrix_support.dsar_exported(w)  # verified, hand-over approved by a second person, exported


def _hold(w):
    return privacy_holds.hold_place(org_id=w.org.id, actor=SYSTEM, scope="datasets", targets=["delivery_traces"],
                                    reason="matrix")


def _proposed_run(w):
    return retention.retention_plan(org_id=w.org.id, actor=w.person(w.owner))


def _approved_run(w):
    run = retention.retention_plan(org_id=w.org.id, actor=SYSTEM)
    return retention.retention_approve(run=run, actor=w.person(w.owner))


def _matrix_export_path() -> str:
    import tempfile

    return f"{tempfile.gettempdir()}/matrix-subject-export.zip"


_NOV = dt.datetime(2026, 11, 14, tzinfo=dt.UTC)


def _drift_row(w):
    return billing_drift.InvoiceDrift.objects.create(org_id=w.org.id, month=_NOV.date().replace(day=1),
                                                     metric="matrix", metered=1, invoiced=1, drift_pct=0)


def _journal(w):
    return subledger.post("invoice.issued", org_id=w.org.id, source=subledger.SourceRef("billing.invoice", "m-1", "M-1"),
                          amounts={"net": 100, "tax": 10, "total": 110}, occurred_at=_NOV, actor=SYSTEM)


READ_ONLY = set(ROLE_PERMISSIONS[OrgRole.READ_ONLY])

MATRIX: dict[str, Entry] = {
    "org.create": Entry(_none, lambda w, a, o: services.org_create(name="New Co", actor=a), platform_only=True),
    "org.update": Entry(_none, lambda w, a, o: services.org_update(org=w.org, fields=["name"], actor=a)),
    "project.create": Entry(
        _none, lambda w, a, o: services.project_create(org=w.org, name="Leads", actor=a),
        api=lambda w, c, o: c.post("/api/v1/projects", {"name": "Leads", "slug": "leads"}, format="json"),
        admin=lambda w, c, o: c.post("/admin/tenancy/project/add/", {
            "name": "Leads", "slug": "leads", "description": "", "environments-TOTAL_FORMS": "0",
            "environments-INITIAL_FORMS": "0"})),
    "project.update": Entry(_none, lambda w, a, o: services.project_update(project=w.project, actor=a, name="Main"),
                            api=lambda w, c, o: c.patch(f"/api/v1/projects/{w.project.id}", {"name": "Main"},
                                                        format="json")),
    "project.archive": Entry(lambda w: services.project_create(org=w.org, name="Old", actor=SYSTEM),
                             lambda w, a, o: services.project_archive(project=o, actor=a),
                             api=lambda w, c, o: c.delete(f"/api/v1/projects/{o.id}")),
    "project.restore": Entry(lambda w: services.project_archive(project=services.project_create(
        org=w.org, name="Old", actor=SYSTEM), actor=SYSTEM), lambda w, a, o: services.project_restore(project=o, actor=a)),
    "apikey.create": Entry(
        _none, lambda w, a, o: services.apikey_create(project=w.project, name="k", scopes=["policy.read"], actor=a),
        needs={"policy.read"},
        api=lambda w, c, o: c.post(f"/api/v1/projects/{w.project.id}/api-keys",
                                   {"name": "k", "scopes": ["policy.read"]}, format="json"),
        cli=lambda w, o: ["apikey", "create", "--org", w.org.slug, "--name", "k", "--scopes", "policy.read"]),
    "apikey.revoke": Entry(
        _key, lambda w, a, o: services.apikey_revoke(key=o, actor=a),
        api=lambda w, c, o: c.post(f"/api/v1/projects/{w.project.id}/api-keys/{o.id}/revoke", {"reason": "x"},
                                   format="json"),
        cli=lambda w, o: ["apikey", "revoke", "--org", w.org.slug, "--prefix", o.prefix]),
    "member.add": Entry(
        _none, lambda w, a, o: services.membership_add(org=w.org, email="new@acme.example", role="read_only", actor=a),
        needs=READ_ONLY,
        api=lambda w, c, o: c.post("/api/v1/members", {"email": "new@acme.example", "role": "read_only"},
                                   format="json"),
        admin=lambda w, c, o: c.post("/admin/tenancy/membership/add/", {"email": "new@acme.example",
                                                                        "role": "read_only"})),
    "member.remove": Entry(
        lambda w: Membership.objects.get(user=_member(w)), lambda w, a, o: services.membership_remove(membership=o, actor=a),
        needs=READ_ONLY, api=lambda w, c, o: c.delete(f"/api/v1/members/{o.id}")),
    "grant.create": Entry(
        _member, lambda w, a, o: services.grant_create(org=w.org, user=o, permission="policy.read", effect="allow",
                                                       actor=a), needs={"policy.read"}),
    "grant.revoke": Entry(_grant, lambda w, a, o: services.grant_revoke(grant=o, actor=a), needs={"policy.read"}),
    "project_grant.create": Entry(
        _member, lambda w, a, o: services.project_grant(project=w.project, user=o, permission="policy.read", actor=a),
        needs={"policy.read"}),
    "project_grant.revoke": Entry(_project_grant, lambda w, a, o: services.project_grant_revoke(grant=o, actor=a),
                                  needs={"policy.read"}),
    "platform_role.grant": Entry(_member, lambda w, a, o: services.platform_role_grant(user=o, role="platform_support",
                                                                                        actor=a), platform_only=True),
    "platform_role.revoke": Entry(
        lambda w: PlatformRole.objects.create(user=_member(w), role="platform_support"),
        lambda w, a, o: services.platform_role_revoke(platform_role=o, actor=a), platform_only=True),
    "user.update": Entry(_member, lambda w, a, o: services.user_update(user=o, changes={"full_name": "Renamed"},
                                                                         actor=a), platform_only=True),
    "policy.draft": Entry(
        _none, lambda w, a, o: decision_services.version_create(project=w.project, source=w.published.source,
                                                                semver="9.9.9", actor=a),
        api=lambda w, c, o: c.post("/api/v1/policies", {"source": w.published.source, "semver": "9.9.9"},
                                   format="json")),
    "policy.submit": Entry(_draft, lambda w, a, o: decision_services.version_submit(version=o, actor=a),
                           api=lambda w, c, o: c.post(f"/api/v1/policy-versions/{o.id}/submit")),
    "policy.approve": Entry(
        _pending, lambda w, a, o: decision_services.version_approve(version=o, actor=a),
        api=lambda w, c, o: c.post(f"/api/v1/policy-versions/{o.id}/approve"),
        cli=lambda w, o: ["policy", "approve", str(o.id), "--org", w.org.slug]),
    "policy.publish": Entry(
        _approved, lambda w, a, o: decision_services.version_publish(version=o, actor=a),
        api=lambda w, c, o: c.post(f"/api/v1/policy-versions/{o.id}/publish"),
        admin=lambda w, c, o: c.post("/admin/decisions/policyversion/", {
            "action": "publish_selected", "_selected_action": [str(o.id)], "confirmed": "yes"}),
        cli=lambda w, o: ["policy", "publish", str(o.id), "--org", w.org.slug]),
    "policy.rollback": Entry(_retired, lambda w, a, o: decision_services.version_rollback(version=o, actor=a),
                             api=lambda w, c, o: c.post(f"/api/v1/policy-versions/{o.id}/rollback")),
    "policy.retire": Entry(lambda w: type(w.published).objects.get(pk=w.published.pk),
                           lambda w, a, o: decision_services.version_retire(version=o, actor=a)),
    "reason_code.save": Entry(_none, lambda w, a, o: decision_services.reason_code_save(
        org_id=w.org.id, code="OWN_WORDING", ko="문구", en="wording", actor=a)),
    "decision.make": Entry(
        _none, lambda w, a, o: decision_services.decision_make(org=w.org, project=w.project, subject_id="lead-1",
                                                               purpose="loan_screening", data=dict(BASE), actor=a),
        api=lambda w, c, o: c.post("/api/v1/decide", {"subject_id": "lead-1", "purpose": "loan_screening",
                                                      "input": BASE}, format="json")),
    "simulation.create": Entry(_none, lambda w, a, o: __import__("decisions.simulation_jobs").simulation_jobs
                               .simulation_create(project=w.project, version=w.published,
                                                  dataset="pack:lending_brokerage", actor=a)),
    "case.open": Entry(_none, lambda w, a, o: case_open(org_id=w.org.id, project=w.project, source=CaseSource.ADMIN,
                                                        actor=a),
                       api=lambda w, c, o: c.post("/api/v1/hitl/cases", {"payload": {"amount": 1}}, format="json")),
    "case.work": Entry(
        _case, lambda w, a, o: case_act(case=o, action="comment", actor=a, comment="checked the payslip"),
        api=lambda w, c, o: c.post(f"/api/v1/hitl/cases/{o.id}/actions", {"action": "comment", "comment": "ok"},
                                   format="json"),
        cli=lambda w, o: ["hitl", "case", "act", "--org", w.org.slug, str(o.number), "comment", "--comment", "ok"]),
    "case.senior_work": Entry(_decided, lambda w, a, o: case_act(case=o, action="override", outcome="deny", actor=a,
                                                                 comment="income not proven")),
    "case.note": Entry(_case, lambda w, a, o: notes.note_add(case=o, actor=a, body_md="Payslip checked."),
                       api=lambda w, c, o: c.post(f"/api/v1/hitl/cases/{o.id}/notes", {"body_md": "Payslip checked."},
                                                  format="json"),
                       admin=lambda w, c, o: c.post(f"/admin/hitl/case/{o.pk}/change/", {"op": "note",
                                                                                          "body_md": "Checked."})),
    "case.note_redact": Entry(_note, lambda w, a, o: notes.note_redact(note=o, actor=a, terms=["payslip"])),
    "case.note_reveal_request": Entry(_note, lambda w, a, o: notes.note_reveal_request(note=o, actor=a)),
    "case.note_reveal": Entry(_approved_reveal, lambda w, a, o: notes.note_reveal(note=o, actor=a)),
    "case.attach": Entry(_case, lambda w, a, o: __import__("hitl.attachments").attachments.attachment_add(
        case=o, name="slip.txt", content=b"payslip", actor=a)),
    "appeal.submit": Entry(_decided, lambda w, a, o: appeals.appeal_submit(case=o, reason="disputed", actor=a),
                           api=lambda w, c, o: c.post(f"/api/v1/hitl/cases/{o.id}/appeal", {"reason": "disputed"},
                                                      format="json")),
    "appeal.decide": Entry(_appealed, lambda w, a, o: appeals.appeal_reject(appeal=o, note="not admissible", actor=a),
                           api=lambda w, c, o: c.post(f"/api/v1/hitl/appeals/{o.id}/resolve",
                                                      {"resolution": "reject", "note": "not admissible"},
                                                      format="json")),
    "approval.decide": Entry(
        lambda w: approval_require(org=w.org, action="policy.publish", target="policy_version:demo",
                                   requested_by=w.owner),
        lambda w, a, o: approval_grant(request=o, actor=a)),
    "qa.record": Entry(_qa_task, lambda w, a, o: qa_record(task=o, verdict="pass", note="", actor=a)),
    "desk.configure": Entry(_none, lambda w, a, o: reviewer_profile_save(org_id=w.org.id, user=w.riley, weight=2,
                                                                         actor=a)),
    "consent.grant": Entry(_none, lambda w, a, o: privacy_consent.consent_grant(
        org_id=w.org.id, subject_token="vt_matrix", purposes=["loan_screening"], source="matrix", actor=a),
        api=lambda w, c, o: c.post("/api/v1/consent", {"subject_id": "lead-1", "purposes": ["loan_screening"],
                                                       "source": "matrix"}, format="json")),
    "consent.revoke": Entry(_consent, lambda w, a, o: privacy_consent.consent_revoke(consent=o, actor=a),
                            admin=lambda w, c, o: c.post("/admin/privacy/consent/", {
                                "action": "revoke_selected", "_selected_action": [str(o.pk)], "confirmed": "yes"}),
                            api=lambda w, c, o: c.post("/api/v1/consent/revoke", {"consent_id": str(o.id)},
                                                       format="json")),
    "consent.expire": Entry(_none, lambda w, a, o: privacy_consent.consent_expire_due(org_id=w.org.id, actor=a)),
    "discovery.scan": Entry(_none, lambda w, a, o: __import__("privacy.discovery").discovery.discovery_scan(
        org_id=w.org.id, dataset="m.csv", content=b"email\nminji@naver.com\n", actor=a),
        admin=lambda w, c, o: c.post("/admin/privacy/discoveryscan/add/", {
            "dataset": "matrix.csv", "file": SimpleUploadedFile("m.csv", b"email\nminji@naver.com\n")})),
    "discovery.review": Entry(_finding, lambda w, a, o: __import__("privacy.discovery").discovery.finding_review(
        finding=o, confirm=True, actor=a),
        admin=lambda w, c, o: c.post("/admin/privacy/discoveryfinding/", {
            "action": "confirm_selected", "_selected_action": [str(o.pk)], "confirmed": "yes"})),
    "privacy_settings.save": Entry(_none, lambda w, a, o: privacy_consent.privacy_settings_save(
        org_id=w.org.id, actor=a, consent_mode="deny"),
        admin=lambda w, c, o: c.post("/admin/privacy/privacysettings/add/", {
            "consent_mode": "refuse", "lawful_bases": "{}", "dsar_due_days": '{"access": 10}',
            "dsar_legal_max_days": 30, "dsar_target_days": 7, "dsar_warning_hours": 48})),
    "vault.seal": Entry(_none, lambda w, a, o: vault.seal(actor=a, org_id=w.org.id, subject_token="vt_m", table="t",
                                                         row="1", field="f", plaintext=b"x")),
    "vault.unseal_request": Entry(_sealed, lambda w, a, o: vault.unseal_request(actor=a, org_id=w.org.id, sealed=o)),
    "vault.unseal": Entry(_approved_unseal, lambda w, a, o: vault.unseal(actor=a, org_id=w.org.id, sealed=o[0],
                                                                          purpose="decision.audit", approval=o[1])),
    "vault.erase_subject": Entry(_sealed, lambda w, a, o: vault.erase_subject(actor=a, org_id=w.org.id,
                                                                              subject_token="vt_matrix", reason="m")),
    "vault.rotate_request": Entry(_none, lambda w, a, o: vault_rotation.rotation_request(actor=a, org_id=w.org.id),
                                  admin=lambda w, c, o: c.post("/admin/privacy/kekrotation/add/",
                                                               {"to_version": "2", "reason": "yearly"})),
    "vault.rotate_start": Entry(_approved_rotation, lambda w, a, o: vault_rotation.rotation_start(
        actor=a, rotation=o, run=False)),
    "dsar.submit": Entry(_none, lambda w, a, o: dsar_services.dsar_submit(
        org_id=w.org.id, kind="access", subject_id="lead-1", actor=a),
        api=lambda w, c, o: c.post("/api/v1/dsar", {"kind": "access", "subject_id": "lead-1"}, format="json"),
        cli=lambda w, o: ["privacy", "dsar", "submit", "--org", w.org.slug, "access", "--subject", "lead-1"]),
    "dsar.verify": Entry(_dsar, lambda w, a, o: dsar_services.dsar_verify(request=o, actor=a, method="document"),
                         admin=lambda w, c, o: c.post("/admin/privacy/dsarrequest/", {
                             "action": "verify_document", "_selected_action": [str(o.pk)], "confirmed": "yes"}),
                         cli=lambda w, o: ["privacy", "dsar", "verify", "--org", w.org.slug, str(o.id), "--method",
                                           "document"]),
    "dsar.reject": Entry(_dsar, lambda w, a, o: dsar_services.dsar_reject(request=o, actor=a, reason="unproven"),
                         admin=lambda w, c, o: c.post(f"/admin/privacy/dsarrequest/{o.pk}/reject/",
                                                      {"reason": "unproven"}),
                         cli=lambda w, o: ["privacy", "dsar", "reject", "--org", w.org.slug, str(o.id), "--reason",
                                           "unproven"]),
    "dsar.resume": Entry(_dsar, lambda w, a, o: dsar_services.dsar_resume(request=o, actor=a),
                         admin=lambda w, c, o: c.post("/admin/privacy/dsarrequest/", {
                             "action": "carry_on", "_selected_action": [str(o.pk)], "confirmed": "yes"})),
    "dsar.export_download": Entry(
        _dsar_exported, lambda w, a, o: dsar_services.export_download(request=o, actor=a),
        admin=lambda w, c, o: c.get(f"/admin/privacy/dsarrequest/{o.pk}/export/"),
        cli=lambda w, o: ["privacy", "dsar", "export", "--org", w.org.slug, str(o.id), "--out", _matrix_export_path()]),
    "legal_hold.place": Entry(_none, lambda w, a, o: privacy_holds.hold_place(
        org_id=w.org.id, actor=a, scope="datasets", targets=["delivery_traces"], reason="matrix"),
        admin=lambda w, c, o: c.post("/admin/privacy/legalhold/add/", {
            "scope": "subjects", "targets_text": "vt_matrix", "reason": "matrix hold", "reference": "",
            "starts_at_0": "", "starts_at_1": "", "ends_at_0": "", "ends_at_1": ""}),
        cli=lambda w, o: ["privacy", "hold", "place", "--org", w.org.slug, "datasets", "delivery_traces", "--reason",
                          "matrix"]),
    "legal_hold.release": Entry(_hold, lambda w, a, o: privacy_holds.hold_release(hold=o, actor=a),
                                admin=lambda w, c, o: c.post("/admin/privacy/legalhold/", {
                                    "action": "release_holds", "_selected_action": [str(o.pk)], "confirmed": "yes"}),
                                cli=lambda w, o: ["privacy", "hold", "release", "--org", w.org.slug, str(o.id)]),
    "retention.rule_save": Entry(_none, lambda w, a, o: retention.rule_save(
        org_id=w.org.id, actor=a, dataset="delivery_traces", ttl_days=3, action="delete", legal_basis="matrix"),
        admin=lambda w, c, o: c.post("/admin/privacy/retentionrule/add/", {
            "dataset": "review_notifications", "sensitivity": "P2", "ttl_days": "200", "action": "delete",
            "chain_treatment": "", "legal_basis": "matrix rule", "active": "on"})),
    "retention.plan": Entry(_none, lambda w, a, o: retention.retention_plan(org_id=w.org.id, actor=a),
                            cli=lambda w, o: ["privacy", "retention", "plan", "--org", w.org.slug]),
    "retention.approve": Entry(_proposed_run, lambda w, a, o: retention.retention_approve(run=o, actor=a),
                               admin=lambda w, c, o: c.post("/admin/privacy/retentionrun/", {
                                   "action": "approve_runs", "_selected_action": [str(o.pk)], "confirmed": "yes",
                                   "typed_count": "1"}),
                               cli=lambda w, o: ["privacy", "retention", "approve", "--org", w.org.slug, str(o.id)]),
    "retention.reject": Entry(_proposed_run, lambda w, a, o: retention.retention_reject(run=o, actor=a),
                              admin=lambda w, c, o: c.post("/admin/privacy/retentionrun/", {
                                  "action": "reject_runs", "_selected_action": [str(o.pk)], "confirmed": "yes"}),
                              cli=lambda w, o: ["privacy", "retention", "reject", "--org", w.org.slug, str(o.id)]),
    "retention.execute": Entry(_approved_run, lambda w, a, o: retention.retention_execute(
        org_id=w.org.id, run_id=o.id, actor=a)),
    "outbox.retry": Entry(_dead_event, lambda w, a, o: outbox_retry(event=o, actor=a),
                          admin=lambda w, c, o: c.post("/admin/dos/outboxevent/", {
                              "action": "retry_selected", "_selected_action": [str(o.pk)], "confirmed": "yes"})),
    # The subledger is the platform's books: org roles read their journals, platform finance books them.
    "billing.journal.post": Entry(_none, lambda w, a, o: subledger.post(
        "invoice.issued", org_id=w.org.id, source=subledger.SourceRef("billing.invoice", "m-2", "M-2"),
        amounts={"net": 100, "tax": 10, "total": 110}, occurred_at=_NOV, actor=a), platform_only=True),
    "billing.journal.reverse": Entry(
        _journal, lambda w, a, o: subledger.reverse(o, actor=a, reason="matrix"), platform_only=True,
        admin=lambda w, c, o: c.post(f"/admin/billing/journal/{o.pk}/reverse/", {"reason": "matrix"}),
        cli=lambda w, o: ["ledger", "reverse", "--org", w.org.slug, "--journal", str(o.pk), "--reason", "matrix"]),
    "billing.drift.compute": Entry(
        _drift_row, lambda w, a, o: billing_drift.invoice_drift_compute(org_id=w.org.id, month=_NOV.date(), actor=a),
        platform_only=True, admin=lambda w, c, o: c.post("/admin/billing/invoicedrift/", {
            "action": "recompute_selected", "_selected_action": [str(o.pk)], "confirmed": "yes"})),
    # Invoicing is platform finance's: no org role drafts, issues, settles or credits its own invoices.
    "invoice.draft": Entry(_none, lambda w, a, o: inv.draft_for(w.org, actor=a), platform_only=True),
    "invoice.issue": Entry(inv.matrix_draft, lambda w, a, o: invoicing.invoice_issue(invoice=o, actor=a),
                           platform_only=True),
    "invoice.void": Entry(inv.matrix_issued, lambda w, a, o: invoicing.invoice_void(
        invoice=o, actor=a, reason="matrix", now=inv.MATRIX_LATER), platform_only=True),
    "invoice.uncollectible": Entry(inv.matrix_issued, lambda w, a, o: invoicing.invoice_mark_uncollectible(
        invoice=o, actor=a, reason="matrix", now=inv.MATRIX_LATER), platform_only=True),
    "invoice.paid": Entry(inv.matrix_issued, lambda w, a, o: invoicing.invoice_mark_paid(
        invoice=o, actor=a, reference="matrix", now=inv.MATRIX_LATER), platform_only=True),
    "invoice.issue_due": Entry(_none, lambda w, a, o: billing_close.invoices_issue_due(actor=a), platform_only=True),
    "billing.close": Entry(_none, lambda w, a, o: billing_close.month_close(
        month=inv.NOVEMBER, actor=a, now=inv.ISSUED_AT), platform_only=True),
    "credit_note.create": Entry(
        inv.matrix_issued, lambda w, a, o: credit_notes.credit_note_create(
            invoice=o, actor=a, amount=1_000, reason="matrix", now=inv.MATRIX_LATER), platform_only=True,
        cli=lambda w, o: ["billing", "credit-note", "create", "--org", w.org.slug, "--invoice", o.number,
                          "--amount", "1000", "--reason", "matrix"]),
    "credit_note.decide": Entry(inv.matrix_pending_note, lambda w, a, o: credit_notes.credit_note_approve(
        note=o, actor=a, now=inv.MATRIX_LATER), platform_only=True),
    # Pricing: the price book, credit, seats and tax status are platform finance's; the org's billing
    # manager keeps its account, redeems coupons and changes, cancels or resumes its subscription.
    "pricebook.draft": Entry(bs.matrix_draft_price, lambda w, a, o: pricebook.price_version_draft(
        plan=o, spec={"base": "1"}, effective_from=dt.date(2027, 1, 1), actor=a), platform_only=True),
    "pricebook.publish": Entry(lambda w: pricebook.price_version_draft(
        plan=bs.matrix_draft_price(w), spec={"base": "1"}, effective_from=dt.date(2027, 1, 1), actor=bs.fiona()),
        lambda w, a, o: pricebook.price_version_publish(version=o, actor=a), platform_only=True,
        admin=lambda w, c, o: c.post("/admin/billing/priceversion/", {
            "action": "publish_selected", "_selected_action": [str(o.pk)], "confirmed": "yes", "typed_count": "1"})),
    "billing_account.update": Entry(_none, lambda w, a, o: billing_accounts.billing_account_update(
        org_id=w.org.id, changes={"legal_name": "Acme Lending Co."}, actor=a)),
    "billing_account.tax_status": Entry(_none, lambda w, a, o: billing_accounts.billing_account_tax_status_set(
        org_id=w.org.id, status="exempt", reason="matrix", evidence=[{"kind": "doc", "reference": "M"}], actor=a),
        platform_only=True),
    "seats.set": Entry(_none, lambda w, a, o: billing_seats.seats_set(
        org_id=w.org.id, role="agent", quantity=9, since=bs.NOV, actor=a, reason="matrix"), platform_only=True),
    "coupon.redeem": Entry(bs.matrix_coupon, lambda w, a, o: billing_credits.coupon_redeem(
        org_id=w.org.id, code=o.code, plan_code="pov", actor=a)),
    "coupon.save": Entry(_none, lambda w, a, o: billing_credits.coupon_save(
        coupon=billing_credits.Coupon(code="m2", name="Matrix", kind="fixed", amount_off=1), actor=a),
        platform_only=True),
    "credit.grant": Entry(_none, lambda w, a, o: billing_credits.credit_grant(
        org_id=w.org.id, amount=1000, reason="matrix", actor=a), platform_only=True,
        admin=lambda w, c, o: c.post("/admin/billing/creditgrant/add/", {
            "org": str(w.org.id), "amount": "1000", "reason": "matrix"})),
    "subscription.start": Entry(_none, lambda w, a, o: subscriptions.subscription_start(
        org_id=w.org.id, plan_code="pov", actor=a, today=bs.NOV), platform_only=True),
    "subscription.change": Entry(bs.matrix_subscribed, bs.matrix_change, api=bs.matrix_change_api,
                                 admin=bs.matrix_change_admin),
    "subscription.cancel": Entry(bs.matrix_subscribed, lambda w, a, o: subscriptions.subscription_cancel(
        subscription=o, actor=a, today=bs.MATRIX_DAY),
        admin=lambda w, c, o: c.post("/admin/billing/subscription/", {
            "action": "cancel_at_period_end_selected", "_selected_action": [str(o.pk)], "confirmed": "yes"})),
    "subscription.resume": Entry(bs.matrix_cancel_scheduled, lambda w, a, o: subscriptions.subscription_resume(
        subscription=o, actor=a)),
    "subscription.status": Entry(bs.matrix_subscribed, lambda w, a, o: subscriptions.subscription_status_set(
        subscription=o, status="past_due", actor=a, reason="matrix"), platform_only=True),
}

from tests.privacy import matrix_support  # noqa: E402  (the privacy app's later rows)

MATRIX.update(matrix_support.entries(Entry))


def expected(name: str, role: str) -> bool:
    entry = MATRIX[name]
    if entry.platform_only:
        return False  # org roles never do platform work (see test_platform_work_is_for_platform_staff)
    return {ACTIONS[name], *entry.needs} <= ROLE_PERMISSIONS[role]


def test_every_registered_action_has_a_matrix_entry():
    import importlib
    import pkgutil

    for app in ("dos", "tenancy", "billing", "decisions", "hitl", "privacy", "catalog", "modelops", "observability"):
        package = importlib.import_module(app)
        for module in pkgutil.walk_packages(package.__path__, f"{app}."):
            skip = (".migrations", ".devstack", ".management", "wsgi", "asgi", "gunicorn_conf")
            if not any(part in module.name for part in skip):
                importlib.import_module(module.name)  # every service module registers its actions on import
    assert set(MATRIX) == set(ACTIONS), (sorted(set(ACTIONS) - set(MATRIX)), sorted(set(MATRIX) - set(ACTIONS)))


@pytest.fixture
def world_for(request, acme, lending, desk, olivia, bob):
    def build(role: str) -> World:
        riley = UserFactory(email=f"riley.{role}@acme.example")
        add_member(acme, riley, role)
        with scope.org_scope(acme.id):
            return World(org=acme, project=default_project(acme), owner=olivia, senior=bob, riley=riley, role=role,
                         published=lending)
    return build


def _attempt(fn) -> bool | str:
    """True when ``fn`` went through; False when refused for want of permission; else the error."""
    try:
        with transaction.atomic():
            fn()
            transaction.set_rollback(True)
        return True
    except PermissionRefused:
        return False
    except services.TenancyError as exc:  # escalation refusals on scopes are field errors
        return False if "do not hold" in str(exc) else f"TenancyError: {exc}"
    except Exception as exc:  # noqa: BLE001 - reported with the action's name below
        return f"{type(exc).__name__}: {exc}"


@pytest.mark.parametrize("role", ROLES)
def test_the_service_allows_exactly_what_the_role_holds(world_for, role):
    w = world_for(role)
    wrong = {}
    with scope.org_scope(w.org.id):
        for name, entry in MATRIX.items():
            def run(entry=entry):
                obj = entry.prepare(w)
                entry.service(w, w.actor(), obj)
            outcome = _attempt(run)
            if outcome is not expected(name, role):
                wrong[name] = outcome
    assert not wrong, f"{role}: {wrong}"


def _status_ok(response, surface: str) -> bool | str:
    if response.status_code in (200, 201, 204, 302):
        return True
    # The admin hides what a person may not even view (404); the API answers 403 naming the permission.
    if response.status_code == 403 or (surface == "admin" and response.status_code == 404):
        return False
    return f"{response.status_code}: {getattr(response, 'content', b'')[:300]!r}"


@pytest.mark.parametrize("role", ROLES)
def test_the_api_and_the_admin_allow_exactly_what_the_role_holds(world_for, client, role):
    """As a signed-in person (session + TOTP): the tenant API and the back office's POSTs."""
    w = world_for(role)
    browser = verified_client(client, w.riley)
    api = verified_client(APIClient(), w.riley)
    wrong = {}
    for name, entry in MATRIX.items():
        for surface, call in (("api", entry.api), ("admin", entry.admin)):
            if call is None:
                continue
            sid = transaction.savepoint()
            try:
                with scope.org_scope(w.org.id):
                    obj = entry.prepare(w)
                outcome = _status_ok(call(w, api if surface == "api" else browser, obj), surface)
                if surface == "admin" and outcome is True:
                    outcome = _admin_changed(name, w)
            finally:
                transaction.savepoint_rollback(sid)
            if outcome is not expected(name, role):
                wrong[f"{surface}:{name}"] = outcome
    assert not wrong, f"{role}: {wrong}"


def _admin_changed(name: str, w: World) -> bool:
    """The admin answers 200/302 also when it refuses with a message: look at what happened."""
    with scope.org_scope(w.org.id):
        return {
            "project.create": lambda: Project.objects.filter(slug="leads").exists(),
            "member.add": lambda: Membership.objects.filter(user__email="new@acme.example").exists(),
            "policy.publish": lambda: decision_services.PolicyVersion.objects.filter(
                semver="9.0.0", status=VersionStatus.PUBLISHED).exists(),
            "case.note": lambda: notes.CaseNote.objects.filter(body_md="Checked.").exists(),
            "outbox.retry": lambda: OutboxEvent.objects.filter(topic="matrix.retry", status="pending").exists(),
            "discovery.scan": lambda: __import__("privacy.models").models.DiscoveryScan.objects.filter(
                dataset="matrix.csv").exists(),
            "privacy_settings.save": lambda: __import__("privacy.models").models.PrivacySettings.objects.filter(
                consent_mode="refuse").exists(),
            "consent.revoke": lambda: __import__("privacy.models").models.ConsentEvent.objects.filter(kind="revoked").exists(),
            "discovery.review": lambda: __import__("privacy.models").models.DiscoveryFinding.objects.filter(
                status="confirmed").exists(),
            "vault.rotate_request": lambda: vault_rotation.KekRotation.objects.filter(reason="yearly").exists(),
            "dsar.verify": lambda: privacy_models.DsarRequest.objects.filter(verified_at__isnull=False).exists(),
            "dsar.reject": lambda: privacy_models.DsarRequest.objects.filter(state="rejected").exists(),
            "dsar.resume": lambda: privacy_models.DsarEvent.objects.filter(kind="resume_requested").exists(),
            "dsar.export_download": lambda: privacy_models.DsarExport.objects.filter(downloads__gt=0).exists(),
            "legal_hold.place": lambda: privacy_models.LegalHold.objects.filter(reason="matrix hold").exists(),
            "legal_hold.release": lambda: privacy_models.LegalHold.objects.filter(released_at__isnull=False).exists(),
            "retention.rule_save": lambda: privacy_models.RetentionRule.objects.filter(legal_basis="matrix rule").exists(),
            "retention.approve": lambda: privacy_models.RetentionRun.objects.filter(status="approved").exists(),
            "retention.reject": lambda: privacy_models.RetentionRun.objects.filter(status="rejected").exists(),
            "billing.journal.reverse": lambda: subledger.Journal.objects.filter(reverses__isnull=False).exists(),
            # Recomputing a month without a billed invoice clears its rows.
            "billing.drift.compute": lambda: not billing_drift.InvoiceDrift.objects.filter(metric="matrix").exists(),
            **matrix_support.admin_changed(w),
        }.get(name, lambda: bs.matrix_changed(name))()  # pricing: tests/billing/subscription_support.py


@pytest.mark.parametrize("role", ROLES)
def test_dosctl_as_a_member_allows_exactly_what_the_role_holds(world_for, role):
    w = world_for(role)
    wrong = {}
    for name, entry in MATRIX.items():
        if entry.cli is None:
            continue
        sid = transaction.savepoint()
        try:
            with scope.org_scope(w.org.id):
                obj = entry.prepare(w)
            command, *args = entry.cli(w, obj)
            try:
                call_command(command, *args, "--as", w.riley.email, stdout=io.StringIO())
                outcome = True
            except CommandError as exc:
                text = str(exc)
                outcome = False if ("Not allowed" in text or "permission" in text or "do not hold" in text) else text
        finally:
            transaction.savepoint_rollback(sid)
        if outcome is not expected(name, role):
            wrong[f"dosctl:{name}"] = outcome
    assert not wrong, f"{role}: {wrong}"


def test_platform_work_is_for_platform_staff(acme, olivia):
    """Orgs and platform roles: a platform superuser (or a system job) only — never an org's owner."""
    from tenancy.selectors import BrowserPrincipal

    breakglass = UserFactory(email="breakglass@decisionos.example", is_superuser=True)
    ops = UserFactory(email="ops@decisionos.example")
    PlatformRole.objects.create(user=ops, role="platform_ops")
    superuser = BrowserPrincipal(user=breakglass, org_id=None, platform=True,
                                 permissions=frozenset(ROLE_PERMISSIONS[OrgRole.OWNER]))
    platform_ops = BrowserPrincipal(user=ops, org_id=None, platform=True, permissions=frozenset({"org.manage"}))
    target = UserFactory(email="newstaff@decisionos.example")
    with pytest.raises(PermissionRefused):
        services.platform_role_grant(user=target, role="platform_finance", actor=platform_ops)  # ops cannot mint staff
    with pytest.raises(PermissionRefused):
        services.org_create(name="Nope", actor=as_member(acme, olivia))
    assert services.org_create(name="Platform made", actor=platform_ops).slug == "platform-made"
    granted = services.platform_role_grant(user=target, role="platform_finance", actor=superuser)
    assert granted.role == "platform_finance"
    with scope.platform_scope(reason="test"):
        from dos.models import LedgerEntry

        assert LedgerEntry.objects.filter(action="platform_role.granted", target=f"user:{target.pk}").exists()
