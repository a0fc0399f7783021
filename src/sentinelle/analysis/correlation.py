"""Correlation of reports and duplicate suggestions, for the Secretariat's queue.

Two reports are **linked** when their latest versions share an indicator (the same IP, domain,
URL, e-mail, hash, prefix or AS number), when their IPs fall in the same /24 (IPv4) or /48 (IPv6),
in the same routed network or the same AS (the last two from the stored enrichment), or when
they name the same alleged origin State and their time windows overlap. Linked reports form
**clusters** (connected components).

A **duplicate suggestion** is stricter: two reports of the *same* State whose time windows
overlap and which share an exact indicator or the same RSIT type. Reports of two States about the
same attack are correlated, not duplicates: each State's report counts. Merging marks the later
report as a duplicate of the primary through ``services.change_status``; nothing is deleted.

Only reports the analyst may see (``Incident.objects.for_user``) and that are counted (not draft,
withdrawn or already a duplicate) take part. Grouping by shared value is done in SQL.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Count, F, QuerySet
from django.utils.translation import gettext_lazy as _

from sentinelle.analysis.models import IpEnrichment
from sentinelle.analysis.statistics import COUNTED_EXCLUDED_STATUSES
from sentinelle.incidents.models import Incident, Indicator

__all__ = ["Cluster", "Link", "Suggestion", "candidates", "clusters", "duplicate_suggestions",
           "related_to"]

# Time windows closer than this count as overlapping: reporters round their start times.
SLACK = dt.timedelta(hours=24)
# A key shared by more reports than this (a public resolver, a cloud AS) links nothing useful.
MAX_SHARED = 200
_STRONG = ("ipv4", "ipv6", "domain", "url", "email", "sha256", "prefix", "asn")


@dataclass(frozen=True)
class Link:
    kind: str      # indicator type, "net24"/"net48", "network", "as", or "origin"
    value: str

    @property
    def label(self) -> str:
        names = {"net24": _("same /24"), "net48": _("same /48"), "network": _("same network"),
                 "as": _("same AS"), "origin": _("same alleged origin, overlapping time")}
        return f"{names.get(self.kind, self.kind)}: {self.value}"


@dataclass
class Cluster:
    incidents: list[Incident]
    links: list[Link] = field(default_factory=list)


@dataclass
class Suggestion:
    primary: Incident
    duplicate: Incident
    reasons: list[str]
    score: int


def candidates(user, since: dt.datetime | None = None) -> QuerySet[Incident]:
    qs = Incident.objects.for_user(user).exclude(status__in=COUNTED_EXCLUDED_STATUSES)
    if since is not None:
        qs = qs.filter(started_at__gte=since)
    return qs


def _current_indicators(incidents: QuerySet[Incident]) -> QuerySet[Indicator]:
    # A report's indicators are those of its latest version.
    return Indicator.objects.filter(incident__in=incidents.values("pk"),
                                    version__number=F("incident__version"))


def _shared_keys(incidents: QuerySet[Incident]) -> dict[Link, set[int]]:
    """{link: incident ids}; exact values grouped in SQL, derived keys over the IPs only."""
    indicators = _current_indicators(incidents)
    shared = (indicators.order_by().values("type", "value")
              .annotate(n=Count("incident_id", distinct=True)).filter(n__gte=2, n__lte=MAX_SHARED))
    wanted = {(r["type"], r["value"]) for r in shared}
    keys: dict[Link, set[int]] = defaultdict(set)
    if wanted:
        values = {v for _t, v in wanted}
        for kind, value, incident_id in indicators.filter(value__in=values) \
                .values_list("type", "value", "incident_id"):
            if (kind, value) in wanted:
                keys[Link(kind, value)].add(incident_id)
    ips = list(indicators.filter(type__in=("ipv4", "ipv6")).values_list("value", "incident_id"))
    enriched = {e.ip: e for e in IpEnrichment.objects.filter(ip__in={ip for ip, _i in ips})}
    for ip, incident_id in ips:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            continue
        bits, kind = (24, "net24") if address.version == 4 else (48, "net48")
        keys[Link(kind, str(ipaddress.ip_network(f"{ip}/{bits}", strict=False)))].add(incident_id)
        facts = enriched.get(ip)
        if facts is not None and facts.network:
            keys[Link("network", facts.network)].add(incident_id)
        if facts is not None and facts.asn:
            keys[Link("as", f"AS{facts.asn}")].add(incident_id)
    return {k: ids for k, ids in keys.items() if 2 <= len(ids) <= MAX_SHARED}


def _overlap(a: Incident, b: Incident) -> bool:
    a_end, b_end = a.ended_at or a.started_at, b.ended_at or b.started_at
    return a.started_at <= b_end + SLACK and b.started_at <= a_end + SLACK


def _origin_links(incidents: Iterable[Incident]) -> dict[Link, set[int]]:
    by_origin: dict[str, list[Incident]] = defaultdict(list)
    for incident in incidents:
        if incident.alleged_origin_state_id:
            by_origin[incident.alleged_origin_state.alpha2].append(incident)
    links: dict[Link, set[int]] = {}
    for origin, group in by_origin.items():
        group.sort(key=lambda i: i.started_at)
        for i, a in enumerate(group):
            for b in group[i + 1:]:
                if b.started_at > (a.ended_at or a.started_at) + SLACK:
                    break  # sorted by start: no later one overlaps a
                link = Link("origin", f"{origin} {a.started_at:%Y-%m-%d}")
                links.setdefault(link, {a.pk}).add(b.pk)
    return links


def clusters(user, since: dt.datetime | None = None) -> list[Cluster]:
    """Connected groups of linked reports, largest first."""
    qs = candidates(user, since).select_related("state", "alleged_origin_state", "category")
    keys = _shared_keys(qs)
    with_origin = list(qs.filter(alleged_origin_state__isnull=False))
    keys.update(_origin_links(with_origin))
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for ids in keys.values():
        first, *rest = sorted(ids)
        for other in rest:
            parent[find(other)] = find(first)
    members: dict[int, set[int]] = defaultdict(set)
    for incident_id in parent:
        members[find(incident_id)].add(incident_id)
    by_id = qs.in_bulk({i for ids in members.values() for i in ids})
    out = []
    for root, ids in members.items():
        if len(ids) < 2:
            continue
        links = sorted((k for k, v in keys.items() if find(next(iter(v))) == root),
                       key=lambda k: (k.kind, k.value))
        out.append(Cluster([by_id[i] for i in sorted(ids) if i in by_id], links))
    out.sort(key=lambda c: (-len(c.incidents), c.incidents[0].pk))
    return out


def duplicate_suggestions(user, since: dt.datetime | None = None,
                          only: Incident | None = None) -> list[Suggestion]:
    """Pairs of same-State reports that look like the same incident; the earlier submitted one
    is proposed as primary. ``only`` restricts to pairs involving that report."""
    qs = candidates(user, since).select_related("state", "category", "rsit_type__rsit_class")
    if only is not None:
        qs = qs.filter(state_id=only.state_id)
    shared: dict[tuple[int, int], list[str]] = defaultdict(list)
    for link, ids in _shared_keys(qs).items():
        if link.kind in _STRONG:
            ordered = sorted(ids)
            for i, a in enumerate(ordered):
                for b in ordered[i + 1:]:
                    shared[(a, b)].append(f"{link.kind}: {link.value}")
    by_state: dict[int, list[Incident]] = defaultdict(list)
    for incident in qs:
        by_state[incident.state_id].append(incident)
    out = []
    for group in by_state.values():
        group.sort(key=lambda i: (i.started_at, i.pk))
        for i, a in enumerate(group):
            for b in group[i + 1:]:
                if b.started_at > (a.ended_at or a.started_at) + SLACK:
                    break
                if only is not None and only.pk not in (a.pk, b.pk):
                    continue
                reasons = list(shared.get((min(a.pk, b.pk), max(a.pk, b.pk)), []))
                same_type = a.rsit_type_id == b.rsit_type_id
                if not (reasons or same_type) or not _overlap(a, b):
                    continue
                if same_type:
                    reasons.append(str(_("same RSIT type, overlapping time")))
                score = 3 * len(reasons) + (2 if a.category_id == b.category_id else 0)
                primary, dup = sorted((a, b), key=lambda x: (x.submitted_at or x.created_at,
                                                             x.pk))
                out.append(Suggestion(primary, dup, reasons, score))
    out.sort(key=lambda s: (-s.score, s.duplicate.pk))
    return out


def related_to(user, incident: Incident) -> list[tuple[Incident, list[Link]]]:
    """Reports linked to ``incident``, with the links, for the report page."""
    # Links older than a year are history, not leads; the bound keeps the page fast.
    for cluster in clusters(user, since=incident.started_at - dt.timedelta(days=365)):
        if any(i.pk == incident.pk for i in cluster.incidents):
            return [(i, cluster.links) for i in cluster.incidents if i.pk != incident.pk]
    return []
