"""Pages and endpoints kept for one role: one check, one answer.

The rule, everywhere: signed in but of the wrong role is a 403 (web: the rendered 403 page; API:
403 with the one error body). A 404 is kept for an object the user may not see at all (another
State's restricted report: the isolation rule of `for_user()`), never for a role. The role is
checked before any object is looked up, so the 403 tells nothing about which objects exist.

Anonymous users are sent to sign in first (`login_required`), as before.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

SECRETARIAT = "secretariat"
FOCAL_POINT = "focal point"
COUNCIL = "council"
ADMIN = "admin"

_CHECKS: dict[str, Callable[..., bool]] = {
    SECRETARIAT: lambda user: user.is_secretariat,
    FOCAL_POINT: lambda user: user.is_focal_point,
    COUNCIL: lambda user: user.is_council,
    ADMIN: lambda user: user.is_active and user.is_staff,
}


def has_role(user, *roles: str) -> bool:
    """Whether a signed-in user holds any of the roles (anonymous: never)."""
    if user is None or not user.is_authenticated:
        return False
    return any(_CHECKS[role](user) for role in roles)


def require_role(user, *roles: str) -> None:
    if not has_role(user, *roles):
        raise PermissionDenied


def require_secretariat(user) -> None:
    require_role(user, SECRETARIAT)


def role_required(*roles: str, methods: tuple[str, ...] | None = None
                  ) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """The view (or only its `methods`, e.g. POST) is for these roles; anyone else signed in
    gets 403. The view keeps the roles it needs, so a test can walk every such URL."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if methods is None or request.method in methods:
                require_role(request.user, *roles)
            return view(request, *args, **kwargs)

        wrapper.required_roles = roles
        wrapper.role_methods = methods
        return login_required(wrapper)

    return decorator
