from django.urls import path
from rest_framework.parsers import MultiPartParser

from hitl.api.appeals import AppealViewSet
from hitl.api.views import CaseViewSet

urlpatterns = [
    path("hitl/cases", CaseViewSet.as_view({"get": "list", "post": "create"}), name="hitl-case-list"),
    path("hitl/cases/<uuid:pk>", CaseViewSet.as_view({"get": "retrieve"}), name="hitl-case-detail"),
    path("hitl/cases/<uuid:pk>/actions", CaseViewSet.as_view({"post": "act"}), name="hitl-case-act"),
    path("hitl/cases/<uuid:pk>/notes", CaseViewSet.as_view({"get": "notes", "post": "notes"}),
         name="hitl-case-notes"),
    path("hitl/cases/<uuid:pk>/attachments", CaseViewSet.as_view({"get": "attachments", "post": "attachments"},
                                                          parser_classes=[MultiPartParser]),
         name="hitl-case-attachments"),
    path("hitl/cases/<uuid:pk>/attachments/<uuid:attachment_id>", CaseViewSet.as_view({"get": "attachment"}),
         name="hitl-case-attachment"),
    path("hitl/cases/<uuid:pk>/appeal", CaseViewSet.as_view({"post": "appeal"}), name="hitl-case-appeal"),
    path("hitl/appeals", AppealViewSet.as_view({"get": "list"}), name="hitl-appeal-list"),
    path("hitl/appeals/<uuid:pk>", AppealViewSet.as_view({"get": "retrieve"}), name="hitl-appeal-detail"),
    path("hitl/appeals/<uuid:pk>/resolve", AppealViewSet.as_view({"post": "resolve"}), name="hitl-appeal-resolve"),
]
