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


def second_factor_pending(request: HttpRequest) -> bool:
    """True while a signed-in user who must use a second factor has given only the password."""
    user = getattr(request, "user", None)
    return bool(settings.REQUIRE_2FA and user is not None and user.is_authenticated
                and user.needs_second_factor
                and not getattr(user, "is_verified", lambda: False)())


class TwoFactorRequiredMiddleware:
    """Send signed-in focal points and Secretariat staff to the second factor until verified.

    Only the pages a password-only session needs to finish (or abandon) signing in are exempt,
    named by URL name rather than path prefix: /account/ also holds the API tokens page, and a
    token minted there would carry the password alone into the API. The API is exempt because
    its session authentication treats a password-only session as anonymous, and its tokens are
    issued only to verified users.
    """

    EXEMPT_URL_NAMES = frozenset({"login", "logout", "two-factor", "set_language", "healthz",
                                  "metrics"})
    EXEMPT_PREFIXES = ("/api/", "/static/")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func: Callable[..., HttpResponse],
                     view_args: tuple, view_kwargs: dict) -> HttpResponse | None:
        # In process_view the URL is resolved, so the exemption follows the URL names, not
        # spellings of the path.
        if not second_factor_pending(request):
            return None
        match = request.resolver_match
        if (match is not None and match.url_name in self.EXEMPT_URL_NAMES
                and not match.namespace) or request.path_info.startswith(self.EXEMPT_PREFIXES):
            return None
        return redirect_to_second_factor(request)


def redirect_to_second_factor(request: HttpRequest) -> HttpResponse:
    query = urlencode({"next": request.get_full_path()})
    return redirect(f"{reverse('two-factor')}?{query}")
