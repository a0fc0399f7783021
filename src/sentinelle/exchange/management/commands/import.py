from __future__ import annotations

import os

from django.core.management.base import BaseCommand, CommandError
from rich.progress import Progress

from sentinelle.core import audit
from sentinelle.core.terminal import printable
from sentinelle.exchange import formats
from sentinelle.exchange.accounts import acting_user
from sentinelle.exchange.importer import ON_INVALID, import_records
from sentinelle.exchange.reading import open_records
from sentinelle.exchange.records import FormatError
from sentinelle.incidents.models import TLP


class Command(BaseCommand):
    help = ("Import reports and indicators, all or nothing (or every valid item with "
            "--on-invalid skip). Example: sentinelle import events.json --format misp "
            "--state CU --tlp green --dry-run")

    def add_arguments(self, parser):
        parser.add_argument("file", help="the file to import")
        parser.add_argument("--format", default="auto",
                            help="auto (default) or one of the known formats")
        parser.add_argument("--state", help="ISO alpha-2 of the reporting State")
        parser.add_argument("--user", help="import as this focal point instead")
        parser.add_argument("--tlp", choices=TLP.values, help="TLP for items that carry none")
        parser.add_argument("--dry-run", action="store_true",
                            help="check and count, write nothing")
        parser.add_argument("--on-invalid", choices=ON_INVALID, default="refuse",
                            help="refuse (default): one invalid item and nothing is written; "
                                 "skip: write every valid item and list each rejected one "
                                 "(a report is never imported half)")
        parser.add_argument("--draft", action="store_true",
                            help="keep imported reports as drafts instead of submitting them")

    def handle(self, *args, **options):
        path = options["file"]
        if not os.path.isfile(path):
            raise CommandError(f"{path}: no such file")
        if options["format"] != "auto" and options["format"] not in formats.FORMAT_MODULES:
            raise CommandError(f"--format: unknown format {options['format']!r} "
                               f"(known: auto, {', '.join(formats.FORMAT_MODULES)})")
        user = acting_user(options["user"], options["state"])
        size = os.path.getsize(path)
        context = audit.audit_context(actor=user, request_id="command:import")
        bar = Progress(disable=not self.stderr.isatty(), transient=True)
        with open(path, "rb") as raw, context, bar:
            stream = bar.wrap_file(raw, total=size, description="importing")
            try:
                fmt, records = open_records(stream, options["format"], os.path.basename(path))
                summary = import_records(records, user=user, default_tlp=options["tlp"],
                                         dry_run=options["dry_run"],
                                         on_invalid=options["on_invalid"],
                                         submit=not options["draft"],
                                         source_name=os.path.basename(path))
            except FormatError as exc:
                # The reason quotes the file (a CSV header cell, an XML element name).
                raise CommandError(printable(f"{path}: {exc}", escape_backslash=False)) from None
        skip = options["on_invalid"] == "skip"
        # With skip every rejection is part of the outcome, so all are listed (on stdout, with
        # the counts); all or nothing lists the first 50 as the reasons for refusing.
        listed = summary.rejected if skip and summary.succeeded else summary.rejected[:50]
        out = self.stdout if skip and summary.succeeded else self.stderr
        verb = "would skip" if skip and options["dry_run"] else (
            "skipped" if skip and summary.succeeded else "rejected")
        for rejection in listed:
            out.write(printable(f"{verb} {rejection.where}: {rejection.reason}",
                                escape_backslash=False))
        if summary.rejected_total > len(listed):
            out.write(f"… and {summary.rejected_total - len(listed)} more rejected, not listed")
        counts = (f"reports: {summary.reports_created} created, {summary.reports_merged} "
                  f"merged, {summary.reports_updated} updated; indicators: "
                  f"{summary.indicators_created} created, {summary.indicators_merged} merged, "
                  f"{summary.indicators_updated} updated; "
                  f"{summary.rejected_total} rejected")
        if not summary.succeeded:
            raise CommandError(f"{path}: nothing imported — {counts}")
        self.stdout.write(("dry run, nothing written — " if options["dry_run"] else "") + counts)
