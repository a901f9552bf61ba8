"""An org's status applies on every surface (docs/runbooks/org-status.md): frozen is read-only,
suspended reaches nothing but the owner's billing pages, restricted cannot grow.

The API tests walk the URL resolver, so an endpoint added later is covered without editing them."""

import datetime as dt
import re
import uuid

import pytest
from django.urls import URLResolver, get_resolver

from dos import scope
from dos.tasks import orgs_where
from tenancy.models import Org, Project
from tenancy.roles import PERMISSIONS
from tenancy.status import GROWTH_PERMISSIONS, RELIEF_ACTIONS
from tests.conftest import api_client
from tests.factories import make_key, verified_client

pytestmark = pytest.mark.django_db
WRITE_METHODS = ("post", "put", "patch", "delete")
_PARAM = re.compile(r"<(?:\w+:)?(\w+)>")


def api_routes() -> list[tuple[str, object]]:
    """(route, view callback) for every route under /api/v1/."""
    found = []

    def walk(patterns, prefix):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                found.append((prefix + str(pattern.pattern), pattern.callback))

    walk(get_resolver().url_patterns, "")
    return [(route, callback) for route, callback in found if route.startswith("api/v1/")]


def endpoints(methods) -> list[tuple[str, str, str, str]]:
    """(method, url, action, permission) for each route × method it serves, ids filled in."""
    out = []
    for route, callback in api_routes():
        view = callback.cls
        actions = getattr(callback, "actions", None) or {m: m for m in methods if hasattr(view, m)}
        url = "/" + _PARAM.sub(lambda m: str(uuid.uuid4()), route)
        for method in methods:
            if method in actions:
                action = actions[method]
                out.append((method, url, action, view.permission_map.get(action, "")))
    return out


def set_status(org, status: str) -> None:
    with scope.platform_scope(reason="test: set org status"):
        Org.objects.filter(id=org.id).update(status=status)


@pytest.fixture
def every_scope(acme):
    return api_client(make_key(acme, scopes=sorted(PERMISSIONS), name="all scopes"))


def _code(response) -> str:
    try:
        return response.json().get("code", "")
    except ValueError:
        return ""


def test_the_walk_finds_the_write_endpoints():
    found = {(m, re.sub(r"/[0-9a-f-]{36}", "/{id}", u)) for m, u, _a, _p in endpoints(WRITE_METHODS)}
    assert {("post", "/api/v1/decide"), ("post", "/api/v1/projects"), ("delete", "/api/v1/projects/{id}"),
            ("post", "/api/v1/projects/{id}/api-keys/{id}/revoke"), ("post", "/api/v1/hitl/cases/{id}/actions"),
            ("post", "/api/v1/meter/events")} <= found
    assert len(found) >= 20


@pytest.mark.parametrize("status, code", [("frozen", "org_frozen"), ("suspended", "org_suspended")])
def test_every_write_endpoint_is_refused_when_frozen_or_suspended(acme, every_scope, status, code):
    set_status(acme, status)
    for method, url, _action, _perm in endpoints(WRITE_METHODS):
        response = getattr(every_scope, method)(url, {}, format="json")
        assert (response.status_code, _code(response)) == (403, code), (method, url, response.content[:300])
        assert response["Content-Type"].startswith("application/problem+json")
    with scope.org_scope(acme.id):
        assert Project.objects.count() == 1  # nothing was created


def test_an_active_org_reaches_every_write_endpoint(acme, every_scope):
    for method, url, _action, _perm in endpoints(WRITE_METHODS):
        response = getattr(every_scope, method)(url, {}, format="json")
        assert not _code(response).startswith("org_"), (method, url, response.content[:300])


