"""`sentinelle restore DIR`: check a backup against its manifest, restore it, check the result."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from rich.progress import Progress

from sentinelle.core.backup import BackupError, ProgressReporter, restore_backup


class Command(BaseCommand):
    help = ("Restore a backup written by `sentinelle backup` into the configured database, data "
            "directory and MEDIA_ROOT, then check the audit chain and every stored file's "
            "SHA-256. Refuses a backup whose files do not match its manifest, and a database "
            "that is not empty unless --force. Example: sentinelle restore "
            "/srv/backups/2026-12-02")

    def add_arguments(self, parser):
        parser.add_argument("directory", metavar="DIR", help="the backup's directory")
        parser.add_argument("--force", action="store_true",
                            help="replace a database that already holds accounts, audit "
                                 "entries or reports")

    def handle(self, *args, **options):
        directory = Path(options["directory"])
        try:
            with Progress(transient=True, disable=not self.stderr.isatty()) as progress:
                result = restore_backup(directory, force=options["force"],
                                        reporter=ProgressReporter(progress))
        except BackupError as exc:
            raise CommandError(_("restore refused: %(reason)s") % {"reason": exc}) from None
        manifest = result.manifest
        self.stdout.write(_("restored %(path)s (%(engine)s database of %(created)s, Sentinelle "
                            "%(version)s)") % {
            "path": directory, "engine": manifest["database"]["engine"],
            "created": manifest.get("created_at", "?"),
            "version": manifest["sentinelle_version"]})
        for name, variable in manifest["secrets"]["configured_outside"].items():
            self.stdout.write(_("%(name)s was not in the backup: set %(variable)s to the "
                                "backed-up instance's value") % {"name": name,
                                                                 "variable": variable})
        if result.behind:
            self.stdout.write(_("the backup predates this version's migrations (%(apps)s): run "
                                "`sentinelle migrate`, then `sentinelle audit verify`") % {
                "apps": ", ".join(result.behind)})
            return
        if result.problems:
            raise CommandError(_("restored, but the checks failed:") + "\n" +
                               "\n".join(result.problems))
        chain = ngettext("audit chain intact (%(count)d entry)",
                         "audit chain intact (%(count)d entries)",
                         result.audit_entries) % {"count": result.audit_entries}
        files = ngettext("%(count)d stored file present",
                         "%(count)d stored files present",
                         result.checked_files) % {"count": result.checked_files}
        self.stdout.write(_("checks passed: %(chain)s, %(files)s, each recorded SHA-256 "
                            "matches") % {"chain": chain, "files": files})
