from django.urls import path

from decisions.api import views

sets = views.PolicySetViewSet
versions = views.PolicyVersionViewSet

urlpatterns = [
    path("decide", views.DecideApi.as_view(), name="decide"),
    path("decisions", views.DecisionViewSet.as_view({"get": "list"}), name="decision-list"),
    path("decisions/<uuid:pk>", views.DecisionViewSet.as_view({"get": "retrieve"}), name="decision-detail"),
    path("policies", sets.as_view({"get": "list", "post": "create"}), name="policy-list"),
    path("policies/lint", sets.as_view({"post": "lint"}), name="policy-lint"),
    path("policies/<uuid:pk>/versions", sets.as_view({"get": "versions"}), name="policy-versions"),
    path("policy-versions/<uuid:pk>", versions.as_view({"get": "retrieve"}), name="policy-version-detail"),
    path("policy-versions/<uuid:pk>/submit", versions.as_view({"post": "submit"}), name="policy-version-submit"),
    path("policy-versions/<uuid:pk>/approve", versions.as_view({"post": "approve"}), name="policy-version-approve"),
    path("policy-versions/<uuid:pk>/publish", versions.as_view({"post": "publish"}), name="policy-version-publish"),
    path("policy-versions/<uuid:pk>/rollback", versions.as_view({"post": "rollback"}), name="policy-version-rollback"),
]

urlpatterns += [
    path("decisions/<uuid:pk>/explain", views.DecisionViewSet.as_view({"get": "explain"}), name="decision-explain"),
    path("decisions/<uuid:pk>/replay", views.DecisionViewSet.as_view({"post": "replay"}), name="decision-replay"),
]

urlpatterns += [path("decide/batch", views.DecideBatchApi.as_view(), name="decide-batch")]

urlpatterns += [
    path("simulate", views.SimulateApi.as_view(), name="simulate"),
    path("simulations/<uuid:pk>", views.SimulationViewSet.as_view({"get": "retrieve"}), name="simulation-detail"),
    path("simulations/<uuid:pk>/report.html", views.SimulationViewSet.as_view({"get": "report_html"}),
         name="simulation-report"),
]

urlpatterns += [
    path("decisions/<uuid:pk>/evidence", views.DecisionViewSet.as_view({"get": "evidence"}), name="decision-evidence"),
]
