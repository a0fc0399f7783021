"""Section 8 of the Council report: the access-denial index and the routing alerts that Member
States submitted as evidence bundles (``sentinelle.observatory``)."""

from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from sentinelle.core import formatting
from sentinelle.observatory.access_index import IndexFilter, compute_index, routing_alert_counts
from sentinelle.reports import charts
from sentinelle.reports.content.common import HIDDEN_CSV, para, raw_text
from sentinelle.reports.document import (
    AnnexRow,
    ChartBlock,
    Figure,
    Paragraph,
    Section,
    Table,
)

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
            "measurements and bot challenges (which a browser passes) are left out. Only "
            "submitted reports count.")]))
        flt = IndexFilter(year=self.year)
        rows = compute_index(flt, None, group_by=("state", "service"), threshold=0).rows
        if not rows:
            s.add(para(_("No access measurement was submitted for %(year)s."), year=self.year))
        else:
            totals_printed = self._access_tables(s, rows)
            self._monthly(s.sub(_("Access-denial index by month")), flt, totals_printed)
        self._routing_alerts(s.sub(_("Disruption of traffic routing: alerts submitted as "
                                     "evidence")), flt)
        return s

    # --- what subtraction between the section's tables could recover ---------------------
    #
    # Each aggregate of the section (a service's row over every State that measured it, the
    # year's totals, a routing-alert type over every State) is the sum of rows by State, some
    # of which are printed by name (consenting States, counts 0 or at least k). Aggregate minus
    # the named rows is what the reader cannot see: the States not named, and named rows
    # hidden as "<k". We keep the aggregate (so States that do not consent still count in the
    # pooled figures, as in the rest of the report) but print its figures only when that
    # remainder comes from no State at all, or from at least k States with every count 0 or
    # at least k and no single State holding all of it but 1 … k−1 (the disclosure rule,
    # ``analysis.disclosure``). Otherwise the aggregate's figures read "<k" (secondary
    # suppression): no subtraction gives a non-consenting State's figures or a count below k.

    def _readable(self, row: dict, key: str) -> bool:
        """A row by State whose figures are printed by name."""
        return row["state"] in self.named and not 0 < row[key] < self.k

    def _remainder_safe(self, rows: list[dict], keys: tuple[str, ...]) -> bool:
        """``rows`` (by State) make up an aggregate whose named, readable rows are printed;
        True when the rest is safe to reveal by subtraction (see above)."""
        if not rows:
            return True
        by_state: dict[str, dict[str, int]] = {}
        for r in rows:
            per = by_state.setdefault(r["state"], dict.fromkeys(keys, 0))
            for key in keys:
                per[key] += r[key]
        if len(by_state) < self.k:
            return False
        for key in keys:
            total = sum(per[key] for per in by_state.values())
            rest = total - max(per[key] for per in by_state.values())
            if 0 < total < self.k or 0 < rest < self.k:
                return False
        return True

    def _hidden_cells(self, n: int) -> list[Figure]:
        return [self.f.withheld() for _n in range(n)]

    def _index_cells(self, conclusive: int, denied: int, index) -> list[Figure]:
        if 0 < conclusive < self.k:
            return self._hidden_cells(3)
        return [Figure(formatting.percent(index, 1), "", raw=index),
                self.f.fig(denied, ""), self.f.fig(conclusive, "")]

    def _access_tables(self, s: Section, rows: list[dict]) -> bool:
        """The totals sentence and the tables by State and by service; True when the year's
        totals are printed."""
        f = self.f
        figures = ("conclusive", "denied")
        by_service: dict[str, dict] = {}
        for r in rows:
            agg = by_service.setdefault(r["service"], {"states": set(), "conclusive": 0,
                                                       "denied": 0, "measurements": 0,
                                                       "rows": []})
            agg["states"].add(r["state"])
            agg["rows"].append(r)
            for key in ("conclusive", "denied", "measurements"):
                agg[key] += r[key]
        # A service measured from one State only would show that State's figures: left out.
        shared = {name: agg for name, agg in sorted(by_service.items())
                  if len(agg["states"]) >= 2}
        # A service's figures are printed only if they minus the named rows reveal nothing.
        for agg in shared.values():
            agg["safe"] = self._remainder_safe(
                [r for r in agg["rows"] if not self._readable(r, "conclusive")], figures)
        # The totals minus every figure printed below (services' rows, and named rows of the
        # services not printed) must reveal nothing either.
        unread = [r for r in rows if not (
            shared.get(r["service"], {}).get("safe") or self._readable(r, "conclusive"))]
        total = {key: sum(r[key] for r in rows) for key in ("measurements", "conclusive",
                                                             "denied")}
        share = total["denied"] / total["conclusive"] if total["conclusive"] else None
        s.add(para(_("Measurements submitted for %(year)s: %(n)s (services: %(services)s; "
                     "Member States: %(states)s)."),
                   year=self.year, states=f.fig(len({r["state"] for r in rows}), ""),
                   n=f.fig(total["measurements"], ""),
                   services=f.fig(len({r["service"] for r in rows}), "")))
        totals_printed = self._remainder_safe(unread, figures)
        if totals_printed:
            s.add(para(_("Access was denied in %(denied)s of the %(conclusive)s conclusive "
                         "measurements (%(share)s)."),
                       denied=f.fig(total["denied"], ""),
                       conclusive=f.fig(total["conclusive"], ""),
                       share=Figure(formatting.percent(share, 1), "", raw=share)))
        else:
            # Not "denied in <3 of the <3": a false size, beside a total of 102 measurements.
            s.add(Paragraph([_("How many of these measurements were conclusive, and in how "
                               "many access was denied, is not published: with the tables "
                               "below, it would reveal the figures of a Member State that did "
                               "not consent to be named.")]))
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
        services = s.sub(_("Access-denial index by service"))
        if shared:
            body = []
            for name, agg in shared.items():
                index = round(agg["denied"] / agg["conclusive"], 4) if agg["conclusive"] \
                    else None
                cells = self._index_cells(agg["conclusive"], agg["denied"], index) \
                    if agg["safe"] else self._hidden_cells(3)
                body.append([name, f.fig(len(agg["states"]), ""), *cells])
                self._index_csv("access_index_by_service", name, name,
                                {**agg, "index": index}, hidden=not agg["safe"])
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
        return totals_printed

    def _monthly(self, s: Section, flt: IndexFilter, totals_printed: bool) -> None:
        """The year's index month by month, pooled over every State and service. No State is
        named here, so a month is printed only when its measurements are safe to reveal as a
        whole (from at least k States, no State holding all but a few of them), and the months
        hidden together must be safe too: the year's totals minus the printed months are them.
        When the totals are withheld, so is every month: the months add up to the totals."""
        if not totals_printed:
            s.add(Paragraph([_("The index by month is not published: the months add up to the "
                               "year's totals, which are withheld (see above).")]))
            return
        by_state = compute_index(flt, None, group_by=("state", "month"), threshold=0).rows
        months = [f"{self.year}-{m:02d}" for m in range(1, 13)]
        rows_of = {m: [r for r in by_state if r["month"] == m] for m in months}
        figures = ("conclusive", "denied")
        shown = {m: self._remainder_safe(rows_of[m], figures) for m in months}
        if not self._remainder_safe([r for m in months if not shown[m] for r in rows_of[m]],
                                    figures):
            shown = dict.fromkeys(months, False)
        values, texts, body = [], [], []
        for m in months:
            conclusive = sum(r["conclusive"] for r in rows_of[m])
            denied = sum(r["denied"] for r in rows_of[m])
            index = round(denied / conclusive, 4) if conclusive else None
            label = formatting.date(dt.date(self.year, int(m[5:]), 1), form="MMM")
            if not rows_of[m]:
                cells = [Figure("–", "", raw=None), self.f.fig(0, ""), self.f.fig(0, "")]
                values.append(None)
                texts.append("–")
            elif not shown[m]:
                cells = self._hidden_cells(3)
                values.append(None)
                texts.append(cells[0].text)
            else:
                cells = [Figure("–" if index is None else formatting.percent(index, 1), "",
                                raw=index), self.f.fig(denied, ""), self.f.fig(conclusive, "")]
                values.append(None if index is None else round(index * 100, 1))
                texts.append(cells[0].text)
            body.append([label, *cells])
            hidden = bool(rows_of[m]) and not shown[m]
            for column, value in (("index", index), ("denied", denied),
                                  ("conclusive", conclusive)):
                self.csv.append(AnnexRow("access_index_by_month", m, label, column,
                                         HIDDEN_CSV if hidden else raw_text(value)))
        if not any(shown[m] and rows_of[m] for m in months):
            s.add(Paragraph([_("No month of the year can be shown on its own: each month's "
                               "measurements come from too few Member States, and would reveal "
                               "their figures.")]))
        else:
            s.add(ChartBlock(charts.bars("chart-access-month",
                                         _("Access-denial index by month (%)"),
                                         [row[0] for row in body], values, texts,
                                         _("Access-denial index (%)"), horizontal=False)))
        columns = [_("Access-denial index"), _("Denied"), _("Conclusive measurements")]
        s.add(Table("access_index_by_month", _("Access-denial index by month, all Member States "
                                               "and services"),
                    [_("Month"), *columns], body, [False, True, True, True]))

    def _index_csv(self, table: str, key: str, label: str, r: dict,
                   hidden: bool = False) -> None:
        hidden = hidden or 0 < r["conclusive"] < self.k
        for column in ("index", "denied", "conclusive"):
            value = HIDDEN_CSV if hidden else raw_text(r[column])
            self.csv.append(AnnexRow(table, key, label, column, value))

    def _routing_alerts(self, s: Section, flt: IndexFilter) -> None:
        by_type = routing_alert_counts(flt, None, ("type",))
        if not by_type:
            s.add(para(_("No routing alert was submitted for %(year)s."), year=self.year))
            return
        by_state = routing_alert_counts(flt, None, ("state", "type"))
        # A type's row minus the named rows must reveal nothing (see _remainder_safe); the
        # reports column is checked too, as the sum of the States' reports of that type.
        safe = {r["type"]: self._remainder_safe(
            [x for x in by_state if x["type"] == r["type"] and not self._readable(x, "alerts")],
            ("alerts", "reports")) for r in by_type}

        def cells(r: dict) -> list[Figure]:
            if not safe[r["type"]]:
                return self._hidden_cells(2)
            return [self.f.count(r["alerts"], ""), self.f.count(r["reports"], "")]

        s.add(Table("routing_alerts", _("Routing alerts by type (ARTEMIS notation)"),
                    [_("Type"), _("Alerts"), _("Reports")],
                    [[r["type"], *cells(r)] for r in by_type], [False, True, True]))
        for r in by_type:
            hidden = not safe[r["type"]] or 0 < r["alerts"] < self.k
            self.csv.append(AnnexRow("routing_alerts", r["type"], r["type"], "alerts",
                                     HIDDEN_CSV if hidden else raw_text(r["alerts"])))
        named = [r for r in by_state if r["state"] in self.named]
        if named:
            names = {r["key"]: r["label"] for r in self.stats.by_state}
            s.add(Table("routing_alerts_by_state",
                        _("Routing alerts by Member State and type (States named with consent)"),
                        [_("Member State"), _("Type"), _("Alerts")],
                        [[names.get(r["state"], r["state"]), r["type"],
                          self.f.count(r["alerts"], "")] for r in named],
                        [False, False, True]))

