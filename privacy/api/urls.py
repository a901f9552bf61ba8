"""/api/v1/ routes of privacy (mounted by dos.api.urls): consent, and data subject requests."""

from django.urls import path

from privacy.api.consent import ConsentApi, ConsentRevokeApi
from privacy.api.dsar import DsarViewSet

urlpatterns = [
    path("consent", ConsentApi.as_view(), name="privacy-consent"),
    path("consent/revoke", ConsentRevokeApi.as_view(), name="privacy-consent-revoke"),
    path("dsar", DsarViewSet.as_view({"post": "create"}), name="privacy-dsar-list"),
    path("dsar/<uuid:pk>", DsarViewSet.as_view({"get": "retrieve"}), name="privacy-dsar-detail"),
]
