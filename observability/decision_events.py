"""Settled decisions on /metrics and in the log: the ``decision.finalized`` outbox handler.

hitl emits ``decision.finalized`` when a reviewer's action or an appeal settles a decision; the
outbox delivers it here (registered in ``ObservabilityConfig.ready``). Delivery is at least once,
so the counter and the log line wait for the COMMIT that marks the event delivered: a delivery that
is rolled back (another handler failed, the worker died) counts nothing and the retry counts once.
"""

from __future__ import annotations

import structlog
from django.db import transaction
from prometheus_client import Counter

from dos.models import OutboxEvent

log = structlog.get_logger("observability.decisions")

DECISIONS_FINALIZED = Counter("dos_decisions_finalized_total", "Decisions settled by human review.",
                              ["outcome", "override"])
OUTCOMES = ("approve", "deny")  # bounded labels: anything else is counted as "other"


def decision_finalized_observe(event: OutboxEvent) -> None:
    payload = event.payload
    outcome = payload.get("outcome") if payload.get("outcome") in OUTCOMES else "other"
    override = "true" if payload.get("override") else "false"
    fields = {"event_id": event.pk, "org_id": str(event.org_id), "decision_id": payload.get("decision_id"),
              "final_decision_id": payload.get("final_decision_id"), "outcome": outcome, "override": override,
              "appeal": bool(payload.get("appeal"))}

    def record() -> None:
        DECISIONS_FINALIZED.labels(outcome=outcome, override=override).inc()
        log.info("decision.finalized", **fields)

    transaction.on_commit(record)
