"""Tell drf-spectacular how Sentinelle authenticates, so /api/schema/ documents it."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "sentinelle.core.api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": "A token from `sentinelle token create` or the API tokens page."}


class VerifiedSessionScheme(OpenApiAuthenticationExtension):
    target_class = "sentinelle.core.api.authentication.VerifiedSessionAuthentication"
    name = "cookieAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}
