"""API errors: always a JSON body a machine can read, never a traceback.

The one place a domain error becomes an HTTP answer: views let the services' errors through."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.views import exception_handler as drf_exception_handler

from sentinelle.core.busy import RETRY_AFTER, DatabaseBusy, is_busy
from sentinelle.core.errors import Refused, TooLarge


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"


def exception_handler(exc, context):
    # Refused and TooLarge are ValidationErrors too: tested first so they keep their status.
    if isinstance(exc, Refused):
        exc = exceptions.PermissionDenied(exc.messages[0])
    elif isinstance(exc, TooLarge):
        exc = PayloadTooLarge(exc.messages[0])
    elif isinstance(exc, Http404):
        # DRF answers it as NotFound but without its code: the one body has "code" everywhere.
        exc = exceptions.NotFound()
    elif is_busy(exc):   # "database is locked" past the busy timeout: 503, not 500
        exc = DatabaseBusy()
    elif isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors":
                                                                        exc.messages}
        exc = exceptions.ValidationError(detail)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "detail" in response.data:
        response.data.setdefault("code", getattr(exc, "default_code", "error"))
    if isinstance(exc, DatabaseBusy):
        response["Retry-After"] = str(RETRY_AFTER)
    return response


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The project's handler404: under /api/ a path no route matches (an id that is no id, a
    gateway kind that does not exist) answers the API's error body, not an HTML page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": exceptions.NotFound.default_detail,
                             "code": "not_found"}, status=404)
    return defaults.page_not_found(request, exception)
