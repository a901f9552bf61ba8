"""The hash chain: concurrent appends never fork, rows never change, tampering is found."""

import io
import json
import threading

import psycopg
import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dos import scope
from dos.canonical import canonical_json, sha256_hex
from dos.ledger import chain_verify, entry_content, ledger_append, link_hash
from dos.models import ChainHead, LedgerEntry
from dos.tasks import ledger_anchor_daily
from tests.conftest import api_client
from tests.decisions.test_decide_api import decide
from tests.factories import make_key

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
    assert result.failure == "content_altered" and "altered" in result.reason


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


def _as_dba(superuser_dsn: str, *statements: tuple[str, list]) -> None:
    """Run ``statements`` as the DBA with the user triggers of the chain tables switched off, as an
    attacker holding the superuser would."""
    dsn = superuser_dsn.rsplit("/", 1)[0] + "/" + connection.settings_dict["NAME"]
    tables = ("dos_ledgerentry", "dos_chainhead", "dos_chainanchor", "decisions_decisionrecord")
    with psycopg.connect(dsn, autocommit=True) as dba:
        for table in tables:
            dba.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        try:
            for sql, params in statements:
                dba.execute(sql, params)
        finally:
            for table in tables:
                dba.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")


def _verify(org) -> tuple[int, dict, str]:
    """``dosctl audit verify --org`` as JSON and as text: (exit code, the chain's report, text)."""
    reports = []
    for flags in (["--json"], []):
        out = io.StringIO()
        try:
            call_command("audit", "verify", "--org", org.slug, "--chain", "audit", *flags, stdout=out)
            code = 0
        except SystemExit as exc:
            code = exc.code
        reports.append((code, out.getvalue()))
    (code, as_json), (_, text) = reports
    [chain] = json.loads(as_json)["chains"]
    return code, chain, text


def _entry(org_id, seq):
    with scope.org_scope(org_id):
        return LedgerEntry.objects.get(chain="audit", seq=seq)


def _rewritten_from_4(org, e) -> list[tuple[str, list]]:
    """Entry 4 altered and every hash from there on recomputed, head included: the chain is
    self-consistent again, and only the anchor taken before still knows the truth."""
    statements, prev = [], e[3].hash
    for k in range(4, 7):
        entry = e[k]
        actor = "user:someone-else" if k == 4 else entry.actor
        content_hash = sha256_hex(canonical_json(entry_content(
            chain=entry.chain, org_id=org.id, action=entry.action, actor=actor, target=entry.target, data=entry.data,
            corr_id=entry.corr_id, created_at=entry.created_at)))
        entry_hash = link_hash(prev, content_hash)
        statements.append(("UPDATE dos_ledgerentry SET actor = %s, content_hash = %s, prev_hash = %s, hash = %s "
                           "WHERE id = %s", [actor, content_hash, prev, entry_hash, entry.id]))
        prev = entry_hash
    statements.append(("UPDATE dos_chainhead SET hash = %s WHERE org_id = %s AND chain = 'audit'", [prev, org.id]))
    return statements


