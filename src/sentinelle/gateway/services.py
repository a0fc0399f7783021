"""The only code that writes gateway entries: every change is a revision and an audit entry.

Moderation: draft → submitted → (changes requested → submitted)* → published ⇄ unpublished.
Focal points write their own State's entries and submit them; the Secretariat asks for changes,
publishes and unpublishes. A focal point's change to a published entry sends it back to review
(it leaves the public site until the Secretariat publishes it again): nothing reaches the public
without a review, and the "last reviewed" date stays true.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.forms.models import model_to_dict
from django.utils import timezone
from django.utils.translation import gettext as _

from sentinelle.core import audit
from sentinelle.gateway import pgp, search
from sentinelle.gateway.models import EntryStatus, GatewayEntry, Revision
from sentinelle.gateway.models.base import LANGUAGE_CODES, TEXT_LIMIT

S = EntryStatus
# action -> (statuses it starts from, status it leads to, Secretariat only)
TRANSITIONS: dict[str, tuple[frozenset[str], str, bool]] = {
    "submit": (frozenset({S.DRAFT, S.CHANGES_REQUESTED, S.UNPUBLISHED}), S.SUBMITTED, False),
    "request-changes": (frozenset({S.SUBMITTED, S.PUBLISHED}), S.CHANGES_REQUESTED, True),
    "publish": (frozenset({S.SUBMITTED, S.UNPUBLISHED, S.CHANGES_REQUESTED}), S.PUBLISHED, True),
    "unpublish": (frozenset({S.PUBLISHED}), S.UNPUBLISHED, True),
}


def snapshot(entry: GatewayEntry) -> dict[str, Any]:
    data = model_to_dict(entry, exclude=["id"])
    for key, value in list(data.items()):
        if isinstance(value, list):  # many-to-many: States by alpha-2
            data[key] = sorted(getattr(v, "alpha2", str(v)) for v in value)
    data["state"] = entry.state.alpha2 if entry.state_id else None
    data["status"] = entry.status
    return data


def _revise(entry: GatewayEntry, user, action: str, before: dict | None,
            message: str = "") -> Revision:
    after = snapshot(entry)
    last = Revision.objects.filter(kind=entry.KIND, entry_id=entry.pk).aggregate(n=Max("number"))
    revision = Revision.objects.create(
        kind=entry.KIND, entry_id=entry.pk, number=(last["n"] or 0) + 1, action=action,
        status=entry.status, message=message, snapshot=after,
        actor=user if getattr(user, "is_authenticated", False) else None)
    audit.record(f"gateway.{action}", entry, before=before, after=after, actor=user)
    # The index follows the status: only published entries are searchable.
    if entry.status == S.PUBLISHED:
        search.index(entry)
    else:
        search.unindex(entry)
    return revision


def can_edit(user, entry: GatewayEntry) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_secretariat:
        return True
    return bool(user.is_focal_point and entry.state_id == user.state_id)


def _fill(entry: GatewayEntry, data: dict[str, Any]) -> dict[str, Any]:
    """Set plain fields; return the many-to-many ones to set after saving."""
    if "pgp_key" in data:
        # The fingerprint is derived here, whatever the caller, so it always matches the key.
        key = (data.get("pgp_key") or "").strip()
        try:
            data = {**data, "pgp_key": key,
                    "pgp_fingerprint": pgp.parse_public_key(key).fingerprint if key else ""}
        except pgp.PgpKeyError as exc:
            raise ValidationError({"pgp_key": str(exc)}) from None
    m2m = {}
    for name, value in data.items():
        field = entry._meta.get_field(name)
        if field.many_to_many:
            m2m[name] = value
        else:
            setattr(entry, name, value)
    return m2m


def create_entry(user, model: type[GatewayEntry], data: dict[str, Any]) -> GatewayEntry:
    if not (user.is_secretariat or user.is_focal_point):
        raise PermissionDenied
    entry = model(created_by=user)
    m2m = _fill(entry, data)
    if not user.is_secretariat:
        # A focal point writes for its own State only, whatever the form said.
        entry.state_id = user.state_id
    _persist(entry, m2m, user, "create", None)
    return entry


def _persist(entry: GatewayEntry, m2m: dict[str, Any], user, action: str,
             before: dict | None) -> None:
    """Save the entry, its many-to-many values and its revision together, or none of them."""
    with transaction.atomic():
        entry.save()
        for name, value in m2m.items():
            getattr(entry, name).set(value)
        _revise(entry, user, action, before)


def update_entry(user, entry: GatewayEntry, data: dict[str, Any]) -> GatewayEntry:
    if not can_edit(user, entry):
        raise PermissionDenied
    before = snapshot(entry)
    m2m = _fill(entry, data)
    if not user.is_secretariat:
        entry.state_id = user.state_id
        if entry.status == S.PUBLISHED:
            entry.status = S.SUBMITTED
    _persist(entry, m2m, user, "update", before)
    return entry


def set_translation(user, entry: GatewayEntry, language: str,
                    texts: dict[str, str]) -> GatewayEntry:
    """Add or replace the translation of the entry's text fields into ``language``."""
    if language not in LANGUAGE_CODES or language == entry.language:
        raise ValidationError({"language": _("Choose another official language.")})
    cleaned = {}
    for name in entry.TRANSLATABLE:
        value = (texts.get(name) or "").strip()
        limit = getattr(entry._meta.get_field(name), "max_length", None) or TEXT_LIMIT
        if len(value) > limit:
            raise ValidationError({name: _("At most %(n)d characters.") % {"n": limit}})
        if value:
            cleaned[name] = value
    translations = dict(entry.translations or {})
    if cleaned:
        translations[language] = cleaned
    else:
        translations.pop(language, None)
    return update_entry(user, entry, {"translations": translations})


