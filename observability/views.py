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
    token = settings.METRICS_BEARER_TOKEN
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            return HttpResponse("metrics need a bearer token\n", status=401, content_type="text/plain")
    return HttpResponse(render_latest(), content_type="text/plain; version=0.0.4; charset=utf-8")
