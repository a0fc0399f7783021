"""A database that stays busy past its timeout answers 503 with Retry-After, never a 500.

On SQLite one writer at a time holds the database's write lock; the others wait up to the busy
timeout (settings: 20 s) and then get OperationalError "database is locked". Imports no longer
hold the lock while they read their file (exchange/reading.py, read_ahead), but a writer can
still outwait the timeout (a very large import's own writing, a backup). That is the server
being busy, not the request being wrong or the code failing: the client is told to come back
(503, Retry-After) with the API's error body under /api/, a page elsewhere, and nothing was
written (the request's transaction did not commit)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable

from django.db import OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views import defaults
from rest_framework import exceptions, status

RETRY_AFTER = 5   # seconds: a few imports' publishing, well under the busy timeout
# What SQLite says when its busy timeout ran out (SQLITE_BUSY), or a table is locked by another
# connection of a shared cache (SQLITE_LOCKED).
_BUSY = ("database is locked", "database table is locked")


def is_busy(exc: BaseException | None) -> bool:
    return isinstance(exc, OperationalError) and str(exc) in _BUSY


class DatabaseBusy(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    # Translators: the API's answer when the database stayed busy (another writer) too long.
    default_detail = _("The server is busy writing; nothing was saved. Try again in a few "
                       "seconds.")
    default_code = "busy"


class DatabaseBusyMiddleware:
    """Answers a view's "database is locked" (DRF views answer it in core/api/errors.py)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        return busy_response(request) if is_busy(exception) else None


def busy_response(request: HttpRequest) -> HttpResponse:
    """503 with Retry-After: the API's error body under /api/, the translated page elsewhere."""
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": str(DatabaseBusy.default_detail),
                                 "code": DatabaseBusy.default_code}, status=503)
    else:
        response = render(request, "503.html", status=503)
    response["Retry-After"] = str(RETRY_AFTER)
    return response


def server_error(request: HttpRequest, template_name: str = "500.html") -> HttpResponse:
    """handler500. A middleware's own write (SessionMiddleware saves the session after the
    view) raises outside process_exception's reach: Django turns it into this handler's answer,
    with the exception still being handled (sys.exc_info), so a busy database is told apart
    here too and answers 503 rather than 500."""
    if is_busy(sys.exc_info()[1]):
        with contextlib.suppress(Exception):   # the page itself failing: the plain 500 below
            return busy_response(request)
    return defaults.server_error(request, template_name)
