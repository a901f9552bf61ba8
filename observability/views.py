import hmac

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from observability.metrics import render_latest
from observability.probes import run_probe


def _probe_view(name: str):
    @never_cache
    @require_GET
    def view(request):
        ok, body = run_probe(name)
        return JsonResponse(body, status=200 if ok else 503)

    view.__name__ = f"{name}_view"
    return view


healthz = _probe_view("healthz")
readyz = _probe_view("readyz")
livez = _probe_view("livez")


@never_cache
@require_GET
def metrics(request):
    """Prometheus text. Outside dev it needs ``Authorization: Bearer <METRICS_BEARER_TOKEN>``; with no
    token configured there, it answers 401 to everyone rather than publish the figures openly."""
    token = settings.METRICS_BEARER_TOKEN
    if token or settings.DJANGO_ENV != "dev":
        scheme, _, given = request.headers.get("Authorization", "").strip().partition(" ")
        if not token or scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            return HttpResponse("metrics need a bearer token\n", status=401, content_type="text/plain",
                                headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    return HttpResponse(render_latest(), content_type="text/plain; version=0.0.4; charset=utf-8")
