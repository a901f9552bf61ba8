"""/api/v1/ routes of privacy (mounted by dos.api.urls): consent, and data subject requests."""

from django.urls import path

from privacy.api.consent import ConsentApi, ConsentRevokeApi

urlpatterns = [
    path("consent", ConsentApi.as_view(), name="privacy-consent"),
    path("consent/revoke", ConsentRevokeApi.as_view(), name="privacy-consent-revoke"),
]
