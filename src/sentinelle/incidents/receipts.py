"""The receipt a State keeps when it submits a report: what was sent, when, by whom, and the
SHA-256 of the version's content and of each evidence file, so either side can prove it later.

What is hashed (an analyst can recompute it, e.g. with `sentinelle receipt verify`):

- the version: SHA-256 of its *canonical JSON*, the version's ``content`` as stored (the
  ``content`` of ``GET /api/v1/incidents/{id}/versions/``) serialised with keys sorted, no
  whitespace (separators ``,`` and ``:``), non-ASCII characters as themselves, encoded UTF-8 —
  ``json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``;
- each evidence file: SHA-256 of its bytes, as stored (the same as shown on upload).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC

from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from sentinelle.incidents import visibility, workflow
from sentinelle.incidents.models import Evidence, Incident, IncidentVersion, SubmissionReceipt


def canonical_json(content: dict) -> bytes:
    """The bytes the version hash is computed over (see the module's docstring)."""
    return json.dumps(content, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def content_sha256(content: dict) -> str:
    return hashlib.sha256(canonical_json(content)).hexdigest()


def file_sha256(item: Evidence) -> str:
    digest = hashlib.sha256()
    with item.file.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def issue(incident: Incident, user, submitted_at, *, new: bool = False) -> SubmissionReceipt:
    """Freeze what the State is sending now: its latest version and evidence. ``new``: the
    report was created in the caller's transaction, so no evidence can be attached to it yet."""
    # From the database, as stored: the hash must be recomputable from what is kept.
    version = IncidentVersion.objects.filter(incident=incident).order_by("-number").first()
    evidence = [] if new else [
        {"id": item.pk, "filename": item.filename, "size": item.size, "sha256": item.sha256}
        for item in Evidence.objects.filter(incident=incident).order_by("id")]
    return SubmissionReceipt.objects.create(
        incident=incident, version=version, submitted_by=user, submitted_at=submitted_at,
        content_sha256=content_sha256(version.content), evidence=evidence)


def for_user(user, incident: Incident) -> list[SubmissionReceipt]:
    """The receipts of a report the user may download: its State and the Secretariat, each
    receipt only to those who may read the version it hashes (it names its evidence files)."""
    if workflow.party(user, incident) is None:
        return []
    receipts = incident.receipts.select_related("version", "submitted_by")
    shown = [r for r in receipts if visibility.version_visible(user, incident, r.version.content)]
    # Each file by the TLP it was attached under, as everywhere: a file attached while a draft
    # was RED stays with the analysts named then, even on the receipt of a looser version.
    visible = set(Evidence.objects.for_user(user).filter(incident=incident)
                  .values_list("pk", flat=True))
    for receipt in shown:
        receipt.readable_evidence = [e for e in receipt.evidence if e["id"] in visible]
    return shown


def confirmation(incident: Incident) -> str:
    """The message the State sees on the page once the report is submitted."""
    receipt = incident.receipts.select_related("version").order_by("-id").first()
    if receipt is None:
        return _("The report was submitted.")
    return _("The report was submitted to the Secretariat: %(ref)s, version %(n)s, on "
             "%(when)s UTC. Your receipt (PDF) is under “Submission receipt” below.") % {
        "ref": incident.reference, "n": receipt.version.number, "when": utc(receipt.submitted_at)}


def utc(moment) -> str:
    return timezone.localtime(moment, UTC).strftime("%Y-%m-%d %H:%M:%S")


@dataclass
class Mismatch:
    what: str
    recorded: str
    found: str


def verify(receipt: SubmissionReceipt) -> list[Mismatch]:
    """Recompute every hash of a receipt from what is stored now; the differences."""
    problems = []
    found = content_sha256(receipt.version.content)
    if found != receipt.content_sha256:
        problems.append(Mismatch(f"version {receipt.version.number}",
                                 receipt.content_sha256, found))
    files = Evidence.objects.in_bulk([entry["id"] for entry in receipt.evidence])
    for entry in receipt.evidence:
        item = files.get(entry["id"])
        try:
            found = file_sha256(item) if item is not None else "missing"
        except OSError:
            found = "missing"
        if found != entry["sha256"]:
            problems.append(Mismatch(entry["filename"], entry["sha256"], found))
    return problems


def context(receipt: SubmissionReceipt) -> dict:
    """What the receipt's templates show. ``evidence`` is what the reader may see of the files
    (set by ``for_user``; all of them for the State's own mail)."""
    from django.conf import settings

    incident = receipt.incident
    evidence = getattr(receipt, "readable_evidence", receipt.evidence)
    return {"receipt": receipt, "incident": incident, "when": utc(receipt.submitted_at),
            "evidence": evidence, "withheld": len(receipt.evidence) - len(evidence),
            "site_name": settings.SITE_NAME,
            "url": settings.BASE_URL.rstrip("/") + reverse("incident-detail", args=[incident.pk])}


def pdf(receipt: SubmissionReceipt) -> bytes:
    """The receipt document, in the current language (WeasyPrint, as the Council report); pass
    a receipt from ``for_user`` so that it lists only the files the reader may see."""
    from django.utils import translation

    from sentinelle.core.pdf import html_to_pdf

    return html_to_pdf(render_to_string("incidents/receipt.html", {
        **context(receipt), "direction": "rtl" if translation.get_language_bidi() else "ltr",
        "lang": translation.get_language()}))
