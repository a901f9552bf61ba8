"""Back office for invoices and credit notes.

The review queue is the invoice changelist filtered to drafts (``Review queue`` link): platform
finance issues them (typed-count confirmation), and on an invoice's page voids it, writes it off,
records a transfer, or credits it — every step through the services, so each is authorized, chained
and audited there. A tenant's billing admin sees its own org's issued invoices and credit notes.
"""

from __future__ import annotations

import datetime as dt
import re

import structlog
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Count
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from billing import tasks as billing_tasks
from billing.close import BILLING_CLOSE, billable_org_chunks, invoice_void_and_redraft
from billing.credit_notes import credit_note_approve, credit_note_create, credit_note_reject
from billing.invoicing import invoice_issue, invoice_mark_paid, invoice_mark_uncollectible
from billing.invoicing.errors import platform_finance
from billing.models import CreditNote, CreditNoteLine, CreditNoteStatus, Invoice, InvoiceLine, InvoiceStatus
from billing.money import format_won
from billing.pdf import credit_note_pdf, invoice_pdf
from billing.periods import month_of
from dos.admin_base import DosModelAdmin
from dos.errors import DomainError, field_error

log = structlog.get_logger(__name__)
WON_TYPED = re.compile(r"[0-9]+")


def won(amount) -> str:
    return "" if amount is None else format_won(amount)


def _won_typed(text: str) -> int | None:
    """Whole won as typed on the invoice page ("120,000"); empty is None. Only the ASCII digits 0-9
    count: "²" or "١٢" are digits to ``str.isdigit`` but no amount, and are refused as a field error."""
    text = (text or "").replace(",", "").strip()
    if not text:
        return None
    if not WON_TYPED.fullmatch(text) or len(text) > 15:
        raise field_error("amount", str(_("Whole won in digits 0-9, e.g. 120,000.")))
    return int(text)


