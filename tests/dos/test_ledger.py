"""The hash chain: concurrent appends never fork, rows never change, tampering is found."""

import threading

import psycopg
import pytest
from django.db import DatabaseError, connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dos import scope
from dos.ledger import chain_verify, ledger_append
from dos.models import LedgerEntry

# PostgreSQL cannot store NUL and UTF-8 has no lone surrogates: both are refused (tests below).
TEXT = st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",))


def _append(org_id, n=1, **data):
    with scope.org_scope(org_id):
        return [ledger_append(chain="audit", org_id=org_id, action="test.event", actor="system:test",
                              data={"i": i, **data}) for i in range(n)]


@pytest.mark.django_db(transaction=True)
def test_16_concurrent_appenders_build_one_unbroken_chain(acme):
    with scope.org_scope(acme.id):
        start = LedgerEntry.objects.filter(chain="audit").count()
    errors = []

    def writer(w):
        try:
            for i in range(25):
                with scope.org_scope(acme.id):
                    ledger_append(chain="audit", org_id=acme.id, action="test.concurrent", actor=f"system:w{w}",
                                  data={"writer": w, "i": i})
        except Exception as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with scope.org_scope(acme.id):
        seqs = list(LedgerEntry.objects.filter(chain="audit").order_by("seq").values_list("seq", flat=True))
        result = chain_verify(org_id=acme.id, chain="audit")
    assert seqs == list(range(1, start + 16 * 25 + 1))
    assert result.ok, result
    assert result.checked == start + 400


@pytest.mark.django_db
def test_the_application_role_cannot_update_or_delete_chained_rows(acme):
    _append(acme.id)
    with scope.org_scope(acme.id):
        entry = LedgerEntry.objects.filter(chain="audit").first()
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            LedgerEntry.objects.filter(pk=entry.pk).update(action="rewritten")
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            LedgerEntry.objects.filter(pk=entry.pk).delete()


@pytest.mark.django_db(transaction=True)
def test_verify_names_the_row_a_superuser_altered(acme, superuser_dsn):
    _append(acme.id, n=5)
    with scope.org_scope(acme.id):
        entries = list(LedgerEntry.objects.filter(chain="audit").order_by("seq"))
    victim = entries[3]
    dsn = superuser_dsn.rsplit("/", 1)[0] + "/" + connection.settings_dict["NAME"]
    with psycopg.connect(dsn, autocommit=True) as dba:
        dba.execute("ALTER TABLE dos_ledgerentry DISABLE TRIGGER ledgerentry_append_only")
        try:
            dba.execute("UPDATE dos_ledgerentry SET data = '{\"i\": 999}' WHERE id = %s", [victim.id])
        finally:
            dba.execute("ALTER TABLE dos_ledgerentry ENABLE TRIGGER ledgerentry_append_only")
    with scope.org_scope(acme.id):
        result = chain_verify(org_id=acme.id, chain="audit")
    assert not result.ok
    assert result.first_bad_seq == victim.seq
    assert "altered" in result.reason


@pytest.mark.django_db
def test_an_append_outside_the_scope_is_refused(acme, outsider):
    with scope.org_scope(outsider.id), pytest.raises((PermissionError, DatabaseError)), transaction.atomic():
        ledger_append(chain="audit", org_id=acme.id, action="forged", actor="mallory")


@pytest.mark.django_db
@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(payloads=st.lists(st.dictionaries(st.text(TEXT, min_size=1, max_size=8),
                                         st.one_of(st.integers(), st.text(TEXT, max_size=20), st.booleans(), st.none()),
                                         max_size=4), min_size=1, max_size=6))
def test_any_payloads_verify_and_links_chain(acme, payloads):
    with scope.org_scope(acme.id):
        before = chain_verify(org_id=acme.id, chain="audit")
        appended = [ledger_append(chain="audit", org_id=acme.id, action="prop", actor="system:hypothesis", data=p)
                    for p in payloads]
        result = chain_verify(org_id=acme.id, chain="audit")
    assert result.ok, result
    assert result.checked == before.checked + len(payloads)
    assert [a.seq for a in appended] == list(range(before.head_seq + 1, before.head_seq + len(payloads) + 1))


@pytest.mark.django_db
def test_nul_characters_are_refused_with_a_clear_error(acme):
    with scope.org_scope(acme.id), pytest.raises(ValueError, match="NUL"):
        ledger_append(chain="audit", org_id=acme.id, action="x", actor="system:test", data={"a\x00": 1})


@pytest.mark.django_db
def test_lone_surrogates_are_refused_with_a_clear_error(acme):
    with scope.org_scope(acme.id), pytest.raises(ValueError, match="surrogate"):
        ledger_append(chain="audit", org_id=acme.id, action="x", actor="system:test", data={"\ud800": 1})
