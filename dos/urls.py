from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.utils import translation
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from dos import views

# The contract is public: no credential is read (a bad Bearer key or a session without an org must
# not turn the schema into a 401/403), no tenant scope is entered and no org bucket is charged.
PUBLIC = {"authentication_classes": [], "permission_classes": [AllowAny], "throttle_classes": []}


class SchemaFormatNegotiation(DefaultContentNegotiation):
    """`?format=json|yaml` picks the schema's encoding (the API turns DRF's format override off
    globally: `format` means something else on explain); otherwise the Accept header decides."""

    class settings:  # stands in for api_settings, read by DefaultContentNegotiation
        URL_FORMAT_OVERRIDE = "format"


SCHEMA = {**PUBLIC, "content_negotiation_class": SchemaFormatNegotiation}


class SchemaView(SpectacularAPIView):
    """The document may be tailored to the API key presented (dos.api.schema.caller_tailors): it
    varies by Authorization, and a tailored one is never stored by a shared cache.

    The public document depends only on the code and the language, so each process builds it once
    per (language, version) it serves: an anonymous caller cannot make every request pay for a
    whole schema generation. Only the configured languages are kept."""

    _public: dict[tuple[str, str | None], dict] = {}

    def _get_schema_response(self, request):
        language = translation.get_language()
        if request.META.get("HTTP_AUTHORIZATION") or language not in dict(settings.LANGUAGES):
            return super()._get_schema_response(request)
        version = self.api_version or request.version or self._get_version_parameter(request)
        document = self._public.get((language, version))
        if document is None:
            document = self._public[(language, version)] = super()._get_schema_response(request).data
        return Response(data=document,
                        headers={"Content-Disposition": f'inline; filename="{self._get_filename(request, version)}"'})

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Vary"] = ", ".join(filter(None, [response.get("Vary"), "Authorization"]))
        if request.META.get("HTTP_AUTHORIZATION"):
            response["Cache-Control"] = "private, no-store"
        return response

urlpatterns = [
    path("admin/", admin.site.urls),
    path("account/", include("tenancy.urls")),
    path("oidc/", include("mozilla_django_oidc.urls")),
    path("api/schema/", SchemaView.as_view(**SCHEMA), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema", **PUBLIC), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema", **PUBLIC), name="api-redoc"),
    path("api/v1/", include("dos.api.urls")),
    # Anything else under /api/ is a problem+json 404, also when DEBUG shows HTML pages elsewhere.
    re_path(r"^api/", views.api_not_found),
    path("", include("observability.urls")),
]

handler400 = "dos.views.bad_request"
handler403 = "dos.views.permission_denied"
handler404 = "dos.views.page_not_found"
handler500 = "dos.views.server_error"
