"""Every change to a report goes through here: validated, versioned, audited, in one transaction."""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from datetime import timedelta
from typing import Any

import filetype
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from sentinelle.core import audit
from sentinelle.core.errors import Refused, TooLarge
from sentinelle.incidents import notifications, receipts, workflow
from sentinelle.incidents.models import (
    Channel,
    Evidence,
    Incident,
    IncidentVersion,
    Indicator,
    Message,
    Status,
    Transition,
)

# The content fields of a report, as they appear in a version and in the API.
CONTENT_FIELDS = (
    "title", "category", "rsit_type", "tlp", "severity", "started_at", "ended_at", "detected_at",
    "affected_services", "users_affected", "alleged_origin_state", "description",
    "narrative_language", "consent_to_name", "indicators", "named_analysts",
)
# What the Secretariat may change in a State's report: its classification, nothing it said.
SECRETARIAT_FIELDS = ("category", "rsit_type", "severity")


class NothingChanged(ValidationError):
    """An amendment that would leave the report as it is: no version is added. The web form
    says so; the API answers the report unchanged (a PATCH is idempotent)."""


class EvidenceTooLarge(TooLarge):
    pass


def derived_figures(cleaned: dict) -> tuple[float | None, float | None]:
    """Duration in hours and user-hours (users affected × hours), as ENISA counts them."""
    start, end = cleaned.get("started_at"), cleaned.get("ended_at")
    if not start or not end:
        return None, None
    hours = round((end - start).total_seconds() / 3600, 4)
    users = cleaned.get("users_affected")
    return hours, (round(users * hours, 2) if users is not None else None)


def check_time_window(cleaned: dict) -> dict[str, str]:
    errors = {}
    start, end, detected = (cleaned.get(k) for k in ("started_at", "ended_at", "detected_at"))
    if start and end and end < start:
        errors["ended_at"] = _("The end is before the start.")
    if start and detected and detected < start:
        errors["detected_at"] = _("Detection is before the start.")
    if start and start > timezone.now() + timedelta(hours=1):
        errors["started_at"] = _("The start is in the future.")
    return errors


def snapshot(cleaned: dict) -> dict[str, Any]:
    """The JSON content of a version, from cleaned values."""
    duration, user_hours = derived_figures(cleaned)
    origin = cleaned.get("alleged_origin_state")
    return {
        "title": cleaned["title"],
        "category": cleaned["category"].code,
        "rsit": cleaned["rsit_type"].machine_tag,
        "tlp": cleaned["tlp"],
        "severity": cleaned["severity"],
        "started_at": cleaned["started_at"].isoformat(),
        "ended_at": cleaned["ended_at"].isoformat() if cleaned.get("ended_at") else None,
        "detected_at": cleaned["detected_at"].isoformat() if cleaned.get("detected_at") else None,
        "affected_services": list(cleaned.get("affected_services") or []),
        "users_affected": cleaned.get("users_affected"),
        "duration_hours": duration,
        "user_hours": user_hours,
        "alleged_origin_state": origin.alpha2 if origin else None,
        "description": cleaned["description"],
        "narrative_language": cleaned.get("narrative_language") or "en",
        "consent_to_name": bool(cleaned.get("consent_to_name")),
        "indicators": [{"type": t, "value": v} for t, v in cleaned.get("indicators") or []],
        "named_analysts": sorted(u.get_username() for u in cleaned.get("named_analysts") or []),
    }


def current_content(incident: Incident) -> dict:
    """The cleaned values of the latest version, the base an amendment changes."""
    latest = incident.versions.order_by("-number").first()
    return {
        "title": incident.title,
        "category": incident.category,
        "rsit_type": incident.rsit_type,
        "tlp": incident.tlp,
        "severity": incident.severity,
        "started_at": incident.started_at,
        "ended_at": incident.ended_at,
        "detected_at": incident.detected_at,
        "affected_services": list(incident.affected_services),
        "users_affected": incident.users_affected,
        "alleged_origin_state": incident.alleged_origin_state,
        "description": incident.description,
        "narrative_language": incident.narrative_language,
        "consent_to_name": incident.consent_to_name,
        "indicators": [(i.type, i.value) for i in latest.indicators.order_by("id")]
        if latest else [],
        "named_analysts": list(incident.named_analysts.all()),
    }


