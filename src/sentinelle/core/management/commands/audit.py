from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import ngettext
from rich.progress import Progress

from sentinelle.core.audit import (
    CheckpointError,
    instance_signing_key,
    make_checkpoint,
    read_checkpoint,
    verify_chain,
)
from sentinelle.core.models import AuditEntry
from sentinelle.core.models.audit import SCHEME_PLAIN
from sentinelle.evidence import keys


class Command(BaseCommand):
    help = ("Check and anchor the audit trail. Examples: sentinelle audit verify; "
            "sentinelle audit checkpoint --output head.json; "
            "sentinelle audit verify --checkpoint head.json --key instance.pub")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        verify = sub.add_parser(
            "verify", help="Recompute every hash and link; name the first bad entry.")
        verify.add_argument("--checkpoint", action="append", default=[], metavar="FILE",
                            help="a checkpoint the chain must still hold (may be repeated)")
        verify.add_argument("--key", metavar="PUB",
                            help="the public key that signed the checkpoints (default: this "
                                 "instance's key)")
        checkpoint = sub.add_parser(
            "checkpoint", help="Write the head's sequence and hash, signed with the instance key.")
        checkpoint.add_argument("--output", required=True, metavar="FILE",
                                help="where to write the checkpoint (JSON); - for stdout")
        public = sub.add_parser("public-key", help="Print the instance's public key (PEM).")
        public.add_argument("--output", metavar="FILE", help="write it to FILE instead")

    def handle(self, *args, **options):
        if options["action"] == "checkpoint":
            return self._checkpoint(options["output"])
        if options["action"] == "public-key":
            return self._public_key(options["output"])
        return self._verify(options["checkpoint"], options["key"])

    def _verify(self, paths: list[str], key_path: str | None) -> None:
        public_key = None
        if key_path:
            try:
                public_key = keys.load_public(key_path)
            except keys.KeyFileError as exc:
                raise CommandError(f"--key: {exc}") from None
        try:
            checkpoints = [read_checkpoint(path, public_key) for path in paths]
        except CheckpointError as exc:
            raise CommandError(f"--checkpoint: {exc}") from None
        total = AuditEntry.objects.count()
        with Progress(transient=True, disable=not self.stderr.isatty()) as progress:
            task = progress.add_task("verifying", total=total)
            problem = verify_chain(lambda: progress.advance(task), checkpoints=checkpoints)
        if problem is not None:
            raise CommandError(f"audit chain broken at entry #{problem.seq}: {problem.reason}")
        plain = AuditEntry.objects.filter(scheme=SCHEME_PLAIN).count()
        note = f" ({plain} written before the chain was keyed)" if plain else ""
        self.stdout.write(ngettext("audit chain intact: %(count)d entry",
                                   "audit chain intact: %(count)d entries", total)
                          % {"count": total} + note)
        for checkpoint in checkpoints:
            self.stdout.write(f"checkpoint of {checkpoint.created_at} holds: entry "
                              f"#{checkpoint.seq} has hash {checkpoint.hash}")

    def _checkpoint(self, output: str) -> None:
        document = make_checkpoint()
        text = json.dumps(document, indent=1, sort_keys=True) + "\n"
        if output == "-":
            self.stdout.write(text, ending="")
            return
        target = Path(output)
        # Written beside the target and renamed: a checkpoint file is whole or absent.
        try:
            descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        except OSError as exc:
            raise CommandError(f"--output: {output}: {exc.strerror}") from None
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.chmod(temporary, 0o644)   # a checkpoint is meant to be published
            os.replace(temporary, target)
        except OSError as exc:
            Path(temporary).unlink(missing_ok=True)
            raise CommandError(f"--output: {output}: {exc.strerror}") from None
        self.stderr.write(f"checkpoint of entry #{document['seq']} written to {target} "
                          f"(key {document['key_fingerprint']})")

    def _public_key(self, output: str | None) -> None:
        pem = keys.public_pem(instance_signing_key().public_key()).decode()
        if output is None:
            self.stdout.write(pem, ending="")
            return
        try:
            Path(output).write_text(pem)
        except OSError as exc:
            raise CommandError(f"--output: {output}: {exc.strerror}") from None
