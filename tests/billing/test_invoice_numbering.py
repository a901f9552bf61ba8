"""The issuer's invoice series is gapless and unique across every org, under concurrent issuers."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection, transaction

from billing.invoicing import invoice_issue
from billing.models import DocumentSeries, Invoice
from dos import scope
from tests.billing.invoicing_support import ISSUED_AT, NOVEMBER, draft_for
from tests.factories import make_org

ISSUERS = 16
MONTHS = (dt.date(2026, 9, 1), dt.date(2026, 10, 1), NOVEMBER)


class Abandoned(Exception):
    """An issue rolled back after its number was taken (a crash between numbering and COMMIT)."""


def _issue_all(org, barrier: threading.Barrier, errors: list) -> None:
    try:
        barrier.wait(timeout=60)
        for i, month in enumerate(MONTHS):
            try:
                with transaction.atomic(), scope.org_scope(org.id):
                    invoice = Invoice.objects.get(period_start=month)
                    invoice_issue(invoice=invoice, actor="system:test", now=ISSUED_AT)
                    if i == 1:
                        raise Abandoned
            except Abandoned:
                with transaction.atomic(), scope.org_scope(org.id):
                    invoice_issue(invoice=Invoice.objects.get(period_start=month), actor="system:test",
                                  now=ISSUED_AT)
    except Exception as exc:  # noqa: BLE001 - reported by the test
        errors.append(repr(exc))
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_sixteen_concurrent_issuers_get_a_gapless_unique_series():
    orgs = [make_org(f"Issuer test {i}", slug=f"issuer-{i}") for i in range(ISSUERS)]
    for org in orgs:
        for month in MONTHS:
            draft_for(org, month=month)
    barrier, errors = threading.Barrier(ISSUERS), []
    threads = [threading.Thread(target=_issue_all, args=(org, barrier, errors)) for org in orgs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    with transaction.atomic(), scope.platform_scope(reason="test"):
        numbers = sorted(Invoice.objects.values_list("number", flat=True))
        seqs = {(str(o), s) for o, s in Invoice.objects.values_list("org_id", "ledger_seq")}
        series = DocumentSeries.objects.get(issuer="DOS", kind="invoice", year=2026)
    expected = [f"DOS-2026-{n:06d}" for n in range(1, ISSUERS * len(MONTHS) + 1)]
    assert numbers == expected  # every number once, none skipped by the 16 rolled-back issues
    assert series.value == len(expected) and len(seqs) == len(expected)
