"""Domain errors the services raise, each with the one answer every caller gives it.

They are Django ValidationErrors, so a form or a command shows their message as it shows any
refused input; the API (core/api/errors.py) and, for `Refused`, Django's own 403 handling
answer them with their status instead of a 400.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError


class Refused(ValidationError, PermissionDenied):
    """Signed in, may see the object, but this role may not do this: 403, never 400.

    (An object the user may not see at all is a 404 raised before any service runs.)"""


class TooLarge(ValidationError):
    """More bytes than the limit allows: 413."""


class Conflict(ValidationError):
    """A well-formed request that the object's present state does not allow (a report moved to
    a status its current one does not lead to, a closed report amended): 409. The same request
    may succeed on another object, or later, so it is no fault of the request's fields (400)."""
