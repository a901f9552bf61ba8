"""Where a data subject's records live: the registry every app fills for subject requests (DSAR).

A subject is known by its per-org token (``vt_…``, never the raw id). Each app that keeps records
about subjects registers one *collector* in its ``AppConfig.ready()``; the privacy app runs them in
``order`` for an access or erasure request and builds the export from what they return. Collectors
see only the subject's org (they run inside its scope) and return :class:`Section` objects: plain
JSON-ready rows, the fields that carry the subject's own values, and — for rows that must outlive an
erasure — why they are kept.

Collectors share what they found through ``SubjectQuery.refs`` (decisions put the subject's decision
ids there; usage events and cases are linked to the subject through them), which is why the order
matters: a collector reads only refs filled by collectors with a lower ``order``.

Sealed values are opened through ``SubjectQuery.unseal`` (the registered vault, for the purpose
``dsar.access``) and only under the request's four-eyes hand-over approval (``approval``): without
one, nothing is opened (``withheld``). A value that no longer opens (its subject's key was
destroyed) is ``None`` — an export after an erasure carries no value of the subject, and says so.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

DSAR_PURPOSE = "dsar.access"  # the use a subject request makes of sealed values (a legal obligation)

@dataclass
class Section:
    """One kind of record about the subject, as one app keeps it."""

    name: str  # stable key: the CSV file name and the JSON key ("decisions", "case_notes")
    title: str  # what a person reads in the PDF summary
    rows: list[dict] = field(default_factory=list)
    source: str = ""  # the app and table the rows come from
    kept_because: str = ""  # why these rows outlive an erasure ("" = they do not need to)
    chained: bool = False  # rows are bound by a hash chain: retained or crypto-shredded, never deleted


@dataclass
class SubjectQuery:
    org_id: uuid.UUID
    subject_token: str
    refs: dict[str, list[str]] = field(default_factory=dict)
    approval: object = None  # the approved hand-over (tenancy ApprovalRequest) sealed values open under

    @property
    def withheld(self) -> bool:
        """Sealed values are not opened: no approved hand-over (an erasure's inventory, say)."""
        return self.approval is None

    def unseal(self, sealed) -> str | None:
        """The sealed value's text for the subject's own copy, or ``None`` when it no longer opens
        (the subject's key was destroyed, the value is not theirs) or is withheld (no approval)."""
        if not sealed or self.withheld:
            return None
        from dos.authz import system_actor
        from dos.vault import VaultError, vault

        try:
            return vault().unseal(actor=system_actor("dsar"), org_id=self.org_id,
                                  sealed=sealed if isinstance(sealed, str) else bytes(sealed),
                                  purpose=DSAR_PURPOSE, approval=self.approval).decode()
        except VaultError:
            return None


@dataclass(frozen=True)
class Collector:
    name: str
    order: int
    collect: Callable[[SubjectQuery], list[Section]]


_collectors: dict[str, Collector] = {}


def collector_register(name: str, collect: Callable[[SubjectQuery], list[Section]], *, order: int) -> None:
    """Register an app's collector (idempotent by name; a second, different function is refused)."""
    existing = _collectors.get(name)
    if existing is not None and existing.collect is not collect:
        raise RuntimeError(f"A subject-data collector named '{name}' is registered already.")
    _collectors[name] = Collector(name=name, order=order, collect=collect)


def collectors() -> list[Collector]:
    return sorted(_collectors.values(), key=lambda c: (c.order, c.name))


def subject_collect(*, org_id, subject_token: str, only: list[str] | None = None, approval=None) -> list[Section]:
    """Every section the registered collectors hold about the subject (the caller sets the org
    scope). ``only`` narrows it to the named collectors (a request's scope); refs still flow.
    ``approval``: the approved hand-over that sealed values are opened under (none: withheld)."""
    query = SubjectQuery(org_id=org_id, subject_token=subject_token, approval=approval)
    sections: list[Section] = []
    for entry in collectors():
        found = entry.collect(query)
        if only is None or entry.name in only:
            sections.extend(found)
    return sections


def _audit_entries(query: SubjectQuery) -> list[Section]:
    """Audit-chain entries that name the subject, or one of its decisions or cases."""
    from django.db.models import Q

    from dos.models import LedgerEntry

    # Targets name the subject's decisions and cases by id ("decision:<id>", "case:<id>").
    names = [query.subject_token, *query.refs.get("decision_ids", [])[:2000], *query.refs.get("case_ids", [])[:2000]]
    about = Q()
    for name in names:
        about |= Q(target__contains=name)
    about |= Q(data__contains={"subject_token": query.subject_token})
    rows = [{"seq": e.seq, "at": e.created_at.isoformat(), "action": e.action, "target": e.target,
             "entry_hash": e.hash}
            for e in LedgerEntry.objects.filter(about, chain="audit").order_by("seq")[:5000]]
    return [Section(name="audit_entries", title="Audit entries about the subject", rows=rows,
                    source="dos.LedgerEntry (audit chain)", chained=True,
                    kept_because="Audit chain: tamper-evident record kept 7 years; entries hold masked data only.")]


collector_register("audit", _audit_entries, order=90)
