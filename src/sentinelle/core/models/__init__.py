from sentinelle.core.models.audit import AuditEntry
from sentinelle.core.models.states import MemberState
from sentinelle.core.models.tokens import ApiToken
from sentinelle.core.models.users import Role, SignInFailure, User

__all__ = ["ApiToken", "AuditEntry", "MemberState", "Role", "SignInFailure", "User"]
