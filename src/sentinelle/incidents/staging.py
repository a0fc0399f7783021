"""Evidence files kept with a report form until the report is saved (issue 12, point 10).

The new-report form carries a random draft key. Every POST of it (Preview, a form with an error,
*remove*, Save, Submit) first keeps the files it carries here; saving the report then attaches
them all as its evidence, in the same transaction as the report. A kept file is visible to the
focal points of the uploader's State only: every query filters on the key *and* the State, so a
key seen by someone else opens nothing.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from sentinelle.incidents import services
from sentinelle.incidents.models import Evidence, Incident, StagedEvidence

# How many files one draft may keep; with EVIDENCE_MAX_BYTES it bounds the form's request.
MAX_FILES = 10
# Files of a form left unsaved are removed after this long (on the next staging by anyone).
KEEP_FOR = timedelta(days=7)


def draft_key(value: str | None) -> uuid.UUID:
    """The draft key a form sent, or a new one when it sent none (or not a UUID)."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return uuid.uuid4()


def request_limit() -> int:
    """The most file bytes a report form may carry in one request: beyond it some file is over
    the limit or there are too many files, so refusing it unread loses nothing acceptable."""
    return MAX_FILES * settings.EVIDENCE_MAX_BYTES


def kept(user, draft: uuid.UUID) -> QuerySet[StagedEvidence]:
    """The files kept with this draft that the user may see (their State's only)."""
    if not (user.is_authenticated and user.is_focal_point and user.state_id):
        return StagedEvidence.objects.none()
    return StagedEvidence.objects.filter(draft=draft, state_id=user.state_id)


def check(user, draft: uuid.UUID, uploads: list[UploadedFile]) -> list[str]:
    """What is wrong with these files, each message naming the file; nothing is stored."""
    problems = []
    room = MAX_FILES - kept(user, draft).count()
    if len(uploads) > room:
        problems.append(_("At most %(limit)s files can be kept with a report; remove some "
                          "first.") % {"limit": MAX_FILES})
    # An empty file is no evidence; the same bytes chosen again (after Preview the file input
    # is empty, so people choose the file again) would become a second, identical piece.
    seen = dict(kept(user, draft).values_list("sha256", "filename"))
    for upload in uploads:
        name = services.safe_filename(upload.name)
        if upload.size > settings.EVIDENCE_MAX_BYTES:
            problems.append(_("%(name)s is %(size)s bytes; the limit is %(limit)s bytes.") % {
                "name": name, "size": upload.size, "limit": settings.EVIDENCE_MAX_BYTES})
            continue
        if not upload.size:
            problems.append(_("%(name)s is empty.") % {"name": name})
            continue
        digest = _sha256(upload)
        if digest in seen:
            problems.append(_("%(name)s is already kept with this report (%(kept)s).") % {
                "name": name, "kept": seen[digest]})
        seen.setdefault(digest, name)
    return problems


def _sha256(upload: UploadedFile) -> str:
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()


def keep(user, draft: uuid.UUID, uploads: Iterable[UploadedFile]) -> list[StagedEvidence]:
    """Store the files with the draft (the caller has run `check`), with their SHA-256."""
    purge_stale()
    stored = []
    for upload in uploads:
        item = StagedEvidence(draft=draft, state_id=user.state_id, uploaded_by=user,
                              filename=services.safe_filename(upload.name), size=upload.size,
                              sha256=_sha256(upload))
        item.file.save(item.filename, upload, save=False)
        try:
            item.save()
        except Exception:
            item.file.delete(save=False)
            raise
        stored.append(item)
    return stored


def remove(user, draft: uuid.UUID, pk: str | int) -> bool:
    """Remove one kept file; False when the user may not see it (or it is gone)."""
    try:
        item = kept(user, draft).get(pk=int(pk))
    except (StagedEvidence.DoesNotExist, ValueError):
        return False
    _delete(item)
    return True


def attach_all(incident: Incident, user, draft: uuid.UUID) -> list[Evidence]:
    """Make every kept file evidence of the report; call inside the report's transaction.

    The kept copies are deleted from disk only once the transaction commits, so a rollback
    leaves the draft's files where they were."""
    attached: list[Evidence] = []
    try:
        for item in kept(user, draft):
            with item.file.open("rb") as handle:
                evidence = services.attach_evidence(incident, user,
                                                    File(handle, name=item.filename))
            attached.append(evidence)
            if evidence.sha256 != item.sha256:
                raise ValidationError(_("%(name)s changed while it was kept; choose it "
                                        "again.") % {"name": item.filename})
            _delete(item)
    except Exception:
        # The rollback takes the evidence rows back, not the copies already written.
        for evidence in attached:
            evidence.file.delete(save=False)
        raise
    return attached


def purge_stale() -> int:
    """Remove the files of forms left unsaved for longer than KEEP_FOR."""
    stale = list(StagedEvidence.objects.filter(uploaded_at__lt=timezone.now() - KEEP_FOR))
    for item in stale:
        _delete(item)
    return len(stale)


def _delete(item: StagedEvidence) -> None:
    name, storage = item.file.name, item.file.storage
    item.delete()
    transaction.on_commit(lambda: storage.delete(name))
