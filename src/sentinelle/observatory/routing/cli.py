"""`sentinelle routing <sub>`: scan MRT / RIS-Live recordings for a State's prefixes.

Plain Python (no Django). Exit codes: 0 done (alerts or not), 2 bad input (the message names
the file and, when it applies, the line), 1 unexpected failure writing the outputs.
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import hashlib
import io
import json
import os
import re
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .asrel import ASRelationships, ASRelError
from .detectors import Alert
from .elements import Element
from .rislive import RisLiveStats, read_rislive
from .rpki import VRPError, VRPSet, load_vrps
from .scan import Scanner, ScanOptions
from .watchlist import WatchList, WatchListError, from_vrps
from .watchlist import load as load_watch

SCAN_EXAMPLE = """example:
  sentinelle routing scan --mrt bview.20261128.1200.gz updates.20261128.1200.gz \\
      --watch watch.yaml --vrp rpki-client.json --as-rel 20261101.as-rel.txt \\
      --output alerts.jsonl --bundle scan.zip --sign-key cirt.key

Give RIB dumps before the update files that follow them: visibility starts from the RIB."""

VRP_EXAMPLE = """example:
  sentinelle routing vrp-to-watch --vrp rpki-client.json --state CU --asn 27725 > watch.yaml"""

DUMP_EXAMPLE = """example:
  sentinelle routing dump updates.20261128.1200.gz | head"""

COLLECTOR = re.compile(r"(rrc\d\d|route-views[\w.-]*)")


class InputError(Exception):
    """Bad input; the message names the file (and line)."""


class CountingReader(io.RawIOBase):
    """Raw reader that hashes what it reads and reports progress (bytes of the file on disk)."""

    def __init__(self, path: Path, progress: Any = None, task: Any = None) -> None:
        self._file = path.open("rb")
        self.name = str(path)
        self.sha256 = hashlib.sha256()
        self.count = 0
        self._progress = progress
        self._task = task

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._file.readinto(buffer)
        if n:
            self.sha256.update(memoryview(buffer)[:n])
            self.count += n
            if self._progress is not None:
                self._progress.advance(self._task, n)
        return n or 0

    def finish(self) -> str:
        """Hash the bytes nobody read (a reader stopping early) and return the digest."""
        while True:
            chunk = self._file.read(1 << 20)
            if not chunk:
                break
            self.sha256.update(chunk)
            self.count += len(chunk)
            if self._progress is not None:
                self._progress.advance(self._task, len(chunk))
        return self.sha256.hexdigest()

    def close(self) -> None:
        # wrappers (BufferedReader, GzipFile, TextIOWrapper) close their raw stream when they
        # are collected; keep the file open until `release` so `finish` can still hash the rest
        pass

    def release(self) -> None:
        self._file.close()
        super().close()


def _decompressing(raw: io.BufferedReader) -> io.BufferedIOBase:
    magic = raw.peek(3)[:3]
    if magic[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if magic == b"BZh":
        return bz2.BZ2File(raw, "rb")
    return raw


def _collector_from_path(path: Path) -> str:
    match = COLLECTOR.search(str(path))
    return match.group(1) if match else ""


class Source:
    def __init__(self, path: Path, kind: str) -> None:
        self.path = path
        self.kind = kind  # "mrt" | "rislive"
        self.sha256 = ""
        self.records = 0
        self.skipped = 0
        self.elements = 0
        self.peer_index_record: bytes | None = None
        self.warnings: list[str] = []
        self.names: set[tuple[str, str]] = set()  # (Element.source, collector) seen

    def summary(self) -> dict[str, Any]:
        return {"name": self.path.name, "kind": self.kind, "sha256": self.sha256,
                "records": self.records, "skipped": self.skipped, "elements": self.elements}


def _mrt_elements(source: Source, reader: CountingReader) -> Iterator[Element]:
    try:
        from .mrt import ReadStats, read_elements
    except ImportError as exc:  # H1's reader not installed: say so instead of a traceback
        raise InputError(f"{source.path}: MRT reader unavailable ({exc})") from None
    stats = ReadStats()
    # the reader sniffs gzip/bzip2 itself and survives truncated downloads: hand it the raw
    # (counted, hashed) bytes
    stream = io.BufferedReader(reader, 1 << 20)
    collector = _collector_from_path(source.path)
    try:
        for element in read_elements(stream, collector=collector, stats=stats):
            source.names.add((element.source, element.collector))
            yield element
    except (OSError, EOFError, ValueError) as exc:
        source.warnings.append(f"{source.path}: stopped reading: {exc}")
    source.records = stats.records
    source.skipped = stats.skipped_records + getattr(stats, "malformed_records", 0)
    source.peer_index_record = getattr(stats, "peer_index_record", None)
    source.warnings.extend(f"{source.path}: {w}" for w in list(stats.warnings)[:20])
    if getattr(stats, "truncated", False):
        source.warnings.append(f"{source.path}: truncated file (read up to the damage)")


def _rislive_elements(source: Source, reader: CountingReader,
                      scanner: Scanner) -> Iterator[Element]:
    stats = RisLiveStats()
    buffered = io.BufferedReader(reader, 1 << 20)
    stream = _decompressing(buffered)
    states_done = 0
    for element in read_rislive(stream, stats, collector=_collector_from_path(source.path)):
        while states_done < len(stats.peer_states):
            _peer_state(scanner, stats.peer_states[states_done])
            states_done += 1
        source.names.add((element.source, element.collector))
        yield element
    while states_done < len(stats.peer_states):
        _peer_state(scanner, stats.peer_states[states_done])
        states_done += 1
    source.records = stats.frames
    source.skipped = stats.skipped_records
    for line, reason in stats.malformed[:20]:
        source.warnings.append(f"{source.path}: line {line}: {reason}")
    if stats.malformed_count > 20:
        source.warnings.append(f"{source.path}: {stats.malformed_count - 20} more bad frames")


def _peer_state(scanner: Scanner, state: dict) -> None:
    if state.get("state") == "down":
        scanner.peer_down(state["collector"], state["peer_ip"], state["peer_asn"])


def _records_for(alert: Alert, sources: list[Source]) -> bytes:
    """The alert's raw MRT records, each TABLE_DUMP_V2 group led by its PEER_INDEX_TABLE."""
    by_name: dict[tuple[str, str], Source] = {}
    for source in sources:
        for name in source.names:
            by_name.setdefault(name, source)
    out = bytearray()
    done: set[int] = set()
    for raw, name in zip(alert.samples, alert.sample_sources, strict=True):
        source = by_name.get(name)
        is_tdv2 = len(raw) >= 6 and int.from_bytes(raw[4:6], "big") == 13
        if (is_tdv2 and source is not None and source.peer_index_record
                and id(source) not in done):
            out += source.peer_index_record
            done.add(id(source))
        out += raw
    return bytes(out)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _load_inputs(args: argparse.Namespace) -> tuple[WatchList, VRPSet | None,
                                                   ASRelationships | None]:
    try:
        watch = load_watch(args.watch)
    except WatchListError as exc:
        raise InputError(str(exc)) from None
    if not len(watch):
        raise InputError(f"{args.watch}: the watch list has no prefixes")
    vrps = None
    if args.vrp:
        try:
            vrps = load_vrps(args.vrp)
        except VRPError as exc:
            raise InputError(str(exc)) from None
    asrel = None
    if args.as_rel:
        try:
            asrel = ASRelationships.load(args.as_rel)
        except ASRelError as exc:
            raise InputError(str(exc)) from None
    for path in [*args.mrt, *args.rislive]:
        if not Path(path).is_file():
            raise InputError(f"{path}: no such file")
    return watch, vrps, asrel


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
    if not args.mrt and not args.rislive:
        raise InputError("give at least one --mrt or --rislive file")
    if args.sign_key and not args.bundle:
        raise InputError("--sign-key needs --bundle")
    if not 0 < args.visibility_threshold <= 1:
        raise InputError("--visibility-threshold must be in (0, 1]")
    if args.bucket <= 0 or args.dedup_window < 0:
        raise InputError("--bucket must be positive and --dedup-window not negative")
    if args.full_feed_v4 < 0 or args.full_feed_v6 < 0:
        raise InputError("--full-feed-v4/--full-feed-v6 must not be negative")
    watch, vrps, asrel = _load_inputs(args)
    signing_key = None
    if args.sign_key:
        from sentinelle.evidence import keys

        try:
            signing_key = keys.load_private(args.sign_key)
        except (OSError, ValueError) as exc:
            raise InputError(f"{args.sign_key}: {exc}") from None
    options = ScanOptions(
        dedup_window=args.dedup_window, visibility=not args.no_visibility,
        visibility_threshold=args.visibility_threshold, visibility_bucket=args.bucket,
        full_feed_v4=args.full_feed_v4, full_feed_v6=args.full_feed_v6,
    )
    scanner = Scanner(watch, vrps, asrel, options)
    sources = [Source(Path(p), "mrt") for p in args.mrt]
    sources += [Source(Path(p), "rislive") for p in args.rislive]
    started = _now()
    t0 = time.monotonic()
    total = sum(s.path.stat().st_size for s in sources)
    with _progress(args.quiet) as progress:
        task = progress.add_task("scanning", total=total)
        for source in sources:
            progress.update(task, description=source.path.name)
            reader = CountingReader(source.path, progress, task)
            try:
                elements = (_mrt_elements(source, reader) if source.kind == "mrt"
                            else _rislive_elements(source, reader, scanner))
                source.elements += scanner.feed_all(elements)
                source.sha256 = reader.finish()
            finally:
                reader.release()
    alerts = scanner.finish()
    elapsed = time.monotonic() - t0
    finished = _now()
    output = Path(args.output)
    partial = output.with_name(output.name + ".partial")
    with partial.open("w", encoding="utf-8") as handle:
        for alert in alerts:
            handle.write(json.dumps(alert.to_dict(), sort_keys=False) + "\n")
    os.replace(partial, output)
    if args.bundle:
        _write_bundle(args, watch, vrps, asrel, sources, alerts, output, signing_key, started,
                      finished, scanner)
    _print_summary(args, sources, alerts, scanner, elapsed)
    return 0


