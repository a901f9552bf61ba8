"""The database itself holds the subledger's invariants: a journal whose lines do not sum to zero
never commits, and journals and their lines are never changed or removed once written."""

from __future__ import annotations

import datetime as dt
import threading
import uuid

import psycopg
import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from billing.models import Journal
from billing.subledger import PostingRefused, SourceRef, post, reverse
from dos import scope
from dos.authz import system_actor
from tests.dos.test_append_only import as_app_role

NOV = dt.datetime(2026, 11, 14, 3, 0, tzinfo=dt.UTC)

INSERT_JOURNAL = """
INSERT INTO billing_journal (org_id, event, rule_version, source_type, source_id, source_label, occurred_at, period,
                             amounts, total, memo, actor, corr_id, created_at)
VALUES (%s, 'invoice.issued', 1, 'billing.invoice', %s, 'raw', now(), '2026-11-01', '{}', 100, '', 'raw', '', now())
RETURNING id
"""
INSERT_LINE = "INSERT INTO billing_journalline (org_id, journal_id, account, amount) VALUES (%s, %s, %s, %s)"


def raw_journal(cur, org_id, lines) -> int:
    cur.execute(INSERT_JOURNAL, [org_id, str(uuid.uuid4())])
    [journal_id] = cur.fetchone()
    for account, amount in lines:
        cur.execute(INSERT_LINE, [org_id, journal_id, account, amount])
    return journal_id


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("lines", [
    [("ar", 100), ("revenue", -99)],
    [("ar", 100)],
    [],
], ids=["debits-exceed-credits", "one-line", "no-lines"])
def test_a_raw_unbalanced_journal_is_refused_at_commit(acme, lines):
    # Inserted without complaint; the check is deferred to COMMIT (leaving the scope), when the journal is whole.
    with pytest.raises(IntegrityError, match="unbalanced journal"), scope.org_scope(acme.id), connection.cursor() as cur:
        raw_journal(cur, acme.id, lines)
    with scope.org_scope(acme.id):
        assert not Journal.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_raw_balanced_journal_commits(acme):
    with scope.org_scope(acme.id), connection.cursor() as cur:
        raw_journal(cur, acme.id, [("ar", 110), ("revenue", -100), ("tax_payable", -10)])
    with scope.org_scope(acme.id):
        assert Journal.objects.get().lines.count() == 3


@pytest.mark.django_db(transaction=True)
def test_a_line_added_later_to_a_committed_journal_is_refused(acme):
    with scope.org_scope(acme.id):
        journal = post("invoice.issued", org_id=acme.id, source=SourceRef("billing.invoice", "1", "DOS-1"),
                       occurred_at=NOV, actor=system_actor("test"), amounts={"net": 100, "tax": 10, "total": 110})
    with pytest.raises(IntegrityError, match="unbalanced journal"), scope.org_scope(acme.id), connection.cursor() as cur:
        cur.execute(INSERT_LINE, [acme.id, journal.pk, "cash", 5])


@pytest.mark.django_db(transaction=True)
def test_a_line_pointing_at_another_orgs_journal_is_refused(acme, outsider):
    with scope.org_scope(acme.id):
        journal = post("invoice.issued", org_id=acme.id, source=SourceRef("billing.invoice", "1", "DOS-1"),
                       occurred_at=NOV, actor=system_actor("test"), amounts={"net": 100, "tax": 10, "total": 110})
    with pytest.raises(DatabaseError), scope.org_scope(outsider.id), connection.cursor() as cur:
        cur.execute(INSERT_LINE, [outsider.id, journal.pk, "ar", 5])
        cur.execute(INSERT_LINE, [outsider.id, journal.pk, "revenue", -5])


@pytest.fixture
def booked(transactional_db, acme):
    with scope.org_scope(acme.id):
        post("invoice.issued", org_id=acme.id, source=SourceRef("billing.invoice", "1", "DOS-1"),
             occurred_at=NOV, actor=system_actor("test"), amounts={"net": 100, "tax": 10, "total": 110})
    return acme


