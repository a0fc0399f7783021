"""`sentinelle backup --output DIR`: the database, files and keys, with a manifest."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from rich.progress import Progress

from sentinelle.core.backup import BackupError, ProgressReporter, create_backup, manifest_digest


class Command(BaseCommand):
    help = ("Back up the database (pg_dump on PostgreSQL, SQLite's online backup), the evidence "
            "and other stored files, and the instance's key files, with a manifest of SHA-256s. "
            "The backup holds secrets: keep it where only the operators can read it. "
            "Example: sentinelle backup --output /srv/backups/2026-12-02")

    def add_arguments(self, parser):
        parser.add_argument("--output", required=True, metavar="DIR",
                            help="the directory to write the backup into; it must not exist or "
                                 "be empty")

    def handle(self, *args, **options):
        output = Path(options["output"])
        try:
            with Progress(transient=True, disable=not self.stderr.isatty()) as progress:
                manifest = create_backup(output, ProgressReporter(progress))
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        files = manifest["files"]
        self.stdout.write(ngettext("backup written to %(path)s: %(engine)s database, %(count)d "
                                   "file, %(bytes)d bytes",
                                   "backup written to %(path)s: %(engine)s database, %(count)d "
                                   "files, %(bytes)d bytes", len(files)) % {
            "path": output, "engine": manifest["database"]["engine"], "count": len(files),
            "bytes": sum(entry["size"] for entry in files)})
        included = ", ".join(manifest["secrets"]["included"]) or "-"
        self.stdout.write(_("secrets in the backup: %(names)s (protect it accordingly)") %
                          {"names": included})
        for name, variable in manifest["secrets"]["configured_outside"].items():
            self.stdout.write(_("not in the backup: %(name)s, set by %(variable)s: keep it "
                                "with the backup") % {"name": name, "variable": variable})
        if not manifest["media"]["included"]:
            self.stdout.write(_("not in the backup: the stored files, kept by %(storage)s: back "
                                "them up with that storage's own means") % {
                "storage": manifest["media"]["storage"]})
        self.stdout.write(_("manifest SHA-256: %(digest)s") % {
            "digest": manifest_digest(output)})
