"""Vault back office: subject keys (never the key material) with the values sealed under them — read
under four eyes — and KEK rotations with their progress.

A rotation is requested here by a person holding ``keys.rotate`` and approved by another under
Approvals (four eyes); "Start" then begins re-wrapping and "Resume" continues an interrupted job.
Erasing a subject is not offered here: it is the erasure step of a data subject request.
"""

from __future__ import annotations

import json
import uuid

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from decisions.models import DecisionRecord
from dos.admin_base import DosModelAdmin
from dos.errors import DomainError
from privacy.models import KekRotation, RotationStatus, SubjectKey
from privacy.vault.keystore import key_provider
from privacy.vault.rotation import rotation_request, rotation_resume, rotation_start
from privacy.vault.services import APPROVAL_ACTION, approval_target, unseal, unseal_request
from tenancy.choices import ApprovalStatus
from tenancy.models import ApprovalRequest

KEYS = "keys.rotate"
# The purposes a person may give here (server-side allow-list; case notes: the case page's reveal).
READ_PURPOSES = ["decision.audit"]


def _is_uuid(value) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


class ErasedFilter(admin.SimpleListFilter):
    title, parameter_name = _("erased"), "erased"

    def lookups(self, request, model_admin):
        return [("yes", _("Erased")), ("no", _("Live"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(erased_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(erased_at__isnull=True)
        return queryset


@admin.register(SubjectKey)
class SubjectKeyAdmin(DosModelAdmin):
    permission_map = {"view": "privacy.read", "add": None, "change": None, "delete": None}
    list_display = ["subject_token", "version", "kek_version", "created_at", "rewrapped_at", "erased_at", "sealed_link"]
    list_filter = [ErasedFilter, "kek_version"]
    search_fields = ["=subject_token"]
    fields = ["subject_token", "version", "kek_version", "created_at", "rewrapped_at", "erased_at", "erased_reason"]
    readonly_fields = fields
    date_hierarchy = "created_at"
    show_full_result_count = False

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) or self._allowed_keys(request)

    @admin.display(description=_("sealed values"))
    def sealed_link(self, obj):
        return format_html('<a href="{}">{}</a>', reverse("admin:privacy_subjectkey_sealed", args=[obj.pk]),
                           _("sealed values"))

    def get_urls(self):
        return [path("<uuid:pk>/sealed/", self.admin_site.admin_view(self.sealed_view), name="privacy_subjectkey_sealed"),
                *super().get_urls()]

    def sealed_view(self, request, pk):
        """The subject's sealed decision inputs: ask to read one; read it once a second person approved."""
        key = self.scoped_object_or_404(request, pk)
        principal = self.principal(request)
        revealed = None
        if request.method == "POST":
            revealed = self._sealed_post(request, key, principal)
            if revealed is None:
                return HttpResponseRedirect(request.path)
        records = list(DecisionRecord.objects.filter(subject_token=key.subject_token, refs__has_key="sealed_input")
                       .order_by("-decided_at")[:100])
        mine = {}
        user = getattr(principal, "user", None)
        if user is not None:
            for approval in ApprovalRequest.objects.filter(action=APPROVAL_ACTION, requested_by=user,
                                                           target__startswith="sealed:").exclude(payload__has_key="unsealed_at"):
                mine.setdefault(approval.target, []).append(approval.status)
        rows = []
        for record in records:
            states = mine.get(approval_target(record.refs["sealed_input"]), [])
            rows.append({"record": record, "approved": ApprovalStatus.APPROVED in states,
                         "pending": ApprovalStatus.PENDING in states})
        context = {**self.admin_site.each_context(request), "title": _("Sealed values"), "key": key, "rows": rows,
                   "revealed": revealed, "purposes": READ_PURPOSES, "opts": self.model._meta}
        response = TemplateResponse(request, "admin/privacy/subjectkey/sealed_values.html", context)
        response["Cache-Control"] = "no-store"
        return response

    def _sealed_post(self, request, key, principal):
        record = DecisionRecord.objects.filter(subject_token=key.subject_token, id=request.POST.get("decision"),
                                               refs__has_key="sealed_input").first() if _is_uuid(
            request.POST.get("decision")) else None
        if record is None:
            self.message_user(request, _("No such sealed value."), level=messages.ERROR)
            return None
        sealed = record.refs["sealed_input"]
        try:
            if request.POST.get("do") == "request":
                unseal_request(actor=principal, org_id=key.org_id, sealed=sealed, reason=request.POST.get("reason", ""))
                self.message_user(request, _("Requested: a colleague holding 'vault.unseal' approves it under "
                                             "Approvals."))
                return None
            purpose = request.POST.get("purpose", "")
            if purpose not in READ_PURPOSES:
                self.message_user(request, _("Choose one of the listed purposes."), level=messages.ERROR)
                return None
            approval = ApprovalRequest.objects.filter(
                action=APPROVAL_ACTION, target=approval_target(sealed), requested_by=getattr(principal, "user", None),
                status=ApprovalStatus.APPROVED).exclude(payload__has_key="unsealed_at").order_by("-decided_at").first()
            text = unseal(actor=principal, org_id=key.org_id, sealed=sealed, approval=approval, purpose=purpose)
        except DomainError as exc:
            self.message_user(request, str(exc), level=messages.ERROR)
            return None
        return {"place": f"decision {record.id}", "text": json.dumps(json.loads(text), ensure_ascii=False, indent=2)}

    def has_module_permission(self, request):
        return super().has_module_permission(request) or self._allowed_keys(request)

    def _allowed_keys(self, request) -> bool:
        principal = self.principal(request)
        return bool(principal and principal.has_perm(KEYS))


class RotationForm(forms.ModelForm):
    to_version = forms.TypedChoiceField(label=_("to KEK version"), coerce=int)

    class Meta:
        model = KekRotation
        fields = ["to_version", "reason"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        versions = key_provider().versions()
        self.fields["to_version"].choices = [(v, _("version %(v)s") % {"v": v}) for v in reversed(versions)]
        self.fields["reason"].required = True


@admin.register(KekRotation)
class KekRotationAdmin(DosModelAdmin):
    permission_map = {"view": KEYS, "add": KEYS, "change": None, "delete": None}
    list_display = ["__str__", "status", "progress", "requested_by", "created_at", "started_at", "completed_at"]
    list_filter = ["status"]
    readonly_fields = ["from_version", "to_version", "status", "approval_id", "requested_by", "reason", "total",
                       "done", "progress", "created_at", "started_at", "completed_at"]
    actions = ["start_rotation", "resume_rotation"]
    form = RotationForm

    def get_fields(self, request, obj=None):
        return ["to_version", "reason"] if obj is None else self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    @admin.display(description=_("progress"))
    def progress(self, obj):
        return format_html('<progress max="100" value="{}"></progress> {} / {} ({}%)', obj.progress_pct, obj.done,
                           obj.total, obj.progress_pct)

    def save_model(self, request, obj, form, change):
        principal = self.principal(request)
        rotation = rotation_request(actor=principal, org_id=principal.org_id,
                                    to_version=form.cleaned_data["to_version"], reason=form.cleaned_data["reason"])
        obj.pk, obj.from_version, obj.to_version = rotation.pk, rotation.from_version, rotation.to_version
        obj._state.adding = False
        messages.info(request, _("Rotation requested: a colleague holding 'keys.rotate' approves it under "
                                 "Approvals; then start it here."))

    def add_view(self, request, form_url="", extra_context=None):
        try:
            return super().add_view(request, form_url, extra_context)
        except DomainError as exc:
            self.message_user(request, str(exc), level=messages.ERROR)
            from django.http import HttpResponseRedirect

            return HttpResponseRedirect(request.path)

    @admin.action(description=_("Start the approved rotation"))
    def start_rotation(self, request, queryset):
        principal = self.principal(request)
        return self.confirm_action(
            request, queryset.filter(status=RotationStatus.REQUESTED), action="start_rotation",
            title=_("Start re-wrapping data keys"), verb=_("Started"),
            detail=_("Every data key of the org is re-wrapped under the new KEK; when done, the old version is "
                     "refused for this org."),
            apply=lambda rotation: rotation_start(actor=principal, rotation=rotation))

    @admin.action(description=_("Resume an interrupted rotation"))
    def resume_rotation(self, request, queryset):
        principal = self.principal(request)
        return self.confirm_action(
            request, queryset.filter(status=RotationStatus.RUNNING), action="resume_rotation",
            title=_("Resume re-wrapping data keys"), verb=_("Resumed"),
            detail=_("The job continues after its last committed batch; nothing is re-wrapped twice."),
            apply=lambda rotation: rotation_resume(actor=principal, rotation=rotation))
