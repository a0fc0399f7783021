"""Tell drf-spectacular how Sentinelle authenticates and answers errors, so /api/schema/
documents what the API does (issue 19)."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework.permissions import SAFE_METHODS, AllowAny, IsAuthenticatedOrReadOnly

from sentinelle.core.api.permissions import RolePermission, TokenScopePermission


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


# The one error body (core/api/errors.py): {"detail", "code"} for an error of the request as a
# whole, or the refused fields, each with its messages (a nested object for a nested field).
ERROR_SCHEMA = {
    "type": "object",
    "description": "An error. Either `detail` and `code`, or the request's fields that were "
                   "refused, each with its messages (`non_field_errors`: the request as a "
                   "whole).",
    "properties": {
        "detail": {"type": "string"},
        "code": {"type": "string", "description": "machine-readable: not_authenticated, "
                                                  "authentication_failed, permission_denied, "
                                                  "not_found, too_large, parse_error, …"},
        "non_field_errors": {"type": "array", "items": {"type": "string"}},
    },
    "additionalProperties": {},
}

_ERROR_DESCRIPTIONS = {
    400: "The request was refused: the body names each field and why.",
    401: "No credentials, or a token that is invalid, expired or revoked.",
    403: "Signed in, but this role or token may not do this (a read-only token writes nothing).",
    404: "Nothing there that the caller may see (another State's restricted report is "
         "answered as if it did not exist).",
    413: "The request is larger than this operation accepts; nothing was stored.",
    415: "The request's content type is not one this operation reads.",
}
_PAGING = {"limit", "offset"}


def _allows_anonymous(permission, method: str, action: str | None) -> bool:
    if isinstance(permission, RolePermission):
        return not permission.applies(method, action)
    if isinstance(permission, (TokenScopePermission, IsAuthenticatedOrReadOnly)):
        return method in SAFE_METHODS
    return isinstance(permission, AllowAny)


class SentinelleAutoSchema(AutoSchema):
    """drf-spectacular's schema, plus what it cannot see from a view: the errors an operation
    can answer, all with the one error component, and optional security (`{}`) where an
    anonymous caller may read (TLP:CLEAR material). A view may add statuses its code raises
    with `extra_error_statuses`; `extend_schema(auth=[...])` still overrides the security."""

    def get_auth(self) -> list[dict]:
        auths = [auth for auth in super().get_auth() if auth]
        action = getattr(self.view, "action", None)
        if not auths or all(_allows_anonymous(p, self.method, action)
                            for p in self.view.get_permissions()):
            auths.append({})
        return auths

    def _get_response_bodies(self, direction: str = "response") -> dict:
        responses = super()._get_response_bodies(direction)
        component = ResolvedComponent(name="Error", type=ResolvedComponent.SCHEMA,
                                      object="Error", schema=ERROR_SCHEMA)
        self.registry.register_on_missing(component)
        for status in sorted(self._error_statuses()):
            responses.setdefault(str(status), {"description": _ERROR_DESCRIPTIONS[status]})
        for status, response in responses.items():
            # Also those a view declared with a description only (the imports' 413).
            if int(status) >= 400 and not response.get("content"):
                response["content"] = {"application/json": {"schema": component.ref}}
        return responses

    def _error_statuses(self) -> set[int]:
        statuses = set(getattr(self.view, "extra_error_statuses", ()))
        writes = self.method not in SAFE_METHODS
        action = getattr(self.view, "action", None)
        if writes or any(p["in"] == "query" and p["name"] not in _PAGING
                         for p in self._get_parameters()):
            statuses.add(400)
        if self.view.get_authenticators():
            statuses.add(401)   # a bad token is refused whatever the operation
        if writes or any(isinstance(p, RolePermission) and p.applies(self.method, action)
                         for p in self.view.get_permissions()):
            statuses.add(403)
        if "{" in self.path:
            statuses.add(404)
        if writes and self.method != "DELETE":
            statuses.add(415)
            if (_upload_cap(self.view, action) is not None
                    or "multipart/form-data" in self.map_parsers()):
                statuses.add(413)
        return statuses


def _upload_cap(view, action: str | None):
    handler = getattr(view, action, None) if action else None
    return getattr(handler, "upload_cap", None) or getattr(view, "upload_cap", None)
