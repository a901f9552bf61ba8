"""What retention can act on: each dataset names its table, the time its rows age from, whether it is
chained (never deleted: retained whole or crypto-shredded), what a legal hold on a subject or a case
reaches in it, and the default rule (seeded for every org: usage events 90 days, delivery traces
7 days, ledgers 7 years).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.apps import apps

SEVEN_YEARS = 7 * 365 + 2


@dataclass(frozen=True)
class Dataset:
    key: str
    title: str
    model: str  # app_label.Model
    time_field: str
    default_ttl_days: int
    default_action: str
    sensitivity: str
    legal_basis: str
    chained: bool = False
    # Append-only table (recorded facts) whose rows leave only through its owner's purge function:
    # the dotted path of ``purge(org_id=, ids=) -> removed``; the rows it keeps are counted as retained.
    purge: str = ""
    min_ttl_days: int = 1  # the shortest period a rule may set (the purge's own floor)
    subject_path: str | None = None  # ORM path to the subject's token
    case_path: str | None = None  # ORM path to the review case id
    decision_ref: str | None = None  # field naming a decision by its id (text): held with its subject or case
    base_filter: dict = field(default_factory=dict)
    anonymize: dict = field(default_factory=dict)  # field → value that drops the personal part
    chain_treatment: str = ""

    @property
    def model_class(self):
        return apps.get_model(self.model)

    def due(self, cutoff):
        return self.model_class.objects.filter(**self.base_filter, **{f"{self.time_field}__lt": cutoff})

    def actions(self) -> tuple[str, ...]:
        if self.chained:
            return ("tokenize",)  # chain_treatment says whether that is crypto-shredding or retaining whole
        allowed = ["delete"]
        if self.anonymize:
            allowed.append("anonymize")
        return tuple(allowed)


DATASETS: dict[str, Dataset] = {d.key: d for d in (
    Dataset("usage_events", "Usage events (meter events)", "billing.MeterEvent", "ts", 90, "delete", "P2",
            "Billing records: 90 days after the usage (rollups and invoices keep the totals).",
            purge="billing.services.meter_events_purge", min_ttl_days=90, decision_ref="corr_id"),
    Dataset("delivery_traces", "Delivery traces (delivered outbox events)", "dos.OutboxEvent", "created_at", 7,
            "delete", "P2", "Operational traces: 7 days.", base_filter={"status": "delivered"}),
    Dataset("simulation_uploads", "Simulation uploads (CSV rows)", "decisions.Simulation", "created_at", 30,
            "anonymize", "P1", "Test data of a policy change: 30 days.", base_filter={"dataset": "upload"},
            anonymize={"input_csv": ""}),
    Dataset("case_note_originals", "Sealed originals of redacted case notes", "hitl.CaseNote", "created_at", 5 * 365,
            "anonymize", "P0", "Review evidence: 5 years after the note.", base_filter={"sealed__isnull": False},
            subject_path="case__decision__subject_token", case_path="case_id", anonymize={"sealed": None}),
    Dataset("review_notifications", "Review desk notifications", "hitl.Notification", "created_at", 365, "delete",
            "P2", "Work notices: 1 year.", case_path="case_id"),
    Dataset("decision_records", "Decision records (decisions chain)", "decisions.DecisionRecord", "decided_at",
            SEVEN_YEARS, "tokenize", "P1", "Credit decision ledger: 7 years (chained, masked snapshots).",
            chained=True, subject_path="subject_token", chain_treatment="crypto_shred"),
    Dataset("audit_ledger", "Audit chain", "dos.LedgerEntry", "created_at", SEVEN_YEARS, "tokenize", "P2",
            "Tamper-evident audit trail: 7 years (chained, masked data only).", chained=True,
            chain_treatment="retain"),
)}
