"""Tenant API for appeals: status (list, detail) and the senior reviewer's resolution."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.response import Response

from dos.api.views import DosViewSet
from hitl.api import serializers as s
from hitl.appeals import appeal_reject, appeal_resolve
from hitl.choices import AppealStatus
from hitl.models import Appeal


class AppealFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=AppealStatus.choices)
    case = django_filters.UUIDFilter(field_name="case_id")

    class Meta:
        model = Appeal
        fields = ["status", "level"]


class AppealViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, DosViewSet):
    queryset = Appeal.objects.select_related("case", "assignee").order_by("-created_at")
    serializer_class = s.AppealOut
    filterset_class = AppealFilter
    permission_map = {"list": "decisions.read", "retrieve": "decisions.read", "resolve": "hitl.appeal"}

    @extend_schema(request=s.AppealResolveIn, responses={200: s.AppealOut},
                   summary="Decide an appeal: uphold, overturn, partial (re-issues the decision) or reject")
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        appeal = self.get_object()
        body = s.AppealResolveIn(data=request.data)
        body.is_valid(raise_exception=True)
        v = body.validated_data
        if v["resolution"] == "reject":
            appeal_reject(appeal=appeal, note=v["note"], actor=request.auth)
        else:
            appeal_resolve(appeal=appeal, resolution=v["resolution"], note=v["note"], actor=request.auth,
                           outcome=v.get("outcome", ""))
        return Response(s.AppealOut(self.get_queryset().get(pk=appeal.pk)).data)
