from __future__ import annotations

import json
import re
import sys

from django.core.management.base import BaseCommand, CommandError

from sentinelle.incidents import receipts
from sentinelle.incidents.models import Incident

# A version's content is bounded by the API's request size (DATA_UPLOAD_MAX_MEMORY_SIZE).
MAX_CHARS = 16 * 1024 * 1024
_REFERENCE = re.compile(r"^[A-Z]{2}-\d{4}-(\d+)$")


class Command(BaseCommand):
    help = ("Submission receipts. `sentinelle receipt verify CU-2026-00012` recomputes the "
            "SHA-256 of each receipt of a report (its version's canonical JSON and each evidence "
            "file) from what is stored and says whether they match; `sentinelle receipt hash "
            "FILE` prints the SHA-256 of a version's content saved as JSON (e.g. the `content` "
            "of GET /api/v1/incidents/{id}/versions/), as a receipt computes it.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        verify = sub.add_parser("verify", help="Recompute and compare a report's receipts.")
        verify.add_argument("report", help="The report's reference (CU-2026-00012) or number.")
        digest = sub.add_parser("hash", help="SHA-256 of a version's content in a JSON file.")
        digest.add_argument("file", help="A JSON file holding the version's content; - for stdin.")

    def handle(self, *args, **options):
        getattr(self, "_" + options["action"])(options)

    def _hash(self, options):
        name = options["file"]
        try:
            # Read at most MAX_CHARS + 1: /dev/zero or a stray dump must not fill memory.
            if name == "-":
                text = sys.stdin.read(MAX_CHARS + 1)
            else:
                with open(name, encoding="utf-8") as stream:
                    text = stream.read(MAX_CHARS + 1)
            if len(text) > MAX_CHARS:
                raise CommandError(f"{name}: not a version's content: over {MAX_CHARS} "
                                   "characters")
            content = json.loads(text)
        except OSError as exc:
            raise CommandError(f"{name}: {exc.strerror}") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CommandError(f"{name}: not JSON: {exc}") from None
        except RecursionError:
            raise CommandError(f"{name}: not a version's content: nested too deeply") from None
        if isinstance(content, dict) and isinstance(content.get("content"), dict) \
                and "number" in content:
            content = content["content"]  # one item of the API's versions list, whole
        try:
            digest = receipts.content_sha256(content)
        except UnicodeEncodeError:   # "\ud800" parses, but no stored content holds one
            raise CommandError(f"{name}: not a version's content: a lone surrogate "
                               "(\\ud800-\\udfff) cannot be encoded as UTF-8") from None
        self.stdout.write(digest)

    def _verify(self, options):
        text = options["report"].strip()
        match = _REFERENCE.match(text.upper())
        pk = match.group(1) if match else text
        if not pk.isdecimal():   # "²" is a digit int() refuses
            raise CommandError(f"report: {text!r} is neither a reference (CU-2026-00012) nor a "
                               "number")
        incident = Incident.objects.filter(pk=int(pk)).select_related("state").first()
        if incident is None or (match and incident.reference != text.upper()):
            raise CommandError(f"report: no report {text!r}")
        found = list(incident.receipts.select_related("version").order_by("id"))
        if not found:
            raise CommandError(f"report: {incident.reference} has no receipt (not submitted)")
        failed = False
        for receipt in found:
            problems = receipts.verify(receipt)
            self.stdout.write(f"{incident.reference} version {receipt.version.number} "
                              f"submitted {receipts.utc(receipt.submitted_at)} UTC: "
                              f"version {receipt.content_sha256}, "
                              f"{len(receipt.evidence)} file(s): "
                              + ("OK" if not problems else "MISMATCH"))
            for problem in problems:
                failed = True
                self.stdout.write(f"  {problem.what}: receipt {problem.recorded}, "
                                  f"now {problem.found}")
        if failed:
            raise CommandError("the stored report no longer matches its receipt")
