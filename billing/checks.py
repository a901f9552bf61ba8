"""Start-up check: a meter event can be late by at most ``USAGE_MAX_LATENESS_DAYS``, and the retention
purge removes events only after ``PURGE_FLOOR_DAYS``; the first must stay below the second, or an
event purged by retention could be metered again under its idempotency key."""

from __future__ import annotations

from django.conf import settings
from django.core import checks


@checks.register("billing")
def lateness_below_purge_floor(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    from billing.meters import PURGE_FLOOR_DAYS

    if settings.USAGE_MAX_LATENESS_DAYS >= PURGE_FLOOR_DAYS:
        return [checks.Error(
            f"USAGE_MAX_LATENESS_DAYS ({settings.USAGE_MAX_LATENESS_DAYS}) must be below the meter events' purge "
            f"floor ({PURGE_FLOOR_DAYS} days).", hint="Lower USAGE_MAX_LATENESS_DAYS.", id="billing.E001")]
    return []
