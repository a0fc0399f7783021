"""Section 5 of the Council report: clusters of related reports, described only by their size,
their States' number and their categories, under the disclosure rule."""

from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from sentinelle.analysis.correlation import clusters
from sentinelle.analysis.disclosure import withheld
from sentinelle.core import formatting
from sentinelle.core.models import Role, User
from sentinelle.reports.content.common import para
from sentinelle.reports.document import Paragraph, Section, Table

__all__ = ["ClusterSection"]


class ClusterSection:
    """The builder's section 5; relies on the builder's year, threshold ``k`` and labels ``L``."""

    def clusters(self) -> Section:
        s = Section("5", self.L["clusters"])
        found, hidden = self.cluster_summaries()
        if not found and not hidden:
            s.add(para(_("No cluster of %(k)s or more related reports from two or more Member "
                         "States was found for %(year)s."), k=self.k, year=self.year))
        elif found:
            # The rule of analysis.correlation.clusters: only specific values join a cluster.
            s.add(Paragraph([_("Reports form a cluster when they share, directly or through "
                               "other reports of the cluster, a specific technical indicator: a "
                               "file hash, URL, e-mail address, domain, IP address or long "
                               "network prefix. Values on warning lists (documentation, private "
                               "and reserved ranges, public resolvers, sinkholes…) and autonomous "
                               "systems link nothing. Only the size and the categories of each "
                               "cluster are given.")]))
            # Fewer than k States reads "<k", as the number of States reporting does.
            rows = [[str(i), formatting.number(size),
                     formatting.number(states) if states >= self.k else f"<{self.k}", categories]
                    for i, (size, states, categories) in enumerate(found, 1)]
            s.add(Table("clusters", _("Clusters of related reports"),
                        [_("Cluster"), _("Reports"), _("Member States"), _("Categories")], rows,
                        [False, True, True, False]))
        if hidden:
            s.add(Paragraph([ngettext(
                "%(n)s cluster of %(k)s or more related reports from two or more Member States "
                "is not described: one Member State holds all but fewer than %(k)s of its "
                "reports, so its size would tell that State how many the others sent.",
                "%(n)s clusters of %(k)s or more related reports from two or more Member States "
                "are not described: in each, one Member State holds all but fewer than %(k)s of "
                "its reports, so its size would tell that State how many the others sent.",
                hidden) % {"n": formatting.number(hidden), "k": self.k}]))
        return s

    def cluster_summaries(self) -> tuple[list[tuple[int, int, str]], int]:
        """(reports, States, categories) of each cluster of the year with at least k reports
        from two or more States; nothing that identifies a report or a State. Then how many
        such clusters are withheld by the disclosure rule (one State holding all but fewer
        than k of a cluster's reports)."""
        # An unsaved analyst: sees what any Secretariat analyst sees (not AMBER+STRICT or RED
        # reports, which reach only the analysts a State named).
        reader = User(role=Role.ANALYST)
        start = dt.datetime(self.year, 1, 1, tzinfo=dt.UTC)
        end = dt.datetime(self.year + 1, 1, 1, tzinfo=dt.UTC)
        out, hidden = [], 0
        for cluster in clusters(reader, since=start):
            members = [i for i in cluster.incidents if i.started_at < end]
            shares: dict[int, int] = {}
            for incident in members:
                shares[incident.state_id] = shares.get(incident.state_id, 0) + 1
            if len(members) < self.k or len(shares) < 2:
                continue
            if withheld(len(members), shares, self.k):
                hidden += 1
                continue
            categories = sorted({i.category.label for i in members})
            out.append((len(members), len(shares), ", ".join(categories)))
        return out, hidden
