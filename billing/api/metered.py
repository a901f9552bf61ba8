"""The enforcement helper other apps put in front of metered work (SPEC §7):

    class DecideApi(UsageGuardMixin, DosApiView):
        entitlement = "decisions.run"
        quota_metric = "decision_calls"

Before the view runs: 403 ``entitlement_missing``, 429 ``usage_exceeded`` (+ Retry-After), or a
soft warning returned as ``X-Usage-Warning``. The view itself meters the work with
billing.services.meter_record, in its transaction, so a refused or failed call records nothing.

The call is also counted as observed usage for the daily reconciliation, when its response is
finalised: all of ``quota_amount`` less what the view said it served without metering
(``usage_not_served``, e.g. a deny for want of consent) — nothing at all when the view ended in a
problem whose code is in ``unobserved_problems`` (e.g. a 403 ``consent_missing``). Those calls are
free by design; counting them would show as drift between metered and observed usage.
"""

from __future__ import annotations

from billing.quotas import entitlement_require, quota_check, usage_observe

USAGE_WARNING_HEADER = "X-Usage-Warning"


class UsageGuardMixin:
    entitlement: str | None = None
    quota_metric: str | None = None
    guarded_methods = ("POST",)
    unobserved_problems: tuple[str, ...] = ()  # problem codes of calls that are free by design

    def quota_amount(self, request) -> int:
        return 1

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self._usage_warning = ""
        self._usage_observe = None
        org = getattr(request.auth, "org", None)
        if org is None or request.method not in self.guarded_methods:
            return
        if self.entitlement:
            entitlement_require(org=org, entitlement=self.entitlement)
        if self.quota_metric:
            amount = self.quota_amount(request)
            self._usage_warning = quota_check(org=org, metric=self.quota_metric, amount=amount).warning
            if not getattr(request._request, "dos_rerun", False):  # a re-run after a lost connection
                self._usage_observe = [org.id, amount]

    def usage_not_served(self, amount: int) -> None:
        """The view served ``amount`` of the call without metering it (free by design): not observed."""
        pending = getattr(self, "_usage_observe", None)
        if pending is not None:
            pending[1] = max(0, pending[1] - amount)

    def handle_exception(self, exc):
        if getattr(exc, "code", None) in self.unobserved_problems:
            self._usage_observe = None
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        pending, self._usage_observe = getattr(self, "_usage_observe", None), None
        if pending is not None and pending[1] > 0:
            usage_observe(org_id=pending[0], metric=self.quota_metric, amount=pending[1])
        if getattr(self, "_usage_warning", ""):
            response[USAGE_WARNING_HEADER] = self._usage_warning
        return response
