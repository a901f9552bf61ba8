"""Back office for policies and decisions. Lifecycle actions call decisions.services (four eyes)."""

from __future__ import annotations

import difflib

from django.contrib import admin, messages
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from decisions import services
from decisions.choices import VersionStatus
from decisions.models import DecisionRecord, PolicySet, PolicyVersion, ReasonCode, Simulation
from decisions.selectors import decision_explain
from dos.admin_base import DosModelAdmin
from dos.errors import DomainError


class VersionInline(admin.TabularInline):
    model = PolicyVersion
    fields = ["semver", "status", "author", "approver", "published_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(PolicySet)
class PolicySetAdmin(DosModelAdmin):
    permission_map = {"view": "policy.read"}
    list_display = ["name", "project", "published_version", "created_at"]
    search_fields = ["name"]
    list_select_related = ["project"]
    inlines = [VersionInline]
    readonly_fields = ["name", "project", "kind", "description", "created_at"]

    @admin.display(description="published")
    def published_version(self, obj) -> str:
        published = obj.versions.filter(status=VersionStatus.PUBLISHED).values_list("semver", flat=True).first()
        return published or "—"


@admin.register(PolicyVersion)
class PolicyVersionAdmin(DosModelAdmin):
    permission_map = {"view": "policy.read", "change": "policy.write"}
    list_display = ["policy_set", "semver", "status", "author", "approver", "submitted_at", "published_at", "diff_link"]
    list_filter = ["status", "policy_set"]
    search_fields = ["policy_set__name", "semver", "sha256"]
    list_select_related = ["policy_set", "author", "approver"]
    readonly_fields = ["policy_set", "semver", "status", "sha256", "author", "approver", "notes", "source_block",
                       "created_at", "submitted_at", "approved_at", "published_at", "retired_at"]
    exclude = ["source", "approval"]
    actions = ["submit_selected", "approve_selected", "publish_selected", "rollback_selected"]

    def has_change_permission(self, request, obj=None):
        return False  # versions change only through the lifecycle actions

    @admin.display(description="source")
    def source_block(self, obj):
        return format_html('<pre style="white-space:pre-wrap;font-size:12px">{}</pre>', obj.source)

    @admin.display(description="diff")
    def diff_link(self, obj):
        url = reverse("admin:decisions_policyversion_diff", args=[obj.pk])
        return format_html('<a href="{}">vs published</a>', url)

    def get_urls(self):
        return [path("<uuid:pk>/diff/", self.admin_site.admin_view(self.diff_view), name="decisions_policyversion_diff"),
                *super().get_urls()]

    def diff_view(self, request, pk):
        version = self.scoped_object_or_404(request, pk)
        base = (PolicyVersion.objects.filter(policy_set=version.policy_set, status=VersionStatus.PUBLISHED)
                .exclude(pk=version.pk).first())
        table = difflib.HtmlDiff(wrapcolumn=80).make_table(
            (base.source if base else "").splitlines(), version.source.splitlines(),
            fromdesc=f"{base.semver} (published)" if base else "(nothing published)", todesc=version.semver,
            context=True, numlines=3)
        context = {**self.admin_site.each_context(request), "title": f"{version.policy_set.name} {version.semver}",
                   "diff_table": table, "version": version, "base": base, "opts": self.model._meta}
        return TemplateResponse(request, "admin/decisions/policy_diff.html", context)

    def _run(self, request, queryset, verb, fn, **kwargs):
        for version in queryset:
            try:
                fn(version=version, **kwargs)
                messages.success(request, f"{verb}: {version}")
            except services.PolicyLintError as exc:
                messages.error(request, f"{version}: {'; '.join(str(i) for i in exc.issues[:3])}")
            except DomainError as exc:  # state, four eyes, permission, org status
                messages.error(request, f"{version}: {exc}")

    def _confirmed(self, request, queryset, action, verb, fn, **kwargs):
        return self.confirm_action(request, queryset, action=action, title=f"{verb} policy versions?", verb=verb,
                                   detail="This changes which rules decide live applications." if verb in
                                   ("Published", "Rolled back") else "",
                                   apply=lambda v: fn(version=v, **kwargs))

    # Actions are offered only to those who hold their primitive; the services check it again.
    def has_write_permission(self, request) -> bool:
        principal = self.principal(request)
        return bool(principal and principal.has_perm("policy.write"))

    def has_approve_permission(self, request) -> bool:
        principal = self.principal(request)
        return bool(principal and principal.has_perm("policy.approve"))

    @admin.action(description="Submit for approval", permissions=["write"])
    def submit_selected(self, request, queryset):
        self._run(request, queryset, "Submitted", services.version_submit, actor=self.principal(request))

    @admin.action(description="Approve (four eyes)", permissions=["approve"])
    def approve_selected(self, request, queryset):
        self._run(request, queryset, "Approved", services.version_approve, actor=self.principal(request))

    @admin.action(description="Publish selected versions", permissions=["approve"])
    def publish_selected(self, request, queryset):
        return self._confirmed(request, queryset, "publish_selected", "Published", services.version_publish,
                               actor=self.principal(request))

    @admin.action(description="Roll back to selected versions", permissions=["approve"])
    def rollback_selected(self, request, queryset):
        return self._confirmed(request, queryset, "rollback_selected", "Rolled back", services.version_rollback,
                               actor=self.principal(request))


@admin.register(DecisionRecord)
class DecisionRecordAdmin(DosModelAdmin):
    permission_map = {"view": "decisions.read"}
    list_display = ["decided_at", "outcome", "reasons", "policy_version", "subject_token", "purpose", "kind",
                    "latency_ms"]
    list_filter = ["outcome", "kind", "policy_version__policy_set"]
    search_fields = ["=id", "=subject_token", "=corr_id"]
    date_hierarchy = "decided_at"
    list_select_related = ["policy_version__policy_set"]
    show_full_result_count = False
    readonly_fields = ["id", "decided_at", "outcome", "kind", "reasons", "policy_version", "policy_sha256",
                       "subject_token", "purpose", "corr_id", "input_hash", "snapshot", "rule_path_table",
                       "explanation", "latency_ms", "ledger_seq", "ledger_hash"]
    fields = readonly_fields

    @admin.display(description="reasons")
    def reasons(self, obj) -> str:
        return ", ".join(r["code"] for r in obj.reason_codes) or "—"

    @admin.display(description="rule path")
    def rule_path_table(self, obj):
        rows = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", (
            (s["rule_id"], s.get("layer", ""), "yes" if s.get("matched") else "no",
             "FIRED" if s.get("fired") else "", s.get("reason_code") or s.get("error", ""))
            for s in obj.rule_path))
        return format_html('<table id="rule-path"><tr><th>rule</th><th>layer</th><th>matched</th><th>fired</th>'
                           "<th>reason / error</th></tr>{}</table>", rows)

    @admin.display(description="explanation")
    def explanation(self, obj):
        explained = decision_explain(obj)
        return format_html_join("", "<p><b>{}</b> — {}<br><small>{}</small></p>",
                                ((r["code"], r["ko"], r["en"]) for r in explained["reasons"])) or "—"


