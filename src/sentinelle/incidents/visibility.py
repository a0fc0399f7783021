"""Who may see what: the one table behind every read (README, "Who sees what").

A report, a past version of it, a piece of evidence, a message of its thread and a shared
indicator are each shown by the TLP they carry: a version by the TLP it had, evidence and
messages by the TLP of the version current when they were added. The same table gives both a
queryset filter (`visible_q`, used by every `for_user()`) and a per-object predicate
(`report_visible`, `version_visible`, `item_visible`, `indicator_visible`), so that a list and
a page never disagree. Outsiders get 404, never 403: callers raise Http404 when these say no.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.db.models import Q

from sentinelle.incidents.models.reports import TLP
from sentinelle.incidents.models.workflow import Status


class Audience(StrEnum):
    STATE = "state"                 # focal points of the reporting (owner) State
    NAMED = "named"                 # Secretariat analysts that State named on the item
    SECRETARIAT = "secretariat"     # every Secretariat analyst and administrator
    GROUP = "group"                 # focal points of the States of the item's sharing group
    FOCAL_POINTS = "focal-points"   # every Member State's focal points
    PUBLIC = "public"               # anyone: Council readers and anonymous visitors too


A = Audience
# By TLP: who sees an item. AMBER+STRICT and RED never reach a sharing group.
TLP_AUDIENCES: dict[str, frozenset[Audience]] = {
    TLP.CLEAR: frozenset({A.STATE, A.NAMED, A.SECRETARIAT, A.GROUP, A.FOCAL_POINTS, A.PUBLIC}),
    TLP.GREEN: frozenset({A.STATE, A.NAMED, A.SECRETARIAT, A.GROUP, A.FOCAL_POINTS}),
    TLP.AMBER: frozenset({A.STATE, A.NAMED, A.SECRETARIAT, A.GROUP}),
    TLP.AMBER_STRICT: frozenset({A.STATE, A.NAMED}),
    TLP.RED: frozenset({A.STATE, A.NAMED}),
}
# By status, whatever the TLP: a draft is its State's alone; a withdrawn report stays with its
# State and the Secretariat that received it. A revoked indicator stays with its State.
STATUS_AUDIENCES: dict[str, frozenset[Audience]] = {
    Status.DRAFT: frozenset({A.STATE}),
    Status.WITHDRAWN: frozenset({A.STATE, A.NAMED, A.SECRETARIAT}),
}
REVOKED_AUDIENCES = frozenset({A.STATE})
# A report's message thread is between its State and the Secretariat, whatever the TLP.
THREAD_AUDIENCES = frozenset({A.STATE, A.NAMED, A.SECRETARIAT})
EVERYONE = frozenset(Audience)


def _signed_in(user) -> bool:
    return user is not None and user.is_authenticated


def possible_audiences(user) -> frozenset[Audience]:
    """The audiences the user can belong to for some item (which ones depends on the item)."""
    found = {A.PUBLIC}
    if _signed_in(user) and user.is_focal_point:
        found |= {A.STATE, A.GROUP, A.FOCAL_POINTS}
    if _signed_in(user) and user.is_secretariat:
        found |= {A.SECRETARIAT, A.NAMED}
    return frozenset(found)


def tlps_for(audience: Audience) -> list[str]:
    return [tlp for tlp, audiences in TLP_AUDIENCES.items() if audience in audiences]


def statuses_hidden_from(audience: Audience) -> list[str]:
    return [status for status, audiences in STATUS_AUDIENCES.items()
            if audience not in audiences]


# --- per object ------------------------------------------------------------------------------


def audiences_of(user, *, state_id: int | None, group_id: int | None = None,
                 named: bool = False) -> frozenset[Audience]:
    """The audiences the user belongs to for one item of `state_id`, shared with `group_id`."""
    possible = possible_audiences(user)
    found = {A.PUBLIC}
    if A.FOCAL_POINTS in possible:
        found.add(A.FOCAL_POINTS)
        if user.state_id == state_id:
            found.add(A.STATE)
        if group_id is not None and _group_has_state(group_id, user.state_id):
            found.add(A.GROUP)
    if A.SECRETARIAT in possible:
        found.add(A.SECRETARIAT)
        if named:
            found.add(A.NAMED)
    return frozenset(found)


def _group_has_state(group_id: int, state_id: int) -> bool:
    from sentinelle.core.models import SharingGroup

    return SharingGroup.states.through.objects.filter(
        sharinggroup_id=group_id, memberstate_id=state_id).exists()


def allows(audiences: Iterable[Audience], *, tlp: str, status: str | None = None,
           revoked: bool = False, within: frozenset[Audience] = EVERYONE) -> bool:
    """The table itself: whether any of `audiences` may see an item with these properties."""
    # An unknown TLP (never written by this code) is treated as the most restrictive.
    mine = frozenset(audiences) & within & TLP_AUDIENCES.get(tlp, frozenset({A.STATE}))
    if status in STATUS_AUDIENCES:
        mine &= STATUS_AUDIENCES[status]
    if revoked:
        mine &= REVOKED_AUDIENCES
    return bool(mine)


def report_visible(user, incident) -> bool:
    named = (_signed_in(user) and user.is_secretariat
             and incident.named_analysts.filter(pk=user.pk).exists())
    return allows(audiences_of(user, state_id=incident.state_id,
                               group_id=incident.sharing_group_id, named=named),
                  tlp=incident.tlp, status=incident.status)


def version_visible(user, incident, content: dict[str, Any]) -> bool:
    """A past version, by the TLP and named analysts it carried: loosening a report's TLP does
    not publish what it said while it was restricted."""
    named = (_signed_in(user) and user.is_secretariat
             and user.get_username() in (content.get("named_analysts") or []))
    return allows(audiences_of(user, state_id=incident.state_id,
                               group_id=incident.sharing_group_id, named=named),
                  tlp=content.get("tlp", TLP.RED), status=incident.status)


def item_visible(user, item) -> bool:
    """Evidence or a message, by the TLP of the version current when it was added, and only
    while its report is visible at all. Messages, and files sent with them, are only ever for
    the thread's parties."""
    from sentinelle.incidents.models import Incident, Message

    incident = item.incident
    if not Incident.objects.for_user(user).filter(pk=incident.pk).exists():
        return False
    named = (_signed_in(user) and user.is_secretariat
             and item.named_analysts.filter(pk=user.pk).exists())
    # A file sent with a message belongs to the thread as the message does.
    in_thread = isinstance(item, Message) or getattr(item, "message_id", None) is not None
    within = THREAD_AUDIENCES if in_thread else EVERYONE
    return allows(audiences_of(user, state_id=incident.state_id,
                               group_id=incident.sharing_group_id, named=named),
                  tlp=item.tlp, status=incident.status, within=within)


