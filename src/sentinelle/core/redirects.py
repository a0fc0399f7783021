"""Where a form may send its user afterwards: a path of this site, never another site."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme


def safe_next(request: HttpRequest, default: str = "/") -> str:
    """The request's ``next`` (POST, then GET) if it is a path of this site, else `default`.
    Browsers read "/\\host" and "/<tab>/host" as another site, so both are refused even where
    the URL parser would call them paths."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target.startswith("/") and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()) \
            and not any(c in target for c in "\\\t\r\n"):
        return target
    return default