# Each tamper, done by a DBA with the triggers off, on the last 6 entries (e[1]…e[6]) of a chain
# anchored at its head: (first entry named, counted in those 6; statements given the org and entries)
TAMPERS = {
    "content_altered": (4, lambda org, e: [
        ("UPDATE dos_ledgerentry SET actor = 'user:someone-else' WHERE id = %s", [e[4].id])]),
    "hash_altered": (4, lambda org, e: [
        ("UPDATE dos_ledgerentry SET hash = repeat('a', 64) WHERE id = %s", [e[4].id])]),
    "sequence_gap": (3, lambda org, e: [("DELETE FROM dos_ledgerentry WHERE id = %s", [e[3].id])]),
    "broken_link": (5, lambda org, e: [
        ("UPDATE dos_ledgerentry SET prev_hash = repeat('b', 64) WHERE id = %s", [e[5].id])]),
    # The tail cut off and the head rewound with it: only the anchor still knows seq 6.
    "truncated": (5, lambda org, e: [
        ("DELETE FROM dos_ledgerentry WHERE id IN (%s, %s)", [e[5].id, e[6].id]),
        ("UPDATE dos_chainhead SET seq = %s, hash = %s WHERE org_id = %s AND chain = 'audit'",
         [e[4].seq, e[4].hash, org.id])]),
    "anchor_mismatch": (6, _rewritten_from_4),  # found at the anchored seq, the old head
    "head_missing": (None, lambda org, e: [
        ("DELETE FROM dos_chainhead WHERE org_id = %s AND chain = 'audit'", [org.id])]),
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("failure", list(TAMPERS))
def test_verify_detects_and_names_each_way_a_chain_can_be_broken(acme, superuser_dsn, failure):
    top = _append(acme.id, n=6)[-1].seq
    ledger_anchor_daily()
    entries = {k: _entry(acme.id, top - 6 + k) for k in range(1, 7)}
    code, report, _text = _verify(acme)
    assert (code, report["ok"], report["failure"]) == (0, True, "")
    first_bad, tamper = TAMPERS[failure]
    _as_dba(superuser_dsn, *tamper(acme, entries))
    code, report, text = _verify(acme)
    expected_seq = None if first_bad is None else top - 6 + first_bad
    assert (code, report["ok"], report["failure"], report["first_bad_seq"]) == (1, False, failure, expected_seq)
    assert "[BROKEN] audit" in text and failure in text


@pytest.mark.django_db(transaction=True)
def test_verify_reports_a_missing_tail_when_the_head_is_ahead_of_the_entries(acme, superuser_dsn):
    _append(acme.id, n=3)
    with scope.org_scope(acme.id):
        last = LedgerEntry.objects.filter(chain="audit").order_by("-seq").first()
    _as_dba(superuser_dsn, ("DELETE FROM dos_ledgerentry WHERE id = %s", [last.id]))
    code, report, _text = _verify(acme)
    assert (code, report["failure"], report["first_bad_seq"]) == (1, "missing_tail", last.seq)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("change", "reported"), [
    ("outcome = 'approve'", "record altered"),
    ("subject_token = 'vt_someone_else'", "record altered"),
    ("ledger_hash = repeat('c', 64)", "ledger_hash differs"),
    ("ledger_seq = ledger_seq + 1", "not this record"),
    ("snapshot = jsonb_set(snapshot, '{dsr}', '12.5')", "record altered"),
    ("rule_path = '[]'::jsonb", "record altered"),
], ids=["outcome", "subject", "ledger_hash", "ledger_seq", "snapshot", "rule_path"])
def test_verify_names_a_decision_record_altered_behind_its_chain_entry(acme, lending, superuser_dsn, change,
                                                                       reported):
    lender = api_client(make_key(acme, scopes=["decisions.run", "decisions.read"], name="lender"))
    decided = [decide(lender, subject=f"lead-{i}", dsr=48.5).json()["decision_id"] for i in range(3)]
    out = io.StringIO()
    call_command("audit", "verify", "--org", "acme", "--chain", "decisions", "--json", stdout=out)
    [clean] = json.loads(out.getvalue())["chains"]
    assert (clean["ok"], clean["records_checked"], clean["bad_records"]) == (True, 3, [])
    victim = decided[1]
    _as_dba(superuser_dsn, (f"UPDATE decisions_decisionrecord SET {change} WHERE id = %s", [victim]))
    out = io.StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("audit", "verify", "--org", "acme", "--chain", "decisions", stdout=out)
    assert exited.value.code == 1
    assert f"decision {victim}" in out.getvalue() and reported in out.getvalue()
    with scope.org_scope(acme.id):
        result = chain_verify(org_id=acme.id, chain="decisions")
    assert (result.ok, result.failure, result.checked) == (False, "record_mismatch", 3)
    assert [p.record_id for p in result.bad_records] == [victim]


@pytest.mark.django_db(transaction=True)
def test_deleting_the_head_no_longer_hides_a_chain_from_verify(acme, superuser_dsn):
    _append(acme.id, n=2)
    _as_dba(superuser_dsn, ("DELETE FROM dos_chainhead WHERE org_id = %s", [acme.id]))
    with scope.org_scope(acme.id):
        assert not ChainHead.objects.exists()
    out = io.StringIO()
    with pytest.raises(SystemExit):
        call_command("audit", "verify", "--json", stdout=out)  # all orgs: chains found from their entries
    broken = [c for c in json.loads(out.getvalue())["chains"] if c["org_id"] == str(acme.id)]
    assert {c["failure"] for c in broken} == {"head_missing"}


@pytest.mark.django_db(transaction=True)
def test_a_chain_emptied_wholesale_is_reported_not_forgotten(acme, superuser_dsn):
    """Entries, head and anchors removed together leave nothing to walk: the org still had an audit
    chain (its creation was audited), so verify names the chain as emptied."""
    _append(acme.id, n=2)
    ledger_anchor_daily()
    _as_dba(superuser_dsn, *[(f"DELETE FROM {table} WHERE org_id = %s AND chain = 'audit'", [acme.id])
                             for table in ("dos_ledgerentry", "dos_chainhead", "dos_chainanchor")])
    code, report, text = _verify(acme)
    assert (code, report["ok"], report["failure"], report["first_bad_seq"]) == (1, False, "emptied", 1)
    assert "[BROKEN] audit" in text
