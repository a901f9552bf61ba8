"""Four eyes: the requester never approves; the approver needs the permission; Cedar agrees."""

import pytest

from dos import scope
from dos.authz import PermissionRefused
from tenancy import cedar
from tenancy.approvals import ApprovalStateError, FourEyesViolation, approval_grant, approval_reject, approval_require
from tenancy.choices import ApprovalStatus
from tests.factories import as_member, plan_override

pytestmark = pytest.mark.django_db


@pytest.fixture
def publish_request(acme, bob):
    with scope.org_scope(acme.id):
        return approval_require(org=acme, action="policy.publish", target="policy_version:v7", requested_by=bob)


def test_it_refuses_the_requester_as_approver(acme, bob, publish_request):
    with scope.org_scope(acme.id), pytest.raises(FourEyesViolation, match="second person"):
        approval_grant(request=publish_request, actor=as_member(acme, bob))


def test_it_refuses_an_approver_without_the_permission(acme, alice, publish_request):
    with scope.org_scope(acme.id), pytest.raises(PermissionRefused, match=r"policy\.approve"):
        approval_grant(request=publish_request, actor=as_member(acme, alice))


def test_a_second_person_with_the_permission_approves(acme, olivia, publish_request):
    with scope.org_scope(acme.id):
        decided = approval_grant(request=publish_request, actor=as_member(acme, olivia), reason="reviewed diff")
    assert decided.status == ApprovalStatus.APPROVED
    assert decided.decided_by == olivia


def test_a_decided_request_cannot_be_decided_again(acme, olivia, publish_request):
    with scope.org_scope(acme.id):
        approval_reject(request=publish_request, actor=as_member(acme, olivia))
        with pytest.raises(ApprovalStateError, match="already rejected"):
            approval_grant(request=publish_request, actor=as_member(acme, olivia))


def test_cedar_forbids_self_approval_even_with_the_permission(acme):
    decision = cedar.authorize(org=acme, user_id="u1", permissions={"policy.approve"}, action="approve",
                               permission="policy.approve", resource_type="Approval", resource_id="r1",
                               resource_attrs={"requested_by": ("User", "u1")})
    assert decision.allowed is False
    other = cedar.authorize(org=acme, user_id="u2", permissions={"policy.approve"}, action="approve",
                            permission="policy.approve", resource_type="Approval", resource_id="r1",
                            resource_attrs={"requested_by": ("User", "u1")})
    assert other.allowed is True


def test_an_org_can_add_its_own_forbid_rules(acme, olivia, publish_request):
    plan_override(acme, "cedar_policies", 'forbid(principal, action == Action::"approve", resource) '
                                          'when { resource.kind == "policy.publish" };')
    with scope.org_scope(acme.id), pytest.raises(FourEyesViolation):
        approval_grant(request=publish_request, actor=as_member(acme, olivia))


def test_cedar_denies_by_default(acme):
    decision = cedar.authorize(org=acme, user_id="u1", permissions=set(), action="read",
                               permission="audit.read", resource_type="Chain", resource_id="audit")
    assert decision.allowed is False