@pytest.mark.parametrize(("table", "statement"), [
    ("billing_journal", "UPDATE billing_journal SET total = total + 1 WHERE org_id = %s"),
    ("billing_journal", "DELETE FROM billing_journal WHERE org_id = %s"),
    ("billing_journalline", "UPDATE billing_journalline SET amount = amount * 2 WHERE org_id = %s"),
    ("billing_journalline", "DELETE FROM billing_journalline WHERE org_id = %s"),
])
def test_journals_and_lines_are_append_only_even_for_the_app_role_with_every_grant(booked, superuser_dsn, table,
                                                                                   statement):
    with as_app_role(superuser_dsn, table) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        conn.execute(statement, [booked.id])


@pytest.mark.django_db(transaction=True)
def test_the_owner_cannot_rewrite_a_journal_either(booked):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cur:
        cur.execute("SELECT set_config('dos.platform', 'on', true)")
        cur.execute("UPDATE billing_journalline SET amount = 0 WHERE org_id = %s", [booked.id])


@pytest.mark.django_db
def test_every_journal_is_held_against_its_billing_chain_entry(acme):
    from billing.subledger.chain import journal_records_check
    from dos.ledger import chain_verify

    with scope.org_scope(acme.id):
        journal = post("invoice.issued", org_id=acme.id, source=SourceRef("billing.invoice", "1", "DOS-1"),
                       occurred_at=NOV, actor=system_actor("test"), amounts={"net": 100, "tax": 10, "total": 110})
        reverse(journal, actor=system_actor("test"), reason="void", occurred_at=NOV)
        assert journal_records_check(org_id=acme.id) == (2, [])
        with connection.cursor() as cur:
            # What only someone able to switch the triggers off could do: move ₩5 between lines.
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the bookings' COMMIT-time checks, run now
            cur.execute("ALTER TABLE billing_journalline DISABLE TRIGGER billing_journalline_append_only")
            cur.execute("UPDATE billing_journalline SET amount = amount + 5 WHERE org_id = %s AND journal_id = %s "
                        "AND account = 'ar'", [acme.id, journal.pk])
            cur.execute("UPDATE billing_journalline SET amount = amount - 5 WHERE org_id = %s AND journal_id = %s "
                        "AND account = 'revenue'", [acme.id, journal.pk])
            cur.execute("ALTER TABLE billing_journalline ENABLE TRIGGER billing_journalline_append_only")
        checked, problems = journal_records_check(org_id=acme.id)
        verified = chain_verify(org_id=acme.id, chain="billing")  # what dosctl audit verify --chain billing runs
    assert checked == 2 and [(p.record_id, p.seq) for p in problems] == [(str(journal.pk), journal.chain_seq)]
    assert "differs from what the billing chain recorded" in problems[0].reason
    assert (verified.ok, verified.failure, verified.first_bad_seq) == (False, "record_mismatch", journal.chain_seq)


WRITERS = 8


@pytest.mark.django_db(transaction=True)
def test_concurrent_bookings_of_one_source_book_it_once_and_reversals_reverse_once(acme):
    """Eight writers book the same invoice at once (a redelivered issue task, a double click), then
    eight reverse it at once: one journal, one reversal, and every writer got an answer."""
    source = SourceRef("billing.invoice", "race", "DOS-RACE")
    barrier, booked, errors = threading.Barrier(WRITERS), [], []

    def book():
        try:
            barrier.wait(timeout=30)
            with scope.org_scope(acme.id):
                booked.append(post("invoice.issued", org_id=acme.id, source=source, occurred_at=NOV,
                                   actor=system_actor("test"), amounts={"net": 100, "tax": 10, "total": 110}).pk)
        except Exception as exc:  # noqa: BLE001 - reported by the test
            errors.append(repr(exc))
        finally:
            connection.close()

    def unbook(journal):
        try:
            barrier.wait(timeout=30)
            with scope.org_scope(acme.id):
                booked.append(reverse(journal, actor=system_actor("test"), reason="race", occurred_at=NOV).pk)
        except PostingRefused as exc:
            errors.append(exc.code)
        except Exception as exc:  # noqa: BLE001 - reported by the test
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=book) for _ in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors and len(booked) == WRITERS and len(set(booked)) == 1
    with scope.org_scope(acme.id):
        journal = Journal.objects.get()
    booked.clear()
    threads = [threading.Thread(target=unbook, args=(journal,)) for _ in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(booked) == 1 and errors == ["journal_already_reversed"] * (WRITERS - 1)
    with scope.org_scope(acme.id):
        assert Journal.objects.count() == 2 and Journal.objects.filter(reverses=journal).count() == 1
