"""An access probe's bundle (``sentinelle probe run --bundle``): one row per URL measured, and a
draft access-denial report naming the services denied, the bot challenges apart, the providers
named by block pages and any doubt about where the vantage point and the control stand."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

from django.utils.translation import gettext as _

from sentinelle.observatory.bundles._common import (
    MAX_LISTED,
    MAX_RESULTS,
    BundleRefused,
    Parsed,
    base_cleaned,
    counts_text,
    evidence_line,
    more,
    time,
)
from sentinelle.observatory.models import (
    DENIAL_VERDICTS,
    AccessObservation,
    BundleSubmission,
    Verdict,
)

KIND = BundleSubmission.Kind.ACCESS
EXPECT = "probe"
CATEGORY = "access-denial"
MODEL = AccessObservation


def read_vantage(identity: Any) -> dict[str, Any]:
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


def csv_table(rows: Iterable[AccessObservation]) -> tuple[list[str], Iterator[list[Any]]]:
    """The header and the lines of the submission's CSV download, one line per URL measured."""
    header = [_("Service"), _("URL"), _("Category code"), _("Verdict"), _("Provider"),
              _("Measured (UTC)"), _("Vantage country"), _("Vantage ASN"),
              _("Control country")]
    return header, ([o.service, o.url, o.category_code, o.verdict, o.provider,
                     o.measured_at.isoformat(), o.vantage_cc, o.vantage_asn or "", o.control_cc]
                    for o in rows)


def prepare(manifest: dict) -> Any:
    """The campaign round the bundle is part of, checked before anything is written."""
    from sentinelle.observatory import campaigns  # imports the bundles back: not at the top

    return campaigns.parse(manifest)


def record(submission: BundleSubmission, spec: Any) -> None:
    """A campaign round: linked, summed up, changes alerted (in the submission's
    transaction)."""
    if spec is not None:
        from sentinelle.observatory import campaigns

        campaigns.record_round(submission, spec)


def parse(user, manifest: dict, summary: dict, digest: str, signer: str) -> Parsed:
    """The probe results as rows, counted by verdict, and the draft report they make."""
    results = summary.get("results")
    if not isinstance(results, list) or not results:
        raise BundleRefused(_("The bundle holds no probe result: there is nothing to report."))
    if len(results) > MAX_RESULTS:
        raise BundleRefused(_("At most %(n)s results per bundle.") % {"n": MAX_RESULTS})
    fallback = time(manifest.get("started_at")) or time(manifest.get("created_at"))
    vantage, control = read_vantage(manifest.get("vantage")), read_vantage(manifest.get("control"))
    rows, errors = [], []
    for position, item in enumerate(results, start=1):
        if not isinstance(item, dict):
            errors.append(_("result %(n)s is not an object") % {"n": position})
            continue
        url = str(item.get("input") or "")
        host = (urlsplit(url).hostname or "") if "://" in url else ""
        verdict = str(item.get("verdict") or "")
        measured = time(item.get("measurement_start_time")) or fallback
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
    end = max([*times, time(manifest.get("finished_at")) or start])
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
        _("Verdicts: %(counts)s.") % {"counts": counts_text(verdicts)},
    ]
    if denied:
        listed = [f"{host} ({counts_text(found)})" for host, found in sorted(denied.items())]
        lines.append(_("Services denied: %(list)s.") % {"list": "; ".join(listed[:MAX_LISTED])}
                     + more(listed))
    if challenged:
        listed = [f"{host} ({counts_text(found)})" for host, found in sorted(challenged.items())]
        lines.append(_("Bot challenges (not counted as denial; re-measure with a browser): "
                       "%(list)s.") % {"list": "; ".join(listed[:MAX_LISTED])} + more(listed))
    if providers:
        lines.append(_("Providers named by block pages: %(list)s.") % {
            "list": counts_text(providers)})
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
    lines.append(evidence_line(digest, signer))
    denied_urls = sorted({r["url"] for r in rows if r["verdict"] in DENIAL_VERDICTS})
    indicators = [("url", u) for u in denied_urls] + [("domain", h) for h in sorted(denied)]
    cleaned = base_cleaned(CATEGORY, title, "\n".join(lines), start, end,
                            time(manifest.get("finished_at")), bool(denied), sorted(denied),
                            indicators)
    return Parsed(KIND, cleaned, rows, dict(verdicts))
