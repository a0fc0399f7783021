"""Running a routing scan: MRT and RIS-Live recordings read through the detectors for a watch
list, the alerts written as JSON lines and, optionally, packed with the raw MRT records that show
each one into a signed evidence bundle. The counterpart of ``access/runner.py``:
``run(RunOptions)`` returns a ``RunResult``; the CLI (``cli.py``) parses arguments and prints,
``seed_observatory`` calls ``run`` directly.

Plain Python (no Django). Progress is reported through a callback (the CLI draws a bar with it).
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .asrel import ASRelationships, ASRelError
from .detectors import Alert
from .elements import Element
from .rislive import RisLiveStats, read_rislive
from .rpki import VRPError, VRPSet, load_vrps
from .scan import Scanner, ScanOptions
from .watchlist import WatchList, WatchListError
from .watchlist import load as load_watch

COLLECTOR = re.compile(r"(rrc\d\d|route-views[\w.-]*)")

# (name of the file being read, bytes read so far in all files, bytes in all files)
Progress = Callable[[str, int, int], None]


@dataclass
class RunOptions:
    watch: Path
    output: Path
    mrt: list[Path] = field(default_factory=list)       # RIB dumps before their updates
    rislive: list[Path] = field(default_factory=list)
    vrp: Path | None = None
    as_rel: Path | None = None
    bundle: Path | None = None
    sign_key: Path | None = None
    dedup_window: int = 3600
    visibility: bool = True
    visibility_threshold: float = 0.5
    bucket: int = 300
    full_feed_v4: int = 400_000
    full_feed_v6: int = 10_000
    command_line: list[str] = field(default_factory=lambda: list(sys.argv))


@dataclass
class RunResult:
    sources: list[Source]
    alerts: list[Alert]
    scanner: Scanner               # its stats and notes, and the options it ran with
    output: Path
    bundle: Path | None
    started_at: str
    finished_at: str
    elapsed: float


def run(options: RunOptions, progress: Progress | None = None) -> RunResult:
    """Scan ``options.mrt`` then ``options.rislive`` for the watch list's prefixes.

    Raises RunError for bad options or inputs (before anything is written) and OSError when
    the outputs cannot be written."""
    _check(options)
    watch, vrps, asrel = _load_inputs(options)
    from sentinelle.evidence import keys

    try:
        signing_key = keys.load_signing_key(options.sign_key)
    except keys.KeyFileError as exc:
        raise RunError(str(exc)) from None
    scanner = Scanner(watch, vrps, asrel, ScanOptions(
        dedup_window=options.dedup_window, visibility=options.visibility,
        visibility_threshold=options.visibility_threshold, visibility_bucket=options.bucket,
        full_feed_v4=options.full_feed_v4, full_feed_v6=options.full_feed_v6,
    ))
    sources = [Source(Path(p), "mrt") for p in options.mrt]
    sources += [Source(Path(p), "rislive") for p in options.rislive]
    started = _now()
    t0 = time.monotonic()
    total = sum(s.path.stat().st_size for s in sources)
    done = 0
    for source in sources:
        name = source.path.name

        def advance(n: int, name: str = name) -> None:
            nonlocal done
            done += n
            if progress is not None:
                progress(name, done, total)

        if progress is not None:
            progress(name, done, total)
        reader = CountingReader(source.path, advance)
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
    output = Path(options.output)
    partial = output.with_name(output.name + ".partial")
    with partial.open("w", encoding="utf-8") as handle:
        for alert in alerts:
            handle.write(json.dumps(alert.to_dict(), sort_keys=False) + "\n")
    os.replace(partial, output)
    if options.bundle:
        _write_bundle(options, watch, vrps, asrel, sources, alerts, signing_key, started,
                      finished, scanner)
    return RunResult(sources=sources, alerts=alerts, scanner=scanner, output=output,
                     bundle=Path(options.bundle) if options.bundle else None,
                     started_at=started, finished_at=finished, elapsed=elapsed)


def _check(options: RunOptions) -> None:
    # The option names are the CLI's: that is where a person sets them.
    if not options.mrt and not options.rislive:
        raise RunError("give at least one --mrt or --rislive file")
    if options.sign_key and not options.bundle:
        raise RunError("--sign-key needs --bundle")
    if not 0 < options.visibility_threshold <= 1:
        raise RunError("--visibility-threshold must be in (0, 1]")
    if options.bucket <= 0 or options.dedup_window < 0:
        raise RunError("--bucket must be positive and --dedup-window not negative")
    if options.full_feed_v4 < 0 or options.full_feed_v6 < 0:
        raise RunError("--full-feed-v4/--full-feed-v6 must not be negative")


class RunError(ValueError):
    """Bad input or options that stop the scan before it starts; the message names the file
    (and line) or the option."""


class CountingReader(io.RawIOBase):
    """Raw reader that hashes what it reads and reports progress (bytes of the file on disk)."""

    def __init__(self, path: Path, advance: Callable[[int], None] | None = None) -> None:
        self._file = path.open("rb")
        self.name = str(path)
        self.sha256 = hashlib.sha256()
        self.count = 0
        self._advance = advance

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._file.readinto(buffer)
        if n:
            self.sha256.update(memoryview(buffer)[:n])
            self.count += n
            if self._advance is not None:
                self._advance(n)
        return n or 0

    def finish(self) -> str:
        """Hash the bytes nobody read (a reader stopping early) and return the digest."""
        while True:
            chunk = self._file.read(1 << 20)
            if not chunk:
                break
            self.sha256.update(chunk)
            self.count += len(chunk)
            if self._advance is not None:
                self._advance(len(chunk))
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
        raise RunError(f"{source.path}: MRT reader unavailable ({exc})") from None
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


def _load_inputs(options: RunOptions) -> tuple[WatchList, VRPSet | None,
                                                ASRelationships | None]:
    try:
        watch = load_watch(options.watch)
    except WatchListError as exc:
        raise RunError(str(exc)) from None
    if not len(watch):
        raise RunError(f"{options.watch}: the watch list has no prefixes")
    vrps = None
    if options.vrp:
        try:
            vrps = load_vrps(options.vrp)
        except VRPError as exc:
            raise RunError(str(exc)) from None
    asrel = None
    if options.as_rel:
        try:
            asrel = ASRelationships.load(options.as_rel)
        except ASRelError as exc:
            raise RunError(str(exc)) from None
    for path in [*options.mrt, *options.rislive]:
        if not Path(path).is_file():
            raise RunError(f"{path}: no such file")
    return watch, vrps, asrel


def _write_bundle(options: RunOptions, watch: WatchList, vrps: VRPSet | None,
                  asrel: ASRelationships | None, sources: list[Source], alerts: list[Alert],
                  signing_key: Any, started: str, finished: str, scanner: Scanner) -> None:
    from sentinelle.evidence import bundle

    summary: dict[str, Any] = {
        "watch": Path(options.watch).name,
        "states": sorted(watch.states),
        "sources": [s.summary() for s in sources],
        "alerts": [a.to_dict() for a in alerts],
        "scan": scanner.stats.to_dict(),
        "options": dict(scanner.options.__dict__),
    }
    if vrps is not None:
        summary["vrps"] = {"name": Path(options.vrp).name, "count": len(vrps),
                           "sha256": hashlib.sha256(Path(options.vrp).read_bytes()).hexdigest()}
    if asrel is not None:
        summary["as_rel"] = {"name": Path(options.as_rel).name, "links": len(asrel),
                             "sha256": hashlib.sha256(Path(options.as_rel).read_bytes())
                             .hexdigest()}
    assert options.bundle is not None
    with bundle.BundleWriter(options.bundle, kind=bundle.ROUTING_SCAN, signing_key=signing_key,
                             command_line=options.command_line) as writer:
        writer.add_file("alerts.jsonl", Path(options.output))
        writer.add_file("watch.yaml", Path(options.watch))
        for alert in alerts:
            records = _records_for(alert, sources)
            if records:
                writer.add_bytes(f"records/{alert.id}.mrt", records)
        writer.set("started_at", started)
        writer.set("finished_at", finished)
        writer.set("summary", summary)
