"""Back office for finance and ops: usage with a chart, event search, counters, quota status."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.contrib import admin
from django.db.models import Sum
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone

from billing.models import MeterEvent, ReconciliationReport, UsageAdjustment, UsageCounter, UsageDaily
from billing.quotas import quota_bucket, quotas_for, soft_ratio, window_usage
from dos.admin_base import DosModelAdmin
from tenancy.models import Org


class ReadOnlyAdmin(DosModelAdmin):
    permission_map = {"view": "usage.read"}

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]


@admin.register(MeterEvent)
class MeterEventAdmin(ReadOnlyAdmin):
    list_display = ["ts", "metric", "value", "unit", "project", "corr_id", "source", "late_status", "ingested_at"]
    list_filter = ["metric", "source", "late_status"]
    search_fields = ["=corr_id"]
    date_hierarchy = "ts"
    list_select_related = ["project"]
    show_full_result_count = False


@admin.register(UsageDaily)
class UsageDailyAdmin(ReadOnlyAdmin):
    list_display = ["day", "metric", "project", "value", "events", "updated_at"]
    list_filter = ["metric"]
    date_hierarchy = "day"
    list_select_related = ["project"]
    chart_days = 30

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context=extra_context)
        if hasattr(response, "context_data") and "cl" in response.context_data:
            response.context_data["usage_chart"] = self._chart(response.context_data["cl"].queryset)
        return response

    def _chart(self, queryset) -> dict:
        """Daily totals per metric over the last days, as bar heights for the changelist."""
        since = timezone.localdate() - dt.timedelta(days=self.chart_days - 1)
        rows = (queryset.filter(day__gte=since).values("metric", "day").annotate(total=Sum("value"))
                .order_by("metric", "day"))
        series: dict[str, dict[dt.date, Decimal]] = defaultdict(dict)
        for row in rows:
            series[row["metric"]][row["day"]] = row["total"]
        days = [since + dt.timedelta(days=i) for i in range(self.chart_days)]
        charts = []
        for metric, values in sorted(series.items()):
            peak = max(values.values()) or Decimal(1)
            charts.append({"metric": metric, "peak": peak, "bars": [
                {"day": d, "value": values.get(d, Decimal(0)), "pct": int(values.get(d, Decimal(0)) / peak * 100)}
                for d in days]})
        return {"days": self.chart_days, "charts": charts}

    def get_urls(self):
        return [path("quota-status/", self.admin_site.admin_view(self.quota_status_view), name="billing_quota_status"),
                *super().get_urls()]

    def quota_status_view(self, request):
        """How close each org (the user's, or all for platform staff) is to each quota."""
        if not self.has_view_permission(request):
            return TemplateResponse(request, "admin/dos_plans.html", status=403)
        now = timezone.now()
        rows = []
        for org in Org.objects.exclude(slug="_platform").order_by("name"):
            soft = soft_ratio(org)
            for (metric, window), limit in sorted(quotas_for(org).items()):
                used = window_usage(org.id, metric, window, now)
                pct = int(used / limit * 100) if limit else 0
                _label, resets = quota_bucket(window, now)
                rows.append({"org": org, "plan": org.plan, "quota": f"{metric}_per_{window}", "limit": limit,
                             "used": used.normalize(), "pct": min(pct, 100), "raw_pct": pct, "resets": resets,
                             "state": "over" if used >= limit else "warning" if used > limit * soft else "ok"})
        context = {**self.admin_site.each_context(request), "title": "Quota status", "rows": rows,
                   "opts": self.model._meta}
        return TemplateResponse(request, "admin/billing/quota_status.html", context)


@admin.register(UsageCounter)
class UsageCounterAdmin(ReadOnlyAdmin):
    list_display = ["day", "name", "value"]
    list_filter = ["name"]
    date_hierarchy = "day"


@admin.register(UsageAdjustment)
class UsageAdjustmentAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "metric", "value", "period", "apply_to_month"]
    list_filter = ["metric", "apply_to_month"]


@admin.register(ReconciliationReport)
class ReconciliationReportAdmin(ReadOnlyAdmin):
    list_display = ["day", "metric", "metered", "observed", "drift_pct", "alert"]
    list_filter = ["alert", "metric"]
    date_hierarchy = "day"
