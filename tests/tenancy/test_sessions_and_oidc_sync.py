import pytest
from django.contrib.sessions.models import Session

from dos import scope
from tenancy import services
from tenancy.models import Membership, UserSession
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_at_most_three_sessions_the_oldest_is_signed_out(client_factory=None):
    from django.test import Client

    user = UserFactory(email="many@acme.example")
    user.set_password("a long enough password 1")
    user.is_superuser = True
    user.save()
    clients = []
    for _ in range(4):
        c = Client()
        c.force_login(user)
        clients.append(c)
    assert UserSession.objects.filter(user=user).count() == 3
    oldest_key = clients[0].session.session_key
    assert not Session.objects.filter(session_key=oldest_key).exists()
    assert Session.objects.filter(session_key=clients[3].session.session_key).exists()


def test_the_sessions_page_revokes_another_session(client, olivia):
    from django.test import Client

    from tests.factories import verified_client

    other = Client()
    other.force_login(olivia)
    c = verified_client(client, olivia)
    page = c.get("/account/sessions/")
    assert page.status_code == 200
    target = UserSession.objects.get(session_key=other.session.session_key)
    c.post("/account/sessions/", {"session": target.pk})
    assert not UserSession.objects.filter(pk=target.pk).exists()
    assert not Session.objects.filter(session_key=other.session.session_key).exists()


def test_membership_sync_follows_the_claims(acme, outsider, alice):
    services.membership_sync(user=alice, roles=["acme:qa", "outsider:read_only", "nowhere:admin", "acme:emperor"],
                             actor="system:test")
    with scope.org_scope(acme.id):
        assert set(Membership.objects.filter(user=alice).values_list("role", flat=True)) == {"qa"}
    with scope.org_scope(outsider.id):
        assert set(Membership.objects.filter(user=alice).values_list("role", flat=True)) == {"read_only"}


def test_membership_sync_never_removes_the_last_owner(acme, olivia):
    services.membership_sync(user=olivia, roles=[], actor="system:test")
    with scope.org_scope(acme.id):
        assert Membership.objects.filter(user=olivia, role="owner").exists()
