"""``dosctl audit verify --chain billing`` holds every journal against the entry it was chained as
(``journal.posted`` / ``journal.reversed``): the same event, rule version, period, reversed journal
and the same lines in the same order. An entry naming a journal that is no longer there is reported
too — journals are append-only, so either is a change made behind the database's back."""

from __future__ import annotations

from billing.models.ledger import Journal
from dos.ledger import RecordProblem
from dos.models import LedgerEntry

JOURNAL_ACTIONS = ("journal.posted", "journal.reversed")


def _as_chained(journal: Journal) -> dict:
    return {"event": journal.event, "rule_version": journal.rule_version, "period": journal.period.isoformat(),
            "reverses": journal.reverses_id, "lines": [[line.account, line.amount] for line in journal.lines.all()]}


def journal_records_check(*, org_id) -> tuple[int, list[RecordProblem]]:
    journals = list(Journal.objects.filter(org_id=org_id).prefetch_related("lines").order_by("id"))
    entries = {seq: (action, data) for seq, action, data in LedgerEntry.objects.filter(
        org_id=org_id, chain="billing", action__in=JOURNAL_ACTIONS).values_list("seq", "action", "data")}
    problems = []
    for journal in journals:
        entry = entries.pop(journal.chain_seq, None)
        if entry is None:
            problems.append(RecordProblem("journal", str(journal.pk), journal.chain_seq,
                                          f"J-{journal.pk} is not on the billing chain"))
            continue
        action, data = entry
        chained = {key: data.get(key) for key in ("event", "rule_version", "period", "reverses", "lines")}
        expected_action = "journal.reversed" if journal.reverses_id else "journal.posted"
        if action != expected_action or chained != _as_chained(journal):
            problems.append(RecordProblem("journal", str(journal.pk), journal.chain_seq,
                                          f"J-{journal.pk} differs from what the billing chain recorded"))
    for seq, (action, _data) in sorted(entries.items()):
        problems.append(RecordProblem("journal", "", seq, f"the billing chain's {action} entry has no journal"))
    return len(journals), problems
