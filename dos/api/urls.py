"""/api/v1/ — each app contributes its routes through its own api/urls.py."""

app_name = "api"

urlpatterns: list = []
