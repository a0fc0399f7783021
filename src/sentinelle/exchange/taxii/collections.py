"""The TAXII 2.1 API roots and collections, and what each holds for a given user.

API roots: ``sentinelle`` (the whole community) and ``group-<pk>`` (one per sharing group,
visible to its States' focal points and to the Secretariat). Collections of ``sentinelle``:

- ``all``: everything the token's user may see (reports and shared indicators), writable by
  focal points: what federation pulls and pushes;
- ``tlp-clear``, ``tlp-green``, ``tlp-amber``: the same, cut by TLP (read-only).

The one collection of a group root, ``shared``, holds what is shared with that group; its
members may write to it, and what they write is shared with the group.

Every read starts from ``Incident.objects.for_user`` / ``SharedIndicator.objects.for_user``:
a collection only ever narrows what the user may see. Collection ids are uuid5 of their name,
stable across restarts and instances.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from sentinelle.core.models import SharingGroup
from sentinelle.exchange.models import SharedIndicator
from sentinelle.incidents.models import TLP, Incident, Status

ROOT = "sentinelle"
GROUP_PREFIX = "group-"
MEDIA_STIX = "application/stix+json;version=2.1"
_NS = uuid.UUID("3b0f5a52-6a1c-4d8e-9d5e-7a2b1c0d9e11")
# Markings and identities never change: dated before anything else so that an incremental
# pull (added_after) does not fetch them again.
STATIC_DATE = dt.datetime(2022, 10, 1, tzinfo=dt.UTC)


def collection_id(root: str, name: str) -> str:
    return str(uuid.uuid5(_NS, f"{root}/{name}"))


@dataclass(frozen=True)
class Collection:
    root: str
    name: str
    title: Any
    description: Any
    tlps: tuple[str, ...] | None = None       # None: any TLP the user may see
    group: SharingGroup | None = None
    writable: bool = False
    default_tlp: str = TLP.AMBER
    state_id: int | None = None               # only this State's objects (federation push)

    @property
    def id(self) -> str:
        return collection_id(self.root, self.name)

    def can_write(self, user) -> bool:
        return self.writable and bool(user.is_focal_point)

    def resource(self, user) -> dict[str, Any]:
        return {"id": self.id, "title": str(self.title), "description": str(self.description),
                "can_read": True, "can_write": self.can_write(user),
                "media_types": [MEDIA_STIX]}


@dataclass
class ApiRoot:
    name: str
    title: Any
    description: Any
    group: SharingGroup | None = None
    collections: list[Collection] = field(default_factory=list)


def _community_root() -> ApiRoot:
    root = ApiRoot(ROOT, _("Sentinelle community"),
                   _("Reports and indicators of the whole community, as your account sees "
                     "them."))
    root.collections = [
        Collection(ROOT, "all", _("Everything you may see"),
                   _("Reports and shared indicators, every TLP your account may read."),
                   writable=True),
        Collection(ROOT, "tlp-clear", _("TLP:CLEAR"), _("Public reports and indicators."),
                   tlps=(TLP.CLEAR,)),
        Collection(ROOT, "tlp-green", _("TLP:GREEN"), _("Community-wide reports and indicators."),
                   tlps=(TLP.GREEN,)),
        Collection(ROOT, "tlp-amber", _("TLP:AMBER"),
                   _("Limited-disclosure reports and indicators you may read."),
                   tlps=(TLP.AMBER,)),
    ]
    return root


def _group_root(group: SharingGroup) -> ApiRoot:
    name = f"{GROUP_PREFIX}{group.pk}"
    root = ApiRoot(name, group.name, group.description or _("Sharing group"), group=group)
    root.collections = [Collection(
        name, "shared", _("Shared with %(group)s") % {"group": group.name},
        _("Reports and indicators shared with this group."), group=group, writable=True)]
    return root


def visible_groups(user) -> Iterable[SharingGroup]:
    if user.is_secretariat:
        return SharingGroup.objects.all()
    if user.is_focal_point:
        return SharingGroup.objects.filter(states=user.state_id)
    return SharingGroup.objects.none()


def api_roots(user) -> list[ApiRoot]:
    return [_community_root(), *(_group_root(g) for g in visible_groups(user))]


def api_root(name: str, user) -> ApiRoot | None:
    if name == ROOT:
        return _community_root()
    if name.startswith(GROUP_PREFIX) and name[len(GROUP_PREFIX):].isdigit():
        group = visible_groups(user).filter(pk=int(name[len(GROUP_PREFIX):])).first()
        return _group_root(group) if group else None
    return None


def find_collection(root: ApiRoot, key: str) -> Collection | None:
    """By id, or by name as a convenience for people typing commands."""
    return next((c for c in root.collections if key in (c.id, c.name)), None)


# --- contents --------------------------------------------------------------------------------

@dataclass
class Entry:
    date_added: dt.datetime
    id: str
    type: str
    version: str
    build: Callable[[], dict[str, Any]]


@dataclass
class Filters:
    added_after: dt.datetime | None = None
    types: set[str] | None = None
    ids: set[str] | None = None
    versions: set[str] | None = None   # "first", "last", "all" or timestamps


def _scoped(collection: Collection, user):
    incidents = Incident.objects.for_user(user).exclude(status=Status.DRAFT)
    indicators = SharedIndicator.objects.for_user(user).filter(revoked=False)
    if collection.tlps is not None:
        incidents = incidents.filter(tlp__in=collection.tlps)
        indicators = indicators.filter(tlp__in=collection.tlps)
    if collection.state_id is not None:
        incidents = incidents.filter(state_id=collection.state_id)
        indicators = indicators.filter(state_id=collection.state_id)
    if collection.group is not None:
        incidents = incidents.filter(sharing_group=collection.group)
        indicators = indicators.filter(Q(sharing_group=collection.group)
                                       | Q(incident__sharing_group=collection.group))
    return incidents, indicators


def iter_entries(collection: Collection, user, filters: Filters) -> Iterator[Entry]:
    """What the collection holds for this user, ordered by date added, read from the database
    a chunk at a time (taxii/paging.py)."""
    from sentinelle.exchange.taxii import paging

    return paging.iter_entries(collection, user, filters)


def entries(collection: Collection, user, filters: Filters) -> list[Entry]:
    """The same, as a list: only for small collections (tests, single objects)."""
    return list(iter_entries(collection, user, filters))
