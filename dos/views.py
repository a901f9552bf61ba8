"""Error handlers: problem+json under /api/, Django's pages elsewhere."""

from django.views import defaults
from django.views.decorators.csrf import csrf_exempt

from dos.api.errors import is_api_path, problem_response


@csrf_exempt
def api_not_found(request, *args, **kwargs):
    return problem_response(request, 404, "not_found", f"No API endpoint at {request.path}.")


def bad_request(request, exception=None):
    if is_api_path(request.path):
        return problem_response(request, 400, "bad_request", "The request was malformed.")
    return defaults.bad_request(request, exception)


def permission_denied(request, exception=None):
    if is_api_path(request.path):
        return problem_response(request, 403, "permission_denied", str(exception or "Forbidden."))
    return defaults.permission_denied(request, exception)


def page_not_found(request, exception=None):
    if is_api_path(request.path):
        return api_not_found(request)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if is_api_path(request.path):
        return problem_response(request, 500, "server_error", "An unexpected error occurred.")
    return defaults.server_error(request)
