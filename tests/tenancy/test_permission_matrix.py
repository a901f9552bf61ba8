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

import io
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from rest_framework.test import APIClient

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
from tenancy.models import Membership, Org, PlatformRole, Project
from tenancy.roles import ROLE_PERMISSIONS
from tests.decisions.test_decide_api import BASE
from tests.factories import UserFactory, add_member, as_member, default_project, verified_client
from tests.privacy import matrix_support as privacy_rows

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
    "consent.revoke": Entry(privacy_rows.consent, lambda w, a, o: privacy_consent.consent_revoke(consent=o, actor=a),
                            admin=lambda w, c, o: c.post("/admin/privacy/consent/", {
                                "action": "revoke_selected", "_selected_action": [str(o.pk)], "confirmed": "yes"}),
                            api=lambda w, c, o: c.post("/api/v1/consent/revoke", {"consent_id": str(o.id)},
                                                       format="json")),
    "consent.expire": Entry(_none, lambda w, a, o: privacy_consent.consent_expire_due(org_id=w.org.id, actor=a)),
    "discovery.scan": Entry(_none, lambda w, a, o: __import__("privacy.discovery").discovery.discovery_scan(
        org_id=w.org.id, dataset="m.csv", content=b"email\nminji@naver.com\n", actor=a),
        admin=lambda w, c, o: c.post("/admin/privacy/discoveryscan/add/", {
            "dataset": "matrix.csv", "file": SimpleUploadedFile("m.csv", b"email\nminji@naver.com\n")})),
    "discovery.review": Entry(privacy_rows.finding, lambda w, a, o: __import__("privacy.discovery").discovery.finding_review(
        finding=o, confirm=True, actor=a),
        admin=lambda w, c, o: c.post("/admin/privacy/discoveryfinding/", {
            "action": "confirm_selected", "_selected_action": [str(o.pk)], "confirmed": "yes"})),
    "privacy_settings.save": Entry(privacy_rows.settings_row, lambda w, a, o: privacy_consent.privacy_settings_save(
        org_id=w.org.id, actor=a, consent_mode="deny"),
        admin=lambda w, c, o: c.post(f"/admin/privacy/privacysettings/{o.pk}/change/", {
            "consent_mode": "refuse", "lawful_bases": "{}", "dsar_due_days": '{"access": 10}',
            "dsar_legal_max_days": 30, "dsar_target_days": 7, "dsar_warning_hours": 48})),
    "vault.seal": Entry(_none, lambda w, a, o: vault.seal(actor=a, org_id=w.org.id, subject_token="vt_m", table="t",
                                                         row="1", field="f", plaintext=b"x")),
    "vault.unseal_request": Entry(privacy_rows.sealed, lambda w, a, o: vault.unseal_request(actor=a, org_id=w.org.id, sealed=o)),
    "vault.unseal": Entry(privacy_rows.approved_unseal, lambda w, a, o: vault.unseal(actor=a, org_id=w.org.id, sealed=o[0],
                                                                          purpose="decision.audit", approval=o[1])),
    "vault.erase_subject": Entry(privacy_rows.sealed, lambda w, a, o: vault.erase_subject(actor=a, org_id=w.org.id,
                                                                              subject_token="vt_matrix", reason="m")),
    "vault.rotate_request": Entry(_none, lambda w, a, o: vault_rotation.rotation_request(actor=a, org_id=w.org.id),
                                  admin=lambda w, c, o: c.post("/admin/privacy/kekrotation/add/",
                                                               {"to_version": "2", "reason": "yearly"})),
    "vault.rotate_start": Entry(privacy_rows.approved_rotation, lambda w, a, o: vault_rotation.rotation_start(
        actor=a, rotation=o, run=False)),
    "dsar.submit": Entry(_none, lambda w, a, o: dsar_services.dsar_submit(
        org_id=w.org.id, kind="access", subject_id="lead-1", actor=a),
        api=lambda w, c, o: c.post("/api/v1/dsar", {"kind": "access", "subject_id": "lead-1"}, format="json"),
        cli=lambda w, o: ["privacy", "dsar", "submit", "--org", w.org.slug, "access", "--subject", "lead-1"]),
    "dsar.verify": Entry(privacy_rows.dsar, lambda w, a, o: dsar_services.dsar_verify(request=o, actor=a, method="document"),
                         admin=lambda w, c, o: c.post("/admin/privacy/dsarrequest/", {
                             "action": "verify_document", "_selected_action": [str(o.pk)], "confirmed": "yes"}),
                         cli=lambda w, o: ["privacy", "dsar", "verify", "--org", w.org.slug, str(o.id), "--method",
                                           "document"]),
    "dsar.reject": Entry(privacy_rows.dsar, lambda w, a, o: dsar_services.dsar_reject(request=o, actor=a, reason="unproven"),
                         admin=lambda w, c, o: c.post(f"/admin/privacy/dsarrequest/{o.pk}/reject/",
                                                      {"reason": "unproven"}),
                         cli=lambda w, o: ["privacy", "dsar", "reject", "--org", w.org.slug, str(o.id), "--reason",
                                           "unproven"]),
    "dsar.resume": Entry(privacy_rows.dsar, lambda w, a, o: dsar_services.dsar_resume(request=o, actor=a),
                         admin=lambda w, c, o: c.post("/admin/privacy/dsarrequest/", {
                             "action": "carry_on", "_selected_action": [str(o.pk)], "confirmed": "yes"})),
    "dsar.export_download": Entry(
        privacy_rows.dsar_exported, lambda w, a, o: dsar_services.export_download(request=o, actor=a),
        admin=lambda w, c, o: c.get(f"/admin/privacy/dsarrequest/{o.pk}/export/"),
        cli=lambda w, o: ["privacy", "dsar", "export", "--org", w.org.slug, str(o.id),
                          "--out", privacy_rows.matrix_export_path()]),
    "legal_hold.place": Entry(_none, lambda w, a, o: privacy_holds.hold_place(
        org_id=w.org.id, actor=a, scope="datasets", targets=["delivery_traces"], reason="matrix"),
        admin=lambda w, c, o: c.post("/admin/privacy/legalhold/add/", {
            "scope": "subjects", "targets_text": "vt_matrix", "reason": "matrix hold", "reference": "",
            "starts_at_0": "", "starts_at_1": "", "ends_at_0": "", "ends_at_1": ""}),
        cli=lambda w, o: ["privacy", "hold", "place", "--org", w.org.slug, "datasets", "delivery_traces", "--reason",
                          "matrix"]),
    "legal_hold.release": Entry(privacy_rows.hold, lambda w, a, o: privacy_holds.hold_release(hold=o, actor=a),
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
    "retention.approve": Entry(privacy_rows.proposed_run, lambda w, a, o: retention.retention_approve(run=o, actor=a),
                               admin=lambda w, c, o: c.post("/admin/privacy/retentionrun/", {
                                   "action": "approve_runs", "_selected_action": [str(o.pk)], "confirmed": "yes",
                                   "typed_count": "1"}),
                               cli=lambda w, o: ["privacy", "retention", "approve", "--org", w.org.slug, str(o.id)]),
    "retention.reject": Entry(privacy_rows.proposed_run, lambda w, a, o: retention.retention_reject(run=o, actor=a),
                              admin=lambda w, c, o: c.post("/admin/privacy/retentionrun/", {
                                  "action": "reject_runs", "_selected_action": [str(o.pk)], "confirmed": "yes"}),
                              cli=lambda w, o: ["privacy", "retention", "reject", "--org", w.org.slug, str(o.id)]),
    "retention.execute": Entry(privacy_rows.approved_run, lambda w, a, o: retention.retention_execute(
        org_id=w.org.id, run_id=o.id, actor=a)),
    "outbox.retry": Entry(_dead_event, lambda w, a, o: outbox_retry(event=o, actor=a),
                          admin=lambda w, c, o: c.post("/admin/dos/outboxevent/", {
                              "action": "retry_selected", "_selected_action": [str(o.pk)], "confirmed": "yes"})),
}

from tests.billing import matrix_support as billing_matrix  # noqa: E402  (the finance rows)
from tests.privacy import matrix_support  # noqa: E402  (the privacy app's later rows)

MATRIX.update(billing_matrix.entries(Entry, none=_none, system=SYSTEM))
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
            **matrix_support.admin_changed(w),
        }.get(name, lambda: billing_matrix.admin_changed(name))()


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