def indicator_visible(user, indicator) -> bool:
    # Shared indicators name no analysts: AMBER+STRICT and RED ones stay with their State.
    return allows(audiences_of(user, state_id=indicator.state_id,
                               group_id=indicator.sharing_group_id),
                  tlp=indicator.tlp, revoked=indicator.revoked)


# --- querysets -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Paths:
    """Where a model keeps what the table looks at (ORM lookup paths)."""

    tlp: str = "tlp"
    state: str = "state"
    group: str = "sharing_group"
    status: str | None = "status"
    revoked: str | None = None
    named: str | None = "named_analysts"   # a many-to-many to users on the model itself


REPORT = Paths()
ERA = Paths(state="incident__state", group="incident__sharing_group", status="incident__status")
INDICATOR = Paths(status=None, revoked="revoked", named=None)
NOTHING = Q(pk__in=[])


def _audience_q(model, user, audience: Audience, paths: Paths) -> Q | None:
    """Which rows the user belongs to `audience` for; None when never."""
    from sentinelle.core.models import SharingGroup

    if audience in (A.PUBLIC, A.FOCAL_POINTS, A.SECRETARIAT):
        return Q()
    if audience == A.STATE:
        return Q(**{paths.state: user.state_id})
    if audience == A.GROUP:
        groups = SharingGroup.states.through.objects.filter(memberstate_id=user.state_id)
        return Q(**{f"{paths.group}__in": groups.values("sharinggroup_id")})
    if audience == A.NAMED and paths.named is not None:
        field = model._meta.get_field(paths.named)
        through = field.remote_field.through
        # A subquery, not a join: a join would repeat a row once per named analyst.
        rows = through.objects.filter(**{field.m2m_reverse_field_name(): user.pk})
        return Q(pk__in=rows.values(field.m2m_field_name()))
    return None


