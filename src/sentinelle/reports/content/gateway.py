"""Section 7 of the Council report: what the cybersecurity gateway published in the year, and
what it lists on the day the report is produced."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from sentinelle.core import formatting
from sentinelle.reports.content.common import para
from sentinelle.reports.document import AnnexRow, Paragraph, Section, Table

__all__ = ["GatewaySection"]


class GatewaySection:
    """The builder's section 7; relies on the builder's year, labels ``L`` and annex ``csv``."""

    def gateway(self) -> Section:
        s = Section("7", self.L["gateway"])
        rows, published, listed, cirts = self.gateway_activity()
        today = formatting.date(timezone.localdate())
        if not published:
            s.add(para(_("No entry (initiative, good practice, national CIRT or resource) was "
                         "published in the cybersecurity gateway in %(year)s."), year=self.year))
        else:
            s.add(Paragraph([ngettext(
                "%(n)s entry was published in the cybersecurity gateway in %(year)s.",
                "%(n)s entries were published in the cybersecurity gateway in %(year)s.",
                published) % {"n": formatting.number(published), "year": self.year}]))
        if published or listed:
            s.add(Table("gateway", _("Gateway entries by kind"),
                        [_("Kind"), _("Published in %(year)s") % {"year": self.year},
                         _("Listed on %(date)s") % {"date": today}], rows,
                        [False, True, True]))
        if cirts:
            s.add(Paragraph([ngettext(
                "On %(date)s, the directory of national CIRTs lists %(n)s team.",
                "On %(date)s, the directory of national CIRTs lists %(n)s teams.",
                cirts) % {"date": today, "n": formatting.number(cirts)}]))
        else:
            s.add(para(_("On %(date)s, the directory of national CIRTs lists no team."),
                       date=today))
        return s

    def gateway_activity(self) -> tuple[list[list], int, int, int]:
        """(table rows by kind, entries first published in the year, entries published today,
        national CIRTs published today). The gateway keeps no snapshot of past
        listings, so what is listed is given as of today, and said so."""
        from sentinelle.gateway.kinds import KINDS
        from sentinelle.gateway.models import CirtTeam

        start = dt.datetime(self.year, 1, 1, tzinfo=dt.UTC)
        end = dt.datetime(self.year + 1, 1, 1, tzinfo=dt.UTC)
        rows, published, listed = [], 0, 0
        for model in KINDS.values():
            in_year = model.objects.filter(published_at__gte=start, published_at__lt=end).count()
            now = model.objects.published().count()
            published, listed = published + in_year, listed + now
            name = str(model._meta.verbose_name_plural)
            rows.append([name[:1].upper() + name[1:], formatting.number(in_year),
                         formatting.number(now)])
            for column, value in (("published_in_year", in_year), ("listed_today", now)):
                self.csv.append(AnnexRow("gateway", model.KIND, name, column, str(value)))
        return rows, published, listed, CirtTeam.objects.published().count()
