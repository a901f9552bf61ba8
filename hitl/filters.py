"""django-filter FilterSets of the review API."""

from __future__ import annotations

import django_filters

from hitl.choices import CaseStatus, Priority
from hitl.models import Case


class CaseFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=CaseStatus.choices)
    priority = django_filters.ChoiceFilter(choices=Priority.choices)
    queue = django_filters.CharFilter(field_name="queue__name")
    reason = django_filters.CharFilter(method="by_reason", help_text="a reason code, e.g. DOCS_MISSING")
    owner = django_filters.CharFilter(field_name="owner__email")
    breached = django_filters.BooleanFilter(field_name="sla_breached")

    class Meta:
        model = Case
        fields = ["status", "priority", "source"]

    def by_reason(self, queryset, name, value):
        return queryset.filter(reason_codes__contains=[value])
