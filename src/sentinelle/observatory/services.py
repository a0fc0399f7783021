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
import datetime as dt
import hashlib
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from sentinelle.core import audit
from sentinelle.evidence import bundle as evidence_bundle
from sentinelle.incidents import fields
from sentinelle.incidents import services as incident_services
from sentinelle.incidents.indicators import IndicatorError, normalise
from sentinelle.incidents.models import TLP, Channel, Incident, Severity
from sentinelle.observatory.models import (
    DENIAL_VERDICTS,
    AccessObservation,
    BundleSubmission,
    RoutingAlertRecord,
    Verdict,
)

__all__ = ["EXPECT", "BundleRefused", "Outcome", "submit", "submit_bundle"]

# What `--expect` names, and the bundle kind it stands for.
EXPECT = {"probe": BundleSubmission.Kind.ACCESS, "routing": BundleSubmission.Kind.ROUTING}
CATEGORY = {BundleSubmission.Kind.ACCESS: "access-denial",
            BundleSubmission.Kind.ROUTING: "routing-disruption"}
MAX_LISTED = 20        # services or alerts spelt out in the narrative; the rest are counted
MAX_RESULTS = 200_000  # rows one bundle may add (a probe list of 200,000 URLs is far beyond use)
BATCH = 1000


class BundleRefused(ValidationError):
    """The bundle is not accepted; the messages say why, and nothing was written."""


@dataclass
class Outcome:
    incident: Incident
    created: bool
    message: str


@dataclass
class _Parsed:
    kind: str
    cleaned: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


def submit_bundle(user, source: str | Path | IO[bytes], *, expect: str | None = None,
                  public_key=None, name: str | None = None) -> Incident:
    """The draft report made from the bundle (or the one made when it was first submitted)."""
    return submit(user, source, expect=expect, public_key=public_key, name=name).incident


def submit(user, source: str | Path | IO[bytes], *, expect: str | None = None,
           public_key=None, name: str | None = None) -> Outcome:
    """Verify ``source`` (a path or a binary file) and make a draft report of it.

    ``expect`` ("probe", "routing" or a bundle kind) refuses a bundle of the other kind;
    ``public_key`` (Ed25519) must then be the key that signed it. Raises BundleRefused.
    """
    if not (user.is_authenticated and user.is_focal_point):
        raise BundleRefused(_("Only a Member State's focal point can submit evidence bundles."))
    wanted = EXPECT.get(expect, expect) if expect else None
    if wanted is not None and wanted not in EXPECT.values():
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
        if kind not in EXPECT.values():
            raise BundleRefused(_("Unknown bundle kind “%(kind)s”.") % {"kind": kind})
        if wanted is not None and kind != wanted:
            raise BundleRefused(
                _("This bundle is of kind “%(kind)s”; “%(expected)s” was expected.") % {
                    "kind": kind, "expected": wanted})
        digest = _sha256(path)
        existing = _existing(user, digest)
        if existing is not None:
            return existing
        parsed = _parse(user, manifest, kind, digest, result.signer or "")
        try:
            return _write(user, path, filename, digest, manifest, parsed, result.signer or "")
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

def _time(value: Any) -> dt.datetime | None:
    """ISO 8601, OONI's "YYYY-MM-DD hh:mm:ss" (UTC) or Unix seconds; aware, UTC if naive."""
    if value in (None, ""):
        return None
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return dt.datetime.fromtimestamp(value, dt.UTC)
        parsed = dt.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _vantage(identity: Any) -> dict[str, Any]:
    """cc, asn, the self-reported and geolocated values and the mismatch flag of a vantage."""
    identity = identity if isinstance(identity, dict) else {}
    own = identity.get("self_reported") if isinstance(identity.get("self_reported"), dict) \
        else {}
    geo = identity.get("geoip") if isinstance(identity.get("geoip"), dict) else {}
    cc = str(geo.get("cc") or own.get("cc") or "").upper()[:2]
    asn = geo.get("asn") or own.get("asn")
    return {"cc": cc, "asn": int(asn) if str(asn or "").isdecimal() else None,
            "self_cc": str(own.get("cc") or ""), "self_asn": own.get("asn"),
            "geo_cc": str(geo.get("cc") or ""), "geo_asn": geo.get("asn"),
            "mismatch": bool(identity.get("mismatch")),
            "reasons": [str(r) for r in identity.get("mismatch_reasons") or []]}