def visible_q(model, user, paths: Paths = REPORT,
              within: frozenset[Audience] = EVERYONE) -> Q:
    """The rows of `model` the user may see, as one Q built from the table."""
    result = NOTHING
    for audience in sorted(possible_audiences(user) & within):
        rows = _audience_q(model, user, audience, paths)
        if rows is None:
            continue
        if len(tlps_for(audience)) < len(TLP_AUDIENCES):  # the State sees its own at any TLP
            rows &= Q(**{f"{paths.tlp}__in": tlps_for(audience)})
        hidden = statuses_hidden_from(audience)
        if paths.status is not None and hidden:
            rows &= ~Q(**{f"{paths.status}__in": hidden})
        if paths.revoked is not None and audience not in REVOKED_AUDIENCES:
            rows &= Q(**{paths.revoked: False})
        result |= rows
    return result


# --- the audit trail -------------------------------------------------------------------------

# Audit entries about these objects may copy what the object says; they are shown only to those
# who may see the object (the entry's content, that is: the chain itself stays whole).
_AUDITED_MODELS = {
    "incidents.evidence": ("sentinelle.incidents.models", "Evidence"),
    "incidents.message": ("sentinelle.incidents.models", "Message"),
    "exchange.sharedindicator": ("sentinelle.exchange.models", "SharedIndicator"),
    "observatory.bundlesubmission": ("sentinelle.observatory.models", "BundleSubmission"),
}


def audit_content_visible(user, entry) -> bool:
    """Whether the before/after of an audit entry may be shown to the user.

    An entry about a report is shown when the report is visible now and so is the version that
    was current when the entry was written (and any content snapshot it holds, by the TLP that
    snapshot carries). Entries about evidence, messages, shared indicators and bundle
    submissions follow those objects. Other entries hold no report content."""
    import importlib

    from sentinelle.incidents.models import Incident

    if entry.object_type == "analysis.incidentcluster":
        return _cluster_entry_visible(user, entry)
    if entry.object_type == "import":
        return _import_entry_visible(user, entry)
    if not entry.object_id.isdigit():
        return entry.object_type not in {*_AUDITED_MODELS, "incidents.incident"}
    pk = int(entry.object_id)
    if entry.object_type == "incidents.incident":
        incident = Incident.objects.for_user(user).filter(pk=pk).first()
        if incident is None:
            return False
        current = (incident.versions.filter(created_at__lte=entry.at).order_by("-number")
                   .first() or incident.versions.order_by("number").first())
        snapshots = [s for s in (entry.before, entry.after)
                     if isinstance(s, dict) and "tlp" in s]
        if current is not None:
            snapshots.append(current.content)
        return all(version_visible(user, incident, s) for s in snapshots)
    if entry.object_type in _AUDITED_MODELS:
        module, name = _AUDITED_MODELS[entry.object_type]
        model = getattr(importlib.import_module(module), name)
        return model.objects.for_user(user).filter(pk=pk).exists()
    return True


def _cluster_entry_visible(user, entry) -> bool:
    """An entry about a linked incident names its members by reference (State, year, number):
    shown only to whom may see every one of them, or it would tell that a RED report exists.
    The linked incident itself may be gone (dissolved), so the references decide."""
    from sentinelle.incidents.models import Incident

    refs: set[str] = set()
    for snapshot in (entry.before, entry.after):
        if isinstance(snapshot, dict):
            refs.update(str(r) for r in snapshot.get("reports") or [])
            refs.update(str(snapshot[k]) for k in ("removed", "merged") if snapshot.get(k))
    pks = set()
    for ref in refs:
        tail = ref.rsplit("-", 1)[-1]
        if not tail.isdigit():
            return False       # not a reference this platform writes: show nothing
        pks.add(int(tail))
    return Incident.objects.for_user(user).filter(pk__in=pks).count() == len(pks)


def _import_entry_visible(user, entry) -> bool:
    """An import's entry (exchange/importer.py) lists, with skip, the rejected items with
    reasons that quote the file: values of reports at any TLP, which were never written and so
    have no TLP to check. Like the job's result, that list is the importing State's alone; the
    counts of an entry without it hold no content."""
    after = entry.after if isinstance(entry.after, dict) else {}
    if not after.get("rejected"):
        return True
    actor = entry.actor
    return bool(_signed_in(user) and actor is not None and actor.state_id is not None
                and user.is_focal_point and user.state_id == actor.state_id)
