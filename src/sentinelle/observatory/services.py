"""Submitting an evidence bundle: verified, then one draft report with the bundle attached.

``submit(user, bundle)`` checks every hash and the signature (``sentinelle.evidence.bundle``)
before anything is written; a bundle that fails is refused with the verifier's own words. Then,
in one transaction, it creates a DRAFT report of the user's State (``access-denial`` for an
access probe, ``routing-disruption`` for a routing scan) through ``incidents.services`` — so
the report is validated, versioned and audited like any other — attaches the bundle byte for
byte as evidence, and stores one row per probe result or routing alert for the statistics.

The same bundle (same SHA-256) submitted again by the same State gives back the report it
made the first time: a unique constraint makes that hold even for two submissions at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from django.conf import settings
from django.core.files import File
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from sentinelle.core import audit
from sentinelle.evidence import bundle as evidence_bundle
from sentinelle.incidents import services as incident_services
from sentinelle.incidents.models import Channel, Incident
from sentinelle.observatory import bundles
from sentinelle.observatory.bundles import BundleRefused, Parsed
from sentinelle.observatory.bundles._common import time
from sentinelle.observatory.models import BundleSubmission

__all__ = ["BundleRefused", "Outcome", "submit"]

BATCH = 1000


@dataclass
class Outcome:
    incident: Incident
    created: bool
    message: str


def submit(user, source: str | Path | IO[bytes], *, expect: str | None = None,
           public_key=None, name: str | None = None) -> Outcome:
    """Verify ``source`` (a path or a binary file) and make a draft report of it.

    ``expect`` ("probe", "routing" or a bundle kind) refuses a bundle of the other kind;
    ``public_key`` (Ed25519) must then be the key that signed it. Raises BundleRefused.
    """
    if not (user.is_authenticated and user.is_focal_point):
        raise BundleRefused(_("Only a Member State's focal point can submit evidence bundles."))
    wanted = bundles.kind_for(expect) if expect else None
    if expect and wanted is None:
        raise BundleRefused(_("Unknown bundle kind “%(kind)s”.") % {"kind": expect})
    with _local_copy(source, name) as (path, filename):
        size = path.stat().st_size
        if size > settings.EVIDENCE_MAX_BYTES:
            raise BundleRefused(
                _("The file is %(size)s bytes; the limit is %(limit)s bytes.") % {
                    "size": size, "limit": settings.EVIDENCE_MAX_BYTES})
        # Bundles store their files uncompressed (docs/evidence.md), so what they unpack to is
        # held to the upload limit too: a deflate bomb is refused before anything is hashed.
        result = evidence_bundle.verify(path, public_key,
                                        max_total_size=settings.EVIDENCE_MAX_BYTES)
        if not result.ok:
            raise BundleRefused([_("The bundle fails verification; nothing was written:"),
                                 *result.problems])
        manifest = result.manifest or {}
        kind = manifest.get("kind")
        handler = bundles.get(kind) if isinstance(kind, str) else None
        if handler is None:
            raise BundleRefused(_("Unknown bundle kind “%(kind)s”.") % {"kind": kind})
        if wanted is not None and kind != wanted:
            raise BundleRefused(
                _("This bundle is of kind “%(kind)s”; “%(expected)s” was expected.") % {
                    "kind": kind, "expected": wanted})
        digest = _sha256(path)
        existing = _existing(user, digest)
        if existing is not None:
            return existing
        parsed = _parse(handler, user, manifest, digest, result.signer or "")
        try:
            return _write(handler, user, path, filename, digest, manifest, parsed,
                          result.signer or "")
        except IntegrityError:
            # The same bundle was submitted at the same moment; that submission won.
            existing = _existing(user, digest)
            if existing is None:
                raise
            return existing


# --- input -------------------------------------------------------------------------------------

@contextlib.contextmanager
def _local_copy(source, name: str | None) -> Iterator[tuple[Path, str]]:
    """A path on local disk for the verifier (storage may be remote), and the file's name."""
    if isinstance(source, str | Path):
        path = Path(source)
        if not path.is_file():
            raise BundleRefused(_("%(path)s: no such file.") % {"path": path})
        yield path, name or path.name
        return
    filename = name or os.path.basename(getattr(source, "name", "") or "") or "bundle.zip"
    with tempfile.TemporaryDirectory(prefix="sentinelle-bundle-") as folder:
        path = Path(folder) / "bundle.zip"
        if hasattr(source, "seek"):
            source.seek(0)
        with open(path, "wb") as out:
            shutil.copyfileobj(source, out, 1024 * 1024)
        yield path, filename


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _existing(user, digest: str) -> Outcome | None:
    found = BundleSubmission.objects.filter(state_id=user.state_id, sha256=digest) \
        .select_related("incident__state").first()
    if found is None:
        return None
    return Outcome(found.incident, False, _(
        "This bundle was already submitted as report %(reference)s; no new report was "
        "created.") % {"reference": found.incident.reference})


