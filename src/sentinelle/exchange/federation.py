"""Federation over TAXII 2.1 with the OASIS client (taxii2-client): pull a remote collection
into this instance, push this instance's objects to a remote collection.

Rules (docs in README, "Federation and TAXII"):

- **Incremental**: a FederationCursor per (remote, API root, collection, direction) keeps the
  last ``added_after``: the remote's X-TAXII-Date-Added-Last for a pull, our own date added for a
  push. It moves only when a run succeeded, so a failed run is simply retried.
- **Idempotent**: objects keep their STIX ids; the importer merges what it already has.
- **Conflicts**: a report known on both sides is settled by STIX ``modified``: the newer wins
  (the importer amends the local report into a new version, or leaves it). Each conflict is
  recorded in the audit trail with both times and the winner. A pull never loosens a report's
  TLP and never reopens a report closed here (importer.py, ``pulled``); the run's result names
  conflicts and created rows of the puller's own State only.
- **Attribution** (issue 16): each record carries the State that reported it, as the STIX
  ``created_by_ref`` identity of that Member State (exporters/stix.state_identity_id). A remote
  is trusted for a set of Member States (FederationRemote.trusted_states, set with
  ``sentinelle federate trust`` or the admin); the pulling focal point's own State is always
  trusted, and is the only one by default. A record whose identity stands for State X is filed
  under X when the remote is trusted for X (importer.py: "importing for a State": X's
  namespace, X's rows, the newer ``modified`` wins), else it is skipped and listed ("not trusted
  for X"); a record created by an identity that stands for no Member State is skipped and
  listed; a record with no ``created_by_ref`` (medallion, other TAXII servers) lands in the
  puller's State, as before. The audit entry of the import says how many records went to each
  State, and what was skipped and why.
- **Updated indicators**: an indicator the remote holds in a newer version (same id, later
  ``modified``) replaces the local one on the next pull, counted as ``indicators_updated``.
- **What leaves** on push: only the pushing user's own State's objects, and only TLP:CLEAR and
  TLP:GREEN, unless the remote collection is declared a sharing group's collection
  (``sharing_group``): then also the TLP:AMBER objects shared with that group. AMBER+STRICT and
  RED never leave.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import tempfile
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from taxii2client.common import _HTTPConnection
from taxii2client.exceptions import TAXIIServiceException
from taxii2client.exceptions import ValidationError as TaxiiClientError
from taxii2client.v21 import Collection, as_pages

from sentinelle.core import audit
from sentinelle.core.models import MemberState, SharingGroup
from sentinelle.exchange.exporters import stix as stix_export
from sentinelle.exchange.exporters.stix import state_identity_id
from sentinelle.exchange.formats import stix
from sentinelle.exchange.importer import import_records
from sentinelle.exchange.models import FederationCursor, FederationRemote, normalise_remote
from sentinelle.exchange.reading import read_ahead
from sentinelle.exchange.records import IndicatorRecord, ReportRecord
from sentinelle.exchange.taxii import collections as tc
from sentinelle.incidents import visibility, workflow
from sentinelle.incidents.models import Incident

TIMEOUT = 60          # seconds per HTTP request: a stuck peer must not hang a job forever
PAGE = 500            # objects per GET
PUSH_BATCH = 200      # objects per POST, well under any max_content_length
# What leaves this instance is what another State's focal points, or a sharing group's, may
# see here (incidents/visibility.py): never AMBER+STRICT or RED.
PUSHABLE = tuple(visibility.tlps_for(visibility.Audience.FOCAL_POINTS))
PUSHABLE_TO_GROUP = tuple(visibility.tlps_for(visibility.Audience.GROUP))


class FederationError(Exception):
    pass


class BearerAuth(requests.auth.AuthBase):
    """Sentinelle API tokens (and most TAXII servers behind a gateway) use Bearer tokens."""

    def __init__(self, token: str):
        self.token = token

    def __call__(self, request):
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


def open_collection(remote: str, api_root: str, collection: str, *, token: str | None = None,
                    user: str | None = None, password: str | None = None
                    ) -> tuple[Collection, dict[str, str]]:
    """The remote collection, and a dict that always holds the last X-TAXII-Date-Added-Last
    seen (taxii2-client does not expose response headers, a session hook does)."""
    conn = _HTTPConnection(user=user, password=password, version="2.1",
                           auth=BearerAuth(token) if token else None)
    conn.session.request = functools.partial(conn.session.request, timeout=TIMEOUT)
    seen: dict[str, str] = {}

    def capture(response, *args, **kwargs):
        last = response.headers.get("X-TAXII-Date-Added-Last")
        if last and (not seen.get("last") or _when(last) > _when(seen["last"])):
            seen["last"] = last
        return response

    conn.session.hooks["response"].append(capture)
    if api_root.startswith(("http://", "https://")):
        # Trust is declared for --remote (Trust): objects fetched from another server would
        # borrow it, and that server could then speak for any State the remote is trusted for.
        if _origin(api_root) != _origin(remote):
            raise FederationError(f"--api-root {api_root!r} is not on the server of --remote "
                                  f"{remote!r}; give the API root's own server as --remote")
        base = api_root
    else:
        base = f"{remote.rstrip('/')}/{api_root.strip('/')}/"
    return Collection(_collection_url(conn, base.rstrip("/"), collection), conn=conn), seen


def _origin(url: str) -> tuple[str, str, int | None, str]:
    """Scheme, host, port and user info: two URLs of the same server agree on all four."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    except ValueError:
        return ("", "", None, url)   # an unparsable URL matches nothing but itself
    return (parts.scheme.lower(), (parts.hostname or "").lower().rstrip("."), port,
            parts.netloc.rpartition("@")[0])


