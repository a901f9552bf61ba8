from django.urls import path

from billing.api import views

urlpatterns = [
    path("meter/events", views.MeterEventsApi.as_view(), name="meter-events"),
    path("usage", views.UsageApi.as_view(), name="usage"),
]
