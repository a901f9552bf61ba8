"""Back office for the audit chain (read-only, searchable, verifiable) and the outbox (delivery state,
dead letters, retry)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import path, reverse

from dos.admin_base import DosModelAdmin
from dos.ledger import chain_verify, chains_in_scope
from dos.models import LedgerEntry, OutboxEvent
from dos.outbox import outbox_retry


@admin.register(LedgerEntry)
class AuditEventAdmin(DosModelAdmin):
    permission_map = {"view": "audit.read"}
    list_display = ["seq", "created_at", "action", "actor", "target", "corr_id", "short_hash"]
    list_filter = ["action"]
    search_fields = ["action", "actor", "target", "corr_id"]
    date_hierarchy = "created_at"
    readonly_fields = ["chain", "seq", "action", "actor", "target", "data", "corr_id", "created_at", "content_hash",
                       "prev_hash", "hash"]
    ordering = ["-id"]
    show_full_result_count = False

    def get_queryset(self, request):
        return super().get_queryset(request).filter(chain="audit")

    @admin.display(description="hash")
    def short_hash(self, obj) -> str:
        return obj.hash[:12] + "…"

    def get_urls(self):
        return [path("verify/", self.admin_site.admin_view(self.verify_view), name="dos_ledgerentry_verify"),
                *super().get_urls()]

    def verify_view(self, request):
        if request.method != "POST" or not self.has_view_permission(request):
            return HttpResponseRedirect(reverse("admin:dos_ledgerentry_changelist"))
        results = [chain_verify(org_id=org_id, chain=chain) for org_id, chain in chains_in_scope()]
        for result in results:
            if result.ok:
                messages.success(request, f"Chain '{result.chain}' of org {result.org_id}: intact "
                                          f"({result.checked} entries, head #{result.head_seq}).")
            else:
                messages.error(request, f"Chain '{result.chain}' of org {result.org_id}: BROKEN at entry "
                                        f"#{result.first_bad_seq} — {result.reason}.")
        if not results:
            messages.info(request, "No chains yet.")
        return HttpResponseRedirect(reverse("admin:dos_ledgerentry_changelist"))


@admin.register(OutboxEvent)
class OutboxEventAdmin(DosModelAdmin):
    """What the dispatcher did with each event; dead ones can be retried (``outbox_retry``)."""

    permission_map = {"view": "ops.read", "retry": "org.manage"}
    list_display = ["id", "topic", "key", "status", "attempts", "next_attempt_at", "short_error", "created_at",
                    "delivered_at"]
    list_filter = ["status", "topic"]
    search_fields = ["=id", "key", "topic"]
    date_hierarchy = "created_at"
    readonly_fields = ["topic", "key", "payload", "created_at", "status", "attempts", "next_attempt_at", "last_error",
                       "delivered_at"]
    ordering = ["-id"]
    show_full_result_count = False
    actions = ["retry_selected"]

    def has_retry_permission(self, request) -> bool:
        return self._allowed(request, "retry")

    @admin.display(description="last error")
    def short_error(self, obj) -> str:
        return obj.last_error if len(obj.last_error) <= 80 else obj.last_error[:80] + "…"

    @admin.action(description="Retry selected dead events now", permissions=["retry"])
    def retry_selected(self, request, queryset):
        return self.confirm_action(
            request, queryset.filter(status=OutboxEvent.Status.DEAD), action="retry_selected",
            title="Retry dead outbox events?", verb="Retried",
            detail="Each event gets a fresh set of attempts; its handlers run again on the next drain.",
            apply=lambda event: outbox_retry(event=event, actor=self.principal(request)))