def _mirror(incident: Incident, cleaned: dict) -> None:
    for field in CONTENT_FIELDS:
        if field not in ("indicators", "named_analysts"):
            setattr(incident, field, cleaned.get(field))
    incident.affected_services = list(cleaned.get("affected_services") or [])
    incident.narrative_language = cleaned.get("narrative_language") or "en"
    incident.consent_to_name = bool(cleaned.get("consent_to_name"))
    incident.duration_hours, incident.user_hours = derived_figures(cleaned)


def _add_version(incident: Incident, user, cleaned: dict, note: str, *,
                 new: bool = False) -> IncidentVersion:
    """The next version; ``new``: the report was created in this transaction, so it names no
    analyst yet and there is nothing to compare the named ones with."""
    version = IncidentVersion.objects.create(incident=incident, number=incident.version,
                                             author=user, note=note, content=snapshot(cleaned))
    indicators = cleaned.get("indicators") or []
    if indicators:
        Indicator.objects.bulk_create(
            Indicator(version=version, incident=incident, type=t, value=v)
            for t, v in indicators)
    named = cleaned.get("named_analysts") or []
    if not new:
        incident.named_analysts.set(named)
    elif named:
        through = Incident.named_analysts.through
        through.objects.bulk_create(through(incident_id=incident.pk, user_id=user_id)
                                    for user_id in dict.fromkeys(u.pk for u in named))
    return version


def _current_tlp(incident: Incident) -> str:
    # From the database: the caller's copy may predate an amendment.
    return Incident.objects.filter(pk=incident.pk).values_list("tlp", flat=True).get()


def _stamp_era(item: Evidence | Message, incident: Incident) -> None:
    """Record on evidence or a message the analysts the report names now, beside its TLP, so
    that loosening the report later does not publish it (visibility.py)."""
    item.named_analysts.set(incident.named_analysts.all())


def _require_reporter(user) -> None:
    if not (user.is_authenticated and user.is_focal_point):
        raise Refused(_("Only a Member State's focal point can report incidents."))


@transaction.atomic
def create_report(user, cleaned: dict, *, submit: bool = False, note: str = "",
                  stix_id: str | None = None, sharing_group=None,
                  channel: str = Channel.UNKNOWN) -> Incident:
    """A new report of the user's State; `stix_id` keeps an imported report's identity;
    `channel` (Incident.Channel) says how it arrived: every creating path passes its own."""
    _require_reporter(user)
    errors = check_time_window(cleaned)
    if errors:
        raise ValidationError(errors)
    if channel not in Channel.values:
        raise ValueError(f"unknown channel {channel!r}")
    incident = Incident(state_id=user.state_id, reporter=user, version=1,
                        sharing_group=sharing_group, channel=channel)
    if stix_id:
        incident.stix_id = stix_id
    _mirror(incident, cleaned)
    # One write of the audit chain at the end (its lock is held to the commit), and no
    # reading back of what was just written: the report is this transaction's alone.
    with audit.batch():
        if submit:
            # Checked as the draft it is, written as submitted: no UPDATE of the row just
            # inserted (issue 17). The transition, entries, receipt and mail are those of
            # _change_status(incident, user, Status.SUBMITTED).
            workflow.check(user, incident, Status.SUBMITTED)
            incident.status, incident.submitted_at = Status.SUBMITTED, timezone.now()
        incident.save()
        version = _add_version(incident, user, cleaned, note, new=True)
        audit.record("incident.create", incident, after=version.content)
        if submit:
            Transition.objects.create(incident=incident, from_status=Status.DRAFT,
                                      to_status=Status.SUBMITTED, actor=user, note="")
            audit.record("incident.status", incident, before={"status": Status.DRAFT},
                         after={"status": Status.SUBMITTED, "note": "", "duplicate_of": None})
            _submitted(incident, user, new=True, version=version)
    return incident


