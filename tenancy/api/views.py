"""Tenancy API: who am I, my org, projects, API keys, members, audit events."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from dos.api.pagination import CreatedCursorPagination
from dos.api.permissions import AUTHENTICATED
from dos.api.views import DosApiView, DosViewSet
from dos.idempotency import never_replayed
from dos.models import LedgerEntry
from tenancy import services
from tenancy.api import serializers as s
from tenancy.filters import AuditEventFilter
from tenancy.models import ApiKey, Membership, Project


class MeApi(DosApiView):
    permission_map = {"get": AUTHENTICATED}

    @extend_schema(responses=s.MeOut, summary="The caller: API key or user, org, permissions")
    def get(self, request):
        p = request.auth
        user = getattr(p, "user", None)
        return Response(s.MeOut({
            "kind": p.kind, "org": p.org, "project_id": getattr(p, "project_id", None),
            "email": getattr(user, "email", None) if p.kind == "user" else None,
            "api_key": f"dos_{p.key.prefix}_…" if p.kind == "api_key" else None,
            "permissions": sorted(p.permissions),
        }).data)


class OrgCurrentApi(DosApiView):
    permission_map = {"get": AUTHENTICATED}

    @extend_schema(responses=s.OrgOut, summary="The caller's organisation")
    def get(self, request):
        return Response(s.OrgOut(request.auth.org).data)


class ProjectViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, DosViewSet):
    queryset = Project.objects.prefetch_related("environments").order_by("name")
    serializer_class = s.ProjectOut
    permission_map = {"list": AUTHENTICATED, "retrieve": AUTHENTICATED, "create": "project.manage",
                      "partial_update": "project.manage", "destroy": "project.manage"}
    filterset_fields = ["slug"]
    ordering_fields = ["name", "created_at"]

    @extend_schema(request=s.ProjectCreateIn, responses={201: s.ProjectOut}, summary="Create a project")
    def create(self, request):
        data = s.ProjectCreateIn(data=request.data)
        data.is_valid(raise_exception=True)
        project = services.project_create(org=request.auth.org, actor=request.auth, **data.validated_data)
        return Response(s.ProjectOut(project).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.ProjectUpdateIn, responses=s.ProjectOut, summary="Rename or describe a project")
    def partial_update(self, request, pk=None):
        project = self.get_object()
        data = s.ProjectUpdateIn(data=request.data)
        data.is_valid(raise_exception=True)
        project = services.project_update(project=project, actor=request.auth, **data.validated_data)
        return Response(s.ProjectOut(project).data)

    @extend_schema(responses={204: None}, summary="Archive a project and revoke its API keys")
    def destroy(self, request, pk=None):
        services.project_archive(project=self.get_object(), actor=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ApiKeyViewSet(mixins.ListModelMixin, DosViewSet):
    queryset = ApiKey.objects.order_by("-created_at")
    serializer_class = s.ApiKeyOut
    parent_filters = {"project_id": "project_pk"}
    permission_map = {"list": "keys.manage", "create": "keys.manage", "revoke": "keys.manage"}

    def _project(self) -> Project:
        return get_object_or_404(Project.objects.all(), pk=self.kwargs["project_pk"])

    def list(self, request, *args, **kwargs):
        self._project()  # 404 for projects outside the org, even when they have no keys
        return super().list(request, *args, **kwargs)

    @extend_schema(request=s.ApiKeyCreateIn, responses={201: s.ApiKeyCreatedOut},
                   summary="Create an API key (the secret is returned once)")
    def create(self, request, project_pk=None):
        project = self._project()
        data = s.ApiKeyCreateIn(data=request.data)
        data.is_valid(raise_exception=True)
        created = services.apikey_create(project=project, actor=request.auth, **data.validated_data)
        body = never_replayed(s.ApiKeyOut(created.key).data | {"secret": created.secret}, "secret")
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.ApiKeyRevokeIn, responses=s.ApiKeyOut, summary="Revoke an API key")
    @action(detail=True, methods=["post"])
    def revoke(self, request, project_pk=None, pk=None):
        key = self.get_object()
        data = s.ApiKeyRevokeIn(data=request.data)
        data.is_valid(raise_exception=True)
        key = services.apikey_revoke(key=key, actor=request.auth, reason=data.validated_data["reason"])
        return Response(s.ApiKeyOut(key).data)


class MemberViewSet(mixins.ListModelMixin, mixins.DestroyModelMixin, DosViewSet):
    queryset = Membership.objects.select_related("user").order_by("user__email", "role")
    serializer_class = s.MemberOut
    permission_map = {"list": "members.manage", "create": "members.manage", "destroy": "members.manage"}
    filterset_fields = ["role"]
    project_lookup = ""  # people belong to the org, not to a project: a key holding members.manage sees them

    @extend_schema(request=s.MemberCreateIn, responses={201: s.MemberOut}, summary="Give a person a role in the org")
    def create(self, request):
        data = s.MemberCreateIn(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.membership_add(org=request.auth.org, actor=request.auth, **data.validated_data)
        return Response(s.MemberOut(membership).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        services.membership_remove(membership=instance, actor=self.request.auth)


class AuditEventPagination(CreatedCursorPagination):
    ordering = "-id"


@extend_schema(parameters=[OpenApiParameter("from", OpenApiTypes.DATETIME, description="RFC 3339 timestamp, inclusive"),
                           OpenApiParameter("to", OpenApiTypes.DATETIME, description="RFC 3339 timestamp, exclusive")])
class AuditEventViewSet(mixins.ListModelMixin, DosViewSet):
    queryset = LedgerEntry.objects.filter(chain="audit")
    serializer_class = s.AuditEventOut
    pagination_class = AuditEventPagination
    filterset_class = AuditEventFilter
    permission_map = {"list": "audit.read"}
    project_lookup = ""  # the audit chain is the org's; reading it is the audit.read primitive, by design
