"""Booking journals: ``post`` applies a posting rule to a business event, ``reverse`` books the
mirror image of a journal. Nothing else writes journals, and nothing changes one once written.

Both run inside the caller's transaction (an invoice is issued, its journal booked and both chained
in one commit, or none of it), append the journal to the org's ``billing`` chain, and serialise per
source on a transaction-level advisory lock, so two concurrent bookings of one source cannot both
pass the "already booked?" check (the unique constraints are the backstop).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from billing.models.ledger import Journal, JournalLine
from billing.periods import month_of, seoul_day
from billing.subledger.metrics import JOURNALS_BOOKED
from billing.subledger.rules import PostingRule, UnknownEvent, events, rule_for, rule_version
from dos.audit import actor_label, audit_record
from dos.authz import ACTIONS, PermissionRefused, action, authorize
from dos.errors import DomainError, FieldErrors, field_error
from dos.ledger import current_corr_id, ledger_append

JOURNAL_POST = action("billing.journal.post", "billing.manage")
JOURNAL_REVERSE = action("billing.journal.reverse", "billing.manage")


class PostingRefused(DomainError):
    status = 409
    code = "posting_refused"


@dataclass(frozen=True)
class SourceRef:
    """What a journal books: a model instance is turned into one by ``source_ref``."""

    type: str
    id: str
    label: str = ""


def platform_finance_only(actor, name: str):
    """The subledger is the platform's books of what each org owes it: an org's own billing admin
    reads its journals but never books or reverses one — platform finance or a platform job does."""
    actor = authorize(actor, name)
    if not getattr(actor, "platform", False):
        raise PermissionRefused("Journals are booked and reversed by platform finance only.",
                                permission=ACTIONS[name], code="platform_only")
    return actor


def source_ref(source) -> SourceRef:
    if isinstance(source, SourceRef):
        return source
    meta = getattr(source, "_meta", None)
    if meta is None or getattr(source, "pk", None) is None:
        raise TypeError(f"A journal's source is a saved model instance or a SourceRef, not {source!r}.")
    return SourceRef(type=meta.label_lower, id=str(source.pk), label=str(getattr(source, "number", "") or "")[:64])


def _lock(org_id, key: str) -> None:
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"billing.journal:{org_id}:{key}"])


def _clean_amounts(rule: PostingRule, amounts: dict) -> dict[str, int]:
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(amounts) - rule.parts)
    if unknown:
        errors["amounts"] = [f"'{rule.event}' books {', '.join(sorted(rule.parts))}; not {', '.join(unknown)}."]
    clean = {}
    for part, value in amounts.items():
        if isinstance(value, bool) or not isinstance(value, int):
            errors.setdefault(part, []).append("Amounts are whole won (an integer).")
        elif value < 0:
            errors.setdefault(part, []).append("Amounts are not negative; a reversal undoes a booking.")
        elif part in rule.parts:
            clean[part] = value
    if errors:
        raise FieldErrors(errors, f"The amounts do not fit the '{rule.event}' posting rule.")
    return clean


def _balanced_or_refuse(rule: PostingRule, lines: list[tuple[str, int]], amounts: dict[str, int]) -> None:
    if len(lines) < 2 or sum(amount for _, amount in lines):
        raise PostingRefused(
            f"'{rule.event}' v{rule.version} does not balance for {amounts}: debits "
            f"{sum(a for _, a in lines if a > 0)} ≠ credits {-sum(a for _, a in lines if a < 0)}.",
            code="unbalanced_posting", status=422)


def _book(*, org_id, rule: PostingRule, ref: SourceRef, amounts: dict[str, int], lines: list[tuple[str, int]],
          occurred_at: dt.datetime, actor, memo: str, reverses: Journal | None = None) -> Journal:
    label = actor_label(actor)
    period = month_of(occurred_at)
    appended = ledger_append(
        chain="billing", org_id=org_id, action="journal.reversed" if reverses else "journal.posted", actor=label,
        target=f"{ref.type}:{ref.id}", data={
            "event": rule.event, "rule_version": rule.version, "source": ref.label, "period": period.isoformat(),
            "occurred_at": occurred_at.astimezone(dt.UTC).isoformat(), "lines": [[a, v] for a, v in lines],
            "reverses": reverses.pk if reverses else None, "memo": memo,
        })
    journal = Journal.objects.create(
        org_id=org_id, event=rule.event, rule_version=rule.version, source_type=ref.type, source_id=ref.id,
        source_label=ref.label, occurred_at=occurred_at, period=period, amounts=amounts,
        total=sum(v for _, v in lines if v > 0), reverses=reverses, memo=memo[:200], actor=label[:120],
        corr_id=current_corr_id(), chain_seq=appended.seq)
    JournalLine.objects.bulk_create(
        [JournalLine(org_id=org_id, journal=journal, account=account, amount=amount) for account, amount in lines])
    JOURNALS_BOOKED.labels(event=rule.event, kind="reversal" if reverses else "posting").inc()
    return journal


def post(event: str, *, org_id, source, amounts: dict[str, int], occurred_at: dt.datetime, actor,
         memo: str = "") -> Journal:
    """Book ``event`` for ``source`` with the rule in force on the day it occurred.

    Idempotent per (event, source): booking the same amounts again returns the journal already
    booked; different amounts are refused (409 ``journal_exists``) — a correction is a reversal.
    Amounts are non-negative whole won named by the rule's parts (``rules.RULES``)."""
    actor = platform_finance_only(actor, JOURNAL_POST)
    if timezone.is_naive(occurred_at):
        raise field_error("occurred_at", "A journal's time is timezone-aware.")
    try:
        rule = rule_for(event, seoul_day(occurred_at))
    except UnknownEvent:
        raise FieldErrors({"event": [f"No posting rule for '{event}' on {seoul_day(occurred_at)}; "
                                     f"rules exist for {', '.join(events())}."]}) from None
    ref = source_ref(source)
    amounts = _clean_amounts(rule, amounts)
    lines = rule.lines(amounts)
    _balanced_or_refuse(rule, lines, amounts)
    with transaction.atomic():
        _lock(org_id, f"{ref.type}:{ref.id}:{event}")
        existing = Journal.objects.filter(org_id=org_id, event=event, source_type=ref.type, source_id=ref.id,
                                          reverses__isnull=True).first()
        if existing is not None:
            if existing.amounts == amounts:
                return existing
            raise PostingRefused(
                f"{ref.label or ref.id} is booked for '{event}' already (J-{existing.pk}, {existing.amounts}); "
                "reverse that journal to correct it.", code="journal_exists", journal=existing.pk)
        return _book(org_id=org_id, rule=rule, ref=ref, amounts=amounts, lines=lines, occurred_at=occurred_at,
                     actor=actor, memo=memo)


