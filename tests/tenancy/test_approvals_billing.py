"""Four eyes on money the platform gives back: a credit note's approval is decided by platform finance
through the credit note's own flow — never by the customer's billing admin, never on the generic
approvals page (which would approve the request without issuing the note and jam it)."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

from billing.credit_notes import credit_note_approve, credit_note_create
from billing.models import CreditNote, CreditNoteStatus
from dos import scope
from tenancy.approvals import DecidedElsewhere, FourEyesViolation, approval_grant, approval_reject
from tenancy.choices import ApprovalStatus
from tenancy.models import ApprovalRequest
from tests.billing.invoicing_support import ISSUED_AT, finance_person, issued_for, pov_rating
from tests.billing.subscription_support import billing_admin
from tests.factories import UserFactory, add_member, verified_client

pytestmark = pytest.mark.django_db
LATER = ISSUED_AT.replace(day=5)


@pytest.fixture
def pending(acme):
    """A ₩1,500,000 credit note platform finance (Fiona) asked for: it waits for a second person."""
    invoice = issued_for(acme, rating=pov_rating(calls=100_000))
    with scope.org_scope(acme.id):
        note = credit_note_create(invoice=invoice, actor=finance_person(), amount=1_500_000, reason="outage",
                                  now=LATER)
    assert note.status == CreditNoteStatus.PENDING_APPROVAL
    return note


def _request(note) -> ApprovalRequest:
    with scope.org_scope(note.org_id):
        return ApprovalRequest.objects.get(pk=note.approval_ref)


def test_the_customers_billing_admin_never_decides_a_credit_note(acme, pending):
    bea = billing_admin(acme)
    with scope.org_scope(acme.id):
        for decide in (approval_grant, approval_reject):
            with pytest.raises(FourEyesViolation, match="platform finance"):
                decide(request=_request(pending), actor=bea, reason="tenant approves")
    assert _request(pending).status == ApprovalStatus.PENDING


def test_the_generic_approvals_page_refuses_kinds_decided_by_their_own_flow(acme, pending):
    felix = finance_person("felix@decisionos.example")
    with scope.org_scope(acme.id), pytest.raises(DecidedElsewhere):
        approval_grant(request=_request(pending), actor=felix, generic=True)
    with scope.org_scope(acme.id):  # so the credit note's own approval still issues it
        issued = credit_note_approve(note=pending, actor=felix, now=LATER)
    assert issued.status == CreditNoteStatus.ISSUED
    assert _request(pending).status == ApprovalStatus.APPROVED


def test_approving_on_the_generic_admin_page_leaves_the_request_pending(client, acme, pending):
    bill = UserFactory(email="bill@acme.example")
    add_member(acme, bill, "billing_admin")
    request = _request(pending)
    c = verified_client(client, bill)
    c.post("/admin/tenancy/approvalrequest/", {"action": "approve_selected", ACTION_CHECKBOX_NAME: [str(request.pk)]})
    assert _request(pending).status == ApprovalStatus.PENDING
    with scope.org_scope(acme.id):
        assert CreditNote.objects.get(pk=pending.pk).status == CreditNoteStatus.PENDING_APPROVAL
