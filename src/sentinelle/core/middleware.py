from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from sentinelle.core.audit import audit_context

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Give each request an id (or keep a sane X-Request-ID) and open the audit context."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        supplied = request.headers.get("X-Request-ID", "")
        request.id = supplied if _REQUEST_ID.match(supplied) else uuid.uuid4().hex
        with audit_context(actor=getattr(request, "user", None), request_id=request.id):
            response = self.get_response(request)
        response["X-Request-ID"] = request.id
        return response


class TwoFactorRequiredMiddleware:
    """Send signed-in focal points and Secretariat staff to the second factor until verified.

    The API is exempt: it authenticates with tokens, which are issued to verified users.
    """

    EXEMPT_PREFIXES = ("/account/", "/i18n/", "/static/", "/api/", "/healthz")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (settings.REQUIRE_2FA and user.is_authenticated and user.needs_second_factor
                and not user.is_verified()
                and not request.path.startswith(self.EXEMPT_PREFIXES)):
            query = urlencode({"next": request.get_full_path()})
            return redirect(f"{reverse('two-factor')}?{query}")
        return self.get_response(request)