def secretariat_only(action: str) -> bool:
    """Whether ``action`` is a move only the Secretariat makes (False for an unknown one)."""
    return action in TRANSITIONS and TRANSITIONS[action][2]


def transition(user, entry: GatewayEntry, action: str, message: str = "") -> GatewayEntry:
    """Move ``entry`` through moderation; ValidationError says why a move is not allowed."""
    try:
        sources, target, secretariat_only = TRANSITIONS[action]
    except KeyError:
        raise ValidationError(_("Unknown action.")) from None
    if not can_edit(user, entry) or (secretariat_only and not user.is_secretariat):
        raise PermissionDenied
    if entry.status not in sources:
        raise ValidationError(_("This entry cannot be moved from “%(status)s”.")
                              % {"status": entry.get_status_display()})
    message = message.strip()
    if action == "request-changes" and not message:
        raise ValidationError({"message": _("Say what should change.")})
    if len(message) > TEXT_LIMIT:
        raise ValidationError({"message": _("At most %(n)d characters.") % {"n": TEXT_LIMIT}})
    before = snapshot(entry)
    entry.status = target
    now = timezone.now()
    if action in ("publish", "request-changes", "unpublish"):
        entry.reviewed_at, entry.reviewed_by = now, user
        entry.review_message = message
    if action == "publish" and entry.published_at is None:
        entry.published_at = now
    with transaction.atomic():
        entry.save()
        _revise(entry, user, action, before, message)
    return entry


def history(entry: GatewayEntry):
    return Revision.objects.filter(kind=entry.KIND, entry_id=entry.pk).select_related("actor")


def seed_entry(model: type[GatewayEntry], data: dict[str, Any], actor: str) -> GatewayEntry:
    """Create a published entry for demo data (``sentinelle seed-gateway``): revision, audit
    and index as for any other change, the actor being the command."""
    entry = model(status=S.PUBLISHED)
    m2m = _fill(entry, data)
    now = timezone.now()
    entry.reviewed_at = entry.published_at = now
    with transaction.atomic():
        entry.save()
        for name, value in m2m.items():
            getattr(entry, name).set(value)
        after = snapshot(entry)
        Revision.objects.create(kind=entry.KIND, entry_id=entry.pk, number=1, action="seed",
                                status=entry.status, snapshot=after)
        audit.record("gateway.seed", entry, after=after, actor=actor)
        search.index(entry)
    return entry
