"""The import size cap (SENTINELLE_IMPORT_MAX_BYTES), enforced before the body is read.

Django parses a multipart body the first time anything touches ``request.POST`` — the CSRF
check does, before the view runs — and streams its files to temporary files: a 100 MB import
would be read and written to disk before any view could refuse it. So a view declares its cap
(``upload_cap``, on a function view or a DRF view class) and the middleware, which runs before
the CSRF check, refuses a request whose declared Content-Length is over it without reading a
byte. The declared length includes the multipart framing, hence a little slack; the view then
checks the file's own size against the cap exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _

from sentinelle.core.middleware import second_factor_pending
from sentinelle.core.roles import has_role

# Room for the boundaries, the part headers and the small form fields around the file.
MULTIPART_SLACK = 64 * 1024


def import_limit() -> int:
    return settings.IMPORT_MAX_BYTES


def too_large_message(size: int, limit: int) -> str:
    return _("The file is %(size)s bytes; the limit is %(limit)s bytes.") % {
        "size": size, "limit": limit}


@dataclass(frozen=True)
class UploadCap:
    """What a view accepts: `limit()` bytes of file; `refuse` answers 413 with a message."""

    limit: Callable[[], int]
    refuse: Callable[[HttpRequest, str], HttpResponse]


def refuse_json(request: HttpRequest, message: str) -> HttpResponse:
    """The API's 413, shaped as its other errors are."""
    return JsonResponse({"detail": message, "code": "too_large"}, status=413)


def _cap_of(view_func, method: str = "post") -> UploadCap | None:
    cap = getattr(view_func, "upload_cap", None)
    if cap is None:   # DRF's as_view() keeps the view class (and a viewset its actions)
        cls = getattr(view_func, "cls", None)
        action = (getattr(view_func, "actions", None) or {}).get(method.lower())
        cap = getattr(getattr(cls, action, None), "upload_cap", None) if action else None
        cap = cap or getattr(cls, "upload_cap", None)
    return cap


class UploadCapMiddleware:
    """Refuse, unread, a request larger than the cap its view declares."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs
                     ) -> HttpResponse | None:
        cap = _cap_of(view_func, request.method)
        if cap is None or request.method not in ("POST", "PUT", "PATCH"):
            return None
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0   # Django reads nothing of a body without a valid length
        limit = cap.limit()
        if declared > limit + MULTIPART_SLACK:
            _check_role(request, view_func)
            return cap.refuse(request, too_large_message(declared, limit))
        return None


def _check_role(request: HttpRequest, view_func) -> None:
    """The view's role (core/roles.py role_required) before the cap's answer: a signed-in user
    of the wrong role gets the one 403, as the view would give, and never a 413 whose refusal
    looks the object up. Anonymous or half-signed-in users keep the cap's bare message."""
    roles = getattr(view_func, "required_roles", None)
    methods = getattr(view_func, "role_methods", None)
    user = getattr(request, "user", None)
    if not roles or (methods is not None and request.method not in methods):
        return
    if user is None or not user.is_authenticated or second_factor_pending(request):
        return
    if not has_role(user, *roles):
        raise PermissionDenied
