from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from rich.progress import Progress

from sentinelle.core.audit import verify_chain
from sentinelle.core.models import AuditEntry


class Command(BaseCommand):
    help = "Check the audit trail. Example: sentinelle audit verify (exit 0 when intact)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("verify", help="Recompute every hash and link; name the first bad entry.")

    def handle(self, *args, **options):
        total = AuditEntry.objects.count()
        with Progress(transient=True, disable=not self.stderr.isatty()) as progress:
            task = progress.add_task("verifying", total=total)
            problem = verify_chain(lambda: progress.advance(task))
        if problem is not None:
            raise CommandError(f"audit chain broken at entry #{problem.seq}: {problem.reason}")
        self.stdout.write(f"audit chain intact: {total} entries")
