"""Tenant API for what the org is billed: invoices (JSON or the PDF), credit notes, and the running
charges of the current month. Read-only: invoices are issued by platform finance."""

from __future__ import annotations

import datetime as dt

import django_filters
from django.db.models import Prefetch
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins
from rest_framework.response import Response

from billing.accounts import billing_profile
from billing.api import invoice_serializers as s
from billing.invoicing import vat_for
from billing.models import CreditNote, CreditNoteStatus, Invoice, InvoiceLine, InvoiceStatus
from billing.pdf import credit_note_pdf, invoice_pdf
from billing.periods import month_of, next_month
from billing.rating import rate
from billing.subscriptions import rating_input, subscription_for
from dos.api.errors import Problem, invalid_fields
from dos.api.views import DosApiView, DosViewSet
from dos.scope import require_org_id

FORMATS = ("json", "pdf")
FORMAT_PARAM = OpenApiParameter("format", str, enum=list(FORMATS), description="pdf: the printable document")


class InvoiceFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=[c for c in InvoiceStatus.choices if c[0] != InvoiceStatus.DRAFT])
    period_from = django_filters.DateFilter(field_name="period_start", lookup_expr="gte")
    period_to = django_filters.DateFilter(field_name="period_start", lookup_expr="lte")

    class Meta:
        model = Invoice
        fields = ["status"]


def _format(request) -> str:
    fmt = request.query_params.get("format", "json")
    if fmt not in FORMATS:
        raise invalid_fields({"format": [f"Must be one of: {', '.join(FORMATS)}."]})
    return fmt


def _pdf(content: bytes, name: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{name}.pdf"'
    return response


class InvoiceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, DosViewSet):
    """Issued invoices only: a draft under review is not the tenant's yet (see /billing/upcoming)."""

    queryset = Invoice.objects.exclude(status=InvoiceStatus.DRAFT).order_by("-period_start", "-issued_at")
    serializer_class = s.InvoiceOut
    filterset_class = InvoiceFilter
    permission_map = {"list": "billing.read", "retrieve": "billing.read"}
    project_lookup = ""  # org-wide

    def get_serializer_class(self):
        return s.InvoiceDetailOut if self.action == "retrieve" else s.InvoiceOut

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "retrieve":
            queryset = queryset.prefetch_related(Prefetch("lines", InvoiceLine.objects.order_by("position")))
        return queryset

    @extend_schema(summary="The org's invoices (newest period first)")
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(parameters=[FORMAT_PARAM], responses={200: s.InvoiceDetailOut, (200, "application/pdf"): bytes},
                   summary="One invoice with its lines and their explanations; ?format=pdf for the document")
    def retrieve(self, request, *args, **kwargs):
        fmt = _format(request)
        invoice = self.get_object()
        if fmt == "pdf":
            return _pdf(invoice_pdf(invoice), invoice.number)
        return Response(s.InvoiceDetailOut(invoice).data)


class CreditNoteViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, DosViewSet):
    queryset = (CreditNote.objects.filter(status=CreditNoteStatus.ISSUED).select_related("invoice")
                .order_by("-issued_at"))
    serializer_class = s.CreditNoteOut
    permission_map = {"list": "billing.read", "retrieve": "billing.read"}
    project_lookup = ""

    @extend_schema(summary="The org's credit notes (newest first)")
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(parameters=[FORMAT_PARAM], responses={200: s.CreditNoteOut, (200, "application/pdf"): bytes},
                   summary="One credit note; ?format=pdf for the document")
    def retrieve(self, request, *args, **kwargs):
        fmt = _format(request)
        note = self.get_object()
        if fmt == "pdf":
            return _pdf(credit_note_pdf(note), note.number)
        return Response(s.CreditNoteOut(note).data)


class UpcomingApi(DosApiView):
    """The current month rated as it stands (nothing is written): what the next invoice would say."""

    permission_map = {"get": "billing.read"}

    @extend_schema(responses=s.UpcomingOut, summary="The running charges of this month, VAT included (estimate)")
    def get(self, request):
        org_id = require_org_id()
        subscription = subscription_for(org_id)
        if subscription is None:
            raise Problem(404, "no_subscription", "This organisation has no subscription.")
        now = timezone.now()
        month = month_of(now)
        rating = rate(rating_input(subscription, month))
        _rate, tax = vat_for(rating.subtotal, exempt=not billing_profile(org_id).taxable)
        return Response(s.UpcomingOut({
            "period_start": month, "period_end": next_month(month) - dt.timedelta(days=1), "as_of": now,
            "plan": rating.meta.get("plan"), "lines": [line.as_dict() for line in rating.lines],
            "subtotal": rating.subtotal, "tax": tax, "total": rating.subtotal + tax}).data)
