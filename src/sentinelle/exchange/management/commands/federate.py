from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from sentinelle.core import audit, jobs, notifications
from sentinelle.core.models import MemberState
from sentinelle.exchange import federation
from sentinelle.exchange.accounts import acting_user
from sentinelle.exchange.models import FederationRemote, normalise_remote


class Command(BaseCommand):
    help = ("Pull from or push to a remote TAXII 2.1 collection, incrementally; or say which "
            "Member States a remote is trusted for. Example: "
            "sentinelle federate pull --remote https://hub.example.org/taxii2/ --api-root "
            "sentinelle --collection all --token-file /run/secrets/hub --state CU; "
            "sentinelle federate trust --remote https://hub.example.org/taxii2/ "
            "--trusted-states CU,JM")

    def add_arguments(self, parser):
        parser.add_argument("direction", choices=["pull", "push", "trust"],
                            help="pull: import the remote's objects; push: send ours; trust: "
                                 "show or set the Member States the remote is trusted for")
        parser.add_argument("--remote", required=True, help="the remote TAXII server URL")
        parser.add_argument("--api-root",
                            help="pull, push (required): API root name (as in /taxii2/<name>/) "
                                 "or its full URL")
        parser.add_argument("--collection", help="pull, push (required): collection id (or name)")
        parser.add_argument("--trusted-states", metavar="CODES",
                            help="trust: comma-separated ISO alpha-2 codes of the Member States "
                                 "whose records a pull from this remote files under them "
                                 "(besides the puller's own State); an empty value trusts none")
        parser.add_argument("--token", help="the remote's API token (prefer --token-file)")
        parser.add_argument("--token-file", help="a file holding the remote's API token")
        parser.add_argument("--token-env", help="an environment variable holding the token "
                                                "(default SENTINELLE_FEDERATION_TOKEN)")
        parser.add_argument("--basic-user", help="HTTP basic user, for servers such as medallion")
        parser.add_argument("--basic-password", help="HTTP basic password")
        parser.add_argument("--state", help="ISO alpha-2 of the local State")
        parser.add_argument("--user", help="the local focal point to act as")
        parser.add_argument("--sharing-group",
                            help="push: the remote collection is this group's; AMBER objects "
                                 "shared with the group may go too")
        parser.add_argument("--full", action="store_true",
                            help="ignore the cursor and take everything again (idempotent)")
        parser.add_argument("--on-invalid", choices=["refuse", "skip"], default="refuse",
                            help="pull: refuse (default): one invalid object and nothing is "
                                 "written, the next pull retries; skip: write every valid "
                                 "object, list the invalid ones, and move on")
        parser.add_argument("--dry-run", action="store_true", help="pull: check, write nothing; "
                                                                   "push: count, send nothing")
        parser.add_argument("--background", action="store_true",
                            help="run as a job (needs --token-file or --token-env)")

    def handle(self, *args, **options):
        if options["direction"] == "trust":
            self._trust(options)
            return
        for name in ("api_root", "collection"):
            if not options[name]:
                raise CommandError(f"--{name.replace('_', '-')} is required for "
                                   f"{options['direction']}", returncode=2)
        user = acting_user(options["user"], options["state"])
        where = {"remote": options["remote"], "api_root": options["api_root"],
                 "collection": options["collection"]}
        if options["background"]:
            if options["token"]:
                raise CommandError("--background: give --token-file or --token-env; a job "
                                   "never stores a token in clear")
            params = {"direction": options["direction"], **where,
                      "token_file": options["token_file"], "token_env": options["token_env"],
                      "sharing_group": options["sharing_group"],
                      "on_invalid": options["on_invalid"] if options["direction"] == "pull"
                      else None}
            job = jobs.start("federate", user, {k: v for k, v in params.items() if v})
            self.stdout.write(f"job {job.pk}: {job.status}")
            return
        try:
            token = options["token"] or federation.resolve_token(
                {"token_file": options["token_file"], "token_env": options["token_env"]})
        except OSError as exc:
            raise CommandError(f"--token-file: {exc}") from None
        auth = None
        if options["basic_user"]:
            auth = {"user": options["basic_user"], "password": options["basic_password"]}
        kwargs = {**where, "user": user, "token": token, "auth": auth,
                  "dry_run": options["dry_run"], "full": options["full"]}
        if options["direction"] == "push":
            kwargs["sharing_group"] = options["sharing_group"]
        else:
            kwargs["on_invalid"] = options["on_invalid"]
        run = federation.pull if options["direction"] == "pull" else federation.push
        with audit.audit_context(actor=user, request_id=f"command:federate-{options['direction']}"):
            try:
                result = run(**kwargs)
            except federation.FederationError as exc:
                raise CommandError(str(exc)) from None
        self.stdout.write(json.dumps(result.as_dict(), default=str))

    def _trust(self, options) -> None:
        """Show, or with --trusted-states set, the States a remote is trusted for."""
        url = normalise_remote(options["remote"])
        if options["trusted_states"] is not None:
            codes = [c.strip().upper() for c in options["trusted_states"].split(",")
                     if c.strip()]
            states = list(MemberState.objects.filter(alpha2__in=codes))
            unknown = sorted(set(codes) - {s.alpha2 for s in states})
            if unknown:
                raise CommandError(f"--trusted-states: unknown Member State(s) "
                                   f"{', '.join(unknown)}", returncode=2)
            with transaction.atomic(), audit.audit_context(
                    actor="command", request_id="command:federate-trust"):
                remote, _created = FederationRemote.objects.get_or_create(url=url)
                before = sorted(remote.trusted_states.values_list("alpha2", flat=True))
                before_pks = list(remote.trusted_states.values_list("pk", flat=True))
                remote.trusted_states.set(states)
                # The States concerned are told, as the admin tells them (exchange/admin.py).
                notices = notifications.remote_trust_changed(
                    url, before_pks, [s.pk for s in states], "sentinelle federate trust")
                audit.record("exchange.federate.trust", remote, before={"trusted": before},
                             after={"trusted": sorted({s.alpha2 for s in states}),
                                    **({"notified": notices} if notices else {})})
            for state in dict.fromkeys(n["state"] for n in notices if not n["state_told"]):
                self.stderr.write(f"No focal point of {state} was told of this change (no "
                                  "active focal point with an e-mail address): tell the State "
                                  "some other way.")
        remote = FederationRemote.objects.filter(url=url).first()
        trusted = sorted(remote.trusted_states.values_list("alpha2", flat=True)) if remote else []
        self.stdout.write(json.dumps({"remote": url, "trusted_states": trusted}))
