"""`sentinelle routing monitor`: the long-running live monitor (docs/routing-monitor.md).

One asyncio process. Every ``--source`` runs as a task that puts ``SourceItem``s on one bounded
queue (a slow detector makes the sources wait: websockets and the BMP sockets then stop reading,
so memory stays bounded instead of the backlog growing). One consumer feeds the detector and the
feed-health check; every event it produces goes into the on-disk outbox together with a
snapshot of the detector, the feed health and the sources' positions, in one SQLite transaction.
The deliverer sends what the outbox holds to every ``--alert`` destination.

Kill the process at any moment and start it again with the same ``--state-dir``: it resumes from
the last snapshot. An event produced again is the same event (same idempotency key), so the
outbox neither stores nor delivers it twice; an event already in the outbox is still delivered.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import ipaddress
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from .events import AlertEvent, SourceItem

__all__ = ["Monitor", "MonitorError", "add_parser", "run"]

log = logging.getLogger("sentinelle.routing.monitor")

EXAMPLE = """\
example (a State's own routers over BMP, RIS Live as a second view, alerts to a webhook and
to the platform as draft reports):

  export SENTINELLE_WEBHOOK_SECRET=$(cat /etc/sentinelle/webhook.secret)
  export SENTINELLE_API_TOKEN=...            # a focal point's API token
  sentinelle routing monitor --watch watch.yaml --state-dir /var/lib/sentinelle/routing \\
      --source bmp:0.0.0.0:11019 --source ris-live \\
      --alert webhook:https://soc.example/hooks/bgp \\
      --alert platform:https://sentinelle.example --sign-key monitor.key \\
      --vrp rpki.json --as-rel as-rel.txt
