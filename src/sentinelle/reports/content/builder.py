"""The report's builder: front matter, sections 1-7 and the annexes (sections 5, 7 and 8 are in
``clusters``, ``gateway`` and ``access``)."""

from __future__ import annotations

import datetime as dt

from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from sentinelle.actionplan import metrics
from sentinelle.actionplan.evaluation import Status, evaluate
from sentinelle.actionplan.models import Metric
from sentinelle.analysis.disclosure import withheld
from sentinelle.analysis.handling import handling_in_time
from sentinelle.analysis.statistics import StatsFilter, counted_incidents, small_count_threshold
from sentinelle.core import formatting
from sentinelle.incidents.models import TLP, Channel
from sentinelle.reports import charts
from sentinelle.reports.content.access import AccessSection
from sentinelle.reports.content.clusters import ClusterSection
from sentinelle.reports.content.common import (
    HIDDEN_CSV,
    MAX_CLEAR_EXAMPLES,
    TREND_YEARS,
    Fmt,
    labels,
    named_states,
    para,
    public_stats,
    raw_text,
    withheld_marker,
)
from sentinelle.reports.content.gateway import GatewaySection
from sentinelle.reports.document import (
    AnnexRow,
    Bullets,
    ChartBlock,
    Cover,
    Document,
    Figure,
    Paragraph,
    Section,
    Table,
)
from sentinelle.reports.options import ReportOptions

__all__ = ["build"]


def build(options: ReportOptions) -> Document:
    with translation.override(options.lang):
        return _Builder(options).build()


