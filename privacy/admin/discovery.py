"""Discovery back office: upload a CSV to scan, and review the findings — a data steward confirms the
proposed tags (``pii``, sensitivity P0–P3) or rejects them, with a confirmation page."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from dos.admin_base import DosModelAdmin, ReadOnlyInline
from dos.errors import DomainError
from privacy.discovery import discovery_scan, finding_review
from privacy.models import DiscoveryFinding, DiscoveryScan

READ, WRITE = "privacy.read", "catalog.write"


class ScanUploadForm(forms.ModelForm):
    file = forms.FileField(label=_("CSV file"), help_text=_("Header row first; up to 1,000 values per column are "
                                                           "sampled. Only masked examples are kept."))

    class Meta:
        model = DiscoveryScan
        fields = ["dataset"]


class FindingInline(ReadOnlyInline):
    view_permission = READ
    model = DiscoveryFinding
    fields = ["column", "pii_type", "confidence", "hits", "sampled", "examples", "proposed_sensitivity", "status"]
    readonly_fields = fields
    ordering = ["column", "-confidence"]


@admin.register(DiscoveryScan)
class DiscoveryScanAdmin(DosModelAdmin):
    permission_map = {"view": READ, "add": WRITE, "change": None, "delete": None}
    list_display = ["dataset", "rows_seen", "column_count", "finding_count", "created_at", "created_by"]
    search_fields = ["dataset"]
    date_hierarchy = "created_at"
    inlines = [FindingInline]
    readonly_fields = ["dataset", "source", "rows_seen", "sample_size", "columns", "created_at", "created_by"]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = ScanUploadForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        return ["dataset", "file"] if obj is None else self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    @admin.display(description=_("columns"))
    def column_count(self, obj):
        return len(obj.columns or [])

    @admin.display(description=_("findings"))
    def finding_count(self, obj):
        return obj.findings.count()

    def add_view(self, request, form_url="", extra_context=None):
        if request.method == "POST" and self.has_add_permission(request):
            form = ScanUploadForm(request.POST, request.FILES)
            if form.is_valid():
                principal = self.principal(request)
                try:
                    scan = discovery_scan(org_id=principal.org_id, dataset=form.cleaned_data["dataset"],
                                          content=form.cleaned_data["file"].read(), actor=principal)
                except DomainError as exc:
                    self.message_user(request, f"{exc} {exc.errors or ''}", level=messages.ERROR)
                    return HttpResponseRedirect(request.path)
                self.message_user(request, _("Scanned %(rows)s rows: %(n)s findings to review.") % {
                    "rows": f"{scan.rows_seen:,}", "n": scan.findings.count()})
                return HttpResponseRedirect(reverse("admin:privacy_discoveryfinding_changelist")
                                            + f"?scan__id__exact={scan.pk}")
        return super().add_view(request, form_url, extra_context)


@admin.register(DiscoveryFinding)
class DiscoveryFindingAdmin(DosModelAdmin):
    permission_map = {"view": READ, "add": None, "change": None, "delete": None}
    list_display = ["dataset", "column", "pii_type", "confidence", "hits", "sampled", "example_list",
                    "proposed_sensitivity", "status", "sensitivity", "reviewed_by"]
    list_filter = ["status", "pii_type", "proposed_sensitivity", "dataset"]
    search_fields = ["dataset", "column"]
    readonly_fields = ["scan", "dataset", "column", "pii_type", "confidence", "hits", "sampled", "examples",
                       "proposed_pii", "proposed_sensitivity", "status", "pii", "sensitivity", "reviewed_by",
                       "reviewed_at", "note"]
    actions = ["confirm_selected", "reject_selected"]

    @admin.display(description=_("examples (masked)"))
    def example_list(self, obj):
        return ", ".join(obj.examples or [])

    def _review(self, request, queryset, *, confirm: bool):
        principal = self.principal(request)
        if not principal or not principal.has_perm(WRITE):
            self.message_user(request, _("Reviewing findings needs 'catalog.write'."), level=messages.ERROR)
            return None
        verb = _("Confirmed") if confirm else _("Rejected")
        return self.confirm_action(
            request, queryset.filter(status="proposed"), action="confirm_selected" if confirm else "reject_selected",
            title=_("Confirm the proposed tags?") if confirm else _("Reject the proposed tags?"), verb=verb,
            detail=_("Confirmed columns are tagged pii with the proposed sensitivity for the catalog; rejected ones "
                     "are recorded as not personal data."),
            apply=lambda finding: finding_review(finding=finding, confirm=confirm, actor=principal))

    @admin.action(description=_("Confirm the proposed tags…"), permissions=["view"])
    def confirm_selected(self, request, queryset):
        return self._review(request, queryset, confirm=True)

    @admin.action(description=_("Reject the proposed tags…"), permissions=["view"])
    def reject_selected(self, request, queryset):
        return self._review(request, queryset, confirm=False)
