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
import math
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
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


def issue(incident: Incident, user, submitted_at, *, new: bool = False,
          version: IncidentVersion | None = None) -> SubmissionReceipt:
    """Freeze what the State is sending now: its latest version and evidence. ``new``: the
    report was created in the caller's transaction, so no evidence can be attached to it yet;
    ``version``: its latest version, just written (else it is read)."""
    # As stored: the hash must be recomputable from what is kept. A version just written is
    # hashed as the database will give its content back, when that is known without reading
    # it (issue 17: one query fewer per submission); otherwise it is read back.
    stored = as_stored(version.content) if version is not None else None
    if stored is None:
        version = IncidentVersion.objects.filter(incident=incident).order_by("-number").first()
        stored = version.content
    evidence = [] if new else [
        {"id": item.pk, "filename": item.filename, "size": item.size, "sha256": item.sha256}
        for item in Evidence.objects.filter(incident=incident).order_by("id")]
    return SubmissionReceipt.objects.create(
        incident=incident, version=version, submitted_by=user, submitted_at=submitted_at,
        content_sha256=content_sha256(stored), evidence=evidence)


# Floats that PostgreSQL's jsonb (a decimal number) gives back as the same JSON: finite, not
# -0.0 (read back as 0.0) and below 1e15 (from 1e16 Python writes "1e+16" and jsonb gives
# back 10000000000000000, an integer). SQLite keeps the JSON text as written.
_EXACT_FLOAT_BOUND = 1e15


def as_stored(content: Any) -> Any:
    """``content`` as a JSONField will give it back once stored (DjangoJSONEncoder, then the
    database's JSON type), or None where that cannot be told without reading it back."""
    try:
        value = json.loads(json.dumps(content, cls=DjangoJSONEncoder))
    except (TypeError, ValueError):
        return None
    return value if _kept_exactly(value) else None


def _kept_exactly(value: Any) -> bool:
    if isinstance(value, float):
        return (math.isfinite(value) and abs(value) < _EXACT_FLOAT_BOUND
                and math.copysign(1.0, value) > 0)
    if isinstance(value, str):
        return "\x00" not in value
    if isinstance(value, dict):
        return all(_kept_exactly(k) and _kept_exactly(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_kept_exactly(item) for item in value)
    return True


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
