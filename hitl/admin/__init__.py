"""Back office for human review: the inbox (``hitl.admin.inbox``), the desk's set-up (queues, SLA
policies, reviewers), appeals and notifications."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q
from django.urls import reverse
from django.utils.html import format_html

from dos.admin_base import DosModelAdmin
from hitl.admin.inbox import CaseAdmin
from hitl.choices import AppealStatus, CaseStatus
from hitl.desk import desk_setting_save, reviewer_profile_save
from hitl.models import Appeal, Case, Notification, Queue, ReviewerProfile, SLAPolicy
from hitl.routing import rule_error
from hitl.services import notifications_read

DESK = "members.manage"  # who may change the desk's set-up: org owners and admins

admin.site.register(Case, CaseAdmin)


class QueueForm(forms.ModelForm):
    class Meta:
        model = Queue
        fields = ["name", "kind", "description", "rank", "routing_rule", "skills", "sla_policy", "overflow_queue",
                  "depth_threshold", "is_fallback", "active"]

    def clean_routing_rule(self):
        rule = self.cleaned_data["routing_rule"].strip()
        if rule and (problem := rule_error(rule)):
            raise forms.ValidationError(f"This CEL rule does not compile: {problem}")
        return rule


class DeskSettingAdmin(DosModelAdmin):
    """Queues and SLA policies: saved through ``hitl.desk.desk_setting_save`` (audited)."""

    permission_map = {"view": "hitl.review", "add": DESK, "change": DESK}

    def save_model(self, request, obj, form, change):
        principal = self.principal(request)
        desk_setting_save(obj=obj, org_id=principal.org_id, actor=principal,
                          changed={name: form.cleaned_data.get(name) for name in form.changed_data})


@admin.register(Queue)
class QueueAdmin(DeskSettingAdmin):
    form = QueueForm
    list_display = ["name", "kind", "rank", "routing_rule", "open_cases", "depth_threshold", "overflow_queue",
                    "sla_policy", "active"]
    list_filter = ["kind", "active"]
    search_fields = ["name", "routing_rule"]
    list_select_related = ["overflow_queue", "sla_policy"]
    readonly_fields = ["rr_cursor", "created_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            open_count=Count("cases", filter=~Q(cases__status=CaseStatus.CLOSED)))

    @admin.display(description="open", ordering="open_count")
    def open_cases(self, queue):
        url = reverse("admin:hitl_case_changelist") + f"?queue__id__exact={queue.pk}&status__in=open,pending," \
                                                      "awaiting_docs,escalated"
        return format_html('<a href="{}">{}</a>', url, queue.open_count)



@admin.register(SLAPolicy)
class SLAPolicyAdmin(DeskSettingAdmin):
    list_display = ["name", "hours", "warn_ratio", "breach_actions", "created_at"]
    search_fields = ["name"]



@admin.register(ReviewerProfile)
class ReviewerProfileAdmin(DosModelAdmin):
    permission_map = {"view": "hitl.review", "add": DESK, "change": DESK}
    list_display = ["user", "available", "weight", "max_concurrent", "load", "skills", "updated_at"]
    list_filter = ["available"]
    search_fields = ["user__email"]
    list_select_related = ["user"]
    autocomplete_fields = []
    fields = ["user", "skills", "weight", "max_concurrent", "available"]
    actions = ["mark_available", "mark_unavailable"]

    def get_queryset(self, request):
        # A subquery per row would be N+1; one grouped count over open cases instead.
        from django.db.models import OuterRef, Subquery

        open_cases = (Case.objects.filter(owner_id=OuterRef("user_id")).exclude(status=CaseStatus.CLOSED)
                      .order_by().values("owner_id").annotate(n=Count("id")).values("n"))
        return super().get_queryset(request).annotate(open_load=Subquery(open_cases))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user":
            from django.contrib.auth import get_user_model

            from tenancy.models import Membership

            # Only this org's members (memberships are RLS-scoped); never list other orgs' people.
            kwargs["queryset"] = get_user_model().objects.filter(
                pk__in=Membership.objects.values("user_id")).order_by("email")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description="open cases", ordering="open_load")
    def load(self, profile):
        return f"{profile.open_load or 0} / {profile.max_concurrent}"

    def save_model(self, request, obj, form, change):
        saved = reviewer_profile_save(org_id=obj.org_id if change else self.principal(request).org_id,
                                      user=obj.user, skills=obj.skills or [], weight=obj.weight,
                                      max_concurrent=obj.max_concurrent, available=obj.available,
                                      actor=self.principal(request))
        obj.pk = saved.pk

    def _availability(self, request, queryset, available: bool):
        for profile in queryset:
            reviewer_profile_save(org_id=profile.org_id, user=profile.user, skills=profile.skills,
                                  weight=profile.weight, max_concurrent=profile.max_concurrent, available=available,
                                  actor=self.principal(request))
        messages.success(request, f"{queryset.count()} reviewers marked {'available' if available else 'away'}.")

    @admin.action(description="Mark available", permissions=["change"])
    def mark_available(self, request, queryset):
        self._availability(request, queryset, True)

    @admin.action(description="Mark away (no new cases)", permissions=["change"])
    def mark_unavailable(self, request, queryset):
        self._availability(request, queryset, False)


@admin.register(Appeal)
class AppealAdmin(DosModelAdmin):
    """Appeals are decided on the case page (the context is there); this is the work list."""

    permission_map = {"view": "hitl.review"}
    list_display = ["created_at", "case_link", "level", "status", "assignee", "resolution", "submitted_by",
                    "resolved_at"]
    list_filter = ["status", "level", "resolution"]
    search_fields = ["=case__number", "submitted_by", "assignee__email"]
    list_select_related = ["case", "assignee"]
    date_hierarchy = "created_at"
    readonly_fields = ["case_link", "level", "status", "reason", "submitted_by", "assignee", "original_decider",
                       "resolution", "resolution_note", "final_decision", "created_at", "resolved_at"]
    fields = readonly_fields

    @admin.display(description="case", ordering="case__number")
    def case_link(self, appeal):
        return format_html('<a href="{}">#{}</a>', reverse("admin:hitl_case_change", args=[appeal.case_id]),
                           appeal.case.number)

    def changelist_view(self, request, extra_context=None):
        if not request.GET and request.method == "GET":
            from django.shortcuts import redirect

            return redirect(f"{request.path}?status__in={AppealStatus.SUBMITTED},{AppealStatus.IN_REVIEW}")
        return super().changelist_view(request, extra_context)


@admin.register(Notification)
class NotificationAdmin(DosModelAdmin):
    permission_map = {"view": "hitl.review"}
    list_display = ["created_at", "text", "case_link", "read_at"]
    list_filter = [("read_at", admin.EmptyFieldListFilter)]
    list_select_related = ["case"]
    actions = ["mark_read"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(user_id=request.user.pk)  # only my own

    @admin.display(description="case")
    def case_link(self, note):
        if not note.case_id:
            return "—"
        return format_html('<a href="{}">#{}</a>', reverse("admin:hitl_case_change", args=[note.case_id]),
                           note.case.number)

    @admin.action(description="Mark as read", permissions=["view"])
    def mark_read(self, request, queryset):
        updated = notifications_read(user=request.user, ids=queryset.values_list("pk", flat=True))
        messages.success(request, f"{updated} notifications marked as read.")
