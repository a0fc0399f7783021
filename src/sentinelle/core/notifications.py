"""E-mails to the people a change concerns, each in their own language."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import translation

from sentinelle.core.models import MemberState, Role, SharingGroup, User


def send_to(address: str, language: str | None, template: str, context: dict) -> None:
    """One e-mail to ``address``, rendered from ``template``.txt and ``template``_subject.txt in
    ``language``."""
    with translation.override(language or settings.LANGUAGE_CODE):
        subject = render_to_string(f"{template}_subject.txt", context).strip()
        body = render_to_string(f"{template}.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [address], fail_silently=True)


def send_each(users: Iterable[User], template: str, context: dict) -> None:
    """One e-mail per user, rendered from ``template``.txt and ``template``_subject.txt in the
    user's language."""
    for user in users:
        if user.email:
            send_to(user.email, user.language, template, context)


def _focal_state(values: dict) -> int | None:
    """The State an account (as snapshotted) is a focal point of, active or not."""
    return values.get("state") if values.get("role") == Role.FOCAL_POINT else None


def _seat(values: dict) -> int | None:
    """The State an account (as snapshotted) acts for as an active focal point."""
    return _focal_state(values) if values.get("is_active") else None


def _focal_points(state_id: int, but: int | None = None) -> list[tuple[str, str]]:
    """(address, language) of the State's active focal points that have an e-mail address."""
    users = User.objects.filter(role=Role.FOCAL_POINT, state_id=state_id, is_active=True) \
        .exclude(email="").exclude(pk=but).order_by("pk")
    return [(user.email, user.language) for user in users]


def account_changed(before: dict | None, after: dict | None, actor: str, *,
                    password_set: bool = False) -> list[dict[str, Any]]:
    """Decide who is told what about a change to an account, given its snapshots before and
    after the change (``core.admin_audit.snapshot``; None for an account being created or
    deleted), send the e-mails, and return what was sent, for the audit entry.

    A focal point reads every report of its State, whatever the TLP, so the Secretariat cannot
    quietly make one, nor quietly silence the focal points who would object:

    - an account that becomes an active focal point of a State: that State's active focal points
      are told (the account among them);
    - an active focal point deactivated, given another role or moved to another State (or
      deleted): the account's address, and the State's other active focal points, are told;
    - a focal point's e-mail address changed: the old address is told, and the new one;
    - a focal point's password set by someone else: the State's active focal points are told.

    Each returned notice is ``{"notice", "state", "to", "state_told"}``; ``state_told`` is False
    when no address that was already one of the State's focal points (before the change) was
    told: the State did not hear of it, which the caller must make visible.
    """
    b, a = before or {}, after or {}
    account_id = a.get("id") or b.get("id")
    old_address, new_address = b.get("email") or "", a.get("email") or ""
    language = a.get("language") or b.get("language")
    own = [(address, language) for address in dict.fromkeys((old_address, new_address))
           if address]
    old_seat, new_seat = _seat(b), _seat(a)
    planned: list[tuple[str, int, list[tuple[str, str]]]] = []
    if new_seat is not None and new_seat != old_seat:
        planned.append(("focal_point_added", new_seat, _focal_points(new_seat)))
    if old_seat is not None and old_seat != new_seat:
        planned.append(("focal_point_removed", old_seat,
                        own + _focal_points(old_seat, but=account_id)))
    focal_state = _focal_state(a) or _focal_state(b)
    if before is not None and after is not None and focal_state is not None \
            and old_address != new_address:
        planned.append(("focal_point_email", focal_state, own))
    if password_set and _focal_state(a) is not None:
        planned.append(("focal_point_password", _focal_state(a),
                        _focal_points(_focal_state(a))))

    states = MemberState.objects.in_bulk({state for _notice, state, _to in planned})
    context = {"account": {"username": a.get("username") or b.get("username")},
               "actor": actor, "site_name": settings.SITE_NAME,
               "old_email": old_address, "new_email": new_address}
    notices = []
    for notice, state_id, recipients in planned:
        recipients = list(dict(recipients).items())  # one e-mail per address
        for address, lang in recipients:
            send_to(address, lang, f"core/email/{notice}",
                    {**context, "state": states[state_id]})
        # Who could object for the State: its focal points before the change.
        voices = {address for address, _lang in _focal_points(state_id, but=account_id)}
        if old_seat == state_id and old_address:
            voices.add(old_address)
        notices.append({"notice": notice, "state": states[state_id].alpha2,
                        "to": [address for address, _lang in recipients],
                        "state_told": notice == "focal_point_email"
                        or bool(voices & {address for address, _lang in recipients})})
    return notices


def sharing_group_changed(group: SharingGroup, before: list[int], after: list[int],
                          actor: str) -> list[dict[str, Any]]:
    """Tell the States of a sharing group that its members changed.

    A State added to a group reads, up to TLP:AMBER, the reports the other members shared with
    it, so each State already a member is told, and each State added or removed: their active
    focal points, naming the group, the States added and removed, and who made the change.
    Returns what was sent, as ``account_changed`` does (``state_told`` False: nobody to tell).
    """
    added, removed = set(after) - set(before), set(before) - set(after)
    if not added and not removed:
        return []
    states = MemberState.objects.in_bulk(set(before) | added)
    context = {"group": group, "actor": actor, "site_name": settings.SITE_NAME,
               "added": sorted((states[pk] for pk in added), key=lambda s: s.name_en),
               "removed": sorted((states[pk] for pk in removed), key=lambda s: s.name_en)}
    notices = []
    for state in sorted(states.values(), key=lambda s: s.alpha2):
        recipients = _focal_points(state.pk)
        for address, language in recipients:
            send_to(address, language, "core/email/sharing_group_changed",
                    {**context, "state": state})
        notices.append({"notice": "sharing_group_changed", "state": state.alpha2,
                        "to": [address for address, _lang in recipients],
                        "state_told": bool(recipients)})
    return notices


def remote_trust_changed(remote: str, before: list[int], after: list[int],
                         actor: str) -> list[dict[str, Any]]:
    """Tell the States a federation remote was declared trusted for, or no longer is.

    A remote trusted for a State files the records it attributes to that State under it, and
    brings newer versions of that State's reports held here (exchange/federation.py, Trust), on
    any focal point's pull: as with a sharing group, the State must hear of it. Returns what
    was sent, as ``sharing_group_changed`` does."""
    added, removed = set(after) - set(before), set(before) - set(after)
    if not added and not removed:
        return []
    states = MemberState.objects.in_bulk(added | removed)
    context = {"remote": remote, "actor": actor, "site_name": settings.SITE_NAME}
    notices = []
    for state in sorted(states.values(), key=lambda s: s.alpha2):
        recipients = _focal_points(state.pk)
        for address, language in recipients:
            send_to(address, language, "core/email/remote_trust_changed",
                    {**context, "state": state, "trusted": state.pk in added})
        notices.append({"notice": "remote_trust_changed", "state": state.alpha2,
                        "to": [address for address, _lang in recipients],
                        "state_told": bool(recipients)})
    return notices
