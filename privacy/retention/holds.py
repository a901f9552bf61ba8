"""What active legal holds cover (read by retention runs, the DSAR pipeline and the admin); placing and
releasing holds is ``privacy.holds``."""

from __future__ import annotations

import datetime as dt
import uuid

from django.db.models import Q
from django.utils import timezone

from privacy.models import HoldScope, LegalHold


def active_holds(*, at: dt.datetime | None = None):
    at = at or timezone.now()
    return LegalHold.objects.filter(Q(ends_at__isnull=True) | Q(ends_at__gt=at), released_at__isnull=True,
                                    starts_at__lte=at)


def case_ids(targets) -> list[str]:
    """The targets of a case hold that are case ids (holds placed before ids were checked may hold others)."""
    ids = []
    for target in targets or []:
        try:
            ids.append(str(uuid.UUID(str(target))))
        except ValueError:
            continue
    return ids


def decision_refs(*, subject_tokens=(), cases=()):
    """The ids (as text) of the decisions of these subjects or review cases: how rows that name a
    decision (usage events' ``corr_id``) are reached by a hold on a subject or a case."""
    from django.db.models import CharField
    from django.db.models.functions import Cast

    from decisions.models import DecisionRecord
    from hitl.models import Case

    records = DecisionRecord.objects.filter(subject_token__in=list(subject_tokens)) if subject_tokens else (
        DecisionRecord.objects.filter(id__in=Case.objects.filter(id__in=list(cases)).values("decision_id")))
    return records.annotate(ref=Cast("id", output_field=CharField())).values("ref")


def _subject_cases(subject_token: str) -> list[str]:
    from hitl.models import Case

    return [str(pk) for pk in Case.objects.filter(decision__subject_token=subject_token).values_list("id", flat=True)]


def _subject_datasets(subject_token: str, cases: set[str]) -> set[str]:
    """Datasets holding rows of the subject: reached by its token or by one of its review cases."""
    from privacy.retention.datasets import DATASETS

    held = set()
    for spec in DATASETS.values():
        rows = spec.model_class.objects.filter(**spec.base_filter)
        by_token = (spec.subject_path and rows.filter(**{spec.subject_path: subject_token}).exists()) or (
            spec.decision_ref and rows.filter(**{f"{spec.decision_ref}__in": decision_refs(
                subject_tokens=[subject_token])}).exists())
        if by_token or (spec.case_path and cases and rows.filter(**{f"{spec.case_path}__in": list(cases)}).exists()):
            held.add(spec.key)
    return held


def holds_covering_subject(*, org_id, subject_token: str, at=None) -> list[LegalHold]:
    """Active holds on the subject, on one of the subject's review cases, or on a whole dataset that
    holds the subject's rows (the caller's org scope). An erasure covered by any of them is deferred."""
    cases = set(_subject_cases(subject_token))
    datasets = None  # looked up once, only when a dataset hold is active
    covering = []
    for hold in active_holds(at=at).order_by("starts_at"):
        targets = set(map(str, hold.targets or []))
        if hold.scope == HoldScope.DATASETS:
            if datasets is None:
                datasets = _subject_datasets(subject_token, cases)
            if datasets & targets:
                covering.append(hold)
        elif (hold.scope == HoldScope.SUBJECTS and subject_token in targets) or (
                hold.scope == HoldScope.CASES and cases & set(case_ids(targets))):
            covering.append(hold)
    return covering
