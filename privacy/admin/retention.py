"""Retention in the back office: rules (saved through the service), runs with their dry-run diff and
the second person's approval, legal holds placed and released."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from dos.admin_base import DosModelAdmin, ReadOnlyInline
from dos.errors import DomainError
from privacy.holds import hold_place, hold_release
from privacy.models import LegalHold, RetentionRule, RetentionRun, RetentionRunItem, RunStatus
from privacy.retention.datasets import DATASETS
from privacy.retention.services import retention_approve, retention_plan, retention_reject, rule_save

READ, MANAGE, APPROVE = "privacy.read", "privacy.manage", "retention.approve"


class _ServiceErrors:
    """Add/change pages whose save calls a service: a refusal is a message, not a 500."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as exc:
            self.message_user(request, str(exc), level=messages.ERROR)
            return HttpResponseRedirect(request.path)


class RuleForm(forms.ModelForm):
    dataset = forms.ChoiceField(choices=[(k, f"{d.title} ({k})") for k, d in DATASETS.items()])

    class Meta:
        model = RetentionRule
        fields = ["dataset", "sensitivity", "ttl_days", "action", "chain_treatment", "legal_basis", "active"]


def rule_changes_text(changes) -> str:
    """Who changed a rule since its last executed run (they may not approve a run acting on it)."""
    if not changes:
        return "—"
    return "; ".join(f"{c.get('by')} {str(c.get('at', ''))[:16].replace('T', ' ')}"
                     + (" ⚠ " + str(_("tightened")) if c.get("tightened") else "") for c in changes)


@admin.register(RetentionRule)
class RetentionRuleAdmin(_ServiceErrors, DosModelAdmin):
    permission_map = {"view": READ, "add": MANAGE, "change": MANAGE, "delete": None}
    list_display = ["dataset", "title", "sensitivity", "ttl", "action", "chain_treatment", "legal_basis", "active",
                    "updated_by", "updated_at", "pending_changes"]
    list_filter = ["action", "sensitivity", "active"]
    search_fields = ["dataset", "legal_basis"]
    form = RuleForm
    actions = ["propose_dry_run"]

    @admin.display(description=_("dataset"))
    def title(self, obj):
        spec = DATASETS.get(obj.dataset)
        return format_html("{}{}", spec.title if spec else "?", " 🔗" if spec and spec.chained else "")

    @admin.display(description=_("changes awaiting a run"))
    def pending_changes(self, obj):
        return rule_changes_text(obj.changes)

    @admin.display(description=_("keep for"), ordering="ttl_days")
    def ttl(self, obj):
        years, days = divmod(obj.ttl_days, 365)
        return _("%(y)d y %(d)d d") % {"y": years, "d": days} if years else _("%(d)d days") % {"d": obj.ttl_days}

    def save_model(self, request, obj, form, change):
        principal = self.principal(request)
        data = form.cleaned_data
        saved = rule_save(org_id=principal.org_id, actor=principal, dataset=data["dataset"],
                          ttl_days=data["ttl_days"], action=data["action"], legal_basis=data["legal_basis"],
                          sensitivity=data["sensitivity"], chain_treatment=data.get("chain_treatment") or "",
                          active=data["active"])
        obj.pk = saved.pk
        obj._state.adding = False

    @admin.action(description=_("Propose a retention dry-run now (all active rules)"))
    def propose_dry_run(self, request, queryset):
        principal = self.principal(request)
        try:
            run = retention_plan(org_id=principal.org_id, actor=principal)
        except DomainError as exc:
            messages.error(request, str(exc))
            return None
        messages.success(request, _("Dry-run proposed; a colleague holding 'retention.approve' approves it."))
        from django.urls import reverse

        return HttpResponseRedirect(reverse("admin:privacy_retentionrun_change", args=[run.pk]))


class RunItemInline(ReadOnlyInline):
    view_permission = READ
    model = RetentionRunItem
    fields = readonly_fields = ["dataset", "action", "cutoff", "matched", "held", "sample", "done",
                                "held_at_execution", "retained", "finished", "changed_by"]
    extra = 0

    @admin.display(description=_("rule changes since the last executed run"))
    def changed_by(self, obj):
        return rule_changes_text(obj.rule_changes)
    can_delete = False
    verbose_name_plural = _("dry-run diff and execution")


