from django.urls import path

from hitl.api.views import CaseViewSet

urlpatterns = [
    path("hitl/cases", CaseViewSet.as_view({"get": "list", "post": "create"}), name="hitl-case-list"),
    path("hitl/cases/<uuid:pk>", CaseViewSet.as_view({"get": "retrieve"}), name="hitl-case-detail"),
    path("hitl/cases/<uuid:pk>/actions", CaseViewSet.as_view({"post": "act"}), name="hitl-case-act"),
]
