"""A query string holding NUL (U+0000) is refused before any view reads it: 400 naming the
parameter.

PostgreSQL cannot store NUL in text, so a NUL that reached a filter was a 500 there (and found
nothing on SQLite); no client has a use for one. Django's form fields refuse it, but views that
read ``request.GET`` themselves did not (the routing alerts' filters, found by Schemathesis on
PostgreSQL): refusing it here covers every view, present and future, and the API schema states
it on every text query parameter (core/api/schema.py). A part of the site whose errors have
their own shape (TAXII) registers its answer from its AppConfig.ready.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from sentinelle.core.middleware import second_factor_pending

__all__ = ["NulQueryMiddleware", "nul_parameter", "register_answer"]

# (path prefix, answer(request, parameter name, message)), first match wins.
Answer = Callable[[HttpRequest, str, str], HttpResponse]
_ANSWERS: list[tuple[str, Answer]] = []


def register_answer(prefix: str, answer: Answer) -> None:
    """How a part of the site answers a refused parameter (its own error shape)."""
    if all(existing != prefix for existing, _answer in _ANSWERS):
        _ANSWERS.append((prefix, answer))


def nul_parameter(request: HttpRequest) -> str | None:
    """The first query parameter whose name or a value holds NUL, shown printable."""
    for name, values in request.GET.lists():
        if "\x00" in name or any("\x00" in value for value in values):
            return name.replace("\x00", "\\0")[:100]
    return None


class NulQueryMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        name = nul_parameter(request)
        if name is None:
            return self.get_response(request)
        message = _("The NUL character (U+0000) is not allowed here.")
        for prefix, answer in _ANSWERS:
            if request.path.startswith(prefix):
                return answer(request, name, message)
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": _("Invalid query parameter: %(name)s.") % {"name": name},
                                 "code": "invalid", "fields": {name: [message]}}, status=400)
        # This answer comes before the second-factor check (a process_view): a password-only
        # session is shown the page as anyone is, not the signed-in menu and name.
        if second_factor_pending(request):
            request.user = AnonymousUser()
        # Not "400.html": Django's own bad_request handler renders that name for every other
        # 400 (too many parameters...), which would then speak of a NUL.
        return render(request, "query_refused.html", {"parameter": name, "message": message},
                      status=400)
