from django.urls import path

from tenancy.api import views

projects = views.ProjectViewSet
keys = views.ApiKeyViewSet
members = views.MemberViewSet

urlpatterns = [
    path("me", views.MeApi.as_view(), name="me"),
    path("orgs/current", views.OrgCurrentApi.as_view(), name="org-current"),
    path("projects", projects.as_view({"get": "list", "post": "create"}), name="project-list"),
    path("projects/<uuid:pk>", projects.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
         name="project-detail"),
    path("projects/<uuid:project_pk>/api-keys", keys.as_view({"get": "list", "post": "create"}), name="apikey-list"),
    path("projects/<uuid:project_pk>/api-keys/<uuid:pk>/revoke", keys.as_view({"post": "revoke"}),
         name="apikey-revoke"),
    path("members", members.as_view({"get": "list", "post": "create"}), name="member-list"),
    path("members/<uuid:pk>", members.as_view({"delete": "destroy"}), name="member-detail"),
    path("audit/events", views.AuditEventViewSet.as_view({"get": "list"}), name="audit-event-list"),
]
