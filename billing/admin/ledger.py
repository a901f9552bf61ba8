"""Back office for the subledger: journals (read-only, reversal with a reason, CSV/XLSX export) and
the month-end trial balance. Platform finance sees every org (with an org filter); a tenant's
billing admin sees its own org — the request's scope decides, RLS backs it."""

from __future__ import annotations

import datetime as dt

from django.contrib import admin, messages
from django.http import HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from billing.exports import FORMATS, export
from billing.models import Journal, JournalLine
from billing.subledger import reverse as journal_reverse
from billing.subledger import trial_balance
from billing.subledger.trial_balance import journal_months, monthly_revenue, unbalanced_journals
from dos.admin_base import DosModelAdmin
from dos.errors import DomainError
from tenancy.models import Org


def won(amount: int | None) -> str:
    return "" if amount in (None, "") else f"₩{amount:,}"


# Months the reports accept: a year of arithmetic either side stays inside what dates can hold.
MONTHS_ACCEPTED = (dt.date(2000, 1, 1), dt.date(2999, 12, 1))


def month_param(value: str | None) -> dt.date | None:
    """``YYYY-MM`` from a query string, or ``None`` when it is malformed or outside ``MONTHS_ACCEPTED``."""
    try:
        month = dt.datetime.strptime(value or "", "%Y-%m").date()
    except ValueError:
        return None
    return month if MONTHS_ACCEPTED[0] <= month <= MONTHS_ACCEPTED[1] else None


