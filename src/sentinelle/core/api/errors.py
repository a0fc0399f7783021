"""API errors: always a JSON body a machine can read, never a traceback.

The one place a domain error becomes an HTTP answer: views let the services' errors through.
Every error has one shape (docs/api.md, *Errors*):

    {"detail": "…", "code": "…"}                                   the request as a whole
    {"detail": "…", "code": "invalid", "fields": {"name": ["…"]}}  what was wrong, by field

`fields` names the body's fields or the query's parameters (`non_field_errors`: several of
them together); a nested field's value is an object or a list of them, as DRF gives it."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.views import exception_handler as drf_exception_handler

from sentinelle.core.busy import RETRY_AFTER, DatabaseBusy, is_busy
from sentinelle.core.errors import Conflict, Refused, TooLarge


class ConflictError(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"


def _django_fields(exc: DjangoValidationError) -> dict:
    return exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}


def _first(messages) -> str | None:
    # The first message of DRF's nested detail (dicts of lists of dicts…), for `detail`.
    if isinstance(messages, dict):
        messages = list(messages.values())
    if isinstance(messages, list):
        for item in messages:
            found = _first(item)
            if found is not None:
                return found
        return None
    return str(messages)


def body(exc: exceptions.APIException, data, fields: dict | None = None) -> dict:
    """The one error body for a DRF exception and the data DRF's handler made of it."""
    if isinstance(exc, exceptions.ValidationError):
        fields = data if isinstance(data, dict) else {"non_field_errors": data}
        only_whole = set(fields) == {"non_field_errors"}
        # The request as a whole refused: its message is the detail; else a pointer to fields.
        detail = (_first(fields) if only_whole else None) or _(
            "The request has errors: see “fields”.")
        return {"detail": detail, "code": "invalid", "fields": fields}
    answer = {"detail": str(data.get("detail", "")) if isinstance(data, dict) else str(data),
              "code": getattr(exc, "default_code", "error")}
    if isinstance(data, dict) and isinstance(data.get("detail"), exceptions.ErrorDetail):
        answer["code"] = data["detail"].code or answer["code"]
    if fields:
        answer["fields"] = fields
    return answer


def exception_handler(exc, context):
    fields = None
    # Refused, Conflict and TooLarge are ValidationErrors too: tested first so they keep their
    # status. A refusal naming parameters (the public statistics) keeps them in `fields`.
    if isinstance(exc, Refused):
        fields = _django_fields(exc) if hasattr(exc, "error_dict") else None
        exc = exceptions.PermissionDenied(" ".join(exc.messages))
    elif isinstance(exc, TooLarge):
        exc = PayloadTooLarge(exc.messages[0])
    elif isinstance(exc, Conflict):
        exc = ConflictError(exc.messages[0])
    elif isinstance(exc, Http404):
        # DRF answers it as NotFound but without its code: the one body has "code" everywhere.
        exc = exceptions.NotFound()
    elif is_busy(exc):   # "database is locked" past the busy timeout: 503, not 500
        exc = DatabaseBusy()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(_django_fields(exc))
    response = drf_exception_handler(exc, context)
    if response is not None:
        response.data = body(exc, response.data, fields)
    if isinstance(exc, DatabaseBusy):
        response["Retry-After"] = str(RETRY_AFTER)
    return response


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The project's handler404: under /api/ a path no route matches (an id that is no id, a
    gateway kind that does not exist) answers the API's error body, not an HTML page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": str(exceptions.NotFound.default_detail),
                             "code": "not_found"}, status=404)
    return defaults.page_not_found(request, exception)
