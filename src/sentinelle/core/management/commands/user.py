from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from sentinelle.core import audit, notifications
from sentinelle.core.admin_audit import snapshot
from sentinelle.core.models import MemberState, Role, User


class Command(BaseCommand):
    help = ("Provision users. Example: sentinelle user create cu-cirt --role focal-point "
            "--state CU --email cirt@example.cu")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Create a user; the password is read from "
                                "--password or SENTINELLE_NEW_PASSWORD, or left unusable.")
        create.add_argument("name", help="the account name (sign-in)")
        create.add_argument("--role", required=True, choices=Role.values,
                            help="one of " + ", ".join(Role.values))
        create.add_argument("--state", help="ISO alpha-2 of the State (focal points).")
        create.add_argument("--email", default="", help="where notifications go")
        create.add_argument("--password", default=None,
                            help="the password (default: $SENTINELLE_NEW_PASSWORD, else "
                                 "unusable until reset)")
        create.add_argument("--language", default="",
                            help="language of the user's e-mails and pages (en, fr, es, ar, "
                                 "zh-hans, ru)")
        sub.add_parser("list", help="List users with role and State.")

    def handle(self, *args, **options):
        with audit.audit_context(actor="command:user"):
            if options["action"] == "list":
                for user in User.objects.select_related("state").order_by("username"):
                    state = user.state.alpha2 if user.state else "-"
                    self.stdout.write(f"{user.username}\t{user.role}\t{state}\t{user.email}")
                return
            self._create(options)

    @transaction.atomic
    def _create(self, options):
        import os

        name = options["name"]
        if User.objects.filter(username=name).exists():
            raise CommandError(f"user {name!r} already exists")
        state = None
        if options["state"]:
            state = MemberState.objects.filter(alpha2=options["state"].upper()).first()
            if state is None:
                raise CommandError(f"--state: unknown Member State {options['state']!r}")
        if options["role"] == Role.FOCAL_POINT and state is None:
            raise CommandError("--state is required for a focal point")
        if options["role"] != Role.FOCAL_POINT and state is not None:
            raise CommandError("--state is only for focal points")
        password = options["password"] or os.environ.get("SENTINELLE_NEW_PASSWORD")
        user = User(username=name, email=options["email"], role=options["role"], state=state,
                    language=options["language"], is_staff=options["role"] == Role.ADMIN,
                    is_superuser=options["role"] == Role.ADMIN)
        if password:
            try:
                validate_password(password, user)
            except ValidationError as exc:
                raise CommandError("password: " + " ".join(exc.messages)) from None
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
        audit.record("user.create", user, after={"username": name, "role": user.role,
                                                 "state": state.alpha2 if state else None})
        notifications.account_changed(None, snapshot(user), "command:user create")
        self.stdout.write(f"created {name} ({user.role}{', ' + state.alpha2 if state else ''})")