def download(content: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class JournalLineInline(admin.TabularInline):
    model = JournalLine
    fields = ["account", "debit_won", "credit_won"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    @admin.display(description=_("debit"))
    def debit_won(self, line):
        return won(line.debit) if line.debit else ""

    @admin.display(description=_("credit"))
    def credit_won(self, line):
        return won(line.credit) if line.credit else ""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Journal)
class JournalAdmin(DosModelAdmin):
    permission_map = {"view": "billing.read"}
    list_display = ["journal_no", "occurred_at", "period_month", "event", "source_label", "total_won", "kind",
                    "actor"]
    list_filter = ["event", "period", ("reverses", admin.EmptyFieldListFilter)]
    search_fields = ["=source_label", "=source_id", "memo"]
    date_hierarchy = "occurred_at"
    inlines = [JournalLineInline]
    actions = ["export_csv", "export_xlsx"]
    show_full_result_count = False
    change_form_template = "admin/billing/journal/change_form.html"
    change_list_template = "admin/billing/journal/change_list.html"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    @admin.display(description=_("journal"), ordering="id")
    def journal_no(self, obj):
        return f"J-{obj.pk}"

    @admin.display(description=_("period"), ordering="period")
    def period_month(self, obj):
        return f"{obj.period:%Y-%m}"

    @admin.display(description=_("total"), ordering="total")
    def total_won(self, obj):
        return won(obj.total)

    @admin.display(description=_("kind"))
    def kind(self, obj):
        return format_html("{} J-{}", _("reverses"), obj.reverses_id) if obj.reverses_id else _("posting")

    def _may_reverse(self, request) -> bool:
        principal = self.principal(request)
        return bool(principal and principal.platform and principal.has_perm("billing.manage"))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        reversed_by = (Journal.objects.filter(reverses_id=object_id).values_list("pk", flat=True).first()
                       if str(object_id).isdigit() else None)
        extra = {"may_reverse": self._may_reverse(request), "reversed_by": reversed_by, **(extra_context or {})}
        return super().change_view(request, object_id, form_url, extra_context=extra)

    # --- exports -----------------------------------------------------------------------------
    def _export(self, queryset, fmt):
        return download(*export("journals", fmt, queryset))

    @admin.action(description=_("Export the selected journals (CSV)"), permissions=["view"])
    def export_csv(self, request, queryset):
        return self._export(queryset, "csv")

    @admin.action(description=_("Export the selected journals (XLSX)"), permissions=["view"])
    def export_xlsx(self, request, queryset):
        return self._export(queryset, "xlsx")

    # --- custom pages ------------------------------------------------------------------------
    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("trial-balance/", view(self.trial_balance_view), name="billing_trial_balance"),
            path("export/", view(self.export_view), name="billing_finance_export"),
            path("<int:pk>/reverse/", view(self.reverse_view), name="billing_journal_reverse"),
            *super().get_urls(),
        ]

    def _org_choice(self, request):
        """Platform finance may narrow to one org (``?org=<id>``); members see their own anyway."""
        if not self._is_platform(request):
            return None, []
        orgs = list(Org.objects.exclude(slug="_platform").order_by("name").values_list("id", "name"))
        wanted = request.GET.get("org", "")
        return next((oid for oid, _name in orgs if str(oid) == wanted), None), orgs

    def trial_balance_view(self, request):
        if not self.has_view_permission(request):
            return TemplateResponse(request, "admin/dos_plans.html", status=403)
        org_id, orgs = self._org_choice(request)
        months = journal_months(org_id)
        month = month_param(request.GET.get("month")) or (months[0] if months else dt.date.today().replace(day=1))
        report = trial_balance(month=month, org_id=org_id)
        if request.GET.get("format") == "csv":
            lines = ["account,opening,debit,credit,closing"] + [
                f"{r.account},{r.opening},{r.debit},{r.credit},{r.closing}" for r in report.rows]
            return download(("\n".join(lines) + "\n").encode(), FORMATS["csv"], f"trial-balance-{month:%Y-%m}.csv")
        peak = max([abs(r.closing) for r in report.rows] + [1])
        trend = monthly_revenue(until=month, org_id=org_id)
        trend_peak = max([abs(m["revenue"]) for m in trend] + [1])
        context = {
            **self.admin_site.each_context(request), "opts": self.model._meta, "title": _("Trial balance"),
            "report": report, "month": month, "months": months, "orgs": orgs, "org_id": org_id,
            "unbalanced": unbalanced_journals(month=month, org_id=org_id),
            "trend": [{**m, "revenue_won": won(m["revenue"]), "vat_won": won(m["vat"]),
                       "pct": int(max(m["revenue"], 0) * 100 / trend_peak)} for m in trend],
            "rows": [{"row": r, "opening": won(r.opening), "debit": won(r.debit), "credit": won(r.credit),
                      "closing_debit": won(r.closing_debit) if r.closing_debit else "",
                      "closing_credit": won(r.closing_credit) if r.closing_credit else "",
                      "bar": int(abs(r.closing) * 100 / peak)} for r in report.rows],
            "totals": {"debit": won(report.debit_total), "credit": won(report.credit_total),
                       "closing_debit": won(report.closing_debit_total),
                       "closing_credit": won(report.closing_credit_total)},
        }
        return TemplateResponse(request, "admin/billing/trial_balance.html", context)

    def export_view(self, request):
        """Invoices or journals of a month range (and an org, for platform finance) as CSV/XLSX."""
        if not self.has_view_permission(request):
            return TemplateResponse(request, "admin/dos_plans.html", status=403)
        from billing.models import Invoice

        org_id, orgs = self._org_choice(request)
        dataset, fmt = request.GET.get("dataset"), request.GET.get("format")
        start, end = month_param(request.GET.get("from")), month_param(request.GET.get("to"))
        if dataset in ("invoices", "journals") and fmt in FORMATS:
            if dataset == "invoices":
                queryset, field = Invoice.objects.all(), "period_start"
            else:
                queryset, field = Journal.objects.all(), "period"
            if org_id:
                queryset = queryset.filter(org_id=org_id)
            if start:
                queryset = queryset.filter(**{f"{field}__gte": start})
            if end:
                queryset = queryset.filter(**{f"{field}__lte": end})
            return download(*export(dataset, fmt, queryset))
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "title": _("Finance exports"),
                   "orgs": orgs, "org_id": org_id, "formats": list(FORMATS)}
        return TemplateResponse(request, "admin/billing/finance_export.html", context)

    def reverse_view(self, request, pk):
        journal = self.scoped_object_or_404(request, pk)
        if request.method == "POST":
            try:
                reversal = journal_reverse(journal, actor=self.principal(request), reason=request.POST.get("reason", ""))
            except DomainError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, _("J-%(old)s reversed by J-%(new)s.") % {"old": journal.pk, "new": reversal.pk})
                return HttpResponseRedirect(reverse("admin:billing_journal_change", args=[reversal.pk]))
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "original": journal,
                   "title": _("Reverse journal J-%(pk)s") % {"pk": journal.pk},
                   "lines": [{"account": line.get_account_display(), "debit": won(line.credit) if line.credit else "",
                              "credit": won(line.debit) if line.debit else ""} for line in journal.lines.all()],
                   "may_reverse": self._may_reverse(request)}
        return TemplateResponse(request, "admin/billing/journal_reverse.html", context)