def test_a_restricted_org_cannot_grow_but_keeps_working(acme, every_scope):
    set_status(acme, "restricted")
    refused, allowed = set(), set()
    for method, url, action, permission in endpoints(WRITE_METHODS):
        response = getattr(every_scope, method)(url, {}, format="json")
        growth = permission in GROWTH_PERMISSIONS and action not in RELIEF_ACTIONS
        assert (_code(response) == "org_restricted") == growth, (method, url, action, response.content[:300])
        (refused if growth else allowed).add(re.sub(r"/[0-9a-f-]{36}", "/{id}", url))
    assert {"/api/v1/decide", "/api/v1/decide/batch", "/api/v1/simulate", "/api/v1/projects",
            "/api/v1/projects/{id}/api-keys", "/api/v1/members", "/api/v1/policies"} <= refused
    assert {"/api/v1/hitl/cases/{id}/actions", "/api/v1/hitl/appeals/{id}/resolve", "/api/v1/meter/events",
            "/api/v1/projects/{id}/api-keys/{id}/revoke", "/api/v1/hitl/cases/{id}/appeal"} <= allowed


@pytest.mark.parametrize("status", ["frozen", "restricted"])
def test_reads_are_allowed_when_frozen_or_restricted(acme, every_scope, status):
    set_status(acme, status)
    reads = [(m, u) for m, u, _a, _p in endpoints(("get",)) if not re.search(r"[0-9a-f-]{36}", u)]
    assert len(reads) >= 8
    for _method, url in reads:
        response = every_scope.get(url)
        assert not _code(response).startswith("org_"), (url, response.content[:300])
    assert every_scope.get("/api/v1/projects").status_code == 200
    assert every_scope.get("/api/v1/me").status_code == 200


def test_a_suspended_org_reads_nothing_through_the_api(acme, every_scope):
    set_status(acme, "suspended")
    for _method, url, _action, _perm in endpoints(("get",)):
        response = every_scope.get(url)
        assert (response.status_code, _code(response)) == (403, "org_suspended"), url


def test_a_browser_session_calling_the_api_is_held_to_the_same_rule(client, acme, olivia):
    c = verified_client(client, olivia)
    assert c.get("/api/v1/projects").status_code == 200
    set_status(acme, "frozen")
    assert c.get("/api/v1/projects").status_code == 200
    refused = c.post("/api/v1/projects", {"name": "New", "slug": "new"}, content_type="application/json")
    assert (refused.status_code, refused.json()["code"]) == (403, "org_frozen")


# ---- admin and account pages ----

def test_a_frozen_orgs_admin_is_read_only(client, acme, olivia):
    c = verified_client(client, olivia)
    set_status(acme, "frozen")
    assert c.get("/admin/tenancy/project/").status_code == 200
    added = c.post("/admin/tenancy/project/add/", {"name": "Frozen", "slug": "frozen", "description": ""})
    assert (added.status_code, added["X-Org-Status"]) == (403, "org_frozen")
    with scope.org_scope(acme.id):
        assert not Project.objects.filter(slug="frozen").exists()
    assert c.post("/admin/logout/").status_code in (200, 302)  # signing out always works


def test_a_suspended_org_leaves_only_the_owners_billing_pages(client, acme, olivia, alice):
    set_status(acme, "suspended")
    owner = verified_client(client, olivia)
    assert owner.get("/admin/billing/meterevent/").status_code == 200
    for page in ("/admin/", "/admin/tenancy/project/", "/admin/decisions/decisionrecord/"):
        refused = owner.get(page)
        assert (refused.status_code, refused["X-Org-Status"]) == (403, "org_suspended"), page
    owner.logout()
    reviewer = verified_client(client, alice)
    refused = reviewer.get("/admin/billing/meterevent/")
    assert (refused.status_code, refused["X-Org-Status"]) == (403, "org_suspended")


def test_a_restricted_org_cannot_add_keys_in_the_admin_but_can_work(client, acme, olivia):
    with scope.org_scope(acme.id):
        project = Project.objects.get(org=acme, slug="default")
    set_status(acme, "restricted")
    c = verified_client(client, olivia)
    refused = c.post("/admin/tenancy/apikey/add/", {"project": project.id, "name": "more", "scopes": ["decisions.run"]})
    assert (refused.status_code, refused["X-Org-Status"]) == (403, "org_restricted")
    assert c.get("/admin/tenancy/apikey/").status_code == 200


