"""Request rates of the API (issue 19): anonymous callers by address, signed-in callers by
user (each token acts as its user), uploads (multipart writes) more strictly.

DRF's throttles, reading the rates from settings.API_RATES when each request is counted, so a
test or an operator's override applies without a restart of the class. Over the rate: 429 with
`Retry-After` (seconds) and the API's error body, code "throttled" (core/api/errors.py).

The counts are kept in Django's default cache. With none configured that is per process
(LocMem): with several gunicorn workers each counts on its own, so a caller may make up to
workers × the rate, and a restart forgets the counts. See docs/api.md, *Rate limits*."""

from __future__ import annotations

from django.conf import settings
from rest_framework import throttling
from rest_framework.permissions import SAFE_METHODS


class _FromSettings:
    scope: str

    def get_rate(self) -> str | None:
        # None: no limit for this scope.
        return settings.API_RATES.get(self.scope)


class AnonRateThrottle(_FromSettings, throttling.AnonRateThrottle):
    """Callers without credentials, by address (REST_FRAMEWORK's NUM_PROXIES says which)."""

    scope = "anon"


class UserRateThrottle(_FromSettings, throttling.UserRateThrottle):
    """A signed-in caller, by user: all of a user's tokens and sessions share one count."""

    scope = "user"

    def get_cache_key(self, request, view) -> str | None:
        # DRF's counts anonymous callers here too, by address: they have their own scope.
        if not (request.user and request.user.is_authenticated):
            return None
        return super().get_cache_key(request, view)


class UploadRateThrottle(UserRateThrottle):
    """Uploads (evidence, imports, bundles, message files): each multipart write counts here
    too, at a stricter rate; reads and JSON writes do not."""

    scope = "upload"

    def allow_request(self, request, view) -> bool:
        if request.method in SAFE_METHODS or not (request.content_type or "").startswith(
                "multipart/"):
            return True
        return super().allow_request(request, view)
