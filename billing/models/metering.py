"""Metering: raw meter events, hourly/daily/monthly rollups, adjustments, counters, reconciliation.

Invoices and payments arrive later and read UsageMonthly + UsageAdjustment (the next invoice picks
up adjustments whose ``apply_to_month`` it covers).
"""

from django.db import models
from django.utils import timezone

from dos.citus import TenantForeignKey
from dos.rls import TenantModel


class LateStatus(models.TextChoices):
    ON_TIME = "on_time", "On time"
    LATE_KEPT = "late_kept", "Late, period open (rollups recomputed)"
    LATE_ADJUSTED = "late_adjusted", "Late, period closed (adjustment)"


class MeterEvent(TenantModel):
    id = models.BigAutoField(primary_key=True)
    project = TenantForeignKey("tenancy.Project", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                               db_index=False)
    ts = models.DateTimeField(help_text="When the usage happened (UTC).")
    metric = models.CharField(max_length=32)
    value = models.DecimalField(max_digits=24, decimal_places=6)
    unit = models.CharField(max_length=16)
    corr_id = models.CharField(max_length=64)
    source = models.CharField(max_length=16, default="api")
    meta = models.JSONField(default=dict, blank=True)
    idem_key = models.CharField(max_length=64, help_text="sha256(org|metric|corr_id)")
    late_status = models.CharField(max_length=16, choices=LateStatus.choices, default=LateStatus.ON_TIME)
    ingested_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["org", "idem_key"], name="meterevent_org_idem_uniq")]
        indexes = [
            models.Index(fields=["org", "metric", "ts"], name="meterevent_org_metric_ts_idx"),
            models.Index(fields=["org", "corr_id"], name="meterevent_org_corr_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.metric} {self.value} @ {self.ts:%Y-%m-%d %H:%M}"


class _Rollup(TenantModel):
    metric = models.CharField(max_length=32)
    project = TenantForeignKey("tenancy.Project", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                               db_index=False)
    value = models.DecimalField(max_digits=28, decimal_places=6, default=0)
    events = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True


class UsageHourly(_Rollup):
    hour = models.DateTimeField(help_text="Start of the UTC hour.")

    class Meta:
        ordering = ["-hour"]
        verbose_name_plural = "usage (hourly)"
        constraints = [models.UniqueConstraint(fields=["org", "metric", "project", "hour"], nulls_distinct=False,
                                               name="usagehourly_bucket_uniq")]


class UsageDaily(_Rollup):
    day = models.DateField(help_text="Calendar day in Asia/Seoul.")

    class Meta:
        ordering = ["-day"]
        verbose_name_plural = "usage (daily)"
        constraints = [models.UniqueConstraint(fields=["org", "metric", "project", "day"], nulls_distinct=False,
                                               name="usagedaily_bucket_uniq")]


class UsageMonthly(_Rollup):
    month = models.DateField(help_text="First day of the billing month (Asia/Seoul).")
    closed_at = models.DateTimeField(null=True, blank=True, help_text="Set when the period is invoiced.")

    class Meta:
        ordering = ["-month"]
        verbose_name_plural = "usage (monthly)"
        constraints = [models.UniqueConstraint(fields=["org", "metric", "project", "month"], nulls_distinct=False,
                                               name="usagemonthly_bucket_uniq")]


class UsageAdjustment(TenantModel):
    """Usage that arrived after its billing period closed: billed on a later invoice, never by
    editing the closed period."""

    event = TenantForeignKey(MeterEvent, on_delete=models.PROTECT, related_name="adjustments", db_index=False)
    metric = models.CharField(max_length=32)
    value = models.DecimalField(max_digits=24, decimal_places=6)
    period = models.DateField(help_text="The closed month the usage belongs to.")
    apply_to_month = models.DateField(help_text="The open month whose invoice carries it.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["org", "event"], name="usageadjustment_org_event_uniq")]
        indexes = [models.Index(fields=["org", "apply_to_month"], name="usageadj_org_apply_idx")]


class RollupCursor(TenantModel):
    """Highest meter event id already reflected in the rollups of an org."""

    last_event_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org"], name="rollupcursor_org_uniq")]


class UsageCounter(TenantModel):
    """Daily operational counters: duplicates, late_kept, late_adjusted, late_dropped."""

    day = models.DateField()
    name = models.CharField(max_length=32)
    value = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["-day", "name"]
        constraints = [models.UniqueConstraint(fields=["org", "day", "name"], name="usagecounter_org_day_name_uniq")]


class ReconciliationReport(TenantModel):
    day = models.DateField()
    metric = models.CharField(max_length=32)
    metered = models.DecimalField(max_digits=28, decimal_places=6)
    observed = models.DecimalField(max_digits=28, decimal_places=6)
    drift_pct = models.DecimalField(max_digits=9, decimal_places=3)
    alert = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-day", "metric"]
        constraints = [models.UniqueConstraint(fields=["org", "day", "metric"], name="recon_org_day_metric_uniq")]
