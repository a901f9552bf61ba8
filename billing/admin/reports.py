"""Back office: the usage ↔ invoice drift report (per org, metric and month; alerts above the
tolerance first). Platform finance sees every org with an org filter; a tenant's billing admin its
own org."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from billing.drift import invoice_drift_compute, tolerance_pct
from billing.models import InvoiceDrift
from dos.admin_base import DosModelAdmin


def quantity(value) -> str:
    """12,345 or 12,345.5 — grouped, without the stored trailing zeros."""
    return f"{value.normalize():,f}"


@admin.register(InvoiceDrift)
class InvoiceDriftAdmin(DosModelAdmin):
    permission_map = {"view": "billing.read"}
    list_display = ["month_label", "metric", "metered_qty", "invoiced_qty", "drift", "state", "invoice_numbers",
                    "computed_at"]
    list_filter = ["alert", "month", "metric"]
    search_fields = ["metric"]
    ordering = ["-month", "-alert", "metric"]
    date_hierarchy = "month"
    actions = ["recompute_selected"]

    def has_recompute_permission(self, request):
        principal = self.principal(request)
        return bool(principal and principal.platform and principal.has_perm("billing.manage"))

    @admin.action(description=_("Recompute the selected org-months"), permissions=["recompute"])
    def recompute_selected(self, request, queryset):
        """After a fix (a late rollup, a corrected invoice): compare the month again; an alert is
        raised again only for figures that were not alerted before."""
        actor = self.principal(request)
        months = sorted({(row.org_id, row.month) for row in queryset})
        done = set()

        def apply(row):
            if (row.org_id, row.month) not in done:
                done.add((row.org_id, row.month))
                invoice_drift_compute(org_id=row.org_id, month=row.month, actor=actor)

        return self.confirm_action(
            request, queryset, action="recompute_selected", title=_("Recompute usage ↔ invoice drift"),
            verb=_("Recomputed"), apply=apply,
            detail=_("%(n)s org-months are compared again with their invoices.") % {"n": len(months)})

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def changelist_view(self, request, extra_context=None):
        extra = {"subtitle": _("Tolerance: %(pct)s %%") % {"pct": tolerance_pct()}, **(extra_context or {})}
        return super().changelist_view(request, extra_context=extra)

    @admin.display(description=_("month"), ordering="month")
    def month_label(self, obj):
        return f"{obj.month:%Y-%m}"

    @admin.display(description=_("metered"), ordering="metered")
    def metered_qty(self, obj):
        return quantity(obj.metered)

    @admin.display(description=_("invoiced"), ordering="invoiced")
    def invoiced_qty(self, obj):
        return quantity(obj.invoiced)

    @admin.display(description=_("drift"), ordering="drift_pct")
    def drift(self, obj):
        return f"{obj.drift_pct} %"

    @admin.display(description=_("state"), ordering="alert")
    def state(self, obj):
        if obj.alert:
            return format_html('<strong class="drift-alert" style="color:#ba2121">{}</strong>', _("alert"))
        return format_html('<span class="drift-ok" style="color:#2e7d32">{}</span>', _("ok"))

    @admin.display(description=_("invoices"))
    def invoice_numbers(self, obj):
        return ", ".join(obj.invoices or [])