@transaction.atomic
def amend_report(incident: Incident, user, changes: dict, note: str = "") -> IncidentVersion:
    """Add a version with `changes` applied to the latest content; earlier versions stay."""
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    who = workflow.party(user, incident)
    if who is None:
        raise Refused(_("You may not amend this report."))
    if who == workflow.SECRETARIAT and set(changes) - set(SECRETARIAT_FIELDS):
        raise workflow.WorkflowError(
            _("The Secretariat may change only the classification of a report."))
    if incident.status not in workflow.AMENDABLE:
        raise workflow.NotNow(
            _("A closed, duplicate or withdrawn report cannot be amended."))
    base = current_content(incident)
    cleaned = {**base, **changes}
    errors = check_time_window(cleaned)
    if errors:
        raise ValidationError(errors)
    before = snapshot(base)
    if snapshot(cleaned) == before:
        raise NothingChanged(_("Nothing was changed."))
    incident.version += 1
    _mirror(incident, cleaned)
    incident.save()
    version = _add_version(incident, user, cleaned, note)
    audit.record("incident.amend", incident, before=before, after=version.content)
    return version


@transaction.atomic
def change_status(incident: Incident, user, to_status: str, note: str = "",
                  duplicate_of: Incident | None = None) -> Transition:
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    return _change_status(incident, user, to_status, note, duplicate_of)


def _change_status(incident: Incident, user, to_status: str, note: str = "",
                   duplicate_of: Incident | None = None) -> Transition:
    """change_status() on a report locked in the caller's transaction; the instance is
    updated as the row is."""
    workflow.check(user, incident, to_status)
    if to_status == Status.INFO_REQUESTED and not note.strip():
        raise ValidationError({"note": _("Say what information is needed.")})
    if to_status == Status.DUPLICATE:
        if duplicate_of is None or duplicate_of.pk == incident.pk:
            raise ValidationError({"duplicate_of": _("Name the report this one duplicates.")})
        incident.duplicate_of = duplicate_of
    before = {"status": incident.status}
    transition = Transition.objects.create(incident=incident, from_status=incident.status,
                                           to_status=to_status, actor=user, note=note)
    incident.status = to_status
    if to_status == Status.SUBMITTED and incident.submitted_at is None:
        incident.submitted_at = timezone.now()
    incident.save(update_fields=["status", "submitted_at", "duplicate_of", "updated_at"])
    after = {"status": to_status, "note": note,
             "duplicate_of": duplicate_of.pk if duplicate_of else None}
    audit.record("incident.status", incident, before=before, after=after)
    if to_status == Status.INFO_REQUESTED:
        message = Message.objects.create(incident=incident, author=user,
                                         kind=Message.Kind.REQUEST, body=note,
                                         tlp=_current_tlp(incident))
        _stamp_era(message, incident)
        audit.record("message.create", message, after={"incident": incident.pk, "kind": "request"})
        transaction.on_commit(lambda: notifications.information_requested(incident, message))
    elif to_status == Status.ACKNOWLEDGED:
        transaction.on_commit(lambda: notifications.acknowledged(incident))
    elif to_status == Status.SUBMITTED:
        _submitted(incident, user)
    return transition


def _submitted(incident: Incident, user, *, new: bool = False,
               version: IncidentVersion | None = None) -> None:
    """The receipt of a submission, its entry and its mail. ``new`` and ``version``: the
    report and its only version were written in this transaction (receipts.issue)."""
    receipt = receipts.issue(incident, user, incident.submitted_at, new=new, version=version)
    # The files by id: their hashes are in their own `evidence.add` entries, shown by each
    # file's TLP; this entry is shown to whoever reads the report.
    audit.record("incident.receipt", incident, after={
        "version": receipt.version.number, "content_sha256": receipt.content_sha256,
        "evidence": [entry["id"] for entry in receipt.evidence]})
    transaction.on_commit(lambda: notifications.submitted(incident, receipt))


def message_request_limit() -> int:
    """The most file bytes one message may carry: beyond it some file is over the limit or
    there are too many, so the request is refused unread (exchange/uploads.py)."""
    return max(settings.MESSAGE_MAX_FILES, 1) * settings.EVIDENCE_MAX_BYTES


def check_message_files(files: list[UploadedFile]) -> None:
    """Refuse, before anything is stored, files a message may not carry (count, size)."""
    if len(files) > settings.MESSAGE_MAX_FILES:
        raise ValidationError({"files": _("At most %(limit)s files can go with one message.") % {
            "limit": settings.MESSAGE_MAX_FILES}})
    for upload in files:
        if upload.size > settings.EVIDENCE_MAX_BYTES:
            raise EvidenceTooLarge({"files": _(
                "%(name)s is %(size)s bytes; the limit is %(limit)s bytes.") % {
                "name": safe_filename(upload.name), "size": upload.size,
                "limit": settings.EVIDENCE_MAX_BYTES}})
        if not upload.size:   # as the evidence form refuses it (the API reads FILES directly)
            raise ValidationError({"files": _("%(name)s is empty.") % {
                "name": safe_filename(upload.name)}})


