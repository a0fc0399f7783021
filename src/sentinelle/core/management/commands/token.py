from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from sentinelle.core import audit, services
from sentinelle.core.models import ApiToken, User


class Command(BaseCommand):
    help = ("Manage API tokens. Example: sentinelle token create --user cu-cirt --read-only "
            "--expires-days 90 (prints only the token, once).")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Issue a token and print it once on stdout.")
        create.add_argument("--user", required=True, help="the user the token acts as")
        create.add_argument("--name", default="", help="a label to recognise the token by")
        create.add_argument("--read-only", action="store_true",
                            help="the token may read, not write")
        create.add_argument("--expires-days", type=int, default=None,
                            help="the token expires after N days (default: never)")
        listing = sub.add_parser("list", help="List a user's tokens (prefixes only).")
        listing.add_argument("--user", required=True, help="whose tokens")
        revoke = sub.add_parser("revoke", help="Revoke a token by its prefix.")
        revoke.add_argument("prefix", help="the token's prefix, as `token list` shows it")

    def handle(self, *args, **options):
        with audit.audit_context(actor="command:token"):
            getattr(self, "_" + options["action"])(options)

    def _user(self, name: str) -> User:
        user = User.objects.filter(username=name).first()
        if user is None:
            raise CommandError(f"--user: no user named {name!r}")
        return user

    def _create(self, options):
        user = self._user(options["user"])
        days = options["expires_days"]
        if days is not None and not 1 <= days <= 3650:
            raise CommandError("--expires-days must be between 1 and 3650")
        _token, secret = services.issue_token(user, name=options["name"],
                                              read_only=options["read_only"], expires_days=days)
        self.stdout.write(secret)

    def _list(self, options):
        for token in ApiToken.objects.filter(user=self._user(options["user"])):
            state = "revoked" if token.revoked_at else ("active" if token.is_active else "expired")
            self.stdout.write(f"{token.prefix}\t{state}\t{'ro' if token.read_only else 'rw'}\t"
                              f"{token.name}\t{token.last_used_at or '-'}")

    def _revoke(self, options):
        prefix = options["prefix"].removeprefix("snl_").split("_")[0]
        token = ApiToken.objects.filter(prefix=prefix).first()
        if token is None:
            raise CommandError(f"no token with prefix {prefix!r}")
        # Revoking twice is not an error (scripts may repeat it); the first time stands.
        done = services.revoke_token(token)
        self.stdout.write(f"{'revoked' if done else 'already revoked'} {prefix}")
