from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile

from django.core.management.base import BaseCommand, CommandError

from sentinelle.core.models import User
from sentinelle.exchange.exporting import EXPORTERS, export


class Command(BaseCommand):
    help = ("Export what a user may see. Example: sentinelle export --format stix "
            "--user fp-cu --since 2026-01-01 --output cu.json")

    def add_arguments(self, parser):
        parser.add_argument("--format", required=True, choices=sorted(EXPORTERS),
                            help="the file format: " + ", ".join(sorted(EXPORTERS)))
        parser.add_argument("--user", required=True,
                            help="export what this user may see (their State and TLP)")
        parser.add_argument("--since", type=dt.date.fromisoformat,
                            help="only what changed on or after this date (YYYY-MM-DD)")
        parser.add_argument("--category", action="append", default=[],
                            help="only this category (repeatable)")
        parser.add_argument("--output", default="-", help="file to write (default: stdout)")

    def handle(self, *args, **options):
        user = User.objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"--user: no user named {options['user']!r}")
        if options["output"] == "-":
            export(options["format"], user, sys.stdout.buffer, since=options["since"],
                   categories=options["category"])
            return
        target = os.path.abspath(options["output"])
        # Written beside the target and renamed at the end: never a half file.
        handle, temporary = tempfile.mkstemp(dir=os.path.dirname(target), suffix=".part")
        try:
            with os.fdopen(handle, "wb") as stream:
                export(options["format"], user, stream, since=options["since"],
                       categories=options["category"])
            os.replace(temporary, target)
        except BaseException:
            os.unlink(temporary)
            raise
        self.stderr.write(f"wrote {target}")
