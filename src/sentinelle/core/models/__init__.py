from sentinelle.core.models.audit import AuditEntry
from sentinelle.core.models.groups import SharingGroup
from sentinelle.core.models.jobs import Job
from sentinelle.core.models.states import MemberState
from sentinelle.core.models.tokens import ApiToken
from sentinelle.core.models.users import Role, SignInFailure, User

__all__ = ["ApiToken", "AuditEntry", "Job", "MemberState", "Role", "SharingGroup", "SignInFailure",
           "User"]
