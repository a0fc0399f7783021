"""Who an import or export acts as when it runs from the command line."""

from __future__ import annotations

from django.core.management.base import CommandError

from sentinelle.core.models import MemberState, Role, User


def acting_user(username: str | None, state_code: str | None) -> User:
    """The named user, or the State's import account (created on first use, cannot sign in)."""
    if username:
        user = User.objects.select_related("state").filter(username=username).first()
        if user is None:
            raise CommandError(f"--user: no user named {username!r}")
        if state_code and (user.state is None or user.state.alpha2 != state_code.upper()):
            raise CommandError(f"--user {username!r} is not a focal point of {state_code}")
        return user
    if not state_code:
        raise CommandError("give --state XX (or --user NAME)")
    state = MemberState.objects.filter(alpha2=state_code.upper()).first()
    if state is None:
        raise CommandError(f"--state: unknown Member State {state_code!r}")
    return state_account(state)


def state_account(state: MemberState) -> User:
    """The State's import account: a focal point of that State that cannot sign in. Records a
    pull files under a State other than the puller's are reported by it (see importer.py)."""
    user, created = User.objects.get_or_create(
        username=f"import-{state.alpha2.lower()}",
        defaults={"role": Role.FOCAL_POINT, "state": state, "is_active": False})
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    elif not (user.state_id == state.pk and user.is_focal_point):
        # Someone gave the name to another account: never report under it.
        raise CommandError(f"the account {user.username!r} is not {state.alpha2}'s import "
                           "account; rename it")
    return user
