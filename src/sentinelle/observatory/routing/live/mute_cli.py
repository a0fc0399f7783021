"""`sentinelle routing mute add|list|remove|verify`: manage the live monitor's mutes.

Works on the monitor's ``--state-dir`` while the monitor runs: the monitor picks changes up
within a second (MuteStore.poll) and reports them as "muted" / "unmuted" events.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import sys
import time
from datetime import UTC, datetime
from typing import Any

from ..detectors import ALERT_TYPES
from .events import iso
from .mutes import MAX_MUTE_DAYS, MuteError, MuteStore

DURATION = re.compile(r"^\s*(\d{1,6})\s*([mhd])\s*$")
UNITS = {"m": 60, "h": 3600, "d": 86400}
OPTION_OF = {"prefix": "--prefix", "type": "--type", "reason": "--reason", "by": "--by",
             "id": "ID"}

EXAMPLES = """\
examples:
  sentinelle routing mute add --state-dir /var/lib/sentinelle/routing \\
      --prefix 190.6.64.0/19 --for 4h --reason "maintenance of the Havana PoP"
  sentinelle routing mute add --state-dir DIR --type route-leak --until 2026-12-24T00:00Z \\
      --reason "known partial-transit customer"
  sentinelle routing mute list --state-dir DIR
  sentinelle routing mute remove --state-dir DIR 3f2a9c10 --reason "done early"
  sentinelle routing mute verify --state-dir DIR      # check the audit log's hash chain
"""


class UsageError(Exception):
    """A bad option; the message starts with the option's name."""


def _default_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return os.environ.get("USER") or f"uid-{os.getuid()}"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``mute`` (with add, list, remove, verify) to `sentinelle routing`'s subparsers."""
    fmt = argparse.RawDescriptionHelpFormatter
    mute = subparsers.add_parser(
        "mute", help="mute live alerts for a while (add, list, remove, verify)",
        description="Mute live routing alerts by prefix and/or type, for at most "
                    f"{MAX_MUTE_DAYS} days; every change is kept in a hash-chained audit log.",
        epilog=EXAMPLES, formatter_class=fmt)
    actions = mute.add_subparsers(dest="mute_action", required=True)

    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--state-dir", required=True, metavar="DIR",
                            help="the monitor's state directory (mutes.json, audit.jsonl)")

    add = actions.add_parser("add", help="add a mute", epilog=EXAMPLES, formatter_class=fmt)
    common(add)
    add.add_argument("--prefix", metavar="PREFIX",
                     help="mute alerts for this prefix and the prefixes inside it")
    add.add_argument("--type", metavar="TYPE",
                     help=f"mute alerts of this type ({', '.join(ALERT_TYPES)})")
    add.add_argument("--for", dest="duration", metavar="DURATION",
                     help="how long: 90m, 24h, 7d (or --until)")
    add.add_argument("--until", metavar="TIME",
                     help="until this time, ISO 8601 (2026-12-24T00:00Z; UTC when no offset)")
    add.add_argument("--reason", help="why (required, kept in the audit log)")
    add.add_argument("--by", help="who mutes (default: the OS user)")

    listing = actions.add_parser("list", help="list the mutes in force")
    common(listing)
    listing.add_argument("--json", action="store_true", help="print JSON")

    remove = actions.add_parser("remove", help="remove a mute before it expires")
    common(remove)
    remove.add_argument("id", metavar="ID", help="the mute's id (see `mute list`)")
    remove.add_argument("--reason", default="", help="why (kept in the audit log)")
    remove.add_argument("--by", help="who removes it (default: the OS user)")

    verify = actions.add_parser("verify", help="check the audit log's hash chain")
    common(verify)
    mute.set_defaults(func=run)
    return mute


def _until(args: argparse.Namespace, now: float) -> float:
    if args.duration is not None and args.until is not None:
        raise UsageError("--for and --until: give one of them, not both")
    if args.duration is not None:
        match = DURATION.match(args.duration)
        if not match:
            raise UsageError(f"--for: {args.duration!r} is not a duration like 90m, 24h or 7d")
        seconds = int(match.group(1)) * UNITS[match.group(2)]
        if seconds <= 0:
            raise UsageError("--for: the duration must be more than zero")
        if seconds > MAX_MUTE_DAYS * 86400:
            raise UsageError(f"--for: a mute lasts at most {MAX_MUTE_DAYS} days")
        return now + seconds
    if args.until is not None:
        text = args.until.strip()
        try:
            moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z"))
                                            else text)
        except ValueError:
            raise UsageError(f"--until: {args.until!r} is not an ISO 8601 time "
                             "(e.g. 2026-12-24T00:00Z)") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        until = moment.timestamp()
        if until <= now:
            raise UsageError(f"--until: {iso(until)} is in the past")
        if until > now + MAX_MUTE_DAYS * 86400:
            raise UsageError(f"--until: a mute lasts at most {MAX_MUTE_DAYS} days "
                             f"(until {iso(now + MAX_MUTE_DAYS * 86400)} at the latest)")
        return until
    raise UsageError("--for or --until is required: every mute expires "
                     f"(at most {MAX_MUTE_DAYS} days)")


def _add(store: MuteStore, args: argparse.Namespace) -> int:
    if args.prefix is None and args.type is None:
        raise UsageError("--prefix or --type is required (or both): what to mute")
    if args.type is not None and args.type not in ALERT_TYPES:
        raise UsageError(f"--type: unknown alert type {args.type!r} "
                         f"(one of {', '.join(ALERT_TYPES)})")
    if not (args.reason or "").strip():
        raise UsageError("--reason is required: say why (it goes into the audit log)")
    now = time.time()
    until = _until(args, now)
    try:
        mute = store.add(args.prefix, args.type, until, args.reason, args.by or _default_user(),
                         now=now)
    except MuteError as exc:
        if exc.field in OPTION_OF:
            raise UsageError(f"{OPTION_OF[exc.field]}: {exc}") from None
        raise
    what = " ".join(part for part in (mute.type, mute.prefix) if part)
    print(f"muted {mute.id}: {what} until {iso(mute.until)} (by {mute.by})")
    return 0


def _list(store: MuteStore, args: argparse.Namespace) -> int:
    mutes = store.list(time.time())
    if args.json:
        print(json.dumps([m.to_dict() | {"until_iso": iso(m.until)} for m in mutes], indent=2))
        return 0
    if not mutes:
        print("no mutes in force")
        return 0
    for mute in sorted(mutes, key=lambda m: m.until):
        print(f"{mute.id}  {mute.prefix or '*':<20} {mute.type or '*':<15} "
              f"until {iso(mute.until)}  by {mute.by}: {mute.reason}")
    return 0


def _remove(store: MuteStore, args: argparse.Namespace) -> int:
    mute = store.remove(args.id, args.by or _default_user(), args.reason)
    print(f"removed {mute.id}")
    return 0


def _verify(store: MuteStore, _args: argparse.Namespace) -> int:
    problems = store.verify_audit()
    for problem in problems:
        print(problem)
    if problems:
        return 1
    print(f"{store.audit_path}: hash chain intact")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run `mute <action>`; 0 done, 1 audit problems found (verify), 2 bad input."""
    handlers = {"add": _add, "list": _list, "remove": _remove, "verify": _verify}
    try:
        store = MuteStore(args.state_dir)
        return handlers[args.mute_action](store, args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except MuteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        name = getattr(exc, "filename", None)
        print(f"error: {name + ': ' if name else ''}{exc.strerror or exc}", file=sys.stderr)
        return 2
