from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from rich.progress import Progress

from sentinelle.core.files import check as files_check
from sentinelle.core.terminal import printable

# Translators: the kinds of problem `sentinelle files check` reports, in its table.
KIND_LABELS = {
    files_check.MISSING: gettext_lazy("row, no file"),
    files_check.MISMATCH: gettext_lazy("SHA-256 differs"),
    files_check.UNMOVED: gettext_lazy("committed, still pending"),
    files_check.ORPHAN: gettext_lazy("file, no row"),
    files_check.STALE_PENDING: gettext_lazy("pending, no row"),
}


class Command(BaseCommand):
    help = ("Compare stored files with the rows that name them. Examples: sentinelle files "
            "check; sentinelle files check --format json; sentinelle files check --repair "
            "--grace 60")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        run = sub.add_parser(
            "check", help="List rows whose file is missing, files no row names, pending files "
                          "a kill left, and evidence whose SHA-256 changed; exit 1 if any.")
        run.add_argument("--repair", action="store_true",
                         help="then move committed pending files into place and remove orphan "
                              "and pending files older than --grace; rows, missing files and "
                              "SHA-256 mismatches are never touched (a human decides)")
        run.add_argument("--grace", type=int, default=60, metavar="MINUTES",
                         help="files younger than this are left alone by --repair: a running "
                              "import's (default: 60)")
        run.add_argument("--format", choices=("text", "json"), default="text",
                         help="text (a table and counts, the default) or json")

    def handle(self, *args, **options):
        if options["grace"] < 0:
            raise CommandError(_("--grace: %(value)s is not a number of minutes") % {
                "value": options["grace"]})
        with Progress(transient=True, disable=not sys.stderr.isatty()) as progress:
            def start(description: str, total: int | None):
                task = progress.add_task(description, total=total)
                return lambda n: progress.advance(task, n)

            report = files_check.check(start=start)
        found = report.counts()
        if options["repair"]:
            files_check.repair(report, options["grace"] * 60)
        if options["format"] == "json":
            self.stdout.write(json.dumps({
                "rows": report.rows, "files": report.files, "hashed": report.hashed,
                "found": found, "repaired": options["repair"],
                "findings": [f.as_dict() for f in report.findings]}, indent=1))
        else:
            self._table(report, found, options["repair"], options["grace"] * 60)
        # Exit 1 while anything is left for a person (a check, or what a repair could not or
        # would not do): a nightly `--repair` that fixed everything it found is a success.
        left = [f for f in report.findings if not f.repaired]
        if left:
            raise CommandError(ngettext("%(count)d problem found (see above).",
                                        "%(count)d problems found (see above).",
                                        len(left)) % {"count": len(left)})

    def _table(self, report: files_check.Report, found: dict[str, int], repaired: bool,
               grace: float) -> None:
        rows = [(str(KIND_LABELS[f.kind]), printable(f.name), f.row or "-", _age(f.age),
                 printable(self._action(f, repaired, grace))) for f in report.findings]
        header = (_("problem"), _("file"), _("row"), _("age"), _("repair"))
        if rows:
            widths = [max(len(line[i]) for line in [header, *rows]) for i in range(5)]
            for line in [header, *rows]:
                self.stdout.write("  ".join(cell.ljust(width)
                                            for cell, width in zip(line, widths, strict=True))
                                  .rstrip())
            self.stdout.write("")
        self.stdout.write(_("Rows checked: %(rows)d; files: %(files)d; SHA-256 recomputed: "
                            "%(hashed)d.") % {"rows": report.rows, "files": report.files,
                                              "hashed": report.hashed})
        self.stdout.write("; ".join(f"{KIND_LABELS[kind]}: {count}"
                                    for kind, count in found.items()))
        if repaired:
            done = sum(1 for f in report.findings if f.repaired)
            self.stdout.write(_("Repaired: %(count)d.") % {"count": done})

    @staticmethod
    def _action(finding: files_check.Finding, repaired: bool, grace: float) -> str:
        if finding.kind in (files_check.MISSING, files_check.MISMATCH):
            return _("left for a human to decide")
        if not repaired:
            if finding.kind == files_check.UNMOVED:
                return _("--repair would move it into place")
            if finding.age is None or finding.age < grace:
                return _("younger than the grace period")
            return _("--repair would remove it")
        if finding.repaired:
            return _("moved into place") if finding.kind == files_check.UNMOVED else _("removed")
        return _("left: %(why)s") % {"why": finding.note or "-"}


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.0f} h"
