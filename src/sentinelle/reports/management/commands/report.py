"""`sentinelle report annual`: the annual report to Council, in one command."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from sentinelle.core import audit
from sentinelle.reports import services
from sentinelle.reports.options import (
    DEFAULT_AGENDA_ITEM,
    DEFAULT_DOCUMENT,
    FORMATS,
    LANGUAGES,
    ReportOptions,
)


class Command(BaseCommand):
    help = ("Produce the annual report to Council. Example: sentinelle report annual --year 2026 "
            "--lang fr --format pdf --output C27-70-F.pdf (the annex CSV is written beside it "
            "as C27-70-F-annex.csv)")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="what", required=True)
        annual = sub.add_parser("annual", help="the annual report on incidents and the action "
                                               "plan")
        annual.add_argument("--year", type=int, required=True, help="year of the incidents")
        annual.add_argument("--lang", default="en", help=f"one of {', '.join(LANGUAGES)}")
        annual.add_argument("--format", dest="fmt", default="pdf",
                            help=f"one of {', '.join(FORMATS)}")
        annual.add_argument("--output", required=True, help="file to write")
        annual.add_argument("--council-year", type=int, default=None,
                            help="year of the Council session (default: the next year)")
        annual.add_argument("--session", default="",
                            help="session and dates printed after 'Council YYYY'")
        annual.add_argument("--agenda-item", default=DEFAULT_AGENDA_ITEM,
                            help=f"default {DEFAULT_AGENDA_ITEM}")
        annual.add_argument("--document-number", type=int, default=DEFAULT_DOCUMENT,
                            help=f"n in C<yy>/<n>-E (default {DEFAULT_DOCUMENT})")
        annual.add_argument("--date", default=None,
                            help="date printed on the cover, YYYY-MM-DD (default: today)")

        forget_help = ("drop the kept statistics of closed years (all, or one --year); they are "
                       "computed again when next read. Example: sentinelle report "
                       "forget-statistics --year 2025")
        forget = sub.add_parser("forget-statistics", help=forget_help, description=forget_help)
        forget.add_argument("--year", type=int, default=None,
                            help="only this year (default: every kept year)")

    def handle(self, *args, **options):
        if options["what"] == "forget-statistics":
            from sentinelle.analysis import stats_store
            from sentinelle.analysis.models import KeptStatistics

            # forget() counts the rows it drops, one per year and language: say the years.
            kept = KeptStatistics.objects.all() if options["year"] is None else \
                KeptStatistics.objects.filter(year=options["year"])
            dropped = kept.values("year").distinct().count()
            with audit.audit_context(actor="command:report"):
                stats_store.forget(options["year"])
            years = "year" if dropped == 1 else "years"
            self.stdout.write(f"dropped the kept statistics of {dropped} closed {years}")
            return
        try:
            date = dt.date.fromisoformat(options["date"]) if options["date"] else None
        except ValueError as exc:
            raise CommandError(f"--date: {options['date']!r} is not a YYYY-MM-DD date") from exc
        try:
            report = ReportOptions(
                year=options["year"], lang=options["lang"], fmt=options["fmt"],
                council_year=options["council_year"], session=options["session"],
                agenda_item=options["agenda_item"],
                document_number=options["document_number"], date=date)
        except ValidationError as exc:
            names = {"lang": "--lang", "fmt": "--format", "year": "--year",
                     "document_number": "--document-number"}
            reasons = [f"{names.get(k, k)}: {' '.join(v).rstrip('.')}"
                       for k, v in exc.message_dict.items()]
            raise CommandError("; ".join(reasons)) from exc
        output = Path(options["output"]).expanduser()
        try:
            with audit.audit_context(actor="command:report"):
                document, annex = services.write(report, output)
        except (OSError, ValueError) as exc:
            raise CommandError(f"--output: {exc}") from exc
        self.stdout.write(f"wrote {document} and {annex}")
