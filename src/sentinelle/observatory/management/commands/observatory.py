from __future__ import annotations

import os
import re

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from sentinelle.core import audit
from sentinelle.core.models import User
from sentinelle.incidents import workflow
from sentinelle.incidents.models import Incident
from sentinelle.observatory import corroboration

REFERENCE = re.compile(r"^(?P<cc>[A-Za-z]{2})-(?P<year>\d{4})-(?P<pk>\d+)$")


def find_report(user, text: str) -> Incident | None:
    """The report ``text`` names (a reference such as CU-2026-00012, or its id) among those
    ``user`` may see; None otherwise, so that an unseen report and a missing one look alike."""
    text = text.strip()
    match = REFERENCE.match(text)
    pk = int(match["pk"]) if match else int(text) if text.isdigit() else None
    if pk is None:
        return None
    incident = Incident.objects.for_user(user).select_related("state").filter(pk=pk).first()
    if incident is None or (match and incident.reference.upper() != text.upper()):
        return None
    return incident


class Command(BaseCommand):
    help = ("The access observatory on the platform side. Example: sentinelle observatory "
            "corroborate CU-2026-00012 --user alice")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        corroborate = sub.add_parser(
            "corroborate",
            help="Gather OONI measurements and other vantage points' bundles of the same URLs "
                 "(same country and network, ±3 days) and attach them to the report as a "
                 "corroboration file.")
        corroborate.add_argument("report", metavar="REPORT",
                                 help="the report: its reference as the pages show it "
                                      "(CU-2026-00012) or its id")
        corroborate.add_argument("--user", default=os.environ.get("SENTINELLE_USER"),
                                 help="who acts: a focal point of the report's State or a "
                                      "Secretariat analyst (default: $SENTINELLE_USER)")

    def handle(self, *args, **options):
        return self._corroborate(options["report"], options["user"])

    def _corroborate(self, reference: str, username: str | None) -> None:
        if not username:
            raise CommandError("--user is required (or set SENTINELLE_USER)", returncode=2)
        user = User.objects.filter(username=username).select_related("state").first()
        if user is None or not user.is_active:
            raise CommandError(f"--user: no active user {username!r}", returncode=2)
        incident = find_report(user, reference)
        if incident is None:
            raise CommandError(f"REPORT: no report {reference!r} that {user.username} may see",
                               returncode=2)
        if workflow.party(user, incident) is None:
            raise CommandError(f"--user: {user.username} is neither a focal point of "
                               f"{incident.state.alpha2} nor a Secretariat analyst",
                               returncode=2)
        try:
            corroboration.submission_of(incident)
        except corroboration.NotCorroborable as exc:
            raise CommandError(f"REPORT: {' '.join(exc.messages)}", returncode=2) from None
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      console=Console(stderr=True), transient=True,
                      disable=not self.stderr.isatty()) as bar:
            task = bar.add_task("corroborate", total=None)

            def advance(total: int, done: int) -> None:
                bar.update(task, total=total, completed=done)

            with audit.audit_context(actor=user, request_id="command:observatory"):
                try:
                    result = corroboration.corroborate(incident, user, on_progress=advance)
                except corroboration.NotCorroborable as exc:
                    raise CommandError(f"REPORT: {' '.join(exc.messages)}",
                                       returncode=2) from None
                except ValidationError as exc:
                    # The file could not be attached (over the evidence size limit...).
                    raise CommandError(f"{incident.reference}: {' '.join(exc.messages)}") \
                        from None
        for line in result.summary_lines():
            self.stdout.write(line)
        for problem in result.problems:
            self.stdout.write(problem)
        if result.withheld:
            self.stdout.write(f"{result.withheld} measurement(s) of the State's drafts or more "
                              "restricted reports were left out of the file (their readers "
                              "are fewer than this report's)")
        totals = result.totals
        self.stdout.write(
            f"{incident.reference}: {totals['agree']} agree, {totals['disagree']} disagree, "
            f"{totals['inconclusive']} inconclusive; attached {result.evidence.filename} "
            f"(SHA-256 {result.evidence.sha256})")
