"""The live monitor's lab: real BGP software feeding `sentinelle routing monitor`, and a webhook
receiver timing what the monitor delivers (issue 14, point 5;
tests/observatory/routing/test_routing_live_lab.py and bench/routing_live/delay.py, throughput.py).

Topology (tests/observatory/routing/bgp_lab.py, with GoBGP's BMP export as
tests/observatory/routing/test_routing_bmp.py's BmpLab)::

    BIRD   AS 65001 127.0.0.12 --+
                                 +--> GoBGP AS 65000 127.0.0.11 --BMP--> monitor --POST--> receiver
    ExaBGP AS 65666 127.0.0.13 --+     route server/collector,             webhook:URL  http.server
                                       also writing updates.mrt                         on loopback

A *cycle* is one hijack episode: the harness tells ExaBGP to announce the hijacked prefix and
waits for the "raised" delivery, then tells it to withdraw and waits for "resolved". The delay
of each is the delivery's arrival time (time.time() when the receiver got the request) minus
the moment the harness wrote the command for ExaBGP: everything in between counts (ExaBGP's
helper polling its command file every 50 ms, BGP to GoBGP, BMP export, the monitor's sources,
detector, outbox and webhook POST).

The RIS Live variant (tests/observatory/routing/routing_live_ris.py) replays a real RIS
recording (rrc00 2000-03-25, rendered as RIS Live frames) at its original pace through
tests/observatory/routing/ris_live_replay.py, with hijack and withdrawal frames injected at known
times; its delay is arrival minus the moment the replay server sent the injected frame.

Every wait polls with a timeout; nothing sleeps for an outcome.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.observatory.routing.bgp_lab import (
    COLLECTOR_AS,
    COLLECTOR_IP,
    GOBGPD_CONF,
    GOBGPD_NEIGHBOR,
    HIJACKER_AS,
    HIJACKER_IP,
    ORIGIN_AS,
    ORIGIN_IP,
    ORIGIN_PREFIX,
    LabError,
    free_port,
    loopback_problem,
    missing_daemons,
    wait_for,
    which,
)
from tests.observatory.routing.test_routing_bmp import GOBGPD_BMP, BmpLab

NUDGE_PREFIX = "198.51.100.0/24"  # outside the watch list: traffic that raises nothing
SECRET = "lab-webhook-secret"  # the receiver checks every delivery's signature with it
STATE = "CU"
WATCH_YAML = f"""\
states:
  {STATE}:
    asns: [{ORIGIN_AS}]
    prefixes:
      - prefix: {ORIGIN_PREFIX}
        origins: [{ORIGIN_AS}]
        max_length: 16
"""

# The installed console script, or the same entry point through the interpreter.
_SCRIPT = Path(sys.executable).with_name("sentinelle")
SENTINELLE = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "sentinelle.cli"]


def lab_problem() -> str | None:
    """Why the BGP lab cannot run here, or None."""
    missing = missing_daemons()
    if missing:
        return f"the live lab needs {', '.join(missing)} (apt-get install gobgpd bird2 exabgp)"
    return loopback_problem()


def monitor_problem() -> str | None:
    """Why `sentinelle routing monitor` cannot run here (not written yet, say), or None."""
    run = subprocess.run([*SENTINELLE, "routing", "monitor", "--help"], capture_output=True,
                         text=True, timeout=60, check=False)
    if run.returncode != 0:
        return f"`sentinelle routing monitor --help` failed: {(run.stderr or run.stdout)[-300:]}"
    return None


# --- the webhook receiver -------------------------------------------------------------------------

def verify_signature(secret: str, header: str, body: bytes, now: float | None = None,
                     tolerance: float = 300) -> bool:
    """The contract's `X-Sentinelle-Signature: t=<unix>,v1=<hex>`, v1 = HMAC-SHA256(secret,
    f"{t}.{body}"), checked here independently of the code under test."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        stamp = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        return False
    expected = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    now = time.time() if now is None else now
    return hmac.compare_digest(expected, given) and abs(now - stamp) <= tolerance