def _pdf_response(content: bytes, name: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{name}.pdf"'
    return response


class InvoiceLineInline(admin.TabularInline):
    model = InvoiceLine
    fields = ["position", "kind", "code", "description", "quantity", "unit", "unit_price", "amount_won", "explanation"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["position"]

    @admin.display(description=_("amount"))
    def amount_won(self, line):
        return won(line.amount)

    @admin.display(description=_("how it was computed"))
    def explanation(self, line):
        return format_html_join("", "<div><b>{}</b>: {}</div>", ((k, v) for k, v in sorted(line.meta.items())))

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ReviewFilter(admin.SimpleListFilter):
    title = _("review")
    parameter_name = "review"

    def lookups(self, request, model_admin):
        return [("waiting", _("Drafts in their review window")), ("due", _("Drafts due to be issued"))]

    def queryset(self, request, queryset):
        from django.utils import timezone

        drafts = queryset.filter(status=InvoiceStatus.DRAFT)
        if self.value() == "waiting":
            return drafts.filter(review_until__gt=timezone.now())
        if self.value() == "due":
            return drafts.filter(review_until__lte=timezone.now())
        return queryset


@admin.register(Invoice)
class InvoiceAdmin(DosModelAdmin):
    permission_map = {"view": "billing.read"}
    list_display = ["document", "status", "period", "customer_name", "total_won", "balance_won", "review_until",
                    "issued_at"]
    list_filter = [ReviewFilter, "status", "kind", "tax_exempt"]
    search_fields = ["=number", "customer__legal_name"]
    date_hierarchy = "period_start"
    inlines = [InvoiceLineInline]
    actions = ["issue_selected"]
    change_form_template = "admin/billing/invoice/change_form.html"
    change_list_template = "admin/billing/invoice/change_list.html"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if not self._is_platform(request):  # a draft under review is platform finance's, not the tenant's
            queryset = queryset.exclude(status=InvoiceStatus.DRAFT)
        return queryset

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    @admin.display(description=_("invoice"), ordering="number")
    def document(self, obj):
        return obj.number or format_html("<i>{}</i>", _("draft"))

    @admin.display(description=_("period"), ordering="period_start")
    def period(self, obj):
        return f"{obj.period_start:%Y-%m}"

    @admin.display(description=_("customer"))
    def customer_name(self, obj):
        return (obj.customer or {}).get("legal_name", "")

    @admin.display(description=_("total"), ordering="total")
    def total_won(self, obj):
        return won(obj.total)

    @admin.display(description=_("balance"))
    def balance_won(self, obj):
        return won(obj.balance)

    def _finance(self, request) -> bool:
        principal = self.principal(request)
        return bool(principal and principal.platform and principal.has_perm("billing.manage"))

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not self._finance(request):
            actions.pop("issue_selected", None)
        return actions

    @admin.action(description=_("Issue the selected drafts…"))
    def issue_selected(self, request, queryset):
        actor = self.principal(request)
        return self.confirm_action(
            request, queryset.filter(status=InvoiceStatus.DRAFT), action="issue_selected",
            title=_("Issue invoices"), verb=_("Issued"), type_count=True,
            detail=_("Each gets the next number of the yearly series and can no longer change."),
            apply=lambda invoice: invoice_issue(invoice=invoice, actor=actor))

    # --- the invoice page: PDF, settlement and credit ----------------------------------------
    def get_urls(self):
        view = self.admin_site.admin_view
        return [path("<uuid:pk>/pdf/", view(self.pdf_view), name="billing_invoice_pdf"),
                path("close/", view(self.close_view), name="billing_invoice_close"), *super().get_urls()]

    def close_view(self, request):
        """Start the close of a month on the billing workers, and follow it: billable orgs against the
        month's invoices by status (the page refreshes itself while drafts are still missing)."""
        if not self._finance(request):
            raise Http404("Platform finance only.")
        last = month_of(timezone.now()).replace(day=1) - dt.timedelta(days=1)
        period = request.POST.get("period") or request.GET.get("period") or f"{last:%Y-%m}"
        try:
            month = dt.datetime.strptime(period, "%Y-%m").date()
        except ValueError:
            messages.error(request, _("Write the month as YYYY-MM, e.g. 2026-11."))
            month = last.replace(day=1)
        if request.method == "POST":
            try:
                actor = platform_finance(self.principal(request), BILLING_CLOSE)
                if month_of(timezone.now()) <= month:
                    raise DomainError(_("%(month)s has not ended yet.") % {"month": f"{month:%Y-%m}"})
            except DomainError as exc:
                messages.error(request, str(exc))
            else:
                log.info("billing.close.requested", period=f"{month:%Y-%m}", actor=actor.audit_label())
                transaction.on_commit(lambda: billing_tasks.month_close.delay(f"{month:%Y-%m}"))
                messages.success(request, _("The close of %(month)s is on its way to the billing workers.")
                                 % {"month": f"{month:%Y-%m}"})
            return HttpResponseRedirect(f"{reverse('admin:billing_invoice_close')}?period={month:%Y-%m}")
        billable = sum(len(chunk) for chunk in billable_org_chunks(month))
        by_status = dict(Invoice.objects.filter(kind="period", period_start=month).values_list("status")
                         .annotate(n=Count("id")).values_list("status", "n"))
        done = sum(n for status, n in by_status.items() if status != InvoiceStatus.VOID)  # a void one was replaced
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "period": f"{month:%Y-%m}",
                   "title": _("Month close %(month)s") % {"month": f"{month:%Y-%m}"}, "billable": billable,
                   "done": done, "percent": round(100 * done / billable) if billable else 100,
                   "by_status": [(InvoiceStatus(k).label, v) for k, v in sorted(by_status.items())]}
        return TemplateResponse(request, "admin/billing/invoice/close.html", context)

    def pdf_view(self, request, pk):
        invoice = self.scoped_object_or_404(request, pk)
        return _pdf_response(invoice_pdf(invoice), invoice.number or f"draft-{invoice.period_start:%Y-%m}")

    OPS = {"uncollectible": invoice_mark_uncollectible}

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "POST" and request.POST.get("op"):
            return self._operate(request, object_id)
        extra = {"may_act": self._finance(request), "credit_notes": [], **(extra_context or {})}
        invoice = self.get_object(request, object_id)
        if invoice is not None:  # a tenant sees the notes it received, not requests under review or refused
            notes = invoice.credit_notes.order_by("created_at")
            if not self._is_platform(request):
                notes = notes.filter(status=CreditNoteStatus.ISSUED)
            extra["credit_notes"] = list(notes)
        return super().change_view(request, object_id, form_url, extra_context=extra)

    def _operate(self, request, object_id):
        invoice = self.scoped_object_or_404(request, object_id)
        actor, op, post = self.principal(request), request.POST["op"], request.POST
        try:
            if op in self.OPS:
                self.OPS[op](invoice=invoice, actor=actor, reason=post.get("reason", ""))
            elif op == "void":  # and its month drafted again, into the review queue
                _voided, replacement = invoice_void_and_redraft(invoice=invoice, actor=actor,
                                                                reason=post.get("reason", ""))
                if replacement is not None:
                    messages.info(request, _("The replacement draft of %(month)s is in the review queue.")
                                  % {"month": f"{replacement.period_start:%Y-%m}"})
            elif op == "paid":
                invoice_mark_paid(invoice=invoice, actor=actor, reference=post.get("reason", ""))
            elif op == "credit":
                credit_note_create(invoice=invoice, actor=actor, reason=post.get("reason", ""),
                                   full=post.get("full") == "on", amount=_won_typed(post.get("amount", "")),
                                   application=post.get("application", "applied"))
            else:
                raise Http404("Unknown operation.")
        except DomainError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Done: %(op)s on %(invoice)s.") % {"op": op, "invoice": invoice})
        return HttpResponseRedirect(reverse("admin:billing_invoice_change", args=[invoice.pk]))


class CreditNoteLineInline(admin.TabularInline):
    model = CreditNoteLine
    fields = ["position", "description", "invoice_line", "amount_won"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    @admin.display(description=_("amount"))
    def amount_won(self, line):
        return won(line.amount)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(CreditNote)
class CreditNoteAdmin(DosModelAdmin):
    permission_map = {"view": "billing.read"}
    list_display = ["document", "status", "invoice", "application", "net_won", "tax_won", "total_won", "requested_by",
                    "approved_by", "issued_at"]
    list_filter = ["status", "application"]
    search_fields = ["=number", "=invoice__number", "reason"]
    list_select_related = ["invoice"]
    inlines = [CreditNoteLineInline]
    actions = ["approve_selected", "reject_selected"]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if not self._is_platform(request):
            queryset = queryset.filter(status=CreditNoteStatus.ISSUED)
        return queryset

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def get_actions(self, request):
        actions = super().get_actions(request)
        principal = self.principal(request)
        if not (principal and principal.platform and principal.has_perm("billing.manage")):
            actions.pop("approve_selected", None)
            actions.pop("reject_selected", None)
        return actions

    @admin.display(description=_("credit note"), ordering="number")
    def document(self, obj):
        return obj.number or format_html("<i>{}</i>", obj.get_status_display())

    @admin.display(description=_("net"))
    def net_won(self, obj):
        return won(obj.net)

    @admin.display(description=_("VAT"))
    def tax_won(self, obj):
        return won(obj.tax)

    @admin.display(description=_("total"))
    def total_won(self, obj):
        return won(obj.total)

    @admin.action(description=_("Approve the selected credit notes (second person)…"))
    def approve_selected(self, request, queryset):
        actor = self.principal(request)
        return self.confirm_action(
            request, queryset.filter(status=CreditNoteStatus.PENDING_APPROVAL), action="approve_selected",
            title=_("Approve credit notes"), verb=_("Approved"), type_count=True,
            detail=_("You approve as the second person; each note is issued and credited at once."),
            apply=lambda note: credit_note_approve(note=note, actor=actor))

    @admin.action(description=_("Reject the selected credit notes…"))
    def reject_selected(self, request, queryset):
        actor = self.principal(request)
        return self.confirm_action(
            request, queryset.filter(status=CreditNoteStatus.PENDING_APPROVAL), action="reject_selected",
            title=_("Reject credit notes"), verb=_("Rejected"),
            apply=lambda note: credit_note_reject(note=note, actor=actor, reason="rejected in the back office"))

    def get_urls(self):
        view = self.admin_site.admin_view
        return [path("<uuid:pk>/pdf/", view(self.pdf_view), name="billing_creditnote_pdf"), *super().get_urls()]

    def pdf_view(self, request, pk):
        note = self.scoped_object_or_404(request, pk)
        return _pdf_response(credit_note_pdf(note), note.number or f"credit-note-{note.pk}")
