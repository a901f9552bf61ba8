"""/api/v1/ — each app contributes its routes through its own api/urls.py."""

from django.urls import include, path

app_name = "api"

urlpatterns = [
    path("", include("tenancy.api.urls")),
    path("", include("billing.api.urls")),
    path("", include("decisions.api.urls")),
    path("", include("hitl.api.urls")),
    path("", include("privacy.api.urls")),
]
