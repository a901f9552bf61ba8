"""The privacy officer's DSAR queue: deadlines first, each request's steps and timeline, the erasure's
approval, the export handed over by a person; and the privacy back office index (overview).

Every button calls the same services as the API and ``dosctl privacy`` (``privacy.dsar.services``).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from dos.admin_base import DosModelAdmin, ReadOnlyInline
from dos.errors import DomainError
from privacy.dsar import services
from privacy.models import DsarEvent, DsarRequest, DsarStep, VerificationMethod
from privacy.models.dsar import OPEN_STATES

READ, FULFIL = "privacy.read", "dsar.fulfil"


class DeadlineFilter(admin.SimpleListFilter):
    title, parameter_name = _("deadline"), "deadline"

    def lookups(self, request, model_admin):
        return [("overdue", _("Overdue")), ("warned", _("Due soon (warned)")), ("open", _("Open")),
                ("closed", _("Done or rejected"))]

    def queryset(self, request, queryset):
        now = timezone.now()
        value = self.value()
        if value == "overdue":
            return queryset.filter(state__in=OPEN_STATES, due_at__lt=now)
        if value == "warned":
            return queryset.filter(state__in=OPEN_STATES, warned_at__isnull=False, due_at__gte=now)
        if value == "open":
            return queryset.filter(state__in=OPEN_STATES)
        if value == "closed":
            return queryset.exclude(state__in=OPEN_STATES)
        return queryset


class StepInline(ReadOnlyInline):
    view_permission = READ
    model = DsarStep
    fields = readonly_fields = ["step", "completed_at", "attempt", "result"]
    verbose_name_plural = _("steps done (checkpoints)")


class TimelineInline(ReadOnlyInline):
    view_permission = READ
    model = DsarEvent
    fields = readonly_fields = ["at", "kind", "actor", "data"]
    verbose_name_plural = _("timeline")


class RejectForm(forms.Form):
    reason = forms.CharField(label=_("Reason (the subject is told)"), max_length=500, widget=forms.Textarea)


@admin.register(DsarRequest)
class DsarRequestAdmin(DosModelAdmin):
    permission_map = {"view": READ, "add": None, "change": None, "delete": None}
    list_display = ["reference", "kind", "state", "deadline", "subject", "verified", "approval_state", "received_at"]
    list_filter = [DeadlineFilter, "kind", "state"]
    search_fields = ["=subject_token", "=id"]
    date_hierarchy = "received_at"
    list_select_related = ["approval"]
    ordering = ["due_at"]
    inlines = [StepInline, TimelineInline]
    fields = ["kind", "state", "subject_token", "subject_hint", "channel", "requested_by", "details", "received_at",
              "due_at", "target_at", "warn_at", "warned_at", "verified_by", "verified_at", "verification_method",
              "approval", "scope", "result", "attempts", "last_error", "completed_at", "rejected_reason"]
    readonly_fields = fields
    actions = ["verify_document", "verify_account", "verify_kyc_lite", "carry_on"]
    change_form_template = "admin/privacy/dsarrequest/change_form.html"

    @admin.display(description=_("due"), ordering="due_at")
    def deadline(self, obj):
        if not obj.is_open:
            return format_html('<span style="color:#666">{}</span>', obj.get_state_display())
        left = obj.due_at - timezone.now()
        colour = "#b3261e" if left.total_seconds() < 0 else "#8a5a00" if obj.warned_at else "#19703a"
        days = left.total_seconds() / 86400
        text = _("%(d).1f days overdue") % {"d": -days} if days < 0 else _("%(d).1f days left") % {"d": days}
        return format_html('<b style="color:{}">{}</b><br><small>{}</small>', colour, text,
                           timezone.localtime(obj.due_at).strftime("%Y-%m-%d %H:%M"))

    @admin.display(description=_("subject"))
    def subject(self, obj):
        return format_html("{}<br><small>{}…</small>", obj.subject_hint or "—", obj.subject_token[:18])

    @admin.display(description=_("verified"), boolean=True)
    def verified(self, obj):
        return obj.verified_at is not None

    @admin.display(description=_("approval"))
    def approval_state(self, obj):
        if obj.kind != "erasure":
            return "—"
        return obj.approval.get_status_display() if obj.approval_id else _("after verification")

    # -- bulk actions -----------------------------------------------------------------------------

    def _verify(self, request, queryset, method: str, label):
        principal = self.principal(request)
        return self.confirm_action(
            request, queryset.filter(verified_at__isnull=True, state__in=["intake", "verify"]),
            action=f"verify_{method}", title=_("Verify the subjects' identity: %(m)s") % {"m": label},
            verb=_("Verified"), detail=_("An erasure then needs a second person's approval under Approvals."),
            apply=lambda obj: services.dsar_verify(request=obj, actor=principal, method=method))

    @admin.action(description=_("Verify identity: document checked"))
    def verify_document(self, request, queryset):
        return self._verify(request, queryset, VerificationMethod.DOCUMENT, VerificationMethod.DOCUMENT.label)

    @admin.action(description=_("Verify identity: signed-in account"))
    def verify_account(self, request, queryset):
        return self._verify(request, queryset, VerificationMethod.ACCOUNT, VerificationMethod.ACCOUNT.label)

    @admin.action(description=_("Verify identity: KYC-lite"))
    def verify_kyc_lite(self, request, queryset):
        return self._verify(request, queryset, VerificationMethod.KYC_LITE, VerificationMethod.KYC_LITE.label)

    @admin.action(description=_("Carry on now (resume at the current step)"))
    def carry_on(self, request, queryset):
        principal = self.principal(request)
        return self.confirm_action(request, queryset.filter(state__in=OPEN_STATES), action="carry_on",
                                   title=_("Carry these requests on"), verb=_("Queued"),
                                   apply=lambda obj: services.dsar_resume(request=obj, actor=principal))

    def get_actions(self, request):
        actions = super().get_actions(request)
        principal = self.principal(request)
        if principal is None or not principal.has_perm(FULFIL):
            return {k: v for k, v in actions.items() if k == "delete_selected"}
        return actions

    # -- pages -------------------------------------------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("overview/", view(self.overview_view), name="privacy_dsarrequest_overview"),
            path("<uuid:pk>/export/", view(self.export_view), name="privacy_dsarrequest_export"),
            path("<uuid:pk>/reject/", view(self.reject_view), name="privacy_dsarrequest_reject"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        from privacy.admin.overview import dsar_counts

        counts = dsar_counts() if self.has_view_permission(request) else {}
        return super().changelist_view(request, extra_context={**(extra_context or {}), "dsar_counts": counts})

    def change_view(self, request, object_id, form_url="", extra_context=None):
        from privacy.models import DsarExport

        obj = self.scoped_object_or_404(request, object_id)
        made = DsarExport.objects.filter(request=obj).first()
        principal = self.principal(request)
        may_fulfil = bool(principal and principal.has_perm(FULFIL))
        return super().change_view(request, object_id, form_url, extra_context={
            **(extra_context or {}), "export": made, "may_fulfil": may_fulfil and obj.is_open,
            "may_download": may_fulfil and made is not None})

    def export_view(self, request, pk):
        obj = self.scoped_object_or_404(request, pk)
        try:
            data = services.export_download(request=obj, actor=self.principal(request))
        except DomainError as exc:
            messages.error(request, str(exc))
            return HttpResponseRedirect(reverse("admin:privacy_dsarrequest_change", args=[obj.pk]))
        response = HttpResponse(data, content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="subject_export-{obj.reference}.zip"'
        response["Cache-Control"] = "no-store"
        return response

    def reject_view(self, request, pk):
        obj = self.scoped_object_or_404(request, pk)
        form = RejectForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.dsar_reject(request=obj, actor=self.principal(request), reason=form.cleaned_data["reason"])
                messages.success(request, _("%(r)s rejected.") % {"r": obj.reference})
            except DomainError as exc:
                messages.error(request, str(exc))
            return HttpResponseRedirect(reverse("admin:privacy_dsarrequest_change", args=[obj.pk]))
        context = {**self.admin_site.each_context(request), "title": _("Reject %(r)s") % {"r": obj.reference},
                   "form": form, "obj": obj, "opts": self.model._meta}
        return TemplateResponse(request, "admin/privacy/dsarrequest/reject.html", context)

    def overview_view(self, request):
        from privacy.admin.overview import overview_context

        if not self.has_view_permission(request):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        context = {**self.admin_site.each_context(request), "title": _("Privacy back office"),
                   "opts": self.model._meta, **overview_context(now=timezone.now())}
        return TemplateResponse(request, "admin/privacy/overview.html", context)
