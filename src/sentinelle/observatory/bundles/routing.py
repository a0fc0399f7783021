"""A routing scan's bundle (``sentinelle routing scan --bundle``, or a live monitor's raised
event): one row per alert of the submitting State, and a draft routing-disruption report listing
them; alerts for other States on the same watch list are counted, not reported."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from sentinelle.observatory.bundles._common import (
    MAX_LISTED,
    MAX_RESULTS,
    BundleRefused,
    Parsed,
    base_cleaned,
    counts_text,
    evidence_line,
    time,
)
from sentinelle.observatory.models import BundleSubmission, RoutingAlertRecord

KIND = BundleSubmission.Kind.ROUTING
EXPECT = "routing"
CATEGORY = "routing-disruption"
MODEL = RoutingAlertRecord


def csv_table(rows: Iterable[RoutingAlertRecord]) -> tuple[list[str], Iterator[list[Any]]]:
    """The header and the lines of the submission's CSV download, one line per alert."""
    header = [_("Type"), _("Prefix"), _("Offending AS"), _("First seen (UTC)"),
              _("Last seen (UTC)"), _("Peers"), _("Collectors")]
    return header, ([a.type, a.prefix, a.offending_asn or "",
                     a.first_seen.isoformat() if a.first_seen else "",
                     a.last_seen.isoformat() if a.last_seen else "", a.peers, a.collectors]
                    for a in rows)


def prepare(manifest: dict) -> None:
    """Nothing to check before writing: a routing scan is not part of a campaign."""
    return None


def record(submission: BundleSubmission, prepared: None) -> None:
    """Nothing beyond the rows."""


def _first(alert: dict, *names: str) -> Any:
    for name in names:
        if alert.get(name) not in (None, ""):
            return alert[name]
    return None


def _asn(value: Any) -> int | None:
    text = str(value or "").upper().removeprefix("AS")
    return int(text) if text.isdecimal() and 0 < int(text) < 2**32 else None


def parse(user, manifest: dict, summary: dict, digest: str, signer: str) -> Parsed:
    """The alerts of the user's State as rows, counted by type, and the draft report they
    make."""
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
            "first_seen": time(_first(alert, "first_seen", "start", "time")),
            "last_seen": time(_first(alert, "last_seen", "end", "time")),
            "peers": _count(peers), "collectors": _count(collectors)})
    if errors:
        raise BundleRefused([_("The bundle's summary is not valid; nothing was written:"),
                             *errors[:50]])
    if not rows:
        raise BundleRefused(_("The bundle holds no routing alert for %(state)s: there is "
                              "nothing to report.") % {"state": state})
    types = Counter(r["type"] for r in rows)
    times = [t for r in rows for t in (r["first_seen"], r["last_seen"]) if t]
    start = min(times) if times else (time(manifest.get("started_at"))
                                      or time(manifest.get("created_at")) or timezone.now())
    end = max(times) if times else None
    sources = [s for s in summary.get("sources") or [] if isinstance(s, dict)]
    records = sum(_count(s.get("records")) for s in sources)
    title = _("Routing disruption affecting %(state)s: %(types)s") % {
        "state": state, "types": counts_text(types)}
    lines = [
        _("Routing alerts: %(n)s; sources: %(sources)s; MRT records read: %(records)s; from "
          "%(start)s to %(end)s UTC.") % {
            "n": len(rows), "sources": ", ".join(str(s.get("name") or "?") for s in sources)
            or "–", "records": records, "start": f"{start:%Y-%m-%d %H:%M}",
            "end": f"{(end or start):%Y-%m-%d %H:%M}"},
        _("Alerts by type: %(counts)s.") % {"counts": counts_text(types)},
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
    lines.append(evidence_line(digest, signer))
    prefixes = sorted({r["prefix"] for r in rows})
    indicators = [("prefix", p) for p in prefixes] + [
        ("asn", f"AS{a}") for a in sorted({r["offending_asn"] for r in rows
                                           if r["offending_asn"]})]
    cleaned = base_cleaned(CATEGORY, title, "\n".join(lines), start, end,
                            time(manifest.get("finished_at")), True, prefixes, indicators)
    return Parsed(KIND, cleaned, rows, dict(types))


def _count(value: Any) -> int:
    if isinstance(value, list | tuple | set):
        return len(value)
    try:
        return max(0, int(value or 0))
    except (TypeError, ValueError):
        return 0
