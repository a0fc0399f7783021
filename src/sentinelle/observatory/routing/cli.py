"""`sentinelle routing <sub>`: scan MRT / RIS-Live recordings for a State's prefixes.

Argument parsing and printing; the scan itself is ``run.py``. Plain Python (no Django). Exit
codes: 0 done (alerts or not), 2 bad input (the message names the file and, when it applies,
the line), 1 unexpected failure writing the outputs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .rpki import VRPError, load_vrps
from .run import RunError, RunOptions, RunResult, run
from .watchlist import WatchListError, from_vrps

SCAN_EXAMPLE = """example:
  sentinelle routing scan --mrt bview.20261128.1200.gz updates.20261128.1200.gz \\
      --watch watch.yaml --vrp rpki-client.json --as-rel 20261101.as-rel.txt \\
      --output alerts.jsonl --bundle scan.zip --sign-key cirt.key

Give RIB dumps before the update files that follow them: visibility starts from the RIB."""

VRP_EXAMPLE = """example:
  sentinelle routing vrp-to-watch --vrp rpki-client.json --state CU --asn 27725 > watch.yaml"""

DUMP_EXAMPLE = """example:
  sentinelle routing dump updates.20261128.1200.gz | head"""

def _progress(quiet: bool):
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(),
        TransferSpeedColumn(), TimeRemainingColumn(),
        console=Console(stderr=True), disable=quiet, transient=False,
    )


def cmd_scan(args: argparse.Namespace) -> int:
    options = RunOptions(
        watch=Path(args.watch), output=Path(args.output),
        mrt=[Path(p) for p in args.mrt], rislive=[Path(p) for p in args.rislive],
        vrp=Path(args.vrp) if args.vrp else None,
        as_rel=Path(args.as_rel) if args.as_rel else None,
        bundle=Path(args.bundle) if args.bundle else None,
        sign_key=Path(args.sign_key) if args.sign_key else None,
        dedup_window=args.dedup_window, visibility=not args.no_visibility,
        visibility_threshold=args.visibility_threshold, bucket=args.bucket,
        full_feed_v4=args.full_feed_v4, full_feed_v6=args.full_feed_v6,
    )
    bar = _progress(args.quiet)
    task = None

    def show(name: str, done: int, total: int) -> None:
        # The bar starts with the first file read: a refused option prints no empty bar.
        nonlocal task
        if task is None:
            bar.start()
            task = bar.add_task(name, total=total)
        bar.update(task, description=name, completed=done)

    try:
        result = run(options, show)
    finally:
        bar.stop()
    _print_summary(args, result)
    return 0


def _print_summary(args: argparse.Namespace, result: RunResult) -> None:
    from rich.console import Console
    from rich.table import Table

    # piped output (a file, CI log) would be cut at 80 columns: widen it so rows stay whole
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
    sources, alerts, elapsed = result.sources, result.alerts, result.elapsed
    stats = result.scanner.stats
    files = Table(title="Sources")
    for column in ("file", "kind", "records", "skipped", "elements"):
        files.add_column(column, justify="left" if column in ("file", "kind") else "right")
    for source in sources:
        files.add_row(source.path.name, source.kind, str(source.records), str(source.skipped),
                      str(source.elements))
    console.print(files)
    by_type: dict[str, int] = {}
    for alert in alerts:
        by_type[alert.type] = by_type.get(alert.type, 0) + 1
    if by_type:
        console.print("alerts by type: " + ", ".join(f"{k} {v}" for k, v in sorted(
            by_type.items())))
    table = Table(title=f"Alerts ({len(alerts)})")
    for column in ("type", "state", "prefix", "offending AS", "first seen", "peers",
                   "example path"):
        table.add_column(column)
    for alert in alerts[:50]:
        offending = (str(alert.offending_asn) if alert.offending_asn is not None
                     else ("{" + ",".join(map(str, alert.as_set)) + "}" if alert.as_set
                           else "-"))
        extra = alert.reason or ""
        table.add_row(alert.type + (f" ({extra})" if extra else ""), alert.state, alert.prefix,
                      offending, alert.to_dict()["first_seen_iso"], str(alert.peers),
                      alert.example_paths[0] if alert.example_paths else "")
    console.print(table if alerts else "no alerts")
    if len(alerts) > 50:
        console.print(f"... {len(alerts) - 50} more in {args.output}")
    rate = stats.elements / elapsed if elapsed > 0 else 0.0
    console.print(f"{stats.elements} elements ({stats.rib_entries} RIB, "
                  f"{stats.announcements} announcements, {stats.withdrawals} withdrawals) "
                  f"in {elapsed:.1f}s ({rate:,.0f}/s); alerts written to {args.output}"
                  + (f"; bundle {args.bundle}" if args.bundle else ""))
    err = Console(stderr=True, highlight=False)
    for note in stats.notes:
        err.print(f"note: {note}", soft_wrap=True)
    for source in sources:
        for warning in source.warnings[:20]:
            err.print(f"warning: {warning}", soft_wrap=True)


def cmd_vrp_to_watch(args: argparse.Namespace) -> int:
    try:
        vrps = load_vrps(args.vrp)
        watch = from_vrps(vrps, args.state, args.asn, name=args.name or "",
                          neighbors=args.neighbor or [])
    except (VRPError, WatchListError, ValueError) as exc:
        raise RunError(str(exc)) from None
    text = watch.dump_yaml()
    if not len(watch):
        print(f"warning: no VRP for AS{', AS'.join(map(str, args.asn))} in {args.vrp}",
              file=sys.stderr)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def cmd_dump(argv: list[str]) -> int:
    try:
        from .dump import dump_main
    except ImportError as exc:
        print(f"error: the MRT dump command is unavailable ({exc})", file=sys.stderr)
        return 2
    return int(dump_main(argv) or 0)


def _asn(text: str) -> int:
    from .rpki import parse_asn

    try:
        return parse_asn(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sentinelle routing",
                                     description="Routing monitor: MRT and RIS-Live scans, "
                                                 "and the live monitor.")
    sub = parser.add_subparsers(dest="command", required=True)
    fmt = argparse.RawDescriptionHelpFormatter

    scan = sub.add_parser("scan", help="scan MRT / RIS-Live files for hijacks, leaks, "
                          "RPKI-invalid routes and visibility loss", epilog=SCAN_EXAMPLE,
                          formatter_class=fmt)
    scan.add_argument("--mrt", nargs="+", default=[], metavar="FILE",
                      help="MRT files (RIB dumps and updates; .gz/.bz2 read directly)")
    scan.add_argument("--rislive", nargs="+", default=[], metavar="FILE",
                      help="recorded RIS-Live JSON (one frame per line, array or object)")
    scan.add_argument("--watch", required=True, metavar="CONFIG", help="watch list (YAML)")
    scan.add_argument("--vrp", metavar="FILE", help="VRPs: rpki-client/Routinator JSON or CSV")
    scan.add_argument("--as-rel", metavar="FILE", help="CAIDA as-rel file (route leaks)")
    scan.add_argument("--output", required=True, metavar="alerts.jsonl",
                      help="the alerts, one JSON line each")
    scan.add_argument("--bundle", metavar="FILE.zip", help="write a signed evidence bundle")
    scan.add_argument("--sign-key", metavar="KEY", help="Ed25519 private key (PEM)")
    scan.add_argument("--dedup-window", type=int, default=3600, metavar="SECONDS",
                      help="the same alert within this many seconds updates the first "
                           "(default 3600)")
    scan.add_argument("--visibility-threshold", type=float, default=0.5, metavar="SHARE",
                      help="visibility loss below this share of the full-feed peers "
                           "(default 0.5)")
    scan.add_argument("--bucket", type=int, default=300, metavar="SECONDS",
                      help="visibility time bucket for update streams (default 300)")
    scan.add_argument("--full-feed-v4", type=int, default=400_000, metavar="N",
                      help="a peer sending at least N IPv4 prefixes is a full feed "
                           "(default 400000)")
    scan.add_argument("--full-feed-v6", type=int, default=10_000, metavar="N",
                      help="a peer sending at least N IPv6 prefixes is a full feed "
                           "(default 10000)")
    scan.add_argument("--no-visibility", action="store_true",
                      help="do not look for visibility loss")
    scan.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    scan.set_defaults(func=cmd_scan)

    vrp = sub.add_parser("vrp-to-watch", help="print a watch list built from a State's VRPs",
                         epilog=VRP_EXAMPLE, formatter_class=fmt)
    vrp.add_argument("--vrp", required=True, metavar="FILE",
                     help="VRPs: rpki-client/Routinator JSON or CSV")
    vrp.add_argument("--state", required=True, metavar="CC", help="ISO 3166-1 alpha-2 code")
    vrp.add_argument("--asn", required=True, action="append", type=_asn, metavar="ASN",
                     help="an AS of the State (repeatable)")
    vrp.add_argument("--neighbor", action="append", type=_asn, metavar="ASN",
                     help="allowed first-hop neighbour (repeatable)")
    vrp.add_argument("--name", help="State name written in the watch list")
    vrp.add_argument("--output", metavar="FILE", help="write here instead of stdout")
    vrp.set_defaults(func=cmd_vrp_to_watch)

    from .live import monitor, mute_cli

    monitor.add_parser(sub)
    mute_cli.add_parser(sub)  # `mute add|list|remove|verify`: its run() handles its errors

    sub.add_parser("dump", help="print MRT records like `bgpdump -m`", epilog=DUMP_EXAMPLE,
                   formatter_class=fmt, add_help=False)
    # Listed so that `sentinelle routing --help` shows it; `sentinelle.cli` sends it to Django.
    submit = sub.add_parser("submit", help="file a signed scan bundle as a draft report of your "
                                           "State (on the platform): sentinelle routing submit "
                                           "BUNDLE --user NAME", add_help=False)
    submit.set_defaults(func=_submit_elsewhere)
    return parser


def _submit_elsewhere(_args: argparse.Namespace) -> int:
    print("error: submit files a report on the platform: run it as "
          "`sentinelle routing submit BUNDLE --user NAME`", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["dump"]:
        return cmd_dump(argv[1:])
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: 0 for --help, 2 for usage errors
        return int(exc.code or 0)
    try:
        return int(args.func(args))
    except RunError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # writing the outputs failed (disk full, no such folder...)
        name = getattr(exc, "filename", None)
        print(f"error: {name + ': ' if name else ''}{exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
