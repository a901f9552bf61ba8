"""Query filters that refuse what the schema does not allow, instead of ignoring it.

django-filter skips an empty value of a typed parameter (``?decided_to=``) and reads ``?breached=null`` or ``?level=0.5``
as "no filter"; the published schema types these parameters, so such values are a 400 naming the
parameter.
"""

from __future__ import annotations

import django_filters
from django.db import models
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError

BOOLEANS = {"true", "false"}
# Typed in the schema (date-time, boolean, number, uuid, enum): an empty value is not one of them.
TYPED = (django_filters.IsoDateTimeFilter, django_filters.DateTimeFilter, django_filters.DateFilter,
         django_filters.BooleanFilter, django_filters.NumberFilter, django_filters.UUIDFilter,
         django_filters.ChoiceFilter)


def _problem(filter_, filterset, value: str) -> str | None:
    if value == "":
        return "This field may not be blank." if isinstance(filter_, TYPED) else None
    if isinstance(filter_, django_filters.BooleanFilter) and value not in BOOLEANS:
        return "Must be true or false."
    if isinstance(filter_, django_filters.NumberFilter):
        model = filterset._meta.model
        try:
            field = model._meta.get_field(filter_.field_name)
        except Exception:  # noqa: BLE001 - a related or computed path: leave it to the filter's own form
            return None
        if isinstance(field, models.IntegerField) and not value.lstrip("-").isdigit():
            return "A valid integer is required."
    return None


class StrictFilterBackend(DjangoFilterBackend):
    def get_filterset(self, request, queryset, view):
        filterset = super().get_filterset(request, queryset, view)
        if filterset is None:
            return None
        errors = {}
        for name, filter_ in filterset.filters.items():
            # `from` is a Python keyword: the filter is from_, the query parameter either spelling.
            for param in {name, name.rstrip("_")}:
                for value in request.query_params.getlist(param):
                    problem = _problem(filter_, filterset, value)
                    if problem:
                        errors[param] = [problem]
        if errors:
            raise ValidationError(errors)
        return filterset
