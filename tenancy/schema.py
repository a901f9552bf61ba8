"""OpenAPI security schemes for our authenticators (drf-spectacular extensions)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "tenancy.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "dos_<prefix>_<secret>",
                "description": "A project API key. Create one in the admin or with `dosctl apikey create`."}


class AdminSessionScheme(OpenApiAuthenticationExtension):
    target_class = "tenancy.authentication.AdminSessionAuthentication"
    name = "AdminSession"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid",
                "description": "Browser session after OIDC + TOTP login (CSRF token required on writes)."}
