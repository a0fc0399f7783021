"""The `sentinelle` command: Django management commands with the settings preset.

Subcommands are written with hyphens as users type them (`seed-demo`); Django's command modules
use underscores, so the name is translated before dispatch.

The measuring tools (`probe`, `routing`, `evidence`) run without the platform: they are
dispatched to plain-Python entry points before Django is set up, so a CIRT can run them on a
laptop with only the package installed. Only `probe submit` and `routing submit`, which file a
report, go through Django (the `submit_bundle` management command).

The bare command (and `sentinelle help`, `--help`) lists the platform's own commands, grouped,
with one line each: Django's own list (sixty commands, most of them for Django developers)
buried them. `sentinelle help --django` still prints Django's list.
"""

from __future__ import annotations

import importlib
import os
import sys

# sysexits.h: a temporary failure, worth retrying (the database was busy).
EX_TEMPFAIL = 75

PLAIN_GROUPS = {
    "probe": "sentinelle.observatory.access.cli",
    "routing": "sentinelle.observatory.routing.cli",
    "evidence": "sentinelle.evidence.cli",
}


def gettext_noop(message: str) -> str:
    """Mark a message for the catalogue without translating it (Django is not set up yet)."""
    return message


# The listing of the bare command: (group title, ((command as typed, one line), ...)).
# Marked with gettext_noop here, translated when printed (Django is set up by then).
# tests/project/test_readme_examples.py fails when a platform management command is missing here.
COMMAND_GROUPS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (gettext_noop("Reports and exchange"), (
        ("report", gettext_noop("the annual report to Council (PDF, DOCX or HTML)")),
        ("import", gettext_noop("import reports and indicators from a file (STIX, MISP, "
                                "CSV…)")),
        ("export", gettext_noop("export what a user may see (STIX, MISP, CSV, XLSX)")),
        ("federate", gettext_noop("pull from or push to another instance or TAXII 2.1 "
                                  "server")),
        ("enrich", gettext_noop("add AS number and country to IP indicators (MMDB files)")),
    )),
    (gettext_noop("Access observatory and routing monitor (probe, routing and evidence need no "
                  "database)"), (
        ("probe", gettext_noop("measure denial of access: run, helper, campaign; submit: file a "
                               "bundle")),
        ("routing", gettext_noop("BGP hijacks and leaks: scan, dump, vrp-to-watch; submit: "
                                 "file a bundle")),
        ("evidence", gettext_noop("signed evidence bundles: keygen, verify")),
        ("observatory", gettext_noop("corroborate an access-denial report with OONI and "
                                     "other vantage points")),
    )),
    (gettext_noop("Accounts and audit"), (
        ("user", gettext_noop("create and list accounts: create, list")),
        ("token", gettext_noop("API tokens: create, list, revoke")),
        ("audit", gettext_noop("the audit chain: verify, checkpoint, public-key")),
        ("receipt", gettext_noop("check a report's submission receipts: verify, hash")),
    )),
    (gettext_noop("Operations"), (
        ("backup", gettext_noop("back up the database, evidence files and keys, with a "
                                "manifest")),
        ("restore", gettext_noop("restore a backup, then check the audit chain and files")),
        ("files", gettext_noop("stored files against their rows: check [--repair]")),
    )),
    (gettext_noop("Demo data"), (
        ("seed-demo", gettext_noop("a demo year of reports, users and summary returns")),
        ("seed-actionplan", gettext_noop("a demo action plan")),
        ("seed-gateway", gettext_noop("demo gateway entries")),
        ("seed-observatory", gettext_noop("demo probe and routing bundles, submitted")),
    )),
    (gettext_noop("Running the platform (Django's commands)"), (
        ("migrate", gettext_noop("create or update the database")),
        ("runserver", gettext_noop("serve the platform for a demo (production: gunicorn)")),
        ("db-worker", gettext_noop("run background jobs: imports, reports, federation")),
        ("rqworker", gettext_noop("run background jobs from Redis, when "
                                  "SENTINELLE_TASK_BACKEND=rq")),
        ("check", gettext_noop("check the configuration; --deploy for production")),
    )),
)


def _listing() -> str:
    from django.utils.translation import gettext

    lines = [gettext("Sentinelle: ICT security incident reporting for ITU Member States."), "",
             gettext("Usage: sentinelle COMMAND [options]; sentinelle COMMAND --help for its "
                     "options."), ""]
    width = max(len(name) for _title, commands in COMMAND_GROUPS for name, _ in commands) + 2
    for title, commands in COMMAND_GROUPS:
        lines.append(gettext(title) + ":")
        lines.extend(f"  {name.ljust(width)}{gettext(text)}" for name, text in commands)
        lines.append("")
    lines.append(gettext("Django's commands: sentinelle help --django"))
    return "\n".join(lines) + "\n"


def _help(argv: list[str]) -> list[str]:
    """Answer the bare command and `help` ourselves; return the argv to run otherwise."""
    rest = argv[1:]
    if rest in ([], ["help"], ["--help"], ["-h"]):
        import django

        django.setup()
        sys.stdout.write(_listing())
        sys.exit(0)
    if rest == ["help", "--django"]:
        return [argv[0], "help"]
    if len(rest) == 2 and rest[0] == "help":
        name = rest[1]
        if name in PLAIN_GROUPS:
            return [argv[0], name, "--help"]
        return [argv[0], "help", name.replace("-", "_")]
    return argv


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    if len(argv) > 1 and argv[1] in PLAIN_GROUPS:
        group, rest = argv[1], argv[2:]
        if rest[:1] == ["submit"] and group in ("probe", "routing"):
            argv = [argv[0], "submit_bundle", *rest[1:], "--expect", group]
        else:
            module = importlib.import_module(PLAIN_GROUPS[group])
            sys.exit(module.main(rest))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sentinelle.settings")
    from django.core.management import execute_from_command_line
    from django.db import OperationalError

    from sentinelle.core.instance_keys import InstanceKeyError
    from sentinelle.env import SettingError

    try:
        argv = _help(argv)
        if len(argv) > 1 and argv[1] in PLAIN_GROUPS:      # `sentinelle help probe`
            return main(argv)
        if len(argv) > 1 and not argv[1].startswith("-"):
            argv[1] = argv[1].replace("-", "_")
        execute_from_command_line(argv)
    except (SettingError, InstanceKeyError) as exc:
        # A setting the operator gave (or a key file in the data directory) is wrong: say which,
        # in one line, as every other bad input is reported.
        sys.exit(f"sentinelle: configuration: {exc}")
    except OperationalError as exc:
        from sentinelle.core.busy import is_busy

        if not is_busy(exc):
            raise
        # Another writer (a backup, a large import) held SQLite past the busy timeout: the
        # command's transaction did not commit. One line, and EX_TEMPFAIL for a script's retry.
        print("sentinelle: the database stayed busy with another writer past its timeout "
              "(SENTINELLE_DB_BUSY_TIMEOUT); what was being written was not saved. Run the "
              "command again.", file=sys.stderr)
        sys.exit(EX_TEMPFAIL)


if __name__ == "__main__":
    main()
