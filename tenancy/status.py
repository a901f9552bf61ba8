"""What an org's status lets it do — one function, called once per kind of entry point.

``org_allows`` decides; the API base view (a hook registered in ``TenancyConfig.ready``), the
browser middleware (``tenancy.middleware``) and the job finder (``dos.tasks.orgs_where``) each call
it and turn a refusal into their own answer (problem+json, a 403 page, a skipped org).

=============  ======================================  =====================================  ===========================
status         API (keys and sessions)                 admin and account pages                Celery jobs that visit orgs
=============  ======================================  =====================================  ===========================
active         everything                              everything                             all run
restricted     reads, review work, appeals, metering,  everything but adding API keys,        all run
               revoking/archiving/removing; no new     projects, members and policies
               decisions, simulations, policies,
               projects, keys or members (403
               ``org_restricted``)
frozen         reads only (writes 403 ``org_frozen``)  reads only, plus signing out and the   billing jobs and read-only
                                                       owner's billing pages                  jobs run; jobs that write skip
suspended      nothing (403 ``org_suspended``)         only the owner's billing pages and     billing jobs only
                                                       signing out
=============  ======================================  =====================================  ===========================

``restricted`` follows the dunning schedule (payment 72 h overdue → the plan is restricted "soft"):
the org keeps working what it already has but cannot grow. Platform staff are never limited: they
are the ones who set and clear a status (docs/runbooks/org-status.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from tenancy.choices import OrgStatus

API, BROWSER, JOB = "api", "browser", "job"

# Under ``restricted`` these primitives start something new (decisions, policies, keys, people) …
GROWTH_PERMISSIONS = frozenset({"decisions.run", "policy.write", "policy.approve", "project.manage", "keys.manage",
                                "members.manage", "catalog.write", "modelops.manage"})
# … except these actions, which only take away or ask for a human look at what exists.
RELIEF_ACTIONS = frozenset({"revoke", "destroy", "rollback", "appeal"})
# The same, named as the services name them (dos.authz actions), for checks in the services.
RELIEF_SERVICE_ACTIONS = frozenset({"apikey.revoke", "project.archive", "member.remove", "grant.revoke",
                                    "project_grant.revoke", "policy.rollback", "policy.retire", "appeal.submit"})

# Jobs found by ``dos.tasks.orgs_where``, by the name before the first space, and whether they
# write org data. Billing bookkeeping (usage rollups) runs for every status: an org that is frozen
# or suspended for non-payment is still invoiced for what it used. A job not listed here counts as
# a writing job (fail closed: it skips frozen and suspended orgs).
JOBS: dict[str, str] = {
    "usage": "billing",  # usage rollups (billing.tasks)
    # Frozen means nobody may act on the cases, so warnings and escalations would only pile up; the
    # first sweep after the org is unfrozen finds every case whose warn_at has passed.
    "hitl_sla_sweep": "write",
    "hitl_metrics_refresh": "read",  # publishes gauges from the cases, changes nothing
}


@dataclass(frozen=True)
class OrgStatusRefusal:
    """Why the org's status refuses this request; ``code`` is the problem code the API answers."""

    status: str
    code: str
    detail: str
    http_status: int = 403


_FROZEN = OrgStatusRefusal(OrgStatus.FROZEN, "org_frozen",
                           "This organisation is frozen: it is read-only until the platform unfreezes it.")
_SUSPENDED = OrgStatusRefusal(OrgStatus.SUSPENDED, "org_suspended",
                              "This organisation is suspended; its owner can still reach the billing pages.")


def org_allows(status: str, *, write: bool, surface: str, permission: str = "", action: str = "",
               billing: bool = False, owner: bool = False) -> OrgStatusRefusal | None:
    """``None`` when an org in ``status`` may do this, else the refusal.

    ``surface`` is ``api``, ``browser`` or ``job``; ``write`` says whether the request changes
    anything; ``permission``/``action`` name what it needs (used by ``restricted``); ``billing`` marks
    the org's own billing work (the billing pages, usage jobs), which ``owner`` may still reach in a
    browser when the org is suspended.
    """
    if status == OrgStatus.ACTIVE:
        return None
    if status == OrgStatus.SUSPENDED:
        if billing and (surface == JOB or (surface == BROWSER and owner)):
            return None
        return _SUSPENDED
    if status == OrgStatus.FROZEN:
        if not write or (billing and (surface == JOB or owner)):
            return None
        return _FROZEN
    if status == OrgStatus.RESTRICTED:
        if (write and permission in GROWTH_PERMISSIONS and action not in RELIEF_ACTIONS
                and action not in RELIEF_SERVICE_ACTIONS):
            return OrgStatusRefusal(OrgStatus.RESTRICTED, "org_restricted",
                                    f"This organisation is restricted (payment overdue): '{action or permission}' "
                                    "is paused until the account is settled; reads and review work continue.")
        return None
    return _SUSPENDED  # an unknown status fails closed


def job_kind(job: str) -> str:
    return JOBS.get(job.split(" ", 1)[0], "write")


def orgs_a_job_may_visit(job: str, org_ids: list) -> list:
    """The subset of ``org_ids`` whose status lets ``job`` run (hook for ``dos.tasks.orgs_where``;
    runs inside the job's platform scope)."""
    from tenancy.models import Org

    if not org_ids:
        return []
    kind = job_kind(job)
    statuses = dict(Org.unscoped_objects.filter(id__in=org_ids).values_list("id", "status"))
    return [org_id for org_id in org_ids
            if org_allows(statuses.get(org_id, OrgStatus.SUSPENDED), write=kind != "read", surface=JOB,
                          billing=kind == "billing") is None]


def api_request_check(principal, *, write: bool, permission: str, action: str) -> None:
    """Hook for the API base view: raise the problem for a refused org status."""
    from dos.api.errors import Problem

    org = getattr(principal, "org", None)
    if org is None:
        return
    refusal = org_allows(org.status, write=write, surface=API, permission=permission, action=action)
    if refusal is not None:
        raise Problem(refusal.http_status, refusal.code, refusal.detail, org_status=refusal.status)


def service_action_check(actor, name: str, permission: str) -> None:
    """Hook for ``dos.authz.authorize``: the org's status applies to every service action, whatever
    the surface (admin actions and pages, dosctl --as, the API). Platform staff and system jobs are
    not held by an org's status (jobs are filtered by ``orgs_a_job_may_visit``)."""
    from dos.authz import PermissionRefused, is_system
    from tenancy.models import Org

    if is_system(actor) or getattr(actor, "platform", False):
        return
    org = getattr(actor, "org", None)
    status = getattr(org, "status", None)
    if status is None:
        org_id = getattr(actor, "org_id", None)
        if org_id is None:
            return
        status = Org.objects.filter(id=org_id).values_list("status", flat=True).first() or OrgStatus.SUSPENDED
    refusal = org_allows(status, write=True, surface=API, permission=permission, action=name)
    if refusal is not None:
        raise PermissionRefused(refusal.detail, permission=permission, code=refusal.code)
