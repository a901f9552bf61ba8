"""What active legal holds cover (read by retention runs, the DSAR pipeline and the admin); placing and
releasing holds is ``privacy.holds``."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q
from django.utils import timezone

from privacy.models import HoldScope, LegalHold


def active_holds(*, at: dt.datetime | None = None):
    at = at or timezone.now()
    return LegalHold.objects.filter(Q(ends_at__isnull=True) | Q(ends_at__gt=at), released_at__isnull=True,
                                    starts_at__lte=at)


def _subject_cases(subject_token: str) -> list[str]:
    from hitl.models import Case

    return [str(pk) for pk in Case.objects.filter(decision__subject_token=subject_token).values_list("id", flat=True)]


def holds_covering_subject(*, org_id, subject_token: str, at=None) -> list[LegalHold]:
    """Active holds on the subject, or on one of the subject's review cases (the caller's org scope)."""
    cases = set(_subject_cases(subject_token))
    covering = []
    for hold in active_holds(at=at).filter(scope__in=[HoldScope.SUBJECTS, HoldScope.CASES]).order_by("starts_at"):
        targets = set(map(str, hold.targets or []))
        if (hold.scope == HoldScope.SUBJECTS and subject_token in targets) or (
                hold.scope == HoldScope.CASES and cases & targets):
            covering.append(hold)
    return covering
