"""django-filter FilterSets of the decisions API."""

from __future__ import annotations

import django_filters

from decisions.choices import Outcome
from decisions.models import DecisionRecord


class DecisionFilter(django_filters.FilterSet):
    outcome = django_filters.ChoiceFilter(choices=[(o, o) for o, _ in Outcome.choices])
    reason = django_filters.CharFilter(method="by_reason", help_text="a reason code, e.g. DSR_HIGH")
    policy = django_filters.CharFilter(field_name="policy_version__policy_set__name")
    subject = django_filters.CharFilter(field_name="subject_token")
    decided_from = django_filters.IsoDateTimeFilter(field_name="decided_at", lookup_expr="gte")
    decided_to = django_filters.IsoDateTimeFilter(field_name="decided_at", lookup_expr="lt")

    class Meta:
        model = DecisionRecord
        fields = ["outcome", "purpose", "kind"]

    def by_reason(self, queryset, name, value):
        return queryset.filter(reason_codes__contains=[{"code": value}])
