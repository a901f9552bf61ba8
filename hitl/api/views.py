"""Tenant API for review cases: list, detail, open, act (notes, attachments and appeals are in
``hitl.api.evidence`` and ``hitl.api.appeals``)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from decisions.models import DecisionRecord
from dos.api.errors import referenced_not_found
from dos.api.views import DosViewSet
from dos.pii import mask_value
from hitl.actions import case_act
from hitl.api import serializers as s
from hitl.api.evidence import CaseEvidenceMixin
from hitl.choices import CaseSource
from hitl.filters import CaseFilter
from hitl.models import Case
from hitl.services import case_open
from tenancy.principals import active_project


class CaseViewSet(CaseEvidenceMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, DosViewSet):
    queryset = Case.objects.select_related("queue", "owner").order_by("sla_due_at", "created_at")
    serializer_class = s.CaseOut
    filterset_class = CaseFilter
    permission_map = {"list": "hitl.review", "retrieve": "hitl.review", "create": "hitl.review",
                      "act": "hitl.review", **CaseEvidenceMixin.permission_map}

    def get_serializer_class(self):
        return s.CaseDetailOut if self.action == "retrieve" else s.CaseOut

    def get_queryset(self):
        queryset = super().get_queryset()
        return queryset.prefetch_related("events") if self.action == "retrieve" else queryset

    @extend_schema(request=s.CaseCreateIn, responses={201: s.CaseDetailOut},
                   summary="Open a review case for a recorded decision or a described application")
    def create(self, request):
        body = s.CaseCreateIn(data=request.data)
        body.is_valid(raise_exception=True)
        v = body.validated_data
        decision = None
        if v.get("decision_id"):
            decision = self.project_scoped(DecisionRecord.objects.filter(pk=v["decision_id"])).first()
            if decision is None:
                raise referenced_not_found("decision_id", "No such decision in this organisation.")
        project = active_project(request.auth)
        case = case_open(
            org_id=request.auth.org_id, project=project, source=CaseSource.API, priority=v["priority"],
            reason_codes=v["reason_codes"] or ([r["code"] for r in decision.reason_codes] if decision else []),
            product=v["product"], summary=decision.snapshot if decision else mask_value(v["payload"]),
            decision=decision, created_by=getattr(request.auth, "user", None), actor=request.auth)
        case = self.get_queryset().prefetch_related("events").get(pk=case.pk)
        return Response(s.CaseDetailOut(case).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.CaseActionIn, responses={200: s.CaseDetailOut},
                   summary="Act on a case: approve, deny, request_docs, escalate, comment, close, override")
    @action(detail=True, methods=["post"])
    def act(self, request, pk=None):
        case = self.get_object()
        body = s.CaseActionIn(data=request.data)
        body.is_valid(raise_exception=True)
        v = body.validated_data
        case_act(case=case, action=v["action"], actor=request.auth,
                 comment=v["comment"], outcome=v.get("outcome", ""))
        case = self.get_queryset().prefetch_related("events").get(pk=case.pk)
        return Response(s.CaseDetailOut(case).data)
