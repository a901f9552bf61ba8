from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from dos import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("account/", include("tenancy.urls")),
    path("oidc/", include("mozilla_django_oidc.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("api/v1/", include("dos.api.urls")),
    # Anything else under /api/ is a problem+json 404, also when DEBUG shows HTML pages elsewhere.
    re_path(r"^api/", views.api_not_found),
    path("", include("observability.urls")),
]

handler400 = "dos.views.bad_request"
handler403 = "dos.views.permission_denied"
handler404 = "dos.views.page_not_found"
handler500 = "dos.views.server_error"
