from django.urls import path

from observability import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("livez", views.livez, name="livez"),
    path("metrics", views.metrics, name="metrics"),
]
