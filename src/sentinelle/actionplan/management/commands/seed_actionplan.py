"""A realistic demo action plan (idempotent: running it again changes nothing)."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.translation import ngettext

from sentinelle.actionplan.models import Action, Indicator, Metric, ProgressUpdate
from sentinelle.core import audit
from sentinelle.incidents.models import Category

# (code, clause, title, responsible, indicators); each indicator: (code, name, unit, kind,
# metric, category, baseline, target, direction, updates as (months after start, value, note)).
PLAN = [
    ("A1", "Res. 130 (Rev. Busan, 2014), instructs the Secretary-General 2",
     "Receive, analyse and report to Council the incident information transmitted by Member "
     "States", "GS", [
         ("A1.1", "Member States reporting incidents in the year", "States", "computed",
          Metric.STATES_REPORTING, None, 6, 30, "up", []),
         ("A1.2", "Median time to acknowledge a report", "hours", "computed",
          Metric.MEDIAN_ACK_HOURS, None, 96, 24, "down", []),
         ("A1.3", "Share of reports with evidence attached", "%", "computed",
          Metric.EVIDENCE_SHARE, None, 10, 40, "up", []),
     ]),
    ("A2", "Res. 130 (Rev. Busan, 2014), instructs the Director of BDT 1",
     "Assist Member States in establishing and enhancing national CIRTs", "BDT", [
         ("A2.1", "National CIRTs established or enhanced with ITU assistance", "CIRTs",
          "manual", "", None, 0, 12, "up",
          [(4, 2, "CIRT assessments completed in two States."),
           (10, 5, "Three establishment projects finished."),
           (15, 7, "Two enhancement projects finished.")]),
         ("A2.2", "Regional cyberdrills held", "drills", "manual", "", None, 0, 6, "up",
          [(6, 1, "Regional cyberdrill for the Americas."),
           (13, 2, "Regional cyberdrill for Africa.")]),
     ]),
    ("A3", "Res. 130 (Rev. Busan, 2014), instructs the Director of TSB 1 (ii)",
     "Develop Recommendations for the exchange of technical information on incidents", "TSB", [
         ("A3.1", "ITU-T Recommendations on incident information exchange approved",
          "Recommendations", "manual", "", None, 0, 3, "up",
          [(9, 1, "Recommendation approved by Study Group 17.")]),
     ]),
    ("A4", "Res. 64 (Rev. Busan, 2014), invites Member States 3",
     "Document denial of access to public Internet sites and resources", "GS", [
         ("A4.1", "Incidents of denial of access reported with the platform", "incidents",
          "computed", Metric.INCIDENTS_IN_CATEGORY, "access-denial", 5, 60, "up", []),
         ("A4.2", "Vantage points running the access probe", "vantage points", "manual", "",
          None, 0, 40, "up",
          [(5, 3, "Pilot with three national CIRTs."),
           (12, 9, "Six more vantage points after the regional workshop.")]),
     ]),
    ("A5", "Res. 174 (Rev. Busan, 2014), instructs the Secretary-General 2",
     "Collect and publish good practices of Member States against the illicit use of ICTs",
     "GS", [
         ("A5.1", "Good practices published on the cybersecurity gateway", "good practices",
          "manual", "", None, 0, 30, "up",
          [(8, 6, "First collection published."), (14, 14, "Second call for contributions.")]),
     ]),
    ("A6", "Res. 130 (Rev. Busan, 2014), instructs the Directors of the Bureaux",
     "Raise awareness of the security of radiocommunication systems", "BR", [
         ("A6.1", "Awareness workshops on radiocommunication security", "workshops", "manual",
          "", None, 0, 4, "up", [(11, 1, "Workshop at the World Radiocommunication Seminar.")]),
     ]),
]


def _months_after(start: dt.date, months: int) -> dt.date:
    year, month = divmod(start.month - 1 + months, 12)
    return dt.date(start.year + year, month + 1, min(start.day, 28))


class Command(BaseCommand):
    help = ("Seed a demo action plan (actions, indicators, progress updates). Idempotent. "
            "Example: sentinelle seed-actionplan --year 2026")

    def add_arguments(self, parser):
        parser.add_argument("--year", type=int, default=dt.date.today().year,
                            help="the demo year; the plan runs from 1 January of the year "
                                 "before to 31 December of the year after")

    def handle(self, *args, **options):
        year = options["year"]
        if not 2000 <= year <= 2100:
            raise CommandError(f"--year: {year} is not a plausible year")
        start, end = dt.date(year - 1, 1, 1), dt.date(year + 1, 12, 31)
        today = dt.date.today()
        added = 0
        with audit.audit_context(actor="command:seed-actionplan"), transaction.atomic():
            for position, (code, clause, title, responsible, indicators) in enumerate(PLAN):
                action, created = Action.objects.get_or_create(code=code, defaults={
                    "clause": clause, "title": title, "responsible": responsible,
                    "start_date": start, "end_date": end, "position": position})
                if created:
                    added += 1
                    audit.record("actionplan.action.add", action, after={"code": code})
                for i, (icode, name, unit, kind, metric, category, baseline, target, direction,
                        updates) in enumerate(indicators):
                    indicator, created = Indicator.objects.get_or_create(code=icode, defaults={
                        "action": action, "name": name, "unit": unit, "kind": kind,
                        "metric": metric,
                        "category": Category.objects.filter(code=category).first()
                        if category else None,
                        "baseline": baseline, "baseline_date": start, "target": target,
                        "deadline": end, "direction": direction, "position": i})
                    if not created:
                        continue
                    audit.record("actionplan.indicator.add", indicator, after={"code": icode})
                    for months, value, note in updates:
                        day = _months_after(start, months)
                        if day <= today:
                            ProgressUpdate.objects.create(indicator=indicator, date=day,
                                                          value=value, note=note)
        self.stdout.write(ngettext("action plan: %(added)d action added, %(total)d in all",
                                   "action plan: %(added)d actions added, %(total)d in all", added)
                          % {"added": added, "total": Action.objects.count()})
