"""Correlation of reports and duplicate suggestions, for the Secretariat's queue.

Reports are correlated **per indicator**: two reports are linked by each value their latest
versions share (the same IP, domain, URL, e-mail, hash, prefix or AS number), by IPs in the same
/24 (IPv4) or /48 (IPv6), in the same routed network or the same AS (the last two from the stored
enrichment), or by naming the same alleged origin State with overlapping time windows. A value on
a warning list (``analysis/warninglists.py``: documentation, private and reserved ranges,
special-use domains, reserved AS numbers, MISP's lists of public resolvers, sinkholes, empty-file
hashes…) links nothing, and neither does one shared by more than ``MAX_SHARED`` reports.

Each link is ranked by how specific it is: its kind's weight (a hash > a URL or e-mail > a domain
> an IP > a prefix, longer first > a /24 > an AS > the alleged origin) less 10 × log2 of the
number of reports sharing it, so a value shared by two reports outranks the same kind of value
shared by fifty. A related report's score is the sum over the values it shares; the report page
shows the ten best, each with the values it shares (``related_to``).

**Clusters** (the analyst's queue and the Council report) are connected groups of reports linked
by a *specific* value only: an exact indicator other than an AS number or a prefix shorter than
/24 (/48). Same /24, network, AS and origin links are leads on a report page, but chaining them
would join a year's reports into one "cluster".

A **duplicate suggestion** is stricter: two reports of the *same* State whose time windows
overlap and which share an exact indicator (not on a warning list) or the same RSIT type. Reports
of two States about the same attack are correlated, not duplicates: each State's report counts.
Merging marks the later report as a duplicate of the primary through ``services.change_status``;
nothing is deleted. Reports of different States about one incident can instead be *linked* by
the Secretariat (``analysis/linking.py``), which suggests links by the cluster rule above.

Only reports the viewer may see (``Incident.objects.for_user``) and that are counted (not draft,
withdrawn or already a duplicate) take part, and the number of reports sharing a value is counted
among those only: neither a link nor a rank tells anything of a report the viewer may not see.
Grouping by shared value is done in SQL.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import math
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, F, QuerySet
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from sentinelle.analysis.models import IpEnrichment
from sentinelle.analysis.statistics import COUNTED_EXCLUDED_STATUSES
from sentinelle.analysis.warninglists import why_listed
from sentinelle.incidents.models import Incident, Indicator

__all__ = ["Cluster", "Link", "Related", "Suggestion", "candidates", "clusters",
           "duplicate_suggestions", "overlap", "related_to", "specific_keys"]

# Time windows closer than this count as overlapping: reporters round their start times.
SLACK = dt.timedelta(hours=24)
# A key shared by more reports than this (a public resolver, a cloud AS) links nothing useful.
MAX_SHARED = 200
# How many related reports the report page shows before "all N".
TOP = 10
_STRONG = ("ipv4", "ipv6", "domain", "url", "email", "sha256", "prefix", "asn")
# How specific a shared value of each kind is (prefixes: by length, see Link.weight).
_WEIGHTS = {"sha256": 100, "url": 90, "email": 90, "domain": 80, "ipv4": 70, "ipv6": 70,
            "net24": 45, "net48": 45, "asn": 20, "as": 20, "origin": 10}
# A link at least this specific may join a cluster (an exact IP: 70; a /24 prefix: 60).
_CLUSTER_WEIGHT = 60


def _kind_names() -> dict[str, str]:
    return {"net24": gettext("same /24"), "net48": gettext("same /48"),
            "network": gettext("same routed network"), "as": gettext("same AS"),
            "origin": gettext("same alleged origin, overlapping time"),
            **{value: str(label) for value, label in Indicator.Type.choices}}


@dataclass(frozen=True)
class Link:
    kind: str      # indicator type, "net24"/"net48", "network", "as", or "origin"
    value: str

    @property
    def label(self) -> str:
        return f"{_kind_names().get(self.kind, self.kind)}: {self.value}"

    @property
    def weight(self) -> float:
        """How specific the kind of value is, before counting who shares it."""
        if self.kind in ("prefix", "network"):
            try:
                net = ipaddress.ip_network(self.value, strict=False)
            except ValueError:
                return 0
            # IPv4 /32 70, /24 60, /16 50 … /0 30; IPv6 by the same steps up to /64 (a
            # subnet), so a /48 ranks as a /24. A routed network from enrichment a bit less.
            span = 32 if net.version == 4 else 64
            return (30 + 40 * min(net.prefixlen, span) / span
                    - (5 if self.kind == "network" else 0))
        return _WEIGHTS.get(self.kind, 0)

    def score(self, shared_by: int) -> float:
        """The weight less 10 × log2 of the reports sharing it: rarer ranks higher."""
        return max(1.0, self.weight - 10 * math.log2(max(shared_by, 2)))


@dataclass
class Cluster:
    incidents: list[Incident]
    links: list[Link] = field(default_factory=list)


@dataclass
class Related:
    """A report related to another, with each value they share and how many reports share it."""

    incident: Incident
    links: list[tuple[Link, int]]
    score: float

    @property
    def reasons(self) -> list[str]:
        return [link.label for link, _n in self.links]


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
    """{link: incident ids}; exact values grouped in SQL, derived keys over the IPs only.
    Values on a warning list are left out."""
    indicators = _current_indicators(incidents)
    shared = (indicators.order_by().values("type", "value")
              .annotate(n=Count("incident_id", distinct=True)).filter(n__gte=2, n__lte=MAX_SHARED))
    wanted = {(r["type"], r["value"]) for r in shared if not why_listed(r["type"], r["value"])}
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
        if why_listed("ipv4" if address.version == 4 else "ipv6", ip):
            continue
        bits, kind = (24, "net24") if address.version == 4 else (48, "net48")
        keys[Link(kind, str(ipaddress.ip_network(f"{ip}/{bits}", strict=False)))].add(incident_id)
        facts = enriched.get(ip)
        if facts is not None and facts.network:
            keys[Link("network", facts.network)].add(incident_id)
        if facts is not None and facts.asn:
            keys[Link("as", f"AS{facts.asn}")].add(incident_id)
    return {k: ids for k, ids in keys.items()
            if 2 <= len(ids) <= MAX_SHARED and not why_listed(k.kind, k.value)}


def _overlap(a: Incident, b: Incident) -> bool:
    a_end, b_end = a.ended_at or a.started_at, b.ended_at or b.started_at
    return a.started_at <= b_end + SLACK and b.started_at <= a_end + SLACK


# Public names for analysis.linking, which suggests links by the same rules.
overlap = _overlap


def specific_keys(incidents: QuerySet[Incident]) -> dict[Link, set[int]]:
    """{link: incident ids} of the values specific enough to join a cluster (see above)."""
    return {k: ids for k, ids in _shared_keys(incidents).items() if k.weight >= _CLUSTER_WEIGHT}


def clusters(user, since: dt.datetime | None = None) -> list[Cluster]:
    """Connected groups of reports linked by a specific shared value, largest first."""
    qs = candidates(user, since).select_related("state", "alleged_origin_state", "category")
    keys = specific_keys(qs)
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
                       key=lambda k: (-k.weight, k.kind, k.value))
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
                    shared[(a, b)].append(link.label)
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


def _without_implied(links: list[tuple[Link, int]],
                     as_of: dict[str, str]) -> list[tuple[Link, int]]:
    """Leave out what a stronger shared value already says: the /24, network or AS of a shared
    IP address, the enriched AS of a shared AS number. Counting them again would rank two
    reports sharing one IP above two sharing a hash."""
    ips = [ipaddress.ip_address(link.value) for link, _n in links
           if link.kind in ("ipv4", "ipv6")]
    asns = {link.value for link, _n in links if link.kind == "asn"}
    asns |= {as_of[str(ip)] for ip in ips if str(ip) in as_of}
    kept = []
    for link, n in links:
        if link.kind in ("net24", "net48", "network"):
            net = ipaddress.ip_network(link.value, strict=False)
            if any(ip.version == net.version and ip in net for ip in ips):
                continue
        if link.kind == "as" and link.value in asns:
            continue
        kept.append((link, n))
    return kept


def related_to(user, incident: Incident) -> list[Related]:
    """Reports linked to ``incident`` by what they share with it, most specific first.

    Each one carries only the values it shares with ``incident`` itself (not its cluster's)."""
    if not candidates(user).filter(pk=incident.pk).exists():
        return []
    # Links older than a year are history, not leads; the bound keeps the page fast.
    qs = candidates(user, since=incident.started_at - dt.timedelta(days=365))
    found: dict[int, list[tuple[Link, int]]] = defaultdict(list)
    for link, ids in _shared_keys(qs).items():
        if incident.pk in ids:
            for other in ids - {incident.pk}:
                found[other].append((link, len(ids)))
    if incident.alleged_origin_state_id:
        same = [i for i in qs.filter(alleged_origin_state_id=incident.alleged_origin_state_id)
                .exclude(pk=incident.pk).select_related("alleged_origin_state")
                if _overlap(incident, i)]
        for other in same:
            link = Link("origin", other.alleged_origin_state.alpha2)
            found[other.pk].append((link, len(same) + 1))
    by_id = qs.select_related("state", "category").in_bulk(list(found))
    # A list, not a subquery: the enrichment's column is an inet on PostgreSQL.
    own_ips = list(_current_indicators(qs.filter(pk=incident.pk)).filter(
        type__in=("ipv4", "ipv6")).values_list("value", flat=True))
    as_of = {e.ip: f"AS{e.asn}"
             for e in IpEnrichment.objects.filter(ip__in=own_ips, asn__isnull=False)}
    out = []
    for pk, links in found.items():
        if pk not in by_id:
            continue
        links = _without_implied(links, as_of)
        links.sort(key=lambda ln: (-ln[0].score(ln[1]), ln[0].kind, ln[0].value))
        out.append(Related(by_id[pk], links, sum(link.score(n) for link, n in links)))
    out.sort(key=lambda r: (-r.score, -len(r.links), -r.incident.pk))
    return out
