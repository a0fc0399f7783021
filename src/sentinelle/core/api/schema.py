"""Tell drf-spectacular how Sentinelle authenticates and answers errors, so /api/schema/
documents what the API does (issue 19)."""

from __future__ import annotations

from collections.abc import Iterable

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import serializers
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


# The one error body (core/api/errors.py): `detail` and `code` always; `fields` when the
# request's fields or parameters were refused, each with its messages.
ERROR_SCHEMA = {
    "type": "object",
    "description": "An error. `detail` says what went wrong and `code` is for programs; a "
                   "refused request (400, and a 403 naming parameters) also has `fields`: "
                   "each refused field or query parameter with its messages (`non_field_errors`"
                   ": the request as a whole; a nested field's value is an object or a list).",
    "properties": {
        "detail": {"type": "string"},
        "code": {"type": "string", "description": "machine-readable: invalid, parse_error, "
                                                  "not_authenticated, authentication_failed, "
                                                  "permission_denied, not_found, "
                                                  "not_acceptable, conflict, too_large, "
                                                  "unsupported_media_type, throttled, …"},
        "fields": {"type": "object", "additionalProperties": {}},
    },
    "required": ["detail", "code"],
}

_ERROR_DESCRIPTIONS = {
    400: "The request was refused: the body names each field and why.",
    401: "No credentials, or a token that is invalid, expired or revoked.",
    403: "Signed in, but this role or token may not do this (a read-only token writes nothing).",
    404: "Nothing there that the caller may see (another State's restricted report is "
         "answered as if it did not exist).",
    413: "The request is larger than this operation accepts; nothing was stored.",
    409: "The request is well formed but the object's present state does not allow it "
         "(a status its current one does not lead to, a report no longer amendable).",
    406: "The `Accept` header allows no type this operation answers with (JSON).",
    415: "The request's content type is not one this operation reads.",
    429: "Too many requests: wait the seconds `Retry-After` says (docs/api.md, *Rate "
         "limits*).",
    503: "The database stayed busy with another writer past its timeout (SQLite, during an "
         "import's commit): nothing was saved; retry after the seconds `Retry-After` says.",
}
# Any text but NUL (U+0000), in the ECMA-262 dialect JSON Schema uses.
NO_NUL_PATTERN = "^[^\\u0000]*$"
# The characters str.strip() removes (str.isspace), which DRF trims from a text field before it
# checks that a required one is not blank (tests/core/test_api_schema_patterns.py pins the set).
STRIPPED = ("\\u0009-\\u000d\\u001c-\\u0020\\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029"
            "\\u202f\\u205f\\u3000")
# Text with a character that is not whitespace, and no NUL. Linear: the leading run and the
# first other character cannot match the same character, so nothing is tried twice.
NOT_BLANK_PATTERN = f"^[{STRIPPED}]*[^{STRIPPED}\\u0000][^\\u0000]*$"


def comma_list_pattern(words: Iterable[str]) -> str:
    """A comma-separated list of ``words`` as a view reads it (split on commas, each part
    stripped, empty parts skipped). Linear: whitespace after a part is only tried after a
    word, so no run of whitespace can be split two ways."""
    words = list(words)
    # Plain words only: an escape would need writing for ECMA-262 and Python alike.
    assert all(w.replace("_", "").replace("-", "").isalnum() for w in words), words
    word = "|".join(words)
    part = f"[{STRIPPED}]*(?:(?:{word})[{STRIPPED}]*)?"
    return f"^{part}(?:,{part})*$"


_RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer", "minimum": 0},
                                "description": "Seconds to wait before the next request."}}


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
    with `extra_error_statuses` (or per action, `action_error_statuses`);
    `extend_schema(auth=[...])` still overrides the security."""

    def get_auth(self) -> list[dict]:
        auths = [auth for auth in super().get_auth() if auth]
        action = getattr(self.view, "action", None)
        if not auths or all(_allows_anonymous(p, self.method, action)
                            for p in self.view.get_permissions()):
            auths.append({})
        return auths

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        # drf-spectacular leaves out a nested list's bounds (a summary return's lines, a
        # report's indicators), which the serializer enforces: a 400 the schema did not say.
        # DRF refuses a NUL in any text field (PostgreSQL cannot store one), and a required
        # one that is only whitespace once trimmed: 400s the schema must say, as a pattern,
        # unless the field has a pattern of its own. Responses keep the NUL pattern only (text
        # stored before this rule, or by an import, may be blank).
        if (isinstance(field, serializers.CharField) and schema.get("type") == "string"
                and "pattern" not in schema and "format" not in schema):
            schema["pattern"] = (NOT_BLANK_PATTERN if direction == "request"
                                 and field.trim_whitespace and not field.allow_blank
                                 else NO_NUL_PATTERN)
        if isinstance(field, serializers.ListSerializer) and schema.get("type") == "array":
            minimum = field.min_length if field.min_length is not None else (
                0 if field.allow_empty else 1)
            if minimum:
                schema["minItems"] = minimum
            if field.max_length is not None:
                schema["maxItems"] = field.max_length
        return schema

    def _get_parameters(self) -> list[dict]:
        parameters = super()._get_parameters()
        # A NUL in any query parameter is refused before the view (core/querystring.py), and a
        # text filter's form field refuses what is over its max_length: the schema says both.
        filterset = getattr(self.view, "filterset_class", None)
        filters = filterset.base_filters if filterset is not None else {}
        for parameter in parameters:
            if parameter.get("in") != "query":
                continue
            schema = parameter.get("schema", {})
            text = schema.get("items", {}) if schema.get("type") == "array" else schema
            if text.get("type") != "string" or {"enum", "format", "pattern"} & set(text):
                continue
            text["pattern"] = NO_NUL_PATTERN
            declared = filters.get(parameter.get("name"))
            if declared is not None and declared.extra.get("max_length"):
                text.setdefault("maxLength", declared.extra["max_length"])
        return parameters

    def _insert_field_validators(self, field, schema) -> None:
        super()._insert_field_validators(field, schema)
        # drf-spectacular offers a blank field with a pattern `oneOf: [the pattern, ""]`; ""
        # matches the NUL pattern too, so a blank value would match both: keep the one schema.
        choices = schema.get("oneOf")
        if (choices and len(choices) == 2 and choices[0].get("pattern") == NO_NUL_PATTERN
                and not {"format", "minLength"} & set(choices[0])):
            del schema["oneOf"]
            schema.update(choices[0])

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
        for status in ("429", "503"):
            if status in responses:
                responses[status].setdefault("headers", _RETRY_AFTER)
        return responses

    def _error_statuses(self) -> set[int]:
        writes = self.method not in SAFE_METHODS
        action = getattr(self.view, "action", None)
        statuses = set(getattr(self.view, "extra_error_statuses", ()))
        # An action's own (a workflow move's 409), by action name.
        statuses.update(getattr(self.view, "action_error_statuses", {}).get(action, ()))
        # Paging too: a `limit` or `offset` that is no count is refused (core/api/pagination.py).
        if writes or any(p["in"] == "query" for p in self._get_parameters()):
            statuses.add(400)
        if self.view.get_authenticators():
            statuses.add(401)   # a bad token is refused whatever the operation
        if writes or any(isinstance(p, RolePermission) and p.applies(self.method, action)
                         for p in self.view.get_permissions()):
            statuses.add(403)
        if "{" in self.path:
            statuses.add(404)
        # DRF's content negotiation: an Accept that allows no renderer of the view.
        if self.view.get_renderers():
            statuses.add(406)
        if self.view.get_throttles():   # core/api/throttling.py
            statuses.add(429)
        # Any operation may write (a token's last use is recorded on reads too), so any may
        # find SQLite's write lock held past the busy timeout (core/busy.py).
        statuses.add(503)
        if writes and self.method != "DELETE":
            statuses.add(415)
            if (_upload_cap(self.view, action) is not None
                    or "multipart/form-data" in self.map_parsers()):
                statuses.add(413)
        return statuses


def _upload_cap(view, action: str | None):
    handler = getattr(view, action, None) if action else None
    return getattr(handler, "upload_cap", None) or getattr(view, "upload_cap", None)