# --- reading the manifest ----------------------------------------------------------------------

def _parse(handler, user, manifest: dict, digest: str, signer: str) -> Parsed:
    summary = manifest.get("summary")
    if not isinstance(summary, dict):
        raise BundleRefused(_("The bundle's manifest has no summary."))
    return handler.parse(user, manifest, summary, digest, signer)


# --- writing -----------------------------------------------------------------------------------

def _write(handler, user, path: Path, filename: str, digest: str, manifest: dict,
           parsed: Parsed, signer: str) -> Outcome:
    prepared = handler.prepare(manifest)
    evidence = None
    try:
        # audit.batch: the chain's lock (PostgreSQL) is taken as the transaction ends, not at
        # the report's creation and held while the evidence is stored and the rows written.
        with transaction.atomic(), audit.batch(), open(path, "rb") as handle:
            incident = incident_services.create_report(
                user, parsed.cleaned, submit=False, channel=Channel.OBSERVATORY,
                note=_("Made from an evidence bundle (SHA-256 %(sha256)s).") % {
                    "sha256": digest})
            evidence = incident_services.attach_evidence(
                incident, user, File(handle, name=filename),
                _("Evidence bundle (%(kind)s), signed; verify with “sentinelle evidence "
                  "verify”.") % {"kind": parsed.kind})
            if evidence.sha256 != digest:   # the file changed under us: refuse, write nothing
                raise BundleRefused(_("The file changed while it was being submitted."))
            tool = manifest.get("tool") if isinstance(manifest.get("tool"), dict) else {}
            submission = BundleSubmission.objects.create(
                incident=incident, evidence=evidence, state_id=user.state_id,
                submitted_by=user, kind=parsed.kind, sha256=digest,
                tool=f"{tool.get('name', '')} {tool.get('version', '')}".strip()[:100],
                key_fingerprint=signer[:100], public_key=str(manifest.get("public_key") or ""),
                started_at=time(manifest.get("started_at")),
                finished_at=time(manifest.get("finished_at")),
                vantage=manifest.get("vantage") if isinstance(manifest.get("vantage"), dict)
                else {},
                control=manifest.get("control") if isinstance(manifest.get("control"), dict)
                else {},
                counts=parsed.counts)
            model = handler.MODEL
            for i in range(0, len(parsed.rows), BATCH):
                model.objects.bulk_create(
                    model(incident=incident, submission=submission, state_id=user.state_id,
                          **row) for row in parsed.rows[i:i + BATCH])
            handler.record(submission, prepared)
            audit.record("observatory.submit", submission, after={
                "incident": incident.pk, "kind": parsed.kind, "sha256": digest,
                "rows": len(parsed.rows), "signer": signer})
    except BaseException:
        if evidence is not None:
            # The row is gone with the transaction; its stored file must go too.
            evidence.file.delete(save=False)
        raise
    incident.refresh_from_db()
    return Outcome(incident, True, _("Draft report %(reference)s was created from the bundle; "
                                     "review it and submit it.") % {
        "reference": incident.reference})
