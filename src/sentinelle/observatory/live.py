"""The platform's side of the live routing monitor: the events a State's monitor posts, and the
State's watch list.

``record_event`` takes one event (checked by ``live_validation``) from a focal point's token:

* the same idempotency key again (per State) gets the first answer back and changes nothing —
  the key is looked up first, and the event row is inserted *first* in the transaction, so a
  repeat racing the original waits for it (or loses the insert) and then reads its answer;
* ``raised`` with a signed bundle makes a draft routing-disruption report through the verified
  path of ``services.submit``, linked to the alert;
* ``resolved`` marks the alert resolved with its duration and, while the report is still a
  draft, attaches the bundle as more evidence (same signing key as the first) and sets the
  report's end time;
* feed and mute events are kept as events; every event enters the audit trail (mutes with the
  mute itself: who muted what, until when, why).

Anything refused (bad field, bad bundle) raises before the transaction commits: nothing stays.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from sentinelle.core import audit
from sentinelle.evidence import bundle as evidence_bundle
from sentinelle.incidents import services as incident_services
from sentinelle.incidents.models import Evidence, Status
from sentinelle.observatory import services
from sentinelle.observatory.live_validation import ROUTING_EVENTS, EventInvalid, clean_event
from sentinelle.observatory.models import (
    BundleSubmission,
    LiveRoutingAlert,
    LiveRoutingEvent,
    RoutingWatch,
)
from sentinelle.observatory.routing import watchlist
from sentinelle.observatory.routing.live.events import AlertEvent

__all__ = ["MAX_WATCH_CHARS", "BundleInvalid", "OtherState", "WatchInvalid", "record_event",
           "save_watch"]

MAX_WATCH_CHARS = 1024 * 1024  # a State's list is a few KiB; RIPE's whole VRP set fits in 1 MiB


class OtherState(PermissionError):
    """The event is about a State the sender is not the focal point of."""


class BundleInvalid(ValidationError):
    """The bundle sent with an event is refused; nothing was written."""


def _when(seconds: float | None) -> dt.datetime | None:
    return None if seconds is None else dt.datetime.fromtimestamp(seconds, dt.UTC)


def _stored(state_id: int, key: str) -> LiveRoutingEvent | None:
    return LiveRoutingEvent.objects.filter(state_id=state_id, idempotency_key=key).first()


def record_event(user, data: dict[str, Any], *, key: str | None = None,
                 bundle: IO[bytes] | None = None) -> tuple[bool, dict[str, Any]]:
    """(created, answer) for one event from ``user`` (a focal point). ``key`` is the
    Idempotency-Key header, if sent. Raises EventInvalid, OtherState or BundleInvalid."""
    event = clean_event(data)
    if key and key != event.idempotency_key:
        raise EventInvalid({"Idempotency-Key": [_(
            "Does not match the event: expected %(key)s.") % {"key": event.idempotency_key}]})
    state = user.state
    if event.state and event.state != state.alpha2:
        raise OtherState(_("This event is about %(other)s; your token is for %(state)s.") % {
            "other": event.state, "state": state.alpha2})
    key = event.idempotency_key
    found = _stored(state.pk, key)
    if found is not None:
        return False, found.answer
    with _bundle_file(bundle) as path:
        try:
            return True, _record(user, event, path)
        except IntegrityError:
            # Another delivery of the same event got in between the look-up and the insert.
            found = _stored(state.pk, key)
            if found is None:
                raise
            return False, found.answer


@contextlib.contextmanager
def _bundle_file(upload: IO[bytes] | None) -> Iterator[Path | None]:
    """The uploaded bundle on local disk (the verifier reads it by path), size-checked."""
    if upload is None:
        yield None
        return
    size = getattr(upload, "size", None)
    if size is not None and size > settings.EVIDENCE_MAX_BYTES:
        raise BundleInvalid({"bundle": [_(
            "The file is %(size)s bytes; the limit is %(limit)s bytes.") % {
            "size": size, "limit": settings.EVIDENCE_MAX_BYTES}]})
    with tempfile.TemporaryDirectory(prefix="sentinelle-live-") as folder:
        path = Path(folder) / "bundle.zip"
        upload.seek(0)
        with open(path, "wb") as out:
            shutil.copyfileobj(upload, out, 1024 * 1024)
        yield path


def _record(user, event: AlertEvent, bundle: Path | None) -> dict[str, Any]:
    added: list[Evidence] = []   # files stored by this call: removed if the transaction fails
    try:
        with transaction.atomic():
            row = LiveRoutingEvent.objects.create(
                state_id=user.state_id, idempotency_key=event.idempotency_key,
                event=event.event, type=event.type, received_from=user,
                payload=event.to_dict())
            alert = None
            if event.event in ROUTING_EVENTS:
                alert = _update_alert(user, event)
                if bundle is not None:
                    _take_bundle(user, event, alert, bundle, added)
                if event.event == "resolved" and alert.incident is not None:
                    _set_end(user, event, alert.incident)
                row.alert = alert
            answer = {
                "event": event.event, "idempotency_key": event.idempotency_key,
                "alert_id": event.alert_id,
                "alert_status": alert.status if alert else None,
                "report": alert.incident.reference if alert and alert.incident else None,
                "report_id": alert.incident_id if alert else None,
                "evidence_added": len(added),
            }
            row.answer = answer
            row.save(update_fields=["alert", "answer"])
            if event.event in ("muted", "unmuted"):
                after = {**event.details, "alert_id": event.alert_id}
            else:
                after = {"alert_id": event.alert_id, "type": event.type,
                         "prefix": event.prefix, "report": answer["report"]}
            audit.record(f"observatory.routing.{event.event}", row, after=after)
    except BaseException:
        for evidence in added:
            evidence.file.delete(save=False)
        raise
    return answer


def _update_alert(user, event: AlertEvent) -> LiveRoutingAlert:
    alert, _created = LiveRoutingAlert.objects.select_for_update().get_or_create(
        state_id=user.state_id, alert_id=event.alert_id,
        defaults={"status": event.event, "type": event.type})
    alert.key = event.alert_id.split("@", 1)[0][:64]
    alert.type, alert.prefix = event.type, event.prefix
    alert.watched_prefix = event.watched_prefix or ""
    alert.offending_asn = event.offending_asn
    alert.raised_at = _when(event.first_seen)
    alert.last_seen = _when(event.last_seen) or alert.last_seen
    alert.peers = max(alert.peers, event.peers) if event.event == "resolved" else event.peers
    alert.collectors = event.collectors or alert.collectors
    alert.tags = event.tags or alert.tags
    alert.muted = event.muted_by or ""
    alert.last_event = event.to_dict()
    if event.event == "resolved":
        alert.status = LiveRoutingAlert.Status.RESOLVED
        alert.resolved_at = _when(event.resolved_at)
        alert.duration = (event.duration if event.duration is not None
                          else max(0.0, event.resolved_at - event.first_seen))
    # A "raised" after its "resolved" (delivered out of order) does not reopen the episode.
    alert.save()
    return alert


def _bundle_problem(path: Path, event: AlertEvent) -> str | None:
    """Why the bundle is not evidence of this very alert (read before the full verification,
    which ``submit``/``verify`` do)."""
    try:
        manifest = evidence_bundle.read_manifest(path)
    except (evidence_bundle.BundleError, OSError, ValueError) as exc:
        return _("Not a readable evidence bundle: %(error)s") % {"error": str(exc)[:200]}
    summary = manifest.get("summary") if isinstance(manifest.get("summary"), dict) else {}
    alerts = summary.get("alerts") if isinstance(summary.get("alerts"), list) else []
    mine = [a for a in alerts if isinstance(a, dict) and a.get("id") == event.alert_id]
    if not mine:
        return _("The bundle does not hold alert %(alert)s.") % {"alert": event.alert_id}
    # The report is made from the bundle's alerts of the sender's State: the alert this event
    # is about must be one of them, not another State's that shares its id.
    if any(str(a.get("state") or event.state).upper() != event.state for a in mine):
        return _("The bundle's alert %(alert)s is not about %(state)s.") % {
            "alert": event.alert_id, "state": event.state}
    return None


def _take_bundle(user, event: AlertEvent, alert: LiveRoutingAlert, path: Path,
                 added: list[Evidence]) -> None:
    problem = _bundle_problem(path, event)
    if problem:
        raise BundleInvalid({"bundle": [problem]})
    name = f"routing-{event.event}-{re.sub(r'[^0-9A-Za-z.-]', '-', event.alert_id)}.zip"
    if alert.incident is None:
        # The first bundle of the episode (normally the "raised" one) makes the draft report.
        try:
            outcome = services.submit(user, path, expect="routing", name=name)
        except services.BundleRefused as exc:
            raise BundleInvalid({"bundle": exc.messages}) from None
        if outcome.created:
            added.extend(Evidence.objects.filter(incident=outcome.incident))
        alert.incident = outcome.incident
        alert.save(update_fields=["incident"])
        return
    incident = alert.incident
    if event.event != "resolved" or incident.status != Status.DRAFT:
        return   # a submitted report changes only by its State's own amendment
    _add_evidence(user, event, incident, path, name, added)


def _add_evidence(user, event: AlertEvent, incident, path: Path, name: str,
                  added: list[Evidence]) -> None:
    result = evidence_bundle.verify(path, max_total_size=settings.EVIDENCE_MAX_BYTES)
    if not result.ok:
        raise BundleInvalid({"bundle": [_("The bundle fails verification; nothing was "
                                          "written:"), *result.problems]})
    first = BundleSubmission.objects.filter(incident=incident).first()
    if first is not None and first.key_fingerprint and result.signer != first.key_fingerprint:
        raise BundleInvalid({"bundle": [_(
            "The bundle is signed with key %(key)s; the report's first bundle with %(first)s.")
            % {"key": result.signer or "?", "first": first.key_fingerprint}]})
    with open(path, "rb") as handle:
        added.append(incident_services.attach_evidence(
            incident, user, File(handle, name=name),
            _("Evidence bundle of the alert's end (routing monitor), signed; verify with "
              "“sentinelle evidence verify”.")))


def _set_end(user, event: AlertEvent, incident) -> None:
    """The draft report ends when its alert does (a submitted one changes only by its State's
    own amendment)."""
    incident.refresh_from_db()
    ended = _when(event.resolved_at)
    if incident.status == Status.DRAFT and ended is not None and incident.ended_at != ended:
        try:
            incident_services.amend_report(incident, user, {"ended_at": ended}, note=_(
                "The routing monitor reported the alert resolved."))
        except ValidationError as exc:
            raise BundleInvalid({"resolved_at": exc.messages}) from None


# --- the watch list ----------------------------------------------------------------------------

class WatchInvalid(ValueError):
    """A watch list refused; ``line`` is 1-based (0 when unknown)."""

    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(message)
        self.line = line


def _state_line(text: str, code: str) -> int:
    pattern = re.compile(rf"^\s*[\"']?{re.escape(code)}[\"']?\s*:")
    return next((n for n, line in enumerate(text.splitlines(), 1) if pattern.match(line)), 0)


def check_watch(text: str, state) -> watchlist.WatchList:
    """The parsed list, if valid and about ``state`` only; WatchInvalid naming the line."""
    if len(text) > MAX_WATCH_CHARS:
        raise WatchInvalid(_("The watch list is %(size)s characters long; the limit is "
                             "%(limit)s.") % {"size": len(text), "limit": MAX_WATCH_CHARS})
    try:
        parsed = watchlist.loads(text, source="watch.yaml")
    except watchlist.WatchListError as exc:
        raise WatchInvalid(str(exc), exc.line) from None
    codes = list(parsed.states)
    others = [code for code in codes if code != state.alpha2]
    if others:
        line = _state_line(text, others[0])
        raise WatchInvalid(_("watch.yaml: line %(line)s: %(other)s is another State; this "
                             "watch list may name only %(state)s.") % {
            "line": line, "other": others[0], "state": state.alpha2}, line)
    if state.alpha2 not in codes:
        raise WatchInvalid(_("The watch list does not name %(state)s under “states”.") % {
            "state": state.alpha2})
    return parsed


def save_watch(user, state, text: str) -> RoutingWatch:
    """Store ``state``'s watch list (checked), with an audit entry; the caller checks that
    ``user`` is that State's focal point."""
    parsed = check_watch(text, state)
    prefixes = sum(1 for _p in parsed.prefixes())
    with transaction.atomic():
        watch = RoutingWatch.objects.select_for_update().filter(state=state).first()
        before = None if watch is None else {"sha256": _digest(watch.yaml)}
        if watch is None:
            watch = RoutingWatch(state=state)
        watch.yaml, watch.updated_by = text, user
        watch.save()
        audit.record("observatory.routing.watch", watch, actor=user, before=before, after={
            "state": state.alpha2, "sha256": _digest(text), "prefixes": prefixes,
            "characters": len(text)})
    return watch


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
