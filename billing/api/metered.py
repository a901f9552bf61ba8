"""The enforcement helper other apps put in front of metered work (SPEC §7):

    class DecideApi(UsageGuardMixin, DosApiView):
        entitlement = "decisions.run"
        quota_metric = "decision_calls"

Before the view runs: 403 ``entitlement_missing``, 429 ``usage_exceeded`` (+ Retry-After), or a
soft warning returned as ``X-Usage-Warning``; the call is also counted as observed usage for the
daily reconciliation. The view itself meters the work with billing.services.meter_record, in its
transaction, so a refused or failed call records nothing.
"""

from __future__ import annotations

from billing.quotas import entitlement_require, quota_check, usage_observe

USAGE_WARNING_HEADER = "X-Usage-Warning"


class UsageGuardMixin:
    entitlement: str | None = None
    quota_metric: str | None = None
    guarded_methods = ("POST",)

    def quota_amount(self, request) -> int:
        return 1

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self._usage_warning = ""
        org = getattr(request.auth, "org", None)
        if org is None or request.method not in self.guarded_methods:
            return
        if self.entitlement:
            entitlement_require(org=org, entitlement=self.entitlement)
        if self.quota_metric:
            amount = self.quota_amount(request)
            self._usage_warning = quota_check(org=org, metric=self.quota_metric, amount=amount).warning
            if not getattr(request._request, "dos_rerun", False):  # a re-run after a lost connection
                usage_observe(org_id=org.id, metric=self.quota_metric, amount=amount)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if getattr(self, "_usage_warning", ""):
            response[USAGE_WARNING_HEADER] = self._usage_warning
        return response