def _collection_url(conn: _HTTPConnection, base: str, key: str) -> str:
    """Collections are addressed by id; a name or a title is resolved to it first (our
    server answers to names too, and taxii2-client insists that the URL carry the id)."""
    try:
        uuid.UUID(key)
        return f"{base}/collections/{key}/"
    except ValueError:
        pass
    try:
        return f"{base}/collections/{conn.get(f'{base}/collections/{key}/')['id']}/"
    except (requests.RequestException, KeyError, TypeError):
        pass
    try:
        listing = conn.get(f"{base}/collections/").get("collections", [])
    except requests.RequestException as exc:
        raise FederationError(f"{base}: {exc}") from None
    for found in listing:
        if key.lower() in (str(found.get("id")).lower(), str(found.get("title")).lower()):
            return f"{base}/collections/{found['id']}/"
    raise FederationError(f"{base}: no collection {key!r}")


def _when(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass
class RunResult:
    direction: str
    objects: int = 0
    skipped_other_states: int = 0      # records of States the remote is not trusted for
    skipped_unknown: int = 0           # records of identities that stand for no Member State
    skipped: list[dict[str, str]] = field(default_factory=list)   # the first 1000: id, reason
    filed_under: dict[str, int] = field(default_factory=dict)
    conflicts: list[dict[str, str]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    cursor: str = ""
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _cursor(remote: str, api_root: str, collection: str, direction: str,
            user) -> FederationCursor:
    # One cursor per local account too: two States pulling the same remote collection with
    # their own tokens see different objects, so they must not share a position.
    cursor, _created = FederationCursor.objects.get_or_create(
        remote=remote, api_root=api_root, collection=f"{collection}@{user.get_username()}",
        direction=direction)
    return cursor


class Trust:
    """Which Member State a producer identity stands for, and whether a remote may speak for
    it (module docstring, "Attribution")."""

    def __init__(self, remote: str, user):
        self.user = user
        self.states = {state_identity_id(s.alpha2): s for s in MemberState.objects.all()}
        found = FederationRemote.objects.filter(url=normalise_remote(remote)).first()
        self.trusted = {user.state_id}
        if found is not None:
            self.trusted |= set(found.trusted_states.values_list("pk", flat=True))

    def state_for(self, created_by: Any) -> MemberState | str | None:
        """The State to file under (None: the puller's), or why the record is skipped. Not a
        string (a raw object's hostile value; the STIX reader refuses it): no producer."""
        if not created_by or not isinstance(created_by, str):
            return None
        state = self.states.get(created_by)
        if state is None:
            return _("created by %(identity)s, which stands for no Member State") % {
                "identity": created_by}
        if state.pk not in self.trusted:
            return _("the remote is not trusted for %(state)s") % {"state": state.alpha2}
        return state

    def route(self, result: RunResult):
        """The importer's `route`: counts and lists what it skips in `result`."""
        def route(record: ReportRecord | IndicatorRecord) -> MemberState | str | None:
            found = self.state_for(record.created_by)
            if isinstance(found, str):
                if record.created_by in self.states:
                    result.skipped_other_states += 1
                else:
                    result.skipped_unknown += 1
                if len(result.skipped) < 1000:
                    result.skipped.append({"id": record.external_id or record.where,
                                           "reason": found})
            return found
        return route


_NOT_CONTENT = {"created", "modified", "created_by_ref", "external_references",
                "x_sentinelle_status", "spec_version", "labels"}


def _content(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in _NOT_CONTENT}


def _record_conflicts(objects: list[dict[str, Any]], user, remote: str,
                      trust: Trust | None = None) -> list[dict[str, str]]:
    """Audit every report both sides hold in different versions: the newer `modified` wins."""
    trust = trust or Trust(remote, user)
    incoming = {o["id"]: o for o in objects if o.get("type") == "incident" and "modified" in o}
    target = {}
    for oid, obj in incoming.items():
        state = trust.state_for(obj.get("created_by_ref"))
        if not isinstance(state, str):
            target[oid] = state.pk if state is not None else user.state_id
    conflicts = []
    # Only reports of the State each record is filed under: the importer never merges into
    # another State's (issue 11, finding 8), and their times are not the puller's to read.
    held = Incident.objects.filter(stix_id__in=list(target), state_id__in=set(target.values()))
    for incident in stix_export.exportable(held):
        if target.get(incident.stix_id) != incident.state_id:
            continue
        if _content(stix_export.incident_object(incident)) == _content(incoming[incident.stix_id]):
            continue   # the same report on both sides: times differ, nothing conflicts
        remote_modified = _when(incoming[incident.stix_id]["modified"])
        local_modified = incident.updated_at.replace(microsecond=(
            incident.updated_at.microsecond // 1000) * 1000)
        if remote_modified == local_modified:
            continue
        winner = "remote" if remote_modified > local_modified else "local"
        if incident.status not in workflow.AMENDABLE:
            winner = "local"    # closed here: the importer leaves it as it is (pulled=True)
        entry = {"id": incident.stix_id, "local_modified": local_modified.isoformat(),
                 "remote_modified": remote_modified.isoformat(), "winner": winner}
        audit.record("exchange.federate.conflict", incident, actor=user,
                     before={"modified": entry["local_modified"]},
                     after={"modified": entry["remote_modified"], "winner": winner,
                            "remote": remote})
        # The run's result goes to the puller (a job result, given whole by the API): another
        # State's local times are not theirs to read. The audit trail keeps every conflict.
        if incident.state_id == user.state_id:
            conflicts.append(entry)
    return conflicts


def pull(*, remote: str, api_root: str, collection: str, user, token: str | None = None,
         dry_run: bool = False, full: bool = False, auth: dict | None = None,
         on_invalid: str = "refuse") -> RunResult:
    """Fetch what the remote collection added since the last pull and import it as `user`.

    on_invalid="refuse" (default): one invalid object and nothing is written, the cursor stays
    and the next pull tries again. "skip": every valid object is written, the invalid ones are
    listed in the result and the cursor moves on: a remote's one bad object no longer blocks
    every later pull, at the price of that object (a report made of it is refused whole)."""
    if not (user.is_authenticated and user.is_focal_point):
        raise FederationError("a pull imports on behalf of a Member State's focal point "
                              "(--user or --state)")
    cursor = _cursor(remote, api_root, collection, FederationCursor.Direction.PULL, user)
    remote_collection, seen = open_collection(remote, api_root, collection, token=token,
                                              **(auth or {}))
    params = {"added_after": cursor.added_after} if cursor.added_after and not full else {}
    trust = Trust(remote, user)
    result = RunResult("pull", dry_run=dry_run)
    incidents: list[dict[str, Any]] = []   # reports only (not indicators): conflict check
    written = 0
    # Spooled to disk past 16 MiB: a large pull is parsed as a stream, like a large file.
    with tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024) as spool:
        spool.write(b'{"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000000",'
                    b' "objects": [')
        try:
            for envelope in as_pages(remote_collection.get_objects, per_request=PAGE, **params):
                for obj in envelope.get("objects", []) or []:
                    result.objects += 1
                    spool.write((b",\n" if written else b"\n") + json.dumps(obj).encode())
                    written += 1
                    if obj.get("type") == "incident" and obj.get("modified"):
                        incidents.append(obj)
        except (requests.RequestException, TAXIIServiceException, TaxiiClientError) as exc:
            raise FederationError(f"{remote}: {exc}") from None
        spool.write(b"\n]}")
        spool.seek(0)
        records, _none = read_ahead(stix.parse(spool))   # SQLite: parsed before the lock
        with transaction.atomic():
            result.conflicts = _record_conflicts(incidents, user, remote, trust)
            try:
                summary = import_records(records, user=user, dry_run=dry_run,
                                         channel="federation", on_invalid=on_invalid,
                                         source_name=f"taxii-pull:{collection}"[:64],
                                         route=trust.route(result), pulled=True)
            except CommandError as exc:   # accounts.state_account: a misnamed import account
                raise FederationError(str(exc)) from None
            result.summary = summary.as_dict()
            # Likewise the rows of reports filed under another State: the puller may not open
            # them, and their numbers say nothing the counts do not.
            result.summary["created_ids"] = list(Incident.objects.filter(
                pk__in=summary.created_ids, state_id=user.state_id).values_list("pk", flat=True))
            result.filed_under = dict(summary.filed_under)
            if not summary.written:
                transaction.set_rollback(True)   # the conflicts were not settled after all
    if summary.rejected and not (on_invalid == "skip" and summary.succeeded):
        first = summary.rejected[0]
        raise FederationError(f"{summary.rejected_total} object(s) rejected, nothing written. "
                              f"First: {first.where}: {first.reason}")
    if not dry_run:
        cursor.added_after = seen.get("last") or cursor.added_after
        cursor.last_run_at = timezone.now()
        cursor.last_result = result.as_dict()
        cursor.save()
    result.cursor = cursor.added_after
    return result


def pushable(user, sharing_group: SharingGroup | None = None) -> tc.Collection:
    """What a push may send, as a collection definition (see the module docstring)."""
    if sharing_group is not None:
        return tc.Collection("push", "group", "", "", tlps=PUSHABLE_TO_GROUP,
                             group=sharing_group, state_id=user.state_id)
    return tc.Collection("push", "community", "", "", tlps=PUSHABLE, state_id=user.state_id)


def push(*, remote: str, api_root: str, collection: str, user, token: str | None = None,
         sharing_group: str | None = None, dry_run: bool = False, full: bool = False,
         auth: dict | None = None) -> RunResult:
    """Send this State's shareable objects added since the last push to the remote."""
    if not (user.is_authenticated and user.is_focal_point):
        raise FederationError("a push sends a Member State's own objects: give a focal point")
    group = None
    if sharing_group:
        group = SharingGroup.objects.filter(name=sharing_group, states=user.state_id).first()
        if group is None:
            raise FederationError(f"--sharing-group: {user.state} is not in a group named "
                                  f"{sharing_group!r}")
    cursor = _cursor(remote, api_root, collection, FederationCursor.Direction.PUSH, user)
    since = _when(cursor.added_after) if cursor.added_after and not full else None
    result = RunResult("push", dry_run=dry_run)
    remote_collection = None
    # Read from the database a chunk at a time and sent a batch at a time: a push of a large
    # collection never holds it whole (taxii/paging.py).
    for batch in _batches(tc.iter_entries(pushable(user, group), user,
                                          tc.Filters(added_after=since)), PUSH_BATCH):
        result.objects += len(batch)
        if dry_run:
            continue
        if remote_collection is None:
            remote_collection, _seen = open_collection(remote, api_root, collection,
                                                       token=token, **(auth or {}))
        try:
            status = remote_collection.add_objects(
                {"objects": [e.build() for e in batch]}, wait_for_completion=True,
                poll_interval=1, timeout=TIMEOUT)
        except (requests.RequestException, TAXIIServiceException, TaxiiClientError) as exc:
            raise FederationError(f"{remote}: {exc}") from None
        if status.failure_count:
            failure = status.failures[0]
            raise FederationError(
                f"the remote refused {status.failure_count} object(s); first "
                f"{failure.get('id')}: {failure.get('message', '')}")
        # Advance after each accepted batch: a later failure resends only the rest.
        cursor.added_after = batch[-1].date_added.isoformat()
        cursor.save(update_fields=["added_after"])
    if not dry_run:
        cursor.last_run_at = timezone.now()
        cursor.last_result = result.as_dict()
        cursor.save()
    result.cursor = cursor.added_after
    return result


def _batches(items, size: int):
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def resolve_token(params: dict[str, Any]) -> str | None:
    """A token from a file or an environment variable: jobs never store a clear token."""
    if params.get("token_file"):
        with open(params["token_file"], encoding="utf-8") as handle:
            return handle.read().strip()
    if params.get("token_env"):
        return os.environ.get(params["token_env"])
    return os.environ.get("SENTINELLE_FEDERATION_TOKEN")