def reverse(journal: Journal, *, actor, reason: str, occurred_at: dt.datetime | None = None) -> Journal:
    """Book the mirror image of ``journal`` (every line negated) in the period of ``occurred_at``
    (now by default; never earlier than the journal itself). A journal is reversed once; a reversal
    is not reversed again — book the event anew instead."""
    actor = platform_finance_only(actor, JOURNAL_REVERSE)
    reason = (reason or "").strip()
    if not reason:
        raise field_error("reason", "Say why the journal is reversed; the reason is kept on the billing chain.")
    # Never booked before the journal it reverses: a clock behind the original's books at its time.
    occurred_at = max(occurred_at or timezone.now(), journal.occurred_at)
    if journal.reverses_id is not None:
        raise PostingRefused(f"J-{journal.pk} is itself a reversal; post the event again instead.",
                             code="reversal_not_reversible")
    ref = SourceRef(type=journal.source_type, id=journal.source_id, label=journal.source_label)
    with transaction.atomic():
        _lock(journal.org_id, f"reverse:{journal.pk}")
        done = Journal.objects.filter(org_id=journal.org_id, reverses=journal).values_list("pk", flat=True).first()
        if done is not None:
            raise PostingRefused(f"J-{journal.pk} was reversed already by J-{done}.", code="journal_already_reversed",
                                 reversal=done)
        lines = [(line.account, -line.amount) for line in journal.lines.order_by("id")]
        reversal = _book(org_id=journal.org_id, rule=rule_version(journal.event, journal.rule_version), ref=ref,
                         amounts=journal.amounts, lines=lines, occurred_at=occurred_at, actor=actor,
                         memo=f"Reversal of J-{journal.pk}: {reason}", reverses=journal)
        audit_record(org_id=journal.org_id, action="billing.journal.reversed", actor=actor,
                     target=f"journal:{journal.pk}", data={"reversal": reversal.pk, "reason": reason,
                                                          "source": ref.label or ref.id, "event": journal.event})
    return reversal


def write_off(*, org_id, source, open_balance: int, occurred_at: dt.datetime, actor, memo: str = "") -> Journal | None:
    """Book an invoice written off as uncollectible: Dr bad debts / Cr receivable for what it still
    leaves owing (``invoice.written_off``), inside the caller's transaction. Nothing is booked when
    nothing is owed; booking the same write-off again returns the journal already booked."""
    if not isinstance(open_balance, int) or isinstance(open_balance, bool) or open_balance < 0:
        raise field_error("open_balance", "Whole won, zero or more.")
    if open_balance == 0:
        return None
    return post("invoice.written_off", org_id=org_id, source=source, amounts={"amount": open_balance},
                occurred_at=occurred_at, actor=actor, memo=memo)