@transaction.atomic
def post_message(incident: Incident, user, body: str,
                 files: list[UploadedFile] | None = None) -> Message:
    """A message in the thread; the State's reply to a request reopens the analysis. Files
    sent with it become evidence of the report (SHA-256, the report's TLP), listed under it."""
    body = body.strip()
    files = list(files or [])
    if not body:
        raise ValidationError({"body": _("The message is empty.")})
    who = workflow.party(user, incident)
    if who is None:
        raise Refused(_("You may not write in this thread."))
    check_message_files(files)
    kind = Message.Kind.NOTE
    if who == workflow.STATE and incident.status == Status.INFO_REQUESTED:
        kind = Message.Kind.ANSWER
    message = Message.objects.create(incident=incident, author=user, kind=kind, body=body,
                                     tlp=_current_tlp(incident))
    _stamp_era(message, incident)
    stored: list[Evidence] = []
    try:
        for upload in files:
            stored.append(attach_evidence(incident, user, upload, message=message))
    except Exception:
        # The transaction takes the rows back; the files already written must go too.
        for item in stored:
            item.file.delete(save=False)
        raise
    audit.record("message.create", message,
                 after={"incident": incident.pk, "kind": kind, "length": len(body),
                        "files": [item.sha256 for item in stored]})
    if kind == Message.Kind.ANSWER:
        incident.status = Status.UNDER_ANALYSIS
        Transition.objects.create(incident=incident, from_status=Status.INFO_REQUESTED,
                                  to_status=Status.UNDER_ANALYSIS, actor=user)
        incident.save(update_fields=["status", "updated_at"])
        audit.record("incident.status", incident, before={"status": Status.INFO_REQUESTED},
                     after={"status": Status.UNDER_ANALYSIS})
        transaction.on_commit(lambda: notifications.information_provided(incident, message))
    return message


_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f\"\\/:*?<>|]+")


def safe_filename(name: str) -> str:
    """A download name with no path, control or quoting characters; never empty."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE_NAME.sub("_", name).strip(" .")
    stem, ext = os.path.splitext(name)
    return (stem[:180] + ext[:20]) or "evidence.bin"


def sniff_content_type(head: bytes) -> str:
    kind = filetype.guess(head)
    if kind is not None:
        return kind.mime
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return "application/octet-stream"
    return "text/plain"


@transaction.atomic
def attach_evidence(incident: Incident, user, upload: UploadedFile,
                    description: str = "", *, message: Message | None = None) -> Evidence:
    if workflow.party(user, incident) is None:
        raise Refused(_("You may not add evidence to this report."))
    if upload.size > settings.EVIDENCE_MAX_BYTES:
        raise EvidenceTooLarge(_("The file is %(size)s bytes; the limit is %(limit)s bytes.") % {
            "size": upload.size, "limit": settings.EVIDENCE_MAX_BYTES})
    digest = hashlib.sha256()
    head = b""
    for chunk in upload.chunks():
        if len(head) < 8192:
            head += chunk[: 8192 - len(head)]
        digest.update(chunk)
    upload.seek(0)
    evidence = Evidence(incident=incident, uploaded_by=user, filename=safe_filename(upload.name),
                        size=upload.size, sha256=digest.hexdigest(),
                        content_type=sniff_content_type(head), description=description[:500],
                        tlp=_current_tlp(incident), message=message)
    evidence.file.save(evidence.filename, upload, save=False)
    # If the row or its audit entry cannot be written, the transaction takes the row back: the
    # stored file (on disk or in the bucket) must not stay behind either.
    try:
        evidence.save()
        _stamp_era(evidence, incident)
        audit.record("evidence.add", evidence, after={
            "incident": incident.pk, "filename": evidence.filename, "sha256": evidence.sha256,
            "size": evidence.size, "content_type": evidence.content_type,
            "message": message.pk if message else None})
    except Exception:
        evidence.file.delete(save=False)
        raise
    return evidence