@admin.register(RetentionRun)
class RetentionRunAdmin(DosModelAdmin):
    permission_map = {"view": READ, "add": None, "change": None, "delete": None}
    list_display = ["__str__", "status", "as_of", "proposed_by_label", "approved_by", "due_rows", "done_rows",
                    "catch_up_for", "created_at"]
    list_filter = ["status"]
    date_hierarchy = "created_at"
    list_select_related = ["approved_by", "catch_up_for"]
    fields = readonly_fields = ["status", "as_of", "proposed_by_label", "approval", "approved_by", "approved_at",
                                "started_at", "finished_at", "catch_up_for", "note", "created_at"]
    inlines = [RunItemInline]
    actions = ["approve_runs", "reject_runs"]

    def get_queryset(self, request):
        from django.db.models import Sum

        return super().get_queryset(request).annotate(due=Sum("items__matched"), changed=Sum("items__done"))

    @admin.display(description=_("due (dry-run)"), ordering="due")
    def due_rows(self, obj):
        return f"{obj.due or 0:,}"

    @admin.display(description=_("changed"), ordering="changed")
    def done_rows(self, obj):
        return f"{obj.changed or 0:,}"

    @admin.action(description=_("Approve the dry-run and execute it (someone other than its proposer)"))
    def approve_runs(self, request, queryset):
        principal = self.principal(request)
        return self.confirm_action(
            request, queryset.filter(status=RunStatus.PROPOSED), action="approve_runs",
            title=_("Approve retention runs"), verb=_("Approved"), type_count=True,
            detail=_("The rows in the dry-run diff are deleted or anonymized in batches; legal holds are checked "
                     "again as it runs. Chained rows are never deleted."),
            apply=lambda run: retention_approve(run=run, actor=principal))

    @admin.action(description=_("Reject the dry-run"))
    def reject_runs(self, request, queryset):
        principal = self.principal(request)
        return self.confirm_action(request, queryset.filter(status=RunStatus.PROPOSED), action="reject_runs",
                                   title=_("Reject retention runs"), verb=_("Rejected"),
                                   apply=lambda run: retention_reject(run=run, actor=principal))

    def get_actions(self, request):
        actions = super().get_actions(request)
        principal = self.principal(request)
        if principal is None or not principal.has_perm(APPROVE):
            return {}
        return actions


class HoldForm(forms.ModelForm):
    targets_text = forms.CharField(label=_("targets"), widget=forms.Textarea(attrs={"rows": 4}),
                                   help_text=_("One per line: dataset names, vt_ subject tokens or case ids."))

    class Meta:
        model = LegalHold
        fields = ["scope", "targets_text", "reason", "reference", "starts_at", "ends_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["starts_at"].required = False
        self.fields["starts_at"].help_text = _("Empty: now.")


class ActiveFilter(admin.SimpleListFilter):
    title, parameter_name = _("state"), "active"

    def lookups(self, request, model_admin):
        return [("yes", _("Active")), ("no", _("Released or ended"))]

    def queryset(self, request, queryset):
        from privacy.holds import active_holds

        ids = active_holds().values("id")
        if self.value() == "yes":
            return queryset.filter(id__in=ids)
        if self.value() == "no":
            return queryset.exclude(id__in=ids)
        return queryset


@admin.register(LegalHold)
class LegalHoldAdmin(_ServiceErrors, DosModelAdmin):
    permission_map = {"view": READ, "add": MANAGE, "change": None, "delete": None}
    list_display = ["__str__", "scope", "target_count", "reference", "starts_at", "ends_at", "released_at",
                    "created_by"]
    list_filter = [ActiveFilter, "scope"]
    search_fields = ["reason", "reference"]
    date_hierarchy = "starts_at"
    form = HoldForm
    actions = ["release_holds"]
    readonly = ["scope", "targets", "reason", "reference", "starts_at", "ends_at", "released_at", "released_by",
                "created_by", "created_at"]

    def get_fields(self, request, obj=None):
        return list(HoldForm.Meta.fields) if obj is None else self.readonly

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly

    @admin.display(description=_("targets"))
    def target_count(self, obj):
        return len(obj.targets or [])

    def save_model(self, request, obj, form, change):
        principal = self.principal(request)
        data = form.cleaned_data
        hold = hold_place(org_id=principal.org_id, actor=principal, scope=data["scope"],
                          targets=[t for t in data["targets_text"].split() if t], reason=data["reason"],
                          reference=data["reference"], starts_at=data.get("starts_at"), ends_at=data.get("ends_at"))
        obj.pk = hold.pk
        obj._state.adding = False

    @admin.action(description=_("Release the holds (held-back retention is proposed again)"))
    def release_holds(self, request, queryset):
        principal = self.principal(request)
        return self.confirm_action(request, queryset.filter(released_at__isnull=True), action="release_holds",
                                   title=_("Release legal holds"), verb=_("Released"),
                                   detail=_("Deletion of what they cover resumes after a new dry-run is approved."),
                                   apply=lambda hold: hold_release(hold=hold, actor=principal))

    def get_actions(self, request):
        actions = super().get_actions(request)
        principal = self.principal(request)
        if principal is None or not principal.has_perm(MANAGE):
            return {}
        return actions

