"""Linked incidents: one incident reported by several States, counted once.

When several States report the same incident (one botnet, one cable cut, one hijack), the
Secretariat links their reports into one **linked incident** (``IncidentCluster``). Statistics
and the Council report then count it once (``analysis/statistics.py``, "Linked incidents"),
while each State's report stays its own and still counts in the "reports" figures.

Linking is the analyst's decision: the correlation only *suggests* (``suggestions``): pairs of
reports of different States that share a specific indicator (the correlation's cluster rule:
an exact value, not on a warning list, not an AS number or short prefix) and whose time windows
overlap. ``link`` and ``unlink`` are for the Secretariat alone, audited with the members'
references before and after, and reversible: a linked incident left with fewer than two
reports dissolves.

What a reader learns of a link is bounded by ``Incident.objects.for_user``: ``view_for`` lists
only the members the reader may see and gives the rest as a count, and a focal point sees a
link only on its own State's reports, never counting another State's AMBER+STRICT or RED
report (its existence is not theirs to know). An analyst knows only the linked incidents with a
member they may see (``visible_clusters``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from sentinelle.analysis import correlation
from sentinelle.analysis.models import IncidentCluster, LinkedReport
from sentinelle.analysis.statistics import COUNTED_EXCLUDED_STATUSES
from sentinelle.core import audit
from sentinelle.core.roles import require_secretariat
from sentinelle.incidents.models import TLP, Incident

__all__ = ["LinkSuggestion", "LinkedView", "follow_merge", "link", "suggestions", "unlink",
           "view_for", "visible_clusters"]

MAX_LABEL = 200
MAX_NOTE = 500
# A linked incident larger than this is a campaign, not one incident: keep clusters reviewable.
MAX_MEMBERS = 50
# Reports whose existence another State's focal point may not learn, even as a count.
RESTRICTED_TLP = (TLP.AMBER_STRICT, TLP.RED)


def _references(cluster: IncidentCluster) -> list[str]:
    members = cluster.members.select_related("incident__state").order_by("incident_id")
    return [m.incident.reference for m in members]


def link(user, reports: Iterable[Incident], cluster: IncidentCluster | None = None,
         label: str = "", note: str = "") -> IncidentCluster:
    """Link ``reports`` into ``cluster``, or into a new linked incident named ``label``.

    Every report must be visible to ``user`` and counted (not withdrawn, not a duplicate) and
    in no other linked incident. A new linked incident needs a name and two reports or more.
    Raises PermissionDenied for anyone outside the Secretariat, ValidationError naming the
    field otherwise; nothing is written unless everything is valid."""
    require_secretariat(user)
    reports = list({r.pk: r for r in reports}.values())
    label, note = (label or "").strip(), (note or "").strip()
    errors: dict[str, str] = {}
    visible = set(Incident.objects.for_user(user).filter(pk__in=[r.pk for r in reports])
                  .values_list("pk", flat=True))
    if cluster is None and not label:
        errors["label"] = _("Name the linked incident.")
    elif len(label) > MAX_LABEL or "\n" in label:
        errors["label"] = _("Give a name of one line of at most %(n)d characters.") % {
            "n": MAX_LABEL}
    if len(note) > MAX_NOTE:
        errors["note"] = _("Give a note of at most %(n)d characters.") % {"n": MAX_NOTE}
    existing = 0 if cluster is None else cluster.members.count()
    if not reports or existing + len(reports) < 2:
        errors["reports"] = _("A linked incident needs two reports or more.")
    elif existing + len(reports) > MAX_MEMBERS:
        errors["reports"] = _("A linked incident has at most %(n)d reports.") % {
            "n": MAX_MEMBERS}
    for report in reports:
        if report.pk not in visible:
            raise PermissionDenied  # a report the analyst may not see: as if it did not exist
        if report.status in COUNTED_EXCLUDED_STATUSES:
            errors["reports"] = _("%(ref)s is not counted (draft, withdrawn or duplicate) and "
                                  "cannot be linked.") % {"ref": report.reference}
    taken = LinkedReport.objects.filter(incident__in=[r.pk for r in reports]) \
        .select_related("incident__state")
    if cluster is not None:
        taken = taken.exclude(cluster=cluster)
    for membership in taken:
        errors["reports"] = _("%(ref)s is already in another linked incident; unlink it "
                              "first.") % {"ref": membership.incident.reference}
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            cluster = _write_link(user, reports, cluster, label, note)
    except (IntegrityError, IncidentCluster.DoesNotExist):
        # Another analyst linked one of these reports (the unique membership refused it) or
        # dissolved the linked incident between the checks above and this write.
        raise ValidationError({"reports": _(
            "Another analyst changed these links at the same time; reload and try "
            "again.")}) from None
    return cluster


def _write_link(user, reports: list[Incident], cluster: IncidentCluster | None, label: str,
                note: str) -> IncidentCluster:
    if cluster is None:
        cluster = IncidentCluster.objects.create(label=label, note=note, created_by=user)
        before: list[str] = []
    else:
        cluster = IncidentCluster.objects.select_for_update().get(pk=cluster.pk)
        before = _references(cluster)
    have = set(cluster.members.values_list("incident_id", flat=True))
    for report in reports:
        if report.pk not in have:
            LinkedReport.objects.create(incident=report, cluster=cluster, added_by=user)
    audit.record("analysis.link", cluster, actor=user,
                 before={"label": cluster.label, "reports": before} if before else None,
                 after={"label": cluster.label, "reports": _references(cluster),
                        "note": note})
    return cluster


def unlink(user, report: Incident, note: str = "") -> IncidentCluster | None:
    """Take ``report`` out of its linked incident; the incident dissolves when fewer than two
    reports remain. Returns the linked incident if it still exists. Audited."""
    require_secretariat(user)
    if not Incident.objects.for_user(user).filter(pk=report.pk).exists():
        raise PermissionDenied
    with transaction.atomic():
        membership = LinkedReport.objects.select_related("cluster").filter(
            incident=report).first()
        if membership is None:
            raise ValidationError({"report": _("%(ref)s is not linked.") % {
                "ref": report.reference}})
        cluster = IncidentCluster.objects.select_for_update().filter(
            pk=membership.cluster_id).first()
        # Re-read under the lock: another analyst may have unlinked it meanwhile.
        if cluster is None or not cluster.members.filter(incident=report).exists():
            raise ValidationError({"report": _("%(ref)s is not linked.") % {
                "ref": report.reference}})
        before = _references(cluster)
        membership.delete()
        dissolved = cluster.members.count() < 2
        after = {"label": cluster.label, "reports": [] if dissolved else _references(cluster),
                 "removed": report.reference, "dissolved": dissolved,
                 "note": (note or "").strip()[:MAX_NOTE]}
        audit.record("analysis.unlink", cluster, actor=user,
                     before={"label": cluster.label, "reports": before}, after=after)
        if dissolved:
            cluster.delete()  # the last membership goes with it (cascade)
            return None
    return cluster


def follow_merge(incident: Incident) -> None:
    """A linked report marked a duplicate of its State's primary hands its place in the linked
    incident to the primary, or the incident would count twice (the primary on its own and the
    link through the other States' reports). Called on every save of a report; audited as a
    link change. A primary already in another linked incident is left there: merging two
    linked incidents is the analyst's decision."""
    if incident.status != "duplicate" or incident.duplicate_of_id is None:
        return
    membership = LinkedReport.objects.filter(incident=incident).first()
    if membership is None:
        return
    with transaction.atomic():
        cluster = IncidentCluster.objects.select_for_update().get(pk=membership.cluster_id)
        other = LinkedReport.objects.filter(incident_id=incident.duplicate_of_id).first()
        if other is not None and other.cluster_id != cluster.pk:
            return
        before = _references(cluster)
        if other is None:
            membership.incident_id = incident.duplicate_of_id
            membership.save(update_fields=["incident"])
        else:
            membership.delete()        # the primary is already a member
        dissolved = cluster.members.count() < 2
        audit.record("analysis.link", cluster,
                     before={"label": cluster.label, "reports": before},
                     after={"label": cluster.label,
                            "reports": [] if dissolved else _references(cluster),
                            "merged": incident.reference, "dissolved": dissolved})
        if dissolved:
            cluster.delete()


@dataclass
class LinkedView:
    """What one reader may know of a report's linked incident."""

    cluster: IncidentCluster
    members: list[Incident]          # visible to the reader, the report itself included
    others: int                      # members the reader may not see: a count only
    can_edit: bool = False

    @property
    def size(self) -> int:
        return len(self.members) + self.others


def view_for(user, incident: Incident) -> LinkedView | None:
    """The linked incident of ``incident`` as ``user`` may see it, or None.

    The Secretariat sees every member it may see by the normal rules; a focal point sees a
    link only on its own State's reports, and another State's report only if it may see that
    report anyway. Others see nothing (not even that a link exists)."""
    if user is None or not user.is_authenticated:
        return None
    secretariat = user.is_secretariat
    if not secretariat and not (user.is_focal_point and user.state_id == incident.state_id):
        return None
    # Most reports are not linked: one query answers them (an API list asks for every row).
    membership = LinkedReport.objects.select_related("cluster").filter(incident=incident).first()
    if membership is None:
        return None
    if not Incident.objects.for_user(user).filter(pk=incident.pk).exists():
        return None
    ids = list(membership.cluster.members.values_list("incident_id", flat=True))
    members = list(Incident.objects.for_user(user).filter(pk__in=ids)
                   .select_related("state").order_by("started_at", "pk"))
    hidden = Incident.objects.filter(pk__in=ids).exclude(pk__in=[m.pk for m in members])
    if not secretariat:
        # A focal point may learn that another State's TLP:AMBER report is linked with its own
        # (a count, no more), but not that a TLP:AMBER+STRICT or RED report exists at all, nor
        # of one withdrawn or merged (it no longer counts).
        hidden = hidden.exclude(tlp__in=RESTRICTED_TLP).exclude(
            status__in=COUNTED_EXCLUDED_STATUSES)
    others = hidden.count()
    if not secretariat and len(members) + others < 2:
        return None   # nothing it may know of is linked with its report
    return LinkedView(membership.cluster, members, others, can_edit=secretariat)


def visible_clusters(user):
    """The linked incidents an analyst may know of: those with a member the analyst may see.
    One made only of reports hidden from the analyst (RED reports of States that did not name
    them) is not listed: its name and size would tell that those reports exist."""
    require_secretariat(user)
    return IncidentCluster.objects.filter(
        members__incident__in=Incident.objects.for_user(user).values("pk")).distinct()


@dataclass
class LinkSuggestion:
    """Reports of different States that look like one incident, with what they share."""

    incidents: list[Incident]
    reasons: list[str] = field(default_factory=list)
    score: float = 0.0
    cluster: IncidentCluster | None = None     # one of them is already in this linked incident


def suggestions(user, since: dt.datetime | None = None) -> list[LinkSuggestion]:
    """Pairs of reports of different States that share a specific indicator (the correlation's
    cluster rule) and whose time windows overlap, not already in one linked incident; best
    first. Only reports ``user`` may see take part."""
    require_secretariat(user)
    qs = correlation.candidates(user, since).select_related("state", "category")
    pairs: dict[tuple[int, int], list[tuple[correlation.Link, int]]] = defaultdict(list)
    for key, ids in correlation.specific_keys(qs).items():
        ordered = sorted(ids)
        for i, a in enumerate(ordered):
            for b in ordered[i + 1:]:
                pairs[(a, b)].append((key, len(ids)))
    if not pairs:
        return []
    by_id = qs.in_bulk({i for pair in pairs for i in pair})
    memberships = dict(LinkedReport.objects.filter(incident__in=list(by_id))
                       .values_list("incident_id", "cluster_id"))
    clusters = IncidentCluster.objects.in_bulk(set(memberships.values()))
    out = []
    for (a, b), keys in pairs.items():
        first, second = by_id.get(a), by_id.get(b)
        if first is None or second is None or first.state_id == second.state_id:
            continue  # same State: a duplicate suggestion, not a link
        ca, cb = memberships.get(a), memberships.get(b)
        if ca is not None and (ca == cb or cb is not None):
            continue  # already one incident, or both taken by different ones
        if not correlation.overlap(first, second):
            continue
        keys.sort(key=lambda k: (-k[0].score(k[1]), k[0].kind, k[0].value))
        pair = sorted((first, second), key=lambda i: (i.started_at, i.pk))
        out.append(LinkSuggestion(pair, [k.label for k, _n in keys],
                                  round(sum(k.score(n) for k, n in keys), 1),
                                  clusters.get(ca or cb) if (ca or cb) else None))
    out.sort(key=lambda s: (-s.score, s.incidents[0].pk, s.incidents[1].pk))
    return out


def suggestion_groups(user, since: dt.datetime | None = None) -> list[LinkSuggestion]:
    """The suggestions as an analyst links them: pairs that share a report are one group
    (three States reporting one botnet are one suggestion of three reports, not three pairs).
    A pair with a report already linked stays a pair ("add to …"); a group larger than a
    linked incident may be stays as its pairs, for the analyst to cut."""
    pairs = suggestions(user, since)
    parent: dict[int, int] = {}

    def root(pk: int) -> int:
        while parent.setdefault(pk, pk) != pk:
            parent[pk] = parent[parent[pk]]
            pk = parent[pk]
        return pk

    loose = [s for s in pairs if s.cluster is None]
    for s in loose:
        first, second = (root(i.pk) for i in s.incidents)
        parent[first] = second
    members: dict[int, list[LinkSuggestion]] = defaultdict(list)
    for s in loose:
        members[root(s.incidents[0].pk)].append(s)
    out = [s for s in pairs if s.cluster is not None]
    for group in members.values():
        reports = {i.pk: i for s in group for i in s.incidents}
        if len(group) == 1 or len(reports) > MAX_MEMBERS:
            out.extend(group)
            continue
        reasons = list(dict.fromkeys(r for s in group for r in s.reasons))
        out.append(LinkSuggestion(
            sorted(reports.values(), key=lambda i: (i.started_at, i.pk)), reasons[:6],
            max(s.score for s in group)))
    out.sort(key=lambda s: (-s.score, s.incidents[0].pk, len(s.incidents)))
    return out


def linked_ids(incident_ids: Iterable[int]) -> set[int]:
    """Which of these reports are in a linked incident: one query for a page of reports."""
    return set(LinkedReport.objects.filter(incident_id__in=list(incident_ids))
               .values_list("incident_id", flat=True))
