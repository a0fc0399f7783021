"""A database that stays busy past its timeout ("database is locked", SQLite) is a 503 with
Retry-After, never a 500: the API's error body under /api/, a translated page elsewhere. Any
other database error stays the server error it is. The same over HTTP against a real lock:
tests/exchange/test_import_concurrency.py."""

from __future__ import annotations

import json

from django.db import OperationalError
from django.test import RequestFactory
from django.utils import translation

from sentinelle.core.api.errors import exception_handler
from sentinelle.core.busy import RETRY_AFTER, DatabaseBusyMiddleware

LOCKED = OperationalError("database is locked")


def middleware() -> DatabaseBusyMiddleware:
    return DatabaseBusyMiddleware(lambda request: None)


def test_the_api_answers_a_locked_database_503_with_retry_after():
    response = exception_handler(LOCKED, {})
    assert response.status_code == 503 and response["Retry-After"] == str(RETRY_AFTER)
    assert response.data["code"] == "busy" and "nothing was saved" in str(response.data["detail"])


def test_another_database_error_is_not_called_busy():
    assert exception_handler(OperationalError("no such table: incidents_incident"), {}) is None
    request = RequestFactory().post("/incidents/new/")
    assert middleware().process_exception(request, OperationalError("disk I/O error")) is None


def test_a_view_outside_the_api_answers_a_page(alice, bob, charlie):
    request = RequestFactory().post("/incidents/new/")
    request.user = alice
    with translation.override("fr"):
        response = middleware().process_exception(request, LOCKED)
    assert response.status_code == 503 and response["Retry-After"] == str(RETRY_AFTER)
    page = response.content.decode()
    assert "<h1>Occupé, réessayez</h1>" in page or "<h1>Busy, try again</h1>" in page


def test_a_non_drf_api_path_answers_the_api_body(alice, bob, charlie):
    request = RequestFactory().get("/api/v1/anything")
    request.user = alice
    response = middleware().process_exception(request, LOCKED)
    assert response.status_code == 503 and json.loads(response.content)["code"] == "busy"