def _describe_vantage(v: dict[str, Any]) -> str:
    if not v["cc"]:
        return _("an unidentified vantage point")
    text = v["cc"] + (f" AS{v['asn']}" if v["asn"] else "")
    if v["self_cc"] and (v["self_cc"].upper(), v["self_asn"]) != (v["geo_cc"].upper(),
                                                                 v["geo_asn"]):
        text += " " + _("(self-reported %(cc)s AS%(asn)s)") % {
            "cc": v["self_cc"], "asn": v["self_asn"] or "?"}
    return text


def _indicators(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Valid, distinct indicators, at most the report's limit; an odd value is left out rather
    than refusing the evidence it came with."""
    out: list[tuple[str, str]] = []
    seen = set()
    for kind, value in pairs:
        try:
            normal = normalise(kind, value)
        except IndicatorError:
            continue
        if (kind, normal) not in seen:
            seen.add((kind, normal))
            out.append((kind, normal))
        if len(out) >= fields.MAX_INDICATORS:
            break
    return out


def _counts_text(counts: Counter) -> str:
    return ", ".join(f"{_verdict_label(key)} ×{n}"
                     for key, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _verdict_label(key: str) -> str:
    """A verdict in the narrative's language, with its code when they differ (the code is what
    the measurements and the exports say); any other key (a provider) as it is."""
    if key not in Verdict.values:
        return key
    label = str(Verdict(key).label)
    return key if label == key else f"{label} ({key})"


def _narrative_language() -> str:
    return (get_language() or settings.LANGUAGE_CODE or "en").lower()


def _base_cleaned(kind: str, title: str, description: str, start: dt.datetime,
                  end: dt.datetime | None, detected: dt.datetime | None, anomalous: bool,
                  services: list[str], indicators: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "title": title[:200],
        "category": fields.parse_category(CATEGORY[kind]),
        "rsit_type": fields.parse_rsit("availability:outage" if anomalous
                                       else "other:undetermined"),
        "tlp": TLP.AMBER,
        "severity": Severity.MEDIUM if anomalous else Severity.LOW,
        "started_at": start,
        "ended_at": end if end and end > start else None,
        "detected_at": detected if detected and detected >= start else None,
        "affected_services": services[:fields.MAX_SERVICES],
        "users_affected": None,
        "alleged_origin_state": None,
        "description": description,
        "narrative_language": _narrative_language(),
        "consent_to_name": False,
        "indicators": _indicators(indicators),
        "named_analysts": [],
    }


def _evidence_line(digest: str, signer: str) -> str:
    return _("The evidence bundle (SHA-256 %(sha256)s, signed with the key of fingerprint "
             "%(key)s) is attached unchanged; anyone can check it with “sentinelle evidence "
             "verify”.") % {"sha256": digest, "key": signer or "?"}


def _parse(user, manifest: dict, kind: str, digest: str, signer: str) -> _Parsed:
    summary = manifest.get("summary")
    if not isinstance(summary, dict):
        raise BundleRefused(_("The bundle's manifest has no summary."))
    if kind == BundleSubmission.Kind.ACCESS:
        return _parse_access(user, manifest, summary, digest, signer)
    return _parse_routing(user, manifest, summary, digest, signer)


def _parse_access(user, manifest: dict, summary: dict, digest: str, signer: str) -> _Parsed:
    results = summary.get("results")
    if not isinstance(results, list) or not results:
        raise BundleRefused(_("The bundle holds no probe result: there is nothing to report."))
    if len(results) > MAX_RESULTS:
        raise BundleRefused(_("At most %(n)s results per bundle.") % {"n": MAX_RESULTS})
    fallback = _time(manifest.get("started_at")) or _time(manifest.get("created_at"))
    vantage, control = _vantage(manifest.get("vantage")), _vantage(manifest.get("control"))
    rows, errors = [], []
    for position, item in enumerate(results, start=1):
        if not isinstance(item, dict):
            errors.append(_("result %(n)s is not an object") % {"n": position})
            continue
        url = str(item.get("input") or "")
        host = (urlsplit(url).hostname or "") if "://" in url else ""
        verdict = str(item.get("verdict") or "")
        measured = _time(item.get("measurement_start_time")) or fallback
        if not host:
            errors.append(_("result %(n)s: “%(url)s” is not a URL") % {"n": position,
                                                                       "url": url[:200]})
        elif verdict not in Verdict.values:
            errors.append(_("result %(n)s: unknown verdict “%(verdict)s”") % {
                "n": position, "verdict": verdict[:40]})
        elif measured is None:
            errors.append(_("result %(n)s: no measurement time") % {"n": position})
        else:
            rows.append({"url": url[:2048], "service": host[:255],
                         "category_code": str(item.get("category_code") or "")[:20],
                         "verdict": verdict, "provider": str(item.get("provider") or "")[:100],
                         "measured_at": measured, "vantage_cc": vantage["cc"],
                         "vantage_asn": vantage["asn"], "control_cc": control["cc"]})
    if errors:
        raise BundleRefused([_("The bundle's summary is not valid; nothing was written:"),
                             *errors[:50]])
    verdicts = Counter(r["verdict"] for r in rows)
    denied: dict[str, Counter] = {}
    challenged: dict[str, Counter] = {}
    providers: Counter = Counter()
    for r in rows:
        if r["verdict"] in DENIAL_VERDICTS:
            denied.setdefault(r["service"], Counter())[r["verdict"]] += 1
            if r["provider"]:
                providers[r["provider"]] += 1
        elif r["verdict"] == Verdict.CHALLENGED:
            # A bot check is not a denial: named apart, never an affected service.
            challenged.setdefault(r["service"], Counter())[r["verdict"]] += 1
    services = sorted({r["service"] for r in rows})
    times = [r["measured_at"] for r in rows]
    start = min(times)
    end = max([*times, _time(manifest.get("finished_at")) or start])
    state = user.state.alpha2
    if denied:
        title = _("Denial of access from %(state)s: %(denied)s/%(services)s services "
                  "denied") % {"state": state, "denied": len(denied), "services": len(services)}
    else:
        title = _("Access from %(state)s measured, no denial observed (services: "
                  "%(services)s)") % {"state": state, "services": len(services)}
    lines = [
        _("Measurements: %(n)s; services: %(services)s; list: %(list)s; vantage point: "
          "%(vantage)s; control: %(control)s; from %(start)s to %(end)s UTC.") % {
            "n": len(rows), "services": len(services), "list": summary.get("list") or "–",
            "vantage": _describe_vantage(vantage), "control": _describe_vantage(control),
            "start": f"{start:%Y-%m-%d %H:%M}", "end": f"{end:%Y-%m-%d %H:%M}"},
        _("Verdicts: %(counts)s.") % {"counts": _counts_text(verdicts)},
    ]
    if denied:
        listed = [f"{host} ({_counts_text(found)})" for host, found in sorted(denied.items())]
        more = len(listed) - MAX_LISTED
        lines.append(_("Services denied: %(list)s.") % {"list": "; ".join(listed[:MAX_LISTED])}
                     + (" " + _("And %(n)s more.") % {"n": more} if more > 0 else ""))
    if challenged:
        listed = [f"{host} ({_counts_text(found)})" for host, found in sorted(challenged.items())]
        more = len(listed) - MAX_LISTED
        lines.append(_("Bot challenges (not counted as denial; re-measure with a browser): "
                       "%(list)s.") % {"list": "; ".join(listed[:MAX_LISTED])}
                     + (" " + _("And %(n)s more.") % {"n": more} if more > 0 else ""))
    if providers:
        lines.append(_("Providers named by block pages: %(list)s.") % {
            "list": _counts_text(providers)})
    if vantage["mismatch"]:
        lines.append(_("Warning: the vantage point's self-reported location and its "
                       "geolocation differ (%(reasons)s).") % {
            "reasons": "; ".join(vantage["reasons"]) or "–"})
    if control["mismatch"]:
        lines.append(_("Warning: the control's self-reported location and its geolocation "
                       "differ (%(reasons)s).") % {
            "reasons": "; ".join(control["reasons"]) or "–"})
    if vantage["cc"] and vantage["cc"] != state:
        lines.append(_("Warning: the vantage point is located in %(cc)s, not in the reporting "
                       "State.") % {"cc": vantage["cc"]})
    if control["cc"] and control["cc"] == vantage["cc"]:
        lines.append(_("Warning: the control is in the same country as the vantage point."))
    lines.append(_evidence_line(digest, signer))
    denied_urls = sorted({r["url"] for r in rows if r["verdict"] in DENIAL_VERDICTS})
    indicators = [("url", u) for u in denied_urls] + [("domain", h) for h in sorted(denied)]
    cleaned = _base_cleaned(BundleSubmission.Kind.ACCESS, title, "\n".join(lines), start, end,
                            _time(manifest.get("finished_at")), bool(denied), sorted(denied),
                            indicators)
    return _Parsed(BundleSubmission.Kind.ACCESS, cleaned, rows, dict(verdicts))


def _first(alert: dict, *names: str) -> Any:
    for name in names:
        if alert.get(name) not in (None, ""):
            return alert[name]
    return None


def _asn(value: Any) -> int | None:
    text = str(value or "").upper().removeprefix("AS")
    return int(text) if text.isdecimal() and 0 < int(text) < 2**32 else None


def _parse_routing(user, manifest: dict, summary: dict, digest: str, signer: str) -> _Parsed:
    alerts = summary.get("alerts")
    if not isinstance(alerts, list) or not alerts:
        raise BundleRefused(_("The bundle holds no routing alert: there is nothing to report."))
    if len(alerts) > MAX_RESULTS:
        raise BundleRefused(_("At most %(n)s results per bundle.") % {"n": MAX_RESULTS})
    state = user.state.alpha2
    rows, errors, elsewhere = [], [], 0
    for position, alert in enumerate(alerts, start=1):
        if not isinstance(alert, dict):
            errors.append(_("alert %(n)s is not an object") % {"n": position})
            continue
        if str(alert.get("state") or state).upper() != state:
            # A watch list may cover several States; each reports its own alerts.
            elsewhere += 1
            continue
        kind = str(_first(alert, "type", "kind") or "")
        prefix = str(_first(alert, "prefix") or "")
        if not kind or not prefix:
            errors.append(_("alert %(n)s has no type or prefix") % {"n": position})
            continue
        peers = _first(alert, "peers", "peer_count", "n_peers")
        collectors = _first(alert, "collectors", "collector_count", "n_collectors")
        rows.append({
            "alert_id": str(_first(alert, "id", "alert_id") or "")[:100], "type": kind[:40],
            "prefix": prefix[:50],
            "offending_asn": _asn(_first(alert, "offending_asn", "offending_as", "asn")),
            "first_seen": _time(_first(alert, "first_seen", "start", "time")),
            "last_seen": _time(_first(alert, "last_seen", "end", "time")),
            "peers": _count(peers), "collectors": _count(collectors)})
    if errors:
        raise BundleRefused([_("The bundle's summary is not valid; nothing was written:"),
                             *errors[:50]])
    if not rows:
        raise BundleRefused(_("The bundle holds no routing alert for %(state)s: there is "
                              "nothing to report.") % {"state": state})
    types = Counter(r["type"] for r in rows)
    times = [t for r in rows for t in (r["first_seen"], r["last_seen"]) if t]
    start = min(times) if times else (_time(manifest.get("started_at"))
                                      or _time(manifest.get("created_at")) or timezone.now())
    end = max(times) if times else None
    sources = [s for s in summary.get("sources") or [] if isinstance(s, dict)]
    records = sum(_count(s.get("records")) for s in sources)
    title = _("Routing disruption affecting %(state)s: %(types)s") % {
        "state": state, "types": _counts_text(types)}
    lines = [
        _("Routing alerts: %(n)s; sources: %(sources)s; MRT records read: %(records)s; from "
          "%(start)s to %(end)s UTC.") % {
            "n": len(rows), "sources": ", ".join(str(s.get("name") or "?") for s in sources)
            or "–", "records": records, "start": f"{start:%Y-%m-%d %H:%M}",
            "end": f"{(end or start):%Y-%m-%d %H:%M}"},
        _("Alerts by type: %(counts)s.") % {"counts": _counts_text(types)},
    ]
    for r in rows[:MAX_LISTED]:
        lines.append("– " + _("%(type)s %(prefix)s by %(asn)s, seen from %(first)s to "
                              "%(last)s UTC; peers: %(peers)s") % {
            "type": r["type"], "prefix": r["prefix"],
            "asn": f"AS{r['offending_asn']}" if r["offending_asn"] else "?",
            "first": f"{r['first_seen']:%Y-%m-%d %H:%M}" if r["first_seen"] else "?",
            "last": f"{r['last_seen']:%Y-%m-%d %H:%M}" if r["last_seen"] else "?",
            "peers": r["peers"]})
    if len(rows) > MAX_LISTED:
        lines.append(_("And %(n)s more.") % {"n": len(rows) - MAX_LISTED})
    if elsewhere:
        lines.append(_("Alerts for other States in the bundle, not part of this report: "
                       "%(n)s.") % {"n": elsewhere})
    lines.append(_evidence_line(digest, signer))
    prefixes = sorted({r["prefix"] for r in rows})
    indicators = [("prefix", p) for p in prefixes] + [
        ("asn", f"AS{a}") for a in sorted({r["offending_asn"] for r in rows
                                           if r["offending_asn"]})]
    cleaned = _base_cleaned(BundleSubmission.Kind.ROUTING, title, "\n".join(lines), start, end,
                            _time(manifest.get("finished_at")), True, prefixes, indicators)
    return _Parsed(BundleSubmission.Kind.ROUTING, cleaned, rows, dict(types))


def _count(value: Any) -> int:
    if isinstance(value, list | tuple | set):
        return len(value)
    try:
        return max(0, int(value or 0))
    except (TypeError, ValueError):
        return 0


# --- writing -----------------------------------------------------------------------------------

def _write(user, path: Path, filename: str, digest: str, manifest: dict, parsed: _Parsed,
           signer: str) -> Outcome:
    from sentinelle.observatory import campaigns  # imports this module: not at the top

    spec = campaigns.parse(manifest) if parsed.kind == BundleSubmission.Kind.ACCESS else None
    evidence = None
    try:
        with transaction.atomic(), open(path, "rb") as handle:
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
                started_at=_time(manifest.get("started_at")),
                finished_at=_time(manifest.get("finished_at")),
                vantage=manifest.get("vantage") if isinstance(manifest.get("vantage"), dict)
                else {},
                control=manifest.get("control") if isinstance(manifest.get("control"), dict)
                else {},
                counts=parsed.counts)
            model = AccessObservation if parsed.kind == BundleSubmission.Kind.ACCESS \
                else RoutingAlertRecord
            for i in range(0, len(parsed.rows), BATCH):
                model.objects.bulk_create(
                    model(incident=incident, submission=submission, state_id=user.state_id,
                          **row) for row in parsed.rows[i:i + BATCH])
            if spec is not None:   # a campaign round: linked, summed up, changes alerted
                campaigns.record_round(submission, spec)
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
