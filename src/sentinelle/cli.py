"""The `sentinelle` command: Django management commands with the settings preset.

Subcommands are written with hyphens as users type them (`seed-demo`); Django's command modules
use underscores, so the name is translated before dispatch.

The measuring tools (`probe`, `routing`, `evidence`) run without the platform: they are
dispatched to plain-Python entry points before Django is set up, so a CIRT can run them on a
laptop with only the package installed. Only `probe submit` and `routing submit`, which file a
report, go through Django (the `submit_bundle` management command).
"""

from __future__ import annotations

import importlib
import os
import sys

PLAIN_GROUPS = {
    "probe": "sentinelle.observatory.access.cli",
    "routing": "sentinelle.observatory.routing.cli",
    "evidence": "sentinelle.evidence.cli",
}


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
    if len(argv) > 1 and not argv[1].startswith("-"):
        argv[1] = argv[1].replace("-", "_")
    from django.core.management import execute_from_command_line

    from sentinelle.core.instance_keys import InstanceKeyError
    from sentinelle.env import SettingError

    try:
        execute_from_command_line(argv)
    except (SettingError, InstanceKeyError) as exc:
        # A setting the operator gave (or a key file in the data directory) is wrong: say which,
        # in one line, as every other bad input is reported.
        sys.exit(f"sentinelle: configuration: {exc}")


if __name__ == "__main__":
    main()
