from rest_framework.permissions import SAFE_METHODS, BasePermission

from sentinelle.core.models import ApiToken
from sentinelle.core.roles import has_role


class TokenScopePermission(BasePermission):
    """Anyone may read what their scope allows; writing needs a signed-in user and a write token.

    What a user may read is decided by the querysets' for_user(), not here.
    """

    message = "This token is read-only."

    def has_permission(self, request, view) -> bool:
        if request.method in SAFE_METHODS:
            return True
        if not (request.user and request.user.is_authenticated):
            return False
        return not (isinstance(request.auth, ApiToken) and request.auth.read_only)


class RolePermission(BasePermission):
    """The endpoint (or only some of its actions or methods) is for these roles: anyone else
    signed in gets 403 with the one error body, as core/roles.py answers on the web."""

    roles: tuple[str, ...] = ()
    actions: tuple[str, ...] | None = None   # viewset actions, e.g. ("create",); None: all
    methods: tuple[str, ...] | None = None   # HTTP methods, e.g. ("POST",); None: all

    def applies(self, method: str, action: str | None) -> bool:
        if self.actions is not None and action not in self.actions:
            return False
        return self.methods is None or method in self.methods

    def has_permission(self, request, view) -> bool:
        if not self.applies(request.method, getattr(view, "action", None)):
            return True
        return has_role(request.user, *self.roles)


def role_permission(*roles: str, actions: tuple[str, ...] | None = None,
                    methods: tuple[str, ...] | None = None,
                    message: str | None = None) -> type[RolePermission]:
    """A RolePermission class for `permission_classes`; `message` is the 403's detail."""
    attrs = {"roles": roles, "actions": actions, "methods": methods}
    if message is not None:
        attrs["message"] = message
    return type("RolePermission", (RolePermission,), attrs)
