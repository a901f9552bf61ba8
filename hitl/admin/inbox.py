"""The reviewers' inbox in the admin (STYLE §4): the case list with "My work", the case page,
bulk approve/deny behind a typed confirmation, and the queue overview with the desk's figures.

Every change goes through the HITL services (``case_act``, ``note_add``, ``attachment_add``,
``appeal_*``); the admin only collects input and shows what the services answer.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import admin, messages
from django.db.models import Q
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from dos.admin_base import DosModelAdmin
from dos.rls import pinned_org_id
from hitl import attachments
from hitl.actions import case_act
from hitl.choices import CaseAction, CaseSource, CaseStatus, Priority
from hitl.downloads import attachment_response
from hitl.selectors import sla_state
from hitl.services import case_open

PRIORITY_COLOURS = {"p0": "#ba2121", "p1": "#c9650b", "p2": "#417690", "p3": "#777"}


class SlaStateFilter(admin.SimpleListFilter):
    title, parameter_name = "SLA state", "sla"

    def lookups(self, request, model_admin):
        return [("on_track", "On track"), ("at_risk", "At risk (past warning)"), ("breached", "Breached")]

    def queryset(self, request, queryset):
        now, open_ = timezone.now(), ~Q(status=CaseStatus.CLOSED)
        if self.value() == "breached":
            return queryset.filter(open_, sla_due_at__lte=now)
        if self.value() == "at_risk":
            return queryset.filter(open_, warn_at__lte=now, sla_due_at__gt=now)
        if self.value() == "on_track":
            return queryset.filter(open_, sla_due_at__gt=now).filter(Q(warn_at__gt=now) | Q(warn_at__isnull=True))
        return queryset


class AssignedFilter(admin.SimpleListFilter):
    title, parameter_name = "assigned", "assigned"

    def lookups(self, request, model_admin):
        return [("me", "To me"), ("nobody", "To nobody (waiting)")]

    def queryset(self, request, queryset):
        if self.value() == "me":
            return queryset.filter(owner_id=request.user.pk)
        if self.value() == "nobody":
            return queryset.filter(owner__isnull=True).exclude(status=CaseStatus.CLOSED)
        return queryset


class ReasonCodeFilter(admin.SimpleListFilter):
    title, parameter_name = "reason code", "reason"

    def lookups(self, request, model_admin):
        from django.db import connection

        # One query, RLS-scoped like everything else here; it names the org too (docs/scale.md).
        org_id = pinned_org_id()
        where, params = ("WHERE org_id = %s", [org_id]) if org_id else ("", [])
        with connection.cursor() as cur:
            cur.execute(f"SELECT DISTINCT jsonb_array_elements_text(reason_codes) AS c FROM hitl_case {where} "
                        "ORDER BY c LIMIT 100", params)
            return [(code, code) for (code,) in cur.fetchall()]

    def queryset(self, request, queryset):
        return queryset.filter(reason_codes__contains=[self.value()]) if self.value() else queryset


class CaseOpenForm(forms.Form):
    priority = forms.ChoiceField(choices=Priority.choices, initial=Priority.P2)
    product = forms.CharField(max_length=64, required=False)
    reason_codes = forms.CharField(max_length=500, required=False, help_text="Comma-separated, e.g. DOCS_MISSING")
    summary = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=4000,
                              help_text="What the reviewer should look at (personal data is masked).")


class QaFilter(admin.SimpleListFilter):
    title, parameter_name = "QA", "qa"

    def lookups(self, request, model_admin):
        return [("open", "Sampled, not checked yet"), ("done", "Checked")]

    def queryset(self, request, queryset):
        from hitl.choices import TaskKind, TaskStatus
        from hitl.models import Task

        if not self.value():
            return queryset
        done = Task.objects.filter(kind=TaskKind.QA, status=TaskStatus.DONE).values("case_id")
        sampled = Task.objects.filter(kind=TaskKind.QA).exclude(status=TaskStatus.DONE).values("case_id")
        return queryset.filter(pk__in=done if self.value() == "done" else sampled)


class CaseAdmin(DosModelAdmin):
    permission_map = {"view": "hitl.review", "add": "hitl.review"}
    list_display = ["number_link", "priority_badge", "status", "sla", "queue", "owner", "reasons", "product",
                    "source", "created_at"]
    list_filter = [AssignedFilter, SlaStateFilter, "status", "priority", "queue", ReasonCodeFilter, "source",
                   "in_appeal", QaFilter]
    search_fields = ["=number", "=decision__id", "product"]
    list_select_related = ["queue", "owner"]
    ordering = ["sla_due_at", "created_at"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    actions = ["bulk_approve", "bulk_deny"]
    change_list_template = "admin/hitl/case/change_list.html"

    class Media:
        js = ["hitl/inbox.js"]
        css = {"all": ["hitl/inbox.css"]}

    def has_change_permission(self, request, obj=None):
        return False  # cases change only through the actions on the case page

    def _allowed(self, request, kind: str) -> bool:
        # QA reviewers read cases (and record their checks) without working them.
        if kind == "view":
            principal = self.principal(request)
            if principal is not None and not principal.platform and principal.has_perm("hitl.qa"):
                return True
        return super()._allowed(request, kind)

    # -- columns -------------------------------------------------------------------------------
    @admin.display(description="case", ordering="number")
    def number_link(self, case):
        return format_html('<a class="case-link" href="{}">#{}</a>',
                           reverse("admin:hitl_case_change", args=[case.pk]), case.number)

    @admin.display(description="priority", ordering="priority")
    def priority_badge(self, case):
        return format_html('<span class="prio" style="background:{}">{}</span>', PRIORITY_COLOURS[case.priority],
                           case.priority.upper())

    @admin.display(description="SLA", ordering="sla_due_at")
    def sla(self, case):
        state = sla_state(case, timezone.now())
        if state == "done":
            return "—"
        left = case.sla_due_at - timezone.now()
        hours = int(abs(left.total_seconds()) // 3600)
        text = f"breached {hours}h ago" if state == "breached" else f"due in {hours}h"
        return format_html('<span class="sla sla-{}" title="due {}">{}</span>', state, case.sla_due_at, text)

    @admin.display(description="reasons")
    def reasons(self, case):
        return ", ".join(case.reason_codes) or "—"

    # -- pages ---------------------------------------------------------------------------------
    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("my-work/", view(self.my_work_view), name="hitl_case_my_work"),
            path("queues/", view(self.queues_view), name="hitl_case_queues"),
            path("attachment/<uuid:pk>/", view(self.attachment_view), name="hitl_case_attachment"),
            *super().get_urls(),
        ]

    def my_work_view(self, request):
        """My open cases, the oldest SLA first."""
        url = reverse("admin:hitl_case_changelist")
        return redirect(f"{url}?assigned=me&status__in=open,pending,awaiting_docs,escalated")

    def changelist_view(self, request, extra_context=None):
        from hitl.models import Notification

        unread = Notification.objects.filter(user_id=request.user.pk, read_at__isnull=True).count()
        return super().changelist_view(request, extra_context={**(extra_context or {}), "unread": unread,
                                                               "shortcuts": True})

    def queues_view(self, request):
        from hitl.metrics import desk_report, throughput_by_day

        now = timezone.now()
        days = _int(request.GET.get("days"), 7, 1, 90)
        report = desk_report(start=now - dt.timedelta(days=days), end=now, now=now)
        series = throughput_by_day(days=14, now=now)
        peak = max([1, *(max(d["opened"], d["resolved"]) for d in series)])
        context = {**self.admin_site.each_context(request), "title": "Review queues", "report": report,
                   "days": days, "series": series, "peak": peak, "opts": self.model._meta}
        return TemplateResponse(request, "admin/hitl/queues.html", context)

    def attachment_view(self, request, pk):
        from hitl.models import Attachment

        found = Attachment.objects.filter(pk=pk).first()
        if found is None or not self.has_view_permission(request):
            from django.http import Http404

            raise Http404("No such attachment.")
        try:
            return attachment_response(found)
        except attachments.AttachmentUnavailable as exc:
            return HttpResponse(str(exc), status=exc.status, content_type="text/plain; charset=utf-8")

    def add_view(self, request, form_url="", extra_context=None):
        from tenancy.principals import active_project

        if not self.has_add_permission(request):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        form = CaseOpenForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            from dos.pii import mask_text

            principal = self.principal(request)
            codes = [c.strip().upper() for c in form.cleaned_data["reason_codes"].split(",") if c.strip()]
            case = case_open(org_id=principal.org_id, project=active_project(principal), source=CaseSource.ADMIN,
                             priority=form.cleaned_data["priority"], reason_codes=codes[:50],
                             product=form.cleaned_data["product"],
                             summary={"note": mask_text(form.cleaned_data["summary"])}, created_by=request.user,
                             actor=principal)
            messages.success(request, f"Opened {case} in queue {case.queue}.")
            return HttpResponseRedirect(reverse("admin:hitl_case_change", args=[case.pk]))
        context = {**self.admin_site.each_context(request), "title": "Open a review case", "form": form,
                   "opts": self.model._meta}
        return TemplateResponse(request, "admin/hitl/case/open.html", context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        from hitl.admin.case_page import case_page

        case = self.scoped_object_or_404(request, object_id)
        return case_page(self, request, case)

    # -- bulk ----------------------------------------------------------------------------------
    def get_actions(self, request):
        actions = super().get_actions(request)
        principal = self.principal(request)
        if principal is None or not principal.has_perm("hitl.review"):
            return {}  # QA reviewers read; they do not decide cases
        return actions

    def _bulk(self, request, queryset, action: str, verb: str):
        principal = self.principal(request)
        return self.confirm_action(
            request, queryset, action=f"bulk_{action}", title=f"{verb} {queryset.count()} cases?", verb=verb,
            detail=f"Each case is {verb.lower()}d by you, as if you pressed the button on its page; cases you may "
                   "not act on are reported and left as they are.", type_count=True,
            apply=lambda case: case_act(case=case, action=action, actor=principal, comment="bulk action"))

    @admin.action(description="Approve selected cases…", permissions=["view"])
    def bulk_approve(self, request, queryset):
        return self._bulk(request, queryset, CaseAction.APPROVE, "Approve")

    @admin.action(description="Deny selected cases…", permissions=["view"])
    def bulk_deny(self, request, queryset):
        return self._bulk(request, queryset, CaseAction.DENY, "Deny")


def _int(value, default: int, low: int, high: int) -> int:
    try:
        return min(high, max(low, int(value)))
    except (TypeError, ValueError):
        return default
