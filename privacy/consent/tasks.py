"""The consent expiry sweep (beat, every 15 minutes): each consent whose window closed gets its
``expired`` event. /decide never waits for it — a consent past ``valid_until`` covers nothing
already — the sweep makes the history say so, once (a consent ends once, in the database)."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from dos.authz import system_actor
from dos.tasks import for_each_org

DUE_ORGS_SQL = (
    "SELECT DISTINCT c.org_id FROM privacy_consent c WHERE c.valid_until <= %s AND NOT EXISTS ("
    "SELECT 1 FROM privacy_consentevent e WHERE e.org_id = c.org_id AND e.consent_id = c.id "
    "AND e.kind IN ('revoked', 'expired'))")


@shared_task(name="privacy.consent.tasks.consent_expire_all", ignore_result=True)
def consent_expire_all(now: str | None = None) -> int:
    """Expire due consents in every org that has some; ``now`` (ISO 8601) for replays and tests."""
    from datetime import datetime

    from privacy.consent.services import consent_expire_due

    at = datetime.fromisoformat(now) if now else timezone.now()
    actor = system_actor("consent_expiry")
    return sum(for_each_org(job="privacy_consent_expiry (orgs with lapsed consents)", sql=DUE_ORGS_SQL, params=[at],
                            work=lambda org_id: consent_expire_due(org_id=org_id, actor=actor, now=at),
                            every_status=True))
