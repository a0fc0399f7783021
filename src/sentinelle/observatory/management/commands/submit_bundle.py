from __future__ import annotations

import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from sentinelle.core import audit
from sentinelle.core.models import User
from sentinelle.evidence import keys
from sentinelle.observatory import bundles, services


class Command(BaseCommand):
    help = ("Verify an evidence bundle and make a draft report of it (access-denial for a "
            "probe bundle, routing-disruption for a routing scan). Example: sentinelle probe "
            "submit run.zip --user alice --key probe.key.pub")

    def add_arguments(self, parser):
        parser.add_argument("bundle", help="the bundle (zip) written by probe run or routing scan")
        parser.add_argument("--expect", choices=sorted(e for e, _l in bundles.expect_choices()),
                            help="refuse a bundle of the other kind")
        parser.add_argument("--user", default=os.environ.get("SENTINELLE_USER"),
                            help="the focal point submitting (default: $SENTINELLE_USER)")
        parser.add_argument("--key", help="the signer's public key (PEM); without it, the key "
                                          "in the bundle is used and its fingerprint printed")

    def handle(self, *args, **options):
        if not options["user"]:
            raise CommandError("--user is required (or set SENTINELLE_USER): the focal point "
                               "whose State reports")
        user = User.objects.filter(username=options["user"]).select_related("state").first()
        if user is None or not user.is_active:
            raise CommandError(f"--user: no active user {options['user']!r}")
        if not user.is_focal_point:
            raise CommandError(f"--user: {user.username} is not a Member State's focal point")
        public_key = None
        if options["key"]:
            try:
                public_key = keys.load_public(options["key"])
            except (OSError, ValueError) as exc:
                raise CommandError(f"--key: {exc}") from None
        with audit.audit_context(actor=user, request_id="command:submit_bundle"):
            try:
                outcome = services.submit(user, options["bundle"], expect=options["expect"],
                                          public_key=public_key)
            except services.BundleRefused as exc:
                raise CommandError(f"{options['bundle']}: refused\n  "
                                   + "\n  ".join(exc.messages)) from None
        incident = outcome.incident
        self.stdout.write(outcome.message)
        self.stdout.write(f"{incident.reference} "
                          f"{settings.BASE_URL.rstrip('/')}{incident.get_absolute_url()}")
