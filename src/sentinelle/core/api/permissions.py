from rest_framework.permissions import SAFE_METHODS, BasePermission

from sentinelle.core.models import ApiToken


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