@admin.register(Simulation)
class SimulationAdmin(DosModelAdmin):
    permission_map = {"view": "decisions.read"}
    list_display = ["created_at", "policy_version", "dataset", "status", "progress", "report_link", "created_by"]
    list_filter = ["status"]
    list_select_related = ["policy_version__policy_set"]
    readonly_fields = ["policy_version", "champion_version", "dataset", "status", "progress", "rows_total",
                       "rows_done", "error", "created_by", "created_at", "started_at", "finished_at", "report_link"]
    exclude = ["input_csv", "report", "report_html", "task_id", "project"]

    @admin.display(description="progress")
    def progress(self, obj):
        return format_html('<div style="width:120px;background:var(--darkened-bg);border-radius:3px">'
                           '<div style="width:{}%;background:var(--primary);height:10px;border-radius:3px"></div></div>'
                           "<small>{} / {}</small>", obj.progress_pct, obj.rows_done, obj.rows_total)

    @admin.display(description="report")
    def report_link(self, obj):
        if obj.status != Simulation.Status.DONE:
            return "—"
        return format_html('<a href="{}" target="_blank">open</a>',
                           reverse("admin:decisions_simulation_report", args=[obj.pk]))

    def get_urls(self):
        return [path("<uuid:pk>/report/", self.admin_site.admin_view(self.report_view), name="decisions_simulation_report"),
                *super().get_urls()]

    def report_view(self, request, pk):
        sim = self.scoped_object_or_404(request, pk)
        return HttpResponse(sim.report_html or "not ready", content_type="text/html; charset=utf-8")


@admin.register(ReasonCode)
class ReasonCodeAdmin(DosModelAdmin):
    """The org's own wording; codes without a row use the domain packs' defaults (listed below)."""

    permission_map = {"view": "policy.read", "add": "policy.write", "change": "policy.write", "delete": "policy.write"}
    list_display = ["code", "category", "ko", "en", "updated_at"]
    search_fields = ["code", "ko", "en"]
    list_filter = ["category"]
    fields = ["code", "category", "ko", "en"]

    def delete_model(self, request, obj):
        services.reason_code_delete(reason=obj, actor=request.dos_principal)

    def changelist_view(self, request, extra_context=None):
        from decisions.reason_codes import system_reason_codes

        extra = {"system_reason_codes": sorted(system_reason_codes().items())}
        return super().changelist_view(request, extra_context={**(extra_context or {}), **extra})

    def save_model(self, request, obj, form, change):
        saved = services.reason_code_save(org_id=obj.org_id if change else request.dos_principal.org_id,
                                          code=obj.code, ko=obj.ko, en=obj.en, category=obj.category,
                                          actor=request.dos_principal)
        obj.pk = saved.pk
