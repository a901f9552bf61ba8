"""Pagination defaults: page numbers for small lists, cursors for logs that only grow.

``page_size`` is validated, not silently replaced: anything but an integer from 1 to the maximum is a
400 naming the parameter (DRF's default would answer the default page for ``page_size=null``), and
the schema states the bounds.
"""

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination, PageNumberPagination


class _CheckedPageSize:
    page_size_query_param = "page_size"

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= self.max_page_size:
            raise ValidationError({self.page_size_query_param: [
                f"Must be an integer from 1 to {self.max_page_size}."]})
        return int(raw)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": self.max_page_size}
            elif parameter["name"] == getattr(self, "page_query_param", None):
                parameter["schema"] = {"type": "integer", "minimum": 1}
        return parameters


class PagePagination(_CheckedPageSize, PageNumberPagination):
    page_size = 50
    max_page_size = 500


class CreatedCursorPagination(_CheckedPageSize, CursorPagination):
    """Stable under concurrent inserts: used for audit events, decisions, meter events."""

    page_size = 100
    max_page_size = 1000
    ordering = "-created_at"
