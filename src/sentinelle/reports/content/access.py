"""Section 8 of the Council report: the access-denial index and the routing alerts that Member
States submitted as evidence bundles (``sentinelle.observatory``)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from sentinelle.analysis.access_index import IndexFilter, compute_index, routing_alert_counts
from sentinelle.reports import formatting
from sentinelle.reports.content.common import para, raw_text
from sentinelle.reports.document import AnnexRow, Figure, Paragraph, Section, Table

__all__ = ["AccessSection"]


class AccessSection:
    """The builder's section 8; relies on the builder's year, threshold ``k``, formatter ``f``,
    labels ``L``, consenting States ``named``, public ``stats`` and annex ``csv``."""

    def access(self) -> Section:
        """The access-denial index and the routing alerts submitted as evidence bundles."""
        s = Section("8", self.L["access"])
        s.add(Paragraph([_(
            "Member States can submit signed evidence bundles made by the platform's access "
            "probe: each URL is fetched from the State and from a control point abroad, and "
            "given a verdict. The access-denial index of a service is the share of conclusive "
            "measurements in which access was denied (geoblocked, denied by the server, DNS "
            "tampering, TCP blocked, TLS interference or a different HTTP answer); inconclusive "
            "measurements are left out. Only submitted reports count.")]))
        flt = IndexFilter(year=self.year)
        rows = compute_index(flt, None, group_by=("state", "service"), threshold=0).rows
        if not rows:
            s.add(para(_("No access measurement was submitted for %(year)s."), year=self.year))
        else:
            self._access_tables(s, rows)
        self._routing_alerts(s.sub(_("Disruption of traffic routing: alerts submitted as "
                                     "evidence")), flt)
        return s

    def _index_cells(self, conclusive: int, denied: int, index) -> list[Figure]:
        if 0 < conclusive < self.k:
            return [Figure(f"<{self.k}", "", suppressed=True) for _n in range(3)]
        return [Figure(formatting.percent(index, 1), "", raw=index),
                self.f.fig(denied, ""), self.f.fig(conclusive, "")]

    def _access_tables(self, s: Section, rows: list[dict]) -> None:
        f = self.f
        total = {key: sum(r[key] for r in rows) for key in ("measurements", "conclusive",
                                                             "denied")}
        share = total["denied"] / total["conclusive"] if total["conclusive"] else None
        s.add(para(_("Measurements submitted for %(year)s: %(n)s (services: %(services)s; "
                     "Member States: %(states)s). Access was denied in %(denied)s of the "
                     "%(conclusive)s conclusive measurements (%(share)s)."),
                   year=self.year, states=f.fig(len({r["state"] for r in rows}), ""),
                   n=f.fig(total["measurements"], ""),
                   services=f.fig(len({r["service"] for r in rows}), ""),
                   denied=f.fig(total["denied"], ""), conclusive=f.fig(total["conclusive"], ""),
                   share=Figure(formatting.percent(share, 1), "", raw=share)))
        columns = [_("Access-denial index"), _("Denied"), _("Conclusive measurements")]
        named = s.sub(_("Access-denial index by Member State and service"))
        shown = [r for r in rows if r["state"] in self.named]
        if shown:
            named.add(Table("access_index", _("Access-denial index by Member State and service "
                                              "(States named with consent)"),
                            [_("Member State"), _("Service"), *columns],
                            [[r["state_name"], r["service"],
                              *self._index_cells(r["conclusive"], r["denied"], r["index"])]
                             for r in shown], [False, False, True, True, True]))
            for r in shown:
                self._index_csv("access_index", f"{r['state']}|{r['service']}",
                                f"{r['state_name']} – {r['service']}", r)
        else:
            named.add(Paragraph([_("No State that submitted measurements consented to be "
                                   "named.")]))
        others = len({r["state"] for r in rows} - self.named)
        if others:
            named.add(Paragraph([ngettext(
                "%(n)s further Member State submitted measurements without consenting to be "
                "named; they count in the figures by service.",
                "%(n)s further Member States submitted measurements without consenting to be "
                "named; they count in the figures by service.", others) % {
                    "n": formatting.number(others)}]))
        by_service: dict[str, dict] = {}
        for r in rows:
            agg = by_service.setdefault(r["service"], {"states": set(), "conclusive": 0,
                                                       "denied": 0, "measurements": 0})
            agg["states"].add(r["state"])
            for key in ("conclusive", "denied", "measurements"):
                agg[key] += r[key]
        services = s.sub(_("Access-denial index by service"))
        # A service measured from one State only would show that State's figures: left out.
        shared = {name: agg for name, agg in sorted(by_service.items())
                  if len(agg["states"]) >= 2}
        if shared:
            body = []
            for name, agg in shared.items():
                index = round(agg["denied"] / agg["conclusive"], 4) if agg["conclusive"] \
                    else None
                body.append([name, f.fig(len(agg["states"]), ""),
                             *self._index_cells(agg["conclusive"], agg["denied"], index)])
                self._index_csv("access_index_by_service", name, name,
                                {**agg, "index": index})
            services.add(Table("access_index_by_service",
                               _("Access-denial index by service (measured from two or more "
                                 "Member States)"),
                               [_("Service"), _("Member States"), *columns], body,
                               [False, True, True, True, True]))
        single = len(by_service) - len(shared)
        if single:
            services.add(Paragraph([ngettext(
                "%(n)s service was measured from a single Member State and is not listed.",
                "%(n)s services were measured from a single Member State and are not listed.",
                single) % {"n": formatting.number(single)}]))

    def _index_csv(self, table: str, key: str, label: str, r: dict) -> None:
        hidden = 0 < r["conclusive"] < self.k
        for column in ("index", "denied", "conclusive"):
            value = f"<{self.k}" if hidden else raw_text(r[column])
            self.csv.append(AnnexRow(table, key, label, column, value))

    def _routing_alerts(self, s: Section, flt: IndexFilter) -> None:
        by_type = routing_alert_counts(flt, None, ("type",))
        if not by_type:
            s.add(para(_("No routing alert was submitted for %(year)s."), year=self.year))
            return
        s.add(Table("routing_alerts", _("Routing alerts by type (ARTEMIS notation)"),
                    [_("Type"), _("Alerts"), _("Reports")],
                    [[r["type"], self.f.count(r["alerts"], ""), self.f.count(r["reports"], "")]
                     for r in by_type], [False, True, True]))
        for r in by_type:
            hidden = 0 < r["alerts"] < self.k
            self.csv.append(AnnexRow("routing_alerts", r["type"], r["type"], "alerts",
                                     f"<{self.k}" if hidden else raw_text(r["alerts"])))
        named = [r for r in routing_alert_counts(flt, None, ("state", "type"))
                 if r["state"] in self.named]
        if named:
            names = {r["key"]: r["label"] for r in self.stats.by_state}
            s.add(Table("routing_alerts_by_state",
                        _("Routing alerts by Member State and type (States named with consent)"),
                        [_("Member State"), _("Type"), _("Alerts")],
                        [[names.get(r["state"], r["state"]), r["type"],
                          self.f.fig(r["alerts"], "")] for r in named], [False, False, True]))

