"""Usage events caused by the subject's decisions, for subject requests (``dos.subject_data``).

A meter event names the decision it counts (``corr_id``), never the subject: the decisions
collector, which runs first, hands over the subject's decision ids."""

from __future__ import annotations

from billing.models import MeterEvent
from dos.subject_data import Section, SubjectQuery


def subject_usage(query: SubjectQuery) -> list[Section]:
    decision_ids = query.refs.get("decision_ids", [])
    events = MeterEvent.objects.filter(corr_id__in=decision_ids).order_by("ts", "id") if decision_ids else []
    rows = [{"at": e.ts.isoformat(), "metric": e.metric, "value": str(e.value), "unit": e.unit,
             "decision_id": e.corr_id} for e in events]
    return [Section(name="usage_events", title="Usage events of the subject's decisions", rows=rows,
                    source="billing.MeterEvent",
                    kept_because="Billing record of the org (no personal values); deleted by retention after 90 days.")]