def _write_bundle(args, watch, vrps, asrel, sources, alerts, output, signing_key, started,
                  finished, scanner) -> None:
    from sentinelle.evidence import bundle

    summary: dict[str, Any] = {
        "watch": Path(args.watch).name,
        "states": sorted(watch.states),
        "sources": [s.summary() for s in sources],
        "alerts": [a.to_dict() for a in alerts],
        "scan": scanner.stats.to_dict(),
        "options": dict(scanner.options.__dict__),
    }
    if vrps is not None:
        summary["vrps"] = {"name": Path(args.vrp).name, "count": len(vrps),
                           "sha256": hashlib.sha256(Path(args.vrp).read_bytes()).hexdigest()}
    if asrel is not None:
        summary["as_rel"] = {"name": Path(args.as_rel).name, "links": len(asrel),
                             "sha256": hashlib.sha256(Path(args.as_rel).read_bytes())
                             .hexdigest()}
    with bundle.BundleWriter(args.bundle, kind=bundle.ROUTING_SCAN, signing_key=signing_key,
                             command_line=list(sys.argv)) as writer:
        writer.add_file("alerts.jsonl", output)
        writer.add_file("watch.yaml", Path(args.watch))
        for alert in alerts:
            records = _records_for(alert, sources)
            if records:
                writer.add_bytes(f"records/{alert.id}.mrt", records)
        writer.set("started_at", started)
        writer.set("finished_at", finished)
        writer.set("summary", summary)


def _print_summary(args, sources, alerts, scanner, elapsed) -> None:
    from rich.console import Console
    from rich.table import Table

    # piped output (a file, CI log) would be cut at 80 columns: widen it so rows stay whole
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
    stats = scanner.stats
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
        raise InputError(str(exc)) from None
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
    except InputError as exc:
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
