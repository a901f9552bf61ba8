from django.urls import path

from billing.api import invoices, subscription, views

urlpatterns = [
    path("meter/events", views.MeterEventsApi.as_view(), name="meter-events"),
    path("usage", views.UsageApi.as_view(), name="usage"),
]

urlpatterns += [
    path("invoices", invoices.InvoiceViewSet.as_view({"get": "list"}), name="invoice-list"),
    path("invoices/<uuid:pk>", invoices.InvoiceViewSet.as_view({"get": "retrieve"}), name="invoice-detail"),
    path("credit-notes", invoices.CreditNoteViewSet.as_view({"get": "list"}), name="credit-note-list"),
    path("credit-notes/<uuid:pk>", invoices.CreditNoteViewSet.as_view({"get": "retrieve"}), name="credit-note-detail"),
    path("billing/upcoming", invoices.UpcomingApi.as_view(), name="billing-upcoming"),
]

urlpatterns += [
    path("billing/subscription", subscription.SubscriptionApi.as_view(), name="billing-subscription"),
    path("billing/subscription/change", subscription.SubscriptionChangeApi.as_view(),
         name="billing-subscription-change"),
]