def test_platform_staff_are_not_held_by_an_orgs_status(client, acme):
    from tenancy.models import PlatformRole
    from tests.factories import UserFactory

    staff = UserFactory(email="ops@decisionos.example")
    PlatformRole.objects.create(user=staff, role="platform_ops")
    set_status(acme, "suspended")
    assert verified_client(client, staff).get("/admin/tenancy/org/").status_code == 200


# ---- jobs that visit orgs ----

def _all(org_ids) -> str:
    return "SELECT id FROM tenancy_org WHERE id = ANY(%s) ORDER BY slug"


def test_jobs_that_write_skip_frozen_and_suspended_orgs_billing_jobs_do_not(acme, outsider):
    ids = [acme.id, outsider.id]
    for status, sweep, metrics, usage in [("active", True, True, True), ("restricted", True, True, True),
                                          ("frozen", False, True, True), ("suspended", False, False, True)]:
        set_status(acme, status)
        visits = {job: acme.id in orgs_where(job=f"{job} (test)", sql=_all(ids), params=[ids])
                  for job in ("hitl_sla_sweep", "hitl_metrics_refresh", "usage", "some_new_job")}
        assert visits == {"hitl_sla_sweep": sweep, "hitl_metrics_refresh": metrics, "usage": usage,
                          "some_new_job": sweep}, status
        assert outsider.id in orgs_where(job="hitl_sla_sweep (test)", sql=_all(ids), params=[ids])


def test_the_sla_sweep_skips_a_suspended_org(acme, outsider, alice, bob, carol, desk, monkeypatch):
    from hitl import tasks
    from tests.hitl.test_sla import T0, _kinds, _p1_case

    case = _p1_case(acme)
    set_status(acme, "suspended")
    monkeypatch.setattr(tasks.timezone, "now", lambda: T0 + dt.timedelta(hours=19))
    assert tasks.sla_sweep_all() == {"warned": 0, "breached": 0}
    assert "sla_warning" not in _kinds(acme, case)
    set_status(acme, "active")
    assert tasks.sla_sweep_all() == {"warned": 1, "breached": 0}  # caught up once the org is back


@pytest.mark.parametrize("status", ["restricted", "frozen", "suspended"])
def test_the_services_hold_every_surface_to_the_orgs_status(client, acme, olivia, lending, status):
    """Admin pages, admin actions and dosctl --as reach the services, which ask the same function."""
    from dos.authz import PermissionRefused
    from tenancy import services
    from tenancy.models import ApiKey, Grant
    from tests.factories import as_member

    key = make_key(acme, scopes=["decisions.run"])
    set_status(acme, status)
    with scope.org_scope(acme.id):
        acme.refresh_from_db()  # a principal carries its org as read for the request
        owner = as_member(acme, olivia)
        with pytest.raises(PermissionRefused) as refused:
            services.grant_create(org=acme, user=olivia, permission="policy.write", effect="allow", actor=owner)
        assert refused.value.code == f"org_{status}"
        stored_key = ApiKey.objects.get(pk=key.key.pk)
        if status == "restricted":  # taking away stays possible: revoking a key is relief, not growth
            services.apikey_revoke(key=stored_key, actor=owner)
        else:
            with pytest.raises(PermissionRefused):
                services.apikey_revoke(key=stored_key, actor=owner)
        assert not Grant.objects.exists()
    browser = verified_client(client, olivia)
    browser.post("/admin/tenancy/grant/add/", {"email": olivia.email, "permission": "policy.write",
                                               "effect": "allow", "scope": "org", "reason": "x"})
    with scope.org_scope(acme.id):
        assert not Grant.objects.exists()