class _Builder(AccessSection, ClusterSection, GatewaySection):
    def __init__(self, options: ReportOptions):
        self.o = options
        self.year = options.year
        self.k = small_count_threshold()
        self.f = Fmt(self.year, self.k)
        self.flt = StatsFilter(year=self.year)
        # Each year's raw statistics computed once for the whole report (the previous year is
        # both this year's comparison and a column of the trend and channel tables).
        self._raws: dict = {}
        self.raw, self.stats = public_stats(self.flt, raws=self._raws)
        self.named = named_states(self.raw)
        self.csv: list[AnnexRow] = []
        self.L = labels()
        self.has_data = bool(self.raw.totals.get("incidents")) or bool(
            self.raw.totals.get("states_reporting"))

    # --- front matter ------------------------------------------------------------------------
    def build(self) -> Document:
        o, L = self.o, self.L
        cover = Cover(
            council=L["council"] % {"year": o.council}
            + (f" – {o.session}" if o.session else ""),
            session=o.session,
            agenda_item=L["agenda_item"] % {"item": o.agenda_item},
            document=L["document"] % {"number": o.document_reference},
            date=formatting.date(o.document_date),
            original=L["original"],
            report_by=L["report_by"],
            title=(L["title"] % {"year": self.year}).upper(),
        )
        sections = [self.introduction(), self.reporting(), self.analysis(), self.trends(),
                    self.clusters(), self.action_plan(), self.gateway(), self.access()]
        annexes = [self.annex_tables(), self.annex_method()]
        return Document(
            lang=o.lang, cover=cover, summary=self.summary(),
            action_required=[Paragraph([_(
                "The Council is invited to take note of this report and to provide guidance, "
                "as appropriate.")])],
            references=[
                _("Plenipotentiary Resolution 130 (Rev. Busan, 2014)"),
                _("Plenipotentiary Resolution 174 (Rev. Busan, 2014)"),
                _("Plenipotentiary Resolution 64 (Rev. Busan, 2014)"),
                _("Proposal CUB/70/1-3 to the Plenipotentiary Conference (Busan, 2014)"),
            ],
            sections=sections, annexes=annexes, csv=self.csv, labels=L)

    def summary(self) -> list[Paragraph]:
        t, f = self.stats.totals, self.f
        if not self.has_data:
            return [para(_("No incident report or annual summary return was received for "
                           "%(year)s. This report presents the mandate, the evaluation of the "
                           "action plan and the trends of the previous years."), year=self.year)]
        evaluation = self.evaluation()
        return [
            para(_("In %(year)s, %(states)s Member States reported %(incidents)s ICT security "
                   "incidents to the Secretariat under Resolution 130, affecting an estimated "
                   "%(user_hours)s user-hours."),
                 year=self.year, states=f.states(t["states_reporting"], "totals|states_reporting"),
                 incidents=f.fig(t["incidents"], "totals|incidents"),
                 user_hours=f.fig(t["user_hours"], "totals|user_hours")),
            para(_("This report analyses these incidents by category and RSIT class, compares "
                   "them with the previous years and evaluates the action plan, whose overall "
                   "verdict is: %(verdict)s."), verdict=evaluation.verdict.label),
        ]

    # --- sections ----------------------------------------------------------------------------
    def introduction(self) -> Section:
        s = Section("1", self.L["introduction"])
        s.add(Paragraph([_(
            "Resolution 130 (Rev. Busan, 2014) invites Member States to inform the "
            "Secretary-General of incidents of extraterritorial interception and surveillance "
            "of communications, of practices that undermine trust and security in the use of "
            "ICTs, and of practices that disrupt the routing of traffic and degrade the quality "
            "of telecommunication services. It instructs the Secretary-General to report to "
            "Council every year with an analysis of the information received and an evaluation "
            "of the effectiveness of the action plan.")]))
        s.add(Paragraph([_(
            "Resolution 64 (Rev. Busan, 2014) concerns non-discriminatory access to modern ICT "
            "facilities, services and applications, including access to public Internet sites "
            "and resources; Resolution 174 (Rev. Busan, 2014) concerns the illicit use of ICTs "
            "and the exchange of technical information on network security.")]))
        s.add(para(_("Figures in this report were produced by the Sentinelle platform from the "
                     "reports and annual summary returns received for %(year)s. States are "
                     "named only with their consent, and small counts are suppressed (see "
                     "Annex B)."), year=self.year))
        return s

    def reporting(self) -> Section:
        s = Section("2", self.L["reporting"] % {"year": self.year})
        t, f = self.stats.totals, self.f
        if not self.has_data:
            s.add(para(_("No incident report or annual summary return was received for "
                         "%(year)s."), year=self.year))
            return s
        s.add(para(_("%(states)s Member States reported in %(year)s: %(reported)s individual "
                     "reports, and %(returns)s further incidents counted from annual summary "
                     "returns (a return counts only what it adds to the individual reports of "
                     "the same State, category and RSIT class)."),
                   states=f.states(t["states_reporting"], "totals|states_reporting"),
                   year=self.year, reported=f.fig(t["reported"], "totals|reported"),
                   returns=f.fig(t["from_summary_returns"], "totals|from_summary_returns")))
        linked = self.linked_sentence()
        if linked is not None:
            s.add(linked)
        regions = s.sub(_("Regions"))
        regions.add(self.count_table("by_itu_d_region", _("Incidents by ITU-D region"),
                                     _("Region"), self.stats.by_itu_d_region))
        states = s.sub(_("Member States named with their consent"))
        named_rows = [r for r in self.stats.by_state if r["key"] in self.named]
        others = len([r for r in self.raw.by_state if r["key"] not in self.named])
        if named_rows:
            rows = [[r["label"], self.f.fig(r["incidents"], f"by_state|{r['key']}|incidents"),
                     self.f.fig(r["user_hours"], f"by_state|{r['key']}|user_hours")]
                    for r in named_rows]
            states.add(Table("named_states", _("Incidents by Member State (named with consent)"),
                             [_("Member State"), _("Incidents"), _("User-hours")], rows,
                             [False, True, True]))
            self._csv_rows("by_state", named_rows, ("incidents", "user_hours"))
        else:
            states.add(Paragraph([_("No reporting State consented to be named.")]))
        if others:
            states.add(Paragraph([ngettext(
                "%(n)s further Member State reported without consenting to be named; its "
                "incidents are included in every aggregate figure.",
                "%(n)s further Member States reported without consenting to be named; their "
                "incidents are included in every aggregate figure.", others) % {
                    "n": formatting.number(others)}]))
        self.channels(s.sub(_("Channels of reporting")))
        clear = self.clear_examples()
        if clear:
            examples = s.sub(_("Reports shared under TLP:CLEAR"))
            examples.add(Bullets([Paragraph([f"{state} – {title} ({category})"])
                                  for state, title, category in clear]))
        return s

    def channels(self, section: Section) -> None:
        """Reports by the channel they arrived through (issue 16), for this year and the
        previous ones that had reports. Each year's cells are that year's publication
        (``disclosure.publish``): a small count, and whatever would give one away with the
        year's total of reports, reads "n.p."."""
        years = [y for y in range(self.year - TREND_YEARS + 1, self.year)
                 if self.publication(y).totals.get("reported") != 0] + [self.year]
        rows = []
        for key, label in Channel.choices:
            cells = {y: next(r for r in self.publication(y).by_channel if r["key"] == key)
                     for y in years}
            if not any(cells[y]["incidents"] != 0 for y in years):
                continue   # a channel nobody used in these years: no row of zeros
            rows.append([str(label), *(self.f.count(cells[y]["incidents"],
                                                    f"by_channel|{key}|incidents", year=y)
                                       for y in years)])
            for y in years:
                n = cells[y]["incidents"]
                self.csv.append(AnnexRow("by_channel", key, str(label), str(y),
                                         HIDDEN_CSV if n is None or 0 < n < self.k
                                         else raw_text(n)))
        section.add(Table("by_channel", _("Individual reports by channel and year"),
                          [_("Channel"), *(str(y) for y in years)], rows,
                          [False, *(True for _y in years)]))
        section.add(Paragraph([_(
            "Channels: the web form, the API, a file import, federation between platforms "
            "(TAXII) and the observatory's signed evidence bundles. “%(unknown)s” counts "
            "reports filed before the platform recorded the channel.") % {
                "unknown": Channel.UNKNOWN.label}]))

    def publication(self, year: int):
        """The public statistics of `year` (this year's are self.stats), computed once."""
        if year == self.year:
            return self.stats
        cache = self.__dict__.setdefault("_publications", {})
        if year not in cache:
            cache[year] = public_stats(StatsFilter(year=year), False, self._raws)[1]
        return cache[year]

    def analysis(self) -> Section:
        s = Section("3", self.L["analysis"])
        st = self.stats
        cat = s.sub(self.L["by_category"])
        cat.add(self.count_table("by_category", _("Incidents and user-hours by category"),
                                 _("Category"), st.by_category))
        self.chart(cat, "chart-category", _("Incidents by category"), st.by_category)
        rsit = s.sub(self.L["by_rsit"])
        rsit.add(self.count_table("by_rsit_class", _("Incidents and user-hours by RSIT class"),
                                  _("RSIT class"), st.by_rsit_class))
        self.chart(rsit, "chart-rsit", _("Incidents by RSIT class"),
                   [r for r in st.by_rsit_class if r["incidents"] != 0])
        month = s.sub(self.L["by_month"])
        rows = [dict(r, label=formatting.date(
            dt.date(int(r["key"][:4]), int(r["key"][5:]), 1), form="MMM")) for r in st.by_month]
        self.chart(month, "chart-month", _("Incidents by month of start"), rows,
                   horizontal=False)
        response = s.sub(self.L["response"])
        ack, close, t = st.time_to_acknowledge, st.time_to_close, st.totals
        if ack.get("count") == 0:
            response.add(para(_("No report of %(year)s has been acknowledged so far."),
                              year=self.year))
        else:
            self.acknowledgement_time(response, ack)
        if close.get("count") == 0:
            response.add(para(_("No report of %(year)s has been closed so far."),
                              year=self.year))
        else:
            response.add(para(_("Median time from submission to closure: %(median)s hours "
                                "(%(n)s reports closed)."),
                              median=self.f.fig(close.get("median_hours"),
                                                "time_to_close|median_hours", 1),
                              n=self.f.fig(close.get("count"), "time_to_close|count")))
        self.handled_in_time(response)
        response.add(para(_("Reports with evidence attached: %(n)s (%(share)s)."),
                          n=self.f.fig(t.get("with_evidence"), "totals|with_evidence"),
                          share=self.f.share(t.get("evidence_rate"), "totals|evidence_rate")))
        return s

    def handled_in_time(self, response: Section) -> None:
        """The share handled within the Secretariat's expected times (analysis.handling)."""
        handled = handling_in_time(self.flt)
        ack, close = handled["acknowledge"], handled["analyse"]
        ack_due, close_due = ack["in_time"] + ack["late"], close["in_time"] + close["late"]
        if not ack_due and not close_due:
            response.add(para(_("No report of %(year)s was yet due for acknowledgement or "
                                "analysis under the expected handling times."), year=self.year))
            return
        # Not in Stats.as_dict (no source path), but public all the same: each count obeys the
        # disclosure rule, and a share hides with the counts it is made of.
        figures, plural = {}, {}
        for name, part in (("ack", ack), ("close", close)):
            due = part["in_time"] + part["late"]
            in_time, late = part["by_state"]["in_time"], part["by_state"]["late"]
            everyone = {s: in_time.get(s, 0) + late.get(s, 0) for s in {*in_time, *late}}
            due_hidden = withheld(due, everyone, self.k)
            share_hidden = due_hidden or withheld(part["in_time"], in_time, self.k) \
                or withheld(part["late"], late, self.k)
            figures[f"{name}_due"] = self.f.withheld() if due_hidden \
                else Figure(formatting.number(due), "", raw=due)
            # The grammar follows the number shown: a hidden count takes the plural ("n.p.
            # reports"), never the singular that would give away a count of 1.
            plural[name] = self.k if due_hidden else due
            figures[f"{name}_share"] = Figure("–", "", raw=None) \
                if share_hidden or part["share"] is None \
                else Figure(formatting.percent(part["share"], 1), "", raw=part["share"])
        # Two counts in one sentence: each half is its own plural, joined by the catalogue.
        acknowledged = ngettext(
            "%(ack_share)s of the %(ack_due)s report due for acknowledgement was acknowledged "
            "within the time the Secretariat expects for its category",
            "%(ack_share)s of the %(ack_due)s reports due for acknowledgement were acknowledged "
            "within the time the Secretariat expects for their category", plural["ack"])
        closed = ngettext(
            "%(close_share)s of the %(close_due)s report due for analysis was closed within the "
            "time expected for its category",
            "%(close_share)s of the %(close_due)s reports due for analysis were closed within the "
            "time expected for their category",
            plural["close"])
        response.add(para(_("%(acknowledged)s, and %(closed)s.") % {
                              "acknowledged": acknowledged, "closed": closed}, **figures))

    def acknowledgement_time(self, response: Section, ack: dict) -> None:
        response.add(para(ngettext(
            "Median time from submission to acknowledgement: %(median)s hours "
            "(90th percentile %(p90)s hours, %(n)s report).",
            "Median time from submission to acknowledgement: %(median)s hours "
            "(90th percentile %(p90)s hours, %(n)s reports).", ack.get("count") or 0),
                          median=self.f.fig(ack.get("median_hours"),
                                            "time_to_acknowledge|median_hours", 1),
                          p90=self.f.fig(ack.get("p90_hours"), "time_to_acknowledge|p90_hours",
                                         1),
                          n=self.f.fig(ack.get("count"), "time_to_acknowledge|count")))

    def trends(self) -> Section:
        s = Section("4", self.L["trends"])
        years = list(range(self.year - TREND_YEARS + 1, self.year + 1))
        totals = {}
        for year in years:
            totals[year] = self.publication(year).totals
        rows = [[str(y), self.f.fig(totals[y]["incidents"], "totals|incidents", year=y),
                 self.f.states(totals[y]["states_reporting"], "totals|states_reporting",
                               year=y),
                 self.f.fig(totals[y]["user_hours"], "totals|user_hours", year=y)]
                for y in years]
        s.add(Table("trend", _("Incidents, reporting States and user-hours by year"),
                    [_("Year"), _("Incidents"), _("Member States reporting"), _("User-hours")],
                    rows, [False, True, True, True]))
        for y in years:
            for column in ("incidents", "states_reporting", "user_hours"):
                self.csv.append(AnnexRow("trend", str(y), str(y), column,
                                         raw_text(totals[y][column])))
        if any(totals[y]["incidents"] for y in years):
            self.chart(s, "chart-trend", _("Incidents by year"),
                       [{"key": str(y), "label": str(y), "incidents": totals[y]["incidents"]}
                        for y in years], horizontal=False, small_counts=False)
        yoy = self.stats.year_over_year
        s.add(para(_("Change from %(previous)s to %(year)s: %(change)s."),
                   previous=yoy.get("previous_year", self.year - 1), year=self.year,
                   change=Figure(formatting.signed_percent(yoy.get("change_pct")),
                                 f"{self.year}|year_over_year|change_pct",
                                 raw=yoy.get("change_pct"))))
        rows = []
        for r in yoy.get("by_category", []):
            path = f"year_over_year|by_category|{r['key']}"
            small = self.f.count(r["incidents"], f"{path}|incidents").suppressed or \
                self.f.count(r["previous"], f"{path}|previous").suppressed
            source = f"{self.year}|{path}|change_pct"
            change = self.f.withheld(source, raw=r["change_pct"]) if small else Figure(
                formatting.signed_percent(r["change_pct"]), source, raw=r["change_pct"])
            rows.append([r["label"], self.f.count(r["previous"], f"{path}|previous"),
                         self.f.count(r["incidents"], f"{path}|incidents"), change])
        if rows:
            s.add(Table("year_over_year", _("Incidents by category, this year and the previous"),
                        [_("Category"), str(self.year - 1), str(self.year), _("Change")], rows,
                        [False, True, True, True]))
        return s

    def action_plan(self) -> Section:
        s = Section("6", self.L["actionplan"])
        evaluation = self.evaluation()
        if not evaluation.actions:
            s.add(Paragraph([_("No action plan has been recorded.")]))
            return s
        counts = evaluation.counts()
        s.add(para(_("Evaluated on %(date)s. Overall verdict: %(verdict)s. Of %(n)s indicators, "
                     "%(achieved)s achieved, %(on_track)s on track, %(at_risk)s at risk, "
                     "%(off_track)s off track and %(not_measured)s not measured."),
                   date=formatting.date(evaluation.on), verdict=evaluation.verdict.label,
                   n=formatting.number(len(evaluation.indicators)),
                   achieved=formatting.number(counts[Status.ACHIEVED]),
                   on_track=formatting.number(counts[Status.ON_TRACK]),
                   at_risk=formatting.number(counts[Status.AT_RISK]),
                   off_track=formatting.number(counts[Status.OFF_TRACK]),
                   not_measured=formatting.number(counts[Status.NOT_MEASURED])))
        s.add(Table("actions", _("Actions and verdicts"),
                    [_("Action"), _("Resolution clause"), _("Responsible"), _("Verdict")],
                    [[f"{a.action.code} {a.action.title}", a.action.clause,
                      a.action.get_responsible_display(), a.verdict.label]
                     for a in evaluation.actions], [False, False, False, False]))
        rows = []
        for a in evaluation.actions:
            for r in a.indicators:
                ind = r.indicator
                value = self.indicator_value(ind, r.value)
                rows.append([f"{ind.code} {ind.name}", ind.unit,
                             formatting.number(ind.baseline, 2), formatting.number(ind.target, 2),
                             formatting.date(ind.deadline, form="medium"), value,
                             r.status.label])
                self.csv.append(AnnexRow("action_plan", ind.code, ind.name, "value",
                                         raw_text(r.value)))
                self.csv.append(AnnexRow("action_plan", ind.code, ind.name, "status",
                                         r.status.value))
        s.add(Table("indicators", _("Indicators"),
                    [_("Indicator"), _("Unit"), _("Baseline"), _("Target"), _("Deadline"),
                     _("Value"), _("Status")], rows,
                    [False, False, True, True, False, True, False]))
        s.add(Paragraph([_("An indicator is on track when its progress from the baseline is at "
                           "most ten points behind a straight line from the baseline to the "
                           "target at the deadline, at risk when at most twenty-five points "
                           "behind, and off track beyond that or when the deadline has passed "
                           "(Annex B).")]))
        return s

    def annex_tables(self) -> Section:
        s = Section("", self.L["annex_a"], level=2)
        st = self.stats
        s.add(para(_("Every table of this annex is also provided as a CSV file beside this "
                     "document. A figure that is not published reads “%(np)s” (see Annex "
                     "B)."), np=withheld_marker()))
        s.add(self.count_table("by_rsit_type", _("Incidents by RSIT class and type"),
                               _("RSIT class and type"), st.by_rsit_type))
        s.add(self.count_table("by_admin_region", _("Incidents by administrative region"),
                               _("Region"), st.by_admin_region))
        s.add(self.count_table("by_month", _("Incidents by month"), _("Month"), st.by_month))
        s.add(self.count_table("by_severity", _("Incidents by severity"), _("Severity"),
                               st.by_severity))
        return s

    def annex_method(self) -> Section:
        s = Section("", self.L["annex_b"], level=2)
        s.add(Bullets([
            Paragraph([_("What counts: every submitted report (not drafts, withdrawn reports or "
                         "duplicates), in the year in which the incident started. Annual summary "
                         "returns add only what they count beyond the individual reports of the "
                         "same State, category and RSIT class.")]),
            Paragraph([_("Linked incidents: reports of several Member States that the "
                         "Secretariat linked as one incident count as one incident, with the "
                         "user-hours of the largest of its reports; each State's report still "
                         "counts in that State's figures and among the reports. Tables by "
                         "month, severity and status describe reports.")]),
            Paragraph([_("Naming: a Member State is named only when every report it made for "
                         "the year carries its consent to be named.")]),
            Paragraph([_("Confidentiality: nothing from reports marked TLP:AMBER, "
                         "TLP:AMBER+STRICT or TLP:RED appears except within aggregate counts.")]),
            para(_("Figures not published: a count from 1 to %(k1)s in a breakdown, a count "
                   "of which one Member State holds all but 1 to %(k1)s, and any figure from "
                   "which, with the figures around it, one of these could be worked out, read "
                   "“%(np)s” (not published). The same mark stands for all of them, whatever "
                   "their size, so that it tells nothing about the hidden figure."),
                 k1=self.k - 1, np=withheld_marker()) if self.k > 1 else
            Paragraph([_("Figures not published: none, as the small-count threshold is 1.")]),
            para(_("Access-denial index: denied measurements over conclusive ones (accessible "
                   "or denied), over the probe results of submitted reports measured in the "
                   "year. An index from fewer than %(k)s conclusive measurements is not "
                   "published, and a service is listed alone only when measured from two or "
                   "more Member States."), k=self.k),
            Paragraph([_("Action plan: progress is the share of the way from the baseline to "
                         "the target; the plan expects progress along a straight line from the "
                         "baseline date to the deadline. Achieved: the target is reached. On "
                         "track: at most ten points behind. At risk: at most twenty-five points "
                         "behind. Off track: further behind, or past the deadline. An action "
                         "takes the status of its weakest indicator; the plan is on track when "
                         "at least three quarters of its measured indicators are achieved or on "
                         "track and none is off track, at risk when at least half are.")]),
        ]))
        return s

    # --- helpers -----------------------------------------------------------------------------
    def linked_sentence(self) -> Paragraph | None:
        """"N incidents (M reports)" when the Secretariat linked reports of several States
        about one incident (``analysis/linking.py``); None when every report is its own."""
        t, raw = self.stats.totals, self.raw.totals
        distinct = raw["incidents"] - raw["from_summary_returns"]
        if distinct == raw["reported"]:
            return None
        # Hidden with either figure it is worked out from.
        shown = None if t["incidents"] is None or t["from_summary_returns"] is None \
            or t["reported"] is None else distinct
        return para(_("Reports of several Member States about the same incident are linked by "
                      "the Secretariat and counted once: %(incidents)s incidents "
                      "(%(reported)s reports). A linked "
                      "incident counts once in each breakdown it falls in, with the user-hours "
                      "of its largest report rather than their sum, as each State estimates "
                      "the same disruption from its side."),
                    reported=self.f.fig(t["reported"], "totals|reported"),
                    incidents=self.f.fig(shown, "totals|incidents_from_reports"))
    def count_table(self, name: str, caption: str, first: str, rows: list[dict]) -> Table:
        body = [[r["label"], self.f.count(r["incidents"], f"{name}|{r['key']}|incidents"),
                 self.user_hours(r, name)] for r in rows]
        self._csv_rows(name, rows, ("incidents", "user_hours"), small=True)
        return Table(name, caption, [first, _("Incidents"), _("User-hours")], body,
                     [False, True, True])

    def user_hours(self, row: dict, name: str) -> Figure:
        path = f"{self.year}|{name}|{row['key']}|user_hours"
        hidden = row["incidents"] is None or 0 < row["incidents"] < self.k
        if hidden or row["user_hours"] is None:
            return self.f.withheld(path, raw=row["user_hours"])
        return Figure(formatting.number(row["user_hours"]), path, raw=row["user_hours"])

    def _csv_rows(self, name: str, rows: list[dict], columns: tuple[str, ...],
                  small: bool = False) -> None:
        for r in rows:
            hidden = r["incidents"] is None or (small and 0 < r["incidents"] < self.k)
            for column in columns:
                value = HIDDEN_CSV if hidden or r[column] is None else raw_text(r[column])
                self.csv.append(AnnexRow(name, r["key"], r["label"], column, value))

    def chart(self, section: Section, key: str, caption: str, rows: list[dict],
              horizontal: bool = True, small_counts: bool = True) -> None:
        if not any(r["incidents"] for r in rows):
            section.add(Paragraph([_("No data to chart.")]))
            return
        values, texts = [], []
        for r in rows:
            n = r["incidents"]
            if n is None or (small_counts and 0 < n < self.k):
                values.append(None)
                texts.append(withheld_marker())
            else:
                values.append(n)
                texts.append(formatting.number(n))
        section.add(ChartBlock(charts.bars(key, caption, [r["label"] for r in rows], values,
                                           texts, _("Incidents"), horizontal=horizontal)))

    def indicator_value(self, indicator, value) -> Figure | str:
        if value is None:
            return "–"
        if indicator.kind != "computed":
            return formatting.number(value, 2)
        path = {Metric.STATES_REPORTING: "totals|states_reporting",
                Metric.MEDIAN_ACK_HOURS: "time_to_acknowledge|median_hours",
                Metric.EVIDENCE_SHARE: "totals|evidence_rate",
                Metric.INCIDENTS_IN_CATEGORY:
                    f"by_category|{indicator.category.code if indicator.category else ''}"
                    "|incidents"}[indicator.metric]
        if indicator.metric == Metric.EVIDENCE_SHARE:
            return self.f.share(value / 100.0, path)
        return self.f.fig(value, path, 1)

    _evaluation = None

    def evaluation(self):
        if self._evaluation is None:
            stats = self.stats
            computed = metrics.calculator(lambda year: stats)
            self._evaluation = evaluate(self.year, computed=computed)
        return self._evaluation

    def clear_examples(self) -> list[tuple[str, str, str]]:
        if not self.named:
            return []
        qs = (counted_incidents(self.flt).filter(tlp=TLP.CLEAR, state__alpha2__in=self.named,
                                                 consent_to_name=True)
              .select_related("state", "category").order_by("started_at", "pk"))
        return [(i.state.name, i.title, i.category.label) for i in qs[:MAX_CLEAR_EXAMPLES]]