@dataclass
class Delivery:
    arrived: float  # time.time() when the request reached the receiver
    event: dict[str, Any]
    headers: dict[str, str]  # names in lower case
    signed: bool  # the signature verified with SECRET

    def get(self, name: str, default: Any = None) -> Any:
        return self.event.get(name, default)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        arrived = time.time()
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        receiver = self.server.receiver
        signed = verify_signature(receiver.secret, self.headers.get("X-Sentinelle-Signature", ""),
                                  body)
        try:
            event = json.loads(body)
        except ValueError:
            event = {"unparsed": body[:200].decode(errors="replace")}
        headers = {k.lower(): v for k, v in self.headers.items()}
        receiver._record(Delivery(arrived, event, headers, signed))
        status = 200 if signed and isinstance(event, dict) else 401
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        return


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    receiver: WebhookReceiver


class WebhookReceiver:
    """`with WebhookReceiver() as hook: ... hook.url ...`; every POST is kept in `deliveries`
    (answered 200 when signed with `secret`, 401 otherwise)."""

    def __init__(self, secret: str = SECRET) -> None:
        self.secret = secret
        self.deliveries: list[Delivery] = []
        self._cond = threading.Condition()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.receiver = self
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _record(self, delivery: Delivery) -> None:
        with self._cond:
            self.deliveries.append(delivery)
            self._cond.notify_all()

    def find(self, match: Callable[[Delivery], bool], start: int = 0) -> list[Delivery]:
        with self._cond:
            return [d for d in self.deliveries[start:] if match(d)]

    def wait(self, what: str, match: Callable[[Delivery], bool], timeout: float,
             start: int = 0, on_fail: Callable[[], str] = lambda: "") -> Delivery:
        """The first delivery from index `start` on that `match`es; LabError after `timeout`."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for delivery in self.deliveries[start:]:
                    if match(delivery):
                        return delivery
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(d.get("event"), d.get("type"), d.get("prefix"))
                            for d in self.deliveries]
                    raise LabError(f"timed out after {timeout:.0f}s waiting for {what}; "
                                   f"deliveries: {seen}\n{on_fail()}")
                self._cond.wait(min(left, 0.5))


def is_event(event: str, alert_type: str | None = None, prefix: str | None = None,
             alert_id: str | None = None) -> Callable[[Delivery], bool]:
    def match(d: Delivery) -> bool:
        return (d.get("event") == event
                and (alert_type is None or d.get("type") == alert_type)
                and (prefix is None or d.get("prefix") == prefix)
                and (alert_id is None or d.get("alert_id") == alert_id))
    return match


# --- the monitor process --------------------------------------------------------------------------

def tcp_ports(state: str) -> set[int]:
    """Local ports of IPv4 TCP sockets in `state` ("0A" LISTEN, "01" ESTABLISHED), from
    /proc/net/tcp: tells when the monitor listens and when GoBGP's BMP session is up without
    opening a connection the monitor would count."""
    ports: set[int] = set()
    with contextlib.suppress(OSError), open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            cols = line.split()
            if cols[3] == state:
                ports.add(int(cols[1].split(":")[1], 16))
    return ports


@dataclass
class Monitor:
    """`sentinelle routing monitor` as a subprocess (its own session, so kill() ends it whole)."""

    workdir: Path
    sources: list[str]
    alerts: list[str]
    state_dir: Path | None = None
    extra: list[str] = field(default_factory=list)
    secret: str = SECRET
    cpu: int | None = None  # pin to this core (one core, for the throughput bench)
    proc: subprocess.Popen | None = None
    starts: int = 0

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.state_dir = self.state_dir or self.workdir / "state"
        self.watch = self.workdir / "watch.yaml"
        self.watch.write_text(WATCH_YAML)

    def argv(self) -> list[str]:
        argv = [*SENTINELLE, "routing", "monitor", "--watch", str(self.watch),
                "--state-dir", str(self.state_dir), "--min-peers", "1", "--min-collectors", "1"]
        for source in self.sources:
            argv += ["--source", source]
        for alert in self.alerts:
            argv += ["--alert", alert]
        return argv + self.extra

    @property
    def log(self) -> Path:
        return self.workdir / f"monitor.{self.starts}.log"

    def start(self) -> Monitor:
        self.starts += 1
        env = dict(os.environ, SENTINELLE_WEBHOOK_SECRET=self.secret, PYTHONUNBUFFERED="1")
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(self.argv(), cwd=self.workdir, stdout=out,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         env=env, start_new_session=True)
        if self.cpu is not None:
            # Set before the interpreter has started its threads: they inherit it.
            os.sched_setaffinity(self.proc.pid, {self.cpu})
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def check(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise LabError(f"the monitor exited with {self.proc.returncode}\n{self.logs()}")

    def logs(self, lines: int = 25) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return f"--- monitor (start {self.starts}), last lines:\n" + "\n".join(
            text.splitlines()[-lines:])

    def wait_listening(self, port: int, timeout: float = 30) -> None:
        wait_for(f"the monitor to listen on port {port}",
                 lambda: (self.check(), port in tcp_ports("0A"))[1], timeout, self.logs)

    def cpu_seconds(self) -> float:
        """User + system CPU time the monitor has used so far (from /proc/PID/stat)."""
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def kill(self) -> None:
        """SIGKILL: no clean-up at all, as a crash or an OOM kill."""
        if self.alive():
            assert self.proc is not None
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if not self.alive():
            return
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.kill()

    def __enter__(self) -> Monitor:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- the BGP side ---------------------------------------------------------------------------------

class LiveLab(BmpLab):
    """BmpLab (GoBGP exporting BMP and writing MRT) whose announce/withdraw return the moment
    the command was handed to ExaBGP. The MRT dump goes to its own directory, `mrt/`, so that
    an `mrt-dir:` source sees only MRT files there (not the daemons' logs and configurations).
    `bmp_port` 0: no BMP export."""

    @property
    def mrt_path(self) -> Path:
        return self.workdir / "mrt" / "updates.mrt"

    def start_collector(self) -> None:
        neighbors = "".join(GOBGPD_NEIGHBOR.format(ip=ip, asn=asn, collector_ip=COLLECTOR_IP)
                            for ip, asn in ((ORIGIN_IP, ORIGIN_AS), (HIJACKER_IP, HIJACKER_AS)))
        conf = self.workdir / "gobgpd.toml"
        self.mrt_path.parent.mkdir(exist_ok=True)
        # A relative name without digits or Go time-layout words (see
        # tests/observatory/routing/bgp_lab.py).
        text = GOBGPD_CONF.format(collector_as=COLLECTOR_AS, collector_ip=COLLECTOR_IP,
                                  bgp_port=self.bgp_port, neighbors=neighbors
                                  ).replace('"updates.mrt"', '"mrt/updates.mrt"')
        if self.bmp_port:
            # Statistics reports every 15 s (GoBGP's minimum) keep the BMP feed audibly alive
            # between hijacks, as a router's would (the monitor's feed-lost timer counts any
            # message).
            text += GOBGPD_BMP.format(port=self.bmp_port) + "    statistics-timeout = 15\n"
        conf.write_text(text)
        self._spawn("gobgpd", [which("gobgpd") or "gobgpd", "-f", str(conf), "-t", "toml", "-p",
                               "--api-hosts", f"127.0.0.1:{self.api_port}", "--pprof-disable"])
        wait_for("gobgpd's API", lambda: (self._alive(), self.gobgp("neighbor") is not None)[1],
                 self._budget(15), self.logs)

    def _command(self, line: str) -> float:
        with (self.workdir / "commands.txt").open("a") as f:
            f.write(line + "\n")
            f.flush()
            return time.time()

    def announce(self, prefix: str, next_hop: str = "192.0.2.13") -> float:  # type: ignore[override]
        return self._command(f"announce route {prefix} next-hop {next_hop}")

    def withdraw(self, prefix: str, next_hop: str = "192.0.2.13") -> float:  # type: ignore[override]
        return self._command(f"withdraw route {prefix} next-hop {next_hop}")

    def bmp_connected(self) -> bool:
        """GoBGP holds a BMP session to the monitor (an ESTABLISHED socket on bmp_port)."""
        with contextlib.suppress(OSError), open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                cols = line.split()
                if cols[3] == "01" and int(cols[1].split(":")[1], 16) == self.bmp_port:
                    return True
        return False

    def reconnect_bmp(self, timeout: float = 20) -> None:
        """After the monitor died and listens again: make GoBGP open a new BMP session.

        GoBGP never reads its BMP socket, so it learns that the station died only when a write
        fails (the second one after the close) and then dials again at once. Announcing and
        withdrawing an unwatched prefix (TEST-NET-2) gives it writes to make; whatever they say
        is lost with the dead session, as the monitor's own routes would be."""
        deadline = time.monotonic() + timeout
        while not self.bmp_connected():
            if time.monotonic() > deadline:
                raise LabError(f"GoBGP did not reconnect to the BMP station in {timeout:.0f}s"
                               f"\n{self.logs()}")
            self.announce(NUDGE_PREFIX)
            time.sleep(0.2)
            self.withdraw(NUDGE_PREFIX)
            time.sleep(0.2)

    def start_all(self) -> None:
        """Collector, origin and hijacker up, the origin's route at the collector."""
        self.start_collector()
        self.start_origin()
        self.start_hijacker()
        self.wait_established(ORIGIN_IP)
        self.wait_route(ORIGIN_IP, ORIGIN_PREFIX, [ORIGIN_AS])
        self.wait_established(HIJACKER_IP)


@contextlib.contextmanager
def live_lab(workdir: Path, extra: list[str] | None = None, feed: str = "bmp",
             ) -> Iterator[tuple[LiveLab, WebhookReceiver, Monitor]]:
    """The webhook receiver, the monitor (webhook destination) and the BGP lab. `feed` "bmp":
    the monitor listens for GoBGP's BMP export, started first so that GoBGP's first dial finds
    it; "mrt-dir": the monitor tails the directory GoBGP writes its MRT dump in."""
    with WebhookReceiver() as hook, LiveLab(workdir / "lab") as lab:
        if feed == "bmp":
            lab.bmp_port = free_port("127.0.0.1")
            source = f"bmp:127.0.0.1:{lab.bmp_port}"
        else:
            lab.mrt_path.parent.mkdir(parents=True, exist_ok=True)
            source = f"mrt-dir:{lab.mrt_path.parent}"
        monitor = Monitor(workdir / "monitor", [source], [f"webhook:{hook.url}"],
                          extra=extra or [])
        with monitor:
            if feed == "bmp":
                monitor.wait_listening(lab.bmp_port)
            lab.start_all()
            if feed == "bmp":
                wait_for("GoBGP's BMP session to the monitor",
                         lambda: (monitor.check(), lab.bmp_connected())[1], 15,
                         lambda: monitor.logs() + "\n" + lab.logs())
            yield lab, hook, monitor


# --- cycles and figures ---------------------------------------------------------------------------

@dataclass
class Cycle:
    prefix: str
    announced: float  # when the harness told the hijacker to announce (time.time())
    raised: Delivery
    withdrawn: float
    resolved: Delivery

    @property
    def raised_delay(self) -> float:
        return self.raised.arrived - self.announced

    @property
    def resolved_delay(self) -> float:
        return self.resolved.arrived - self.withdrawn


def hijack_type(prefix: str) -> str:
    return "E|0" if prefix == ORIGIN_PREFIX else "S|0"


def run_cycles(lab: LiveLab, hook: WebhookReceiver, count: int, prefix: str = ORIGIN_PREFIX,
               timeout: float = 30, monitor: Monitor | None = None,
               progress: Callable[[int, Cycle], None] | None = None) -> list[Cycle]:
    """`count` hijack episodes of `prefix` by AS 65666, one after the other."""
    cycles: list[Cycle] = []
    kind = hijack_type(prefix)

    def logs() -> str:
        return (monitor.logs() if monitor else "") + "\n" + lab.logs()

    for number in range(count):
        # No pause between cycles: episodes that begin within one BGP second (BMP timestamps
        # are whole seconds) must still be told apart (alert ids <key>@<second>, -2, -3...).
        start = len(hook.deliveries)
        announced = lab.announce(prefix)
        raised = hook.wait(f"cycle {number + 1}: raised {kind} {prefix}",
                           is_event("raised", kind, prefix), timeout, start, logs)
        start = len(hook.deliveries)
        withdrawn = lab.withdraw(prefix)
        resolved = hook.wait(f"cycle {number + 1}: resolved {raised.get('alert_id')}",
                             is_event("resolved", kind, prefix, raised.get("alert_id")),
                             timeout, start, logs)
        cycle = Cycle(prefix, announced, raised, withdrawn, resolved)
        cycles.append(cycle)
        if progress:
            progress(number, cycle)
    return cycles


def percentile(values: Iterable[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100): an observed value, no interpolation."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def summary(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "p50": percentile(values, 50), "p95": percentile(values, 95),
            "max": max(values) if values else math.nan}


def summary_line(name: str, values: list[float]) -> str:
    s = summary(values)
    return (f"{name:<18} n={s['n']:<3} p50 {s['p50']:6.3f} s   p95 {s['p95']:6.3f} s   "
            f"max {s['max']:6.3f} s")