"""

QUEUE_SIZE = 10_000
BATCH = 500  # items taken from the queue per pass: one outbox transaction per batch with events
SNAPSHOT_EVERY = 10.0  # seconds: positions and feed health are saved even without events
TICK = 1.0
# Defaults, justified in docs/routing-monitor.md: BGPalerter raises a hijack from 3 peers; a
# State's own BMP feed is one collector, so one is the least surprising minimum.
MIN_PEERS = 3
MIN_COLLECTORS = 1
VISIBILITY_THRESHOLD = 0.5  # IODA: visible when more than half of the peers see it


class MonitorError(Exception):
    """A problem with the command line or the state directory: one line for the operator."""


def _duration(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    scale = units.get(text[-1:], 1)
    try:
        value = float(text[:-1] if text[-1:] in units else text) * scale
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 60, 90s, 5m)") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return value


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an IP network: {text!r}") from None


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "monitor", help="watch live feeds (RIS Live, BMP, MRT directory) and deliver alerts",
        epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--watch", required=True, metavar="W.yaml", help="watch list (YAML)")
    p.add_argument("--source", action="append", required=True, metavar="SRC",
                   help="ris-live[:URL] | bmp:HOST:PORT | mrt-dir:DIR (repeatable)")
    p.add_argument("--alert", action="append", default=[], metavar="DEST",
                   help="webhook:URL | email:ADDR | syslog[+tcp]:HOST:PORT | platform:URL "
                        "(repeatable; without any, alerts are only logged and kept in the "
                        "outbox)")
    p.add_argument("--state-dir", required=True, metavar="DIR",
                   help="outbox, snapshot, mutes and their audit log (created if missing)")
    p.add_argument("--vrp", metavar="FILE", help="VRPs (rpki-client/Routinator JSON or CSV): "
                   "ROA tags and rpki-invalid alerts")
    p.add_argument("--as-rel", metavar="FILE", help="CAIDA as-rel file: relationship tags and "
                   "route leaks")
    p.add_argument("--min-peers", type=_positive_int, default=MIN_PEERS,
                   metavar="P", help="raise an alert only when at least P peers see it "
                   f"(default {MIN_PEERS}, as BGPalerter for hijacks)")
    p.add_argument("--min-collectors", type=_positive_int, default=MIN_COLLECTORS,
                   metavar="C", help="... from at least C collectors "
                   f"(default {MIN_COLLECTORS})")
    p.add_argument("--visibility-threshold", type=float,
                   default=VISIBILITY_THRESHOLD, metavar="SHARE",
                   help="visibility loss below this share of the peers that saw the prefix "
                   f"(default {VISIBILITY_THRESHOLD})")
    p.add_argument("--feed-timeout", type=_duration, default=60.0, metavar="SECONDS",
                   help="feed-lost after this long without a message from a source "
                   "(default 60)")
    p.add_argument("--bmp-allow", action="append", default=[], type=_network, metavar="CIDR",
                   help="accept BMP connections only from routers in this network "
                   "(repeatable; BMP has no authentication: without it, any address that "
                   "reaches the port is accepted)")
    p.add_argument("--sign-key", metavar="KEY",
                   help="Ed25519 private key (PEM) signing the evidence bundles sent to "
                   "platform:URL")
    p.add_argument("--webhook-secret-file", metavar="FILE",
                   help="HMAC secret for webhook:URL (else $SENTINELLE_WEBHOOK_SECRET)")
    p.add_argument("--smtp", default="localhost:25", metavar="HOST:PORT",
                   help="mail server for email:ADDR (default localhost:25)")
    p.add_argument("--mail-from", default="sentinelle-routing@localhost", metavar="ADDR",
                   help="sender address of alert mails")
    p.add_argument("--syslog-facility", default="local0", metavar="NAME",
                   help="syslog facility (default local0)")
    p.add_argument("--status-interval", type=_duration, default=60.0, metavar="SECONDS",
                   help="log a status line this often (default 60)")
    p.add_argument("--log-level", default="INFO",
                   choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                   help="how much to log on stderr (default INFO: events, status lines, "
                   "feed problems)")
    p.set_defaults(func=run)
    return p


class Monitor:
    """The wiring, separate from argument parsing so that tests can run it in-process."""

    def __init__(self, args: argparse.Namespace) -> None:
        # Imported here, not at the top: `sentinelle routing scan` and `--help` should not pay
        # for websockets, sqlite and the destinations.
        from ..asrel import ASRelationships, ASRelError
        from ..rpki import VRPError, load_vrps
        from ..watchlist import WatchListError
        from ..watchlist import load as load_watch
        from .delivery import Deliverer
        from .destinations import parse_destination
        from .detector import LiveDetector, LiveOptions
        from .health import FeedHealth
        from .mutes import MuteError, MuteStore
        from .outbox import Outbox, OutboxError
        from .sources import SourceOptions, parse_source

        if not 0 < args.visibility_threshold <= 1:
            raise MonitorError("--visibility-threshold must be in (0, 1]")
        try:
            self.watch = load_watch(args.watch)
        except WatchListError as exc:
            raise MonitorError(str(exc)) from None
        if not len(self.watch):
            raise MonitorError(f"{args.watch}: the watch list has no prefixes")
        vrps = asrel = None
        try:
            if args.vrp:
                vrps = load_vrps(args.vrp)
            if args.as_rel:
                asrel = ASRelationships.load(args.as_rel)
        except (VRPError, ASRelError) as exc:
            raise MonitorError(str(exc)) from None
        self.sources = []
        for spec in args.source:
            try:
                self.sources.append((spec, parse_source(spec)))
            except ValueError as exc:
                raise MonitorError(f"--source {spec}: {exc}") from None
        if len({spec for spec, _ in self.sources}) != len(self.sources):
            raise MonitorError("the same --source is given twice")
        for spec, source in self.sources:
            if source.kind == "bmp" and not args.bmp_allow and not _loopback(source.host):
                # BMP has no authentication: anyone reaching the port can send routes,
                # withdrawals, Peer Up and End-of-RIB in a router's name
                log.warning("--source %s: no --bmp-allow: any address that reaches the port "
                            "can feed (and falsely resolve) alerts; name the routers' "
                            "networks with --bmp-allow", spec)
        self.destinations = {}
        for spec in args.alert:
            try:
                destination = parse_destination(spec, args)
            except ValueError as exc:
                raise MonitorError(f"--alert {spec}: {exc}") from None
            self.destinations[destination.name] = destination
        self.state_dir = Path(args.state_dir)
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise MonitorError(f"{self.state_dir}: {exc.strerror or exc}") from None
        self._lock = self._take_lock()
        try:
            self.mutes = MuteStore(self.state_dir)
        except MuteError as exc:
            raise MonitorError(str(exc)) from None
        self.detector = LiveDetector(
            self.watch, vrps, asrel,
            LiveOptions(min_peers=args.min_peers, min_collectors=args.min_collectors,
                        visibility_threshold=args.visibility_threshold),
            mutes=self.mutes)
        self.health = FeedHealth([spec for spec, _ in self.sources], timeout=args.feed_timeout)
        for name in ("outbox.sqlite3", "outbox.sqlite3-wal", "outbox.sqlite3-shm",
                     "outbox.sqlite3-journal"):
            # SQLite follows symlinks: the alerts would be written wherever one points
            if (self.state_dir / name).is_symlink():
                raise MonitorError(f"{self.state_dir / name}: a symbolic link: refused")
        try:
            self.outbox = Outbox(self.state_dir / "outbox.sqlite3", list(self.destinations))
        except OutboxError as exc:
            raise MonitorError(str(exc)) from None
        try:
            snapshot = self.outbox.load_snapshot()
        except OutboxError as exc:
            # The same rule as _resume: a damaged saved state is forgotten, not a reason to
            # leave the State unwatched; the queued deliveries beside it are intact.
            log.error("%s; starting fresh", exc)
            snapshot = None
        self.source_state: dict[str, dict] = {spec: {} for spec, _ in self.sources}
        if snapshot:
            self._resume(snapshot)
        self.deliverer = Deliverer(self.outbox, self.destinations)
        self.source_options = SourceOptions(bmp_allow=tuple(args.bmp_allow))
        self.status_interval = args.status_interval
        self.queue: asyncio.Queue[SourceItem] | None = None
        self.items = 0
        self.events = 0
        self._last_snapshot = 0.0

    def _resume(self, snapshot: dict) -> None:
        try:
            self.detector.restore(snapshot.get("detector") or {})
            self.health.restore(snapshot.get("health") or {})
        except (ValueError, TypeError, KeyError) as exc:
            # Written by another version, or damaged. Refusing to start would leave the State
            # unwatched (systemd restarting us forever); starting fresh only forgets which
            # alerts were open: they are raised again as new episodes if still there.
            log.error("%s: the saved state is unusable (%s); starting fresh", self.state_dir,
                      exc)
            return
        for spec, state in (snapshot.get("sources") or {}).items():
            if spec in self.source_state and isinstance(state, dict):
                self.source_state[spec] = state
        log.info("resumed from %s: %d active alerts", self.state_dir,
                 len(self.detector.active()))

    def _take_lock(self) -> Any:
        """Two monitors on one state dir would deliver each other's outbox twice: refuse."""
        path = self.state_dir / "monitor.lock"
        try:
            # O_NOFOLLOW: the file is truncated below; a symlink planted in the state
            # directory must not make the monitor wipe whatever it points to
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise MonitorError(f"{path}: {exc.strerror or exc}"
                               + (" (a symbolic link: refused)" if path.is_symlink() else "")
                               ) from None
        handle = os.fdopen(fd, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise MonitorError(f"{self.state_dir}: another monitor is running on this state "
                               "directory") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        return handle

    def snapshot(self) -> dict:
        return {"detector": self.detector.snapshot(), "health": self.health.snapshot(),
                "sources": self.source_state}

    def commit(self, events: list[AlertEvent], now: float) -> None:
        for event in events:
            if event.emitted_at is None:
                event.emitted_at = now
            level = logging.INFO if event.muted_by is None else logging.DEBUG
            log.log(level, "%s %s %s %s%s", event.event, event.type, event.prefix or event.source,
                    event.state, f" (muted by {event.muted_by})" if event.muted_by else "")
        self.outbox.add(events, self.snapshot())
        self._last_snapshot = now
        self.events += len(events)
        if events:
            self.deliverer.wake()

    def process(self, batch: list[SourceItem]) -> None:
        now = time.time()
        events: list[AlertEvent] = []
        for item in batch:
            # status items (reconnecting...) do not prove the feed works: observe() skips them
            events += self.health.observe(item, now)
            if item.kind == "status":
                log.info("%s: %s", item.source, item.detail)
            elif item.kind != "alive":  # routes, peer down/up, end of RIB
                events += self.detector.feed(item)
        self.items += len(batch)
        if events or now - self._last_snapshot >= SNAPSHOT_EVERY:
            self.commit(events, now)

    def _take(self, first: SourceItem | None = None) -> list[SourceItem]:
        assert self.queue is not None
        batch = [first] if first is not None else []
        while len(batch) < BATCH and not self.queue.empty():
            batch.append(self.queue.get_nowait())
        return batch

    async def consume(self) -> None:
        assert self.queue is not None
        while True:
            self.process(self._take(await self.queue.get()))

    def drain(self) -> None:
        """What the sources already handed over counts as read (their saved positions are past
        it): process it before the last snapshot, or it would be neither seen nor re-read."""
        while batch := self._take():
            self.process(batch)

    async def tick(self) -> None:
        while True:
            await asyncio.sleep(TICK)
            now = time.time()
            # detector.tick polls the mutes itself (it names the State on mute events)
            events = self.health.tick(now) + self.detector.tick(now)
            if events or now - self._last_snapshot >= SNAPSHOT_EVERY:
                self.commit(events, now)

    async def report(self) -> None:
        last_items, last = self.items, time.monotonic()
        while True:
            await asyncio.sleep(self.status_interval)
            now = time.monotonic()
            rate = (self.items - last_items) / max(now - last, 1e-9)
            last_items, last = self.items, now
            counts = self.outbox.counts()
            pending = sum(c.get("pending", 0) for c in counts.values())
            log.info("status: %d messages (%.0f/s), %d active alerts, %d events, outbox "
                     "pending %d, feeds %s", self.items, rate, len(self.detector.active()),
                     self.events, pending, self.health.status())

    async def run(self, stop: asyncio.Event) -> None:
        from .sources import run_source

        self.queue = asyncio.Queue(QUEUE_SIZE)
        prefixes = sorted({str(w.prefix) for w in self.watch.prefixes()})
        sources = [asyncio.create_task(run_source(spec, self.queue.put, prefixes=prefixes,
                                                  state=self.source_state[text],
                                                  options=self.source_options),
                                       name=f"source {text}")
                   for text, spec in self.sources]
        workers = [asyncio.create_task(self.consume(), name="detector"),
                   asyncio.create_task(self.tick(), name="tick"),
                   asyncio.create_task(self.report(), name="status")]
        delivery = asyncio.create_task(self.deliverer.run(stop), name="delivery")
        log.info("monitoring %d prefixes of %s from %s; alerts to %s", len(prefixes),
                 ", ".join(sorted(self.watch.states)), ", ".join(t for t, _ in self.sources),
                 ", ".join(self.destinations) or "the log only")
        stopper = asyncio.create_task(stop.wait())
        try:
            done, _ = await asyncio.wait([*sources, *workers, stopper],
                                         return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not stopper and task.exception() is not None:
                    raise task.exception()  # a source or the detector broke: exit non-zero
        finally:
            for task in sources:
                task.cancel()
            await asyncio.gather(*sources, return_exceptions=True)
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            self.drain()
            self.commit([], time.time())  # the positions reached, for the next start
            stop.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(delivery, 10)
            stopper.cancel()
            self.outbox.close()


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(message)s")
    try:
        monitor = Monitor(args)
    except MonitorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await monitor.run(stop)

    asyncio.run(main())
    log.info("stopped")
    return 0
