"""A BGP hijack lab on loopback, run with real BGP software (used by
tests/observatory/routing/test_routing_lab.py).

Topology (every speaker on its own 127.0.0.0/8 address, every port unprivileged and free)::

    AS 65001 "origin"   BIRD 2     127.0.0.12 --eBGP--+
                                                      +--> 127.0.0.11 AS 65000 "collector"
    AS 65666 "hijacker" ExaBGP 4   127.0.0.13 --eBGP--+     GoBGP, [[mrt-dump]] type "updates"

The collector is passive; the speakers connect to it. It records every UPDATE it receives as
BGP4MP_MESSAGE_AS4 records in ``updates.mrt`` -- the same kind of file a RIPE RIS or RouteViews
collector publishes. The scenario plays in three steps, each awaited by polling the collector's
Adj-RIB-In over its gRPC API (``gobgp -j neighbor <ip> adj-in``), never by sleeping:

1. the origin AS 65001 announces ORIGIN_PREFIX (198.18.0.0/16, RFC 2544 benchmarking space);
2. the hijacker AS 65666 announces the same prefix (an exact-prefix origin hijack);
3. the hijacker announces a more-specific, SUB_PREFIX 198.18.1.0/24 (a sub-prefix hijack).

ExaBGP takes its announcements from a helper process (its text API) that forwards the lines the
lab appends to ``commands.txt``, which is how the lab orders steps 2 and 3 after step 1.

Next hops are documentation addresses (192.0.2.x) because GoBGP treats an UPDATE whose next hop
is a loopback address as a withdrawal; the MRT file keeps the raw message either way.

GoBGP formats an updates dump's file name with Go's time layout (it rotates the file at least
every 60 s), so digits in a path would be replaced by the clock: the lab runs gobgpd in its work
directory with the bare name ``updates.mrt``, which has no layout token and so survives rotation.
"""

from __future__ import annotations

import contextlib
import getpass
import ipaddress
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

COLLECTOR_IP = "127.0.0.11"
ORIGIN_IP = "127.0.0.12"
HIJACKER_IP = "127.0.0.13"
COLLECTOR_AS = 65000
ORIGIN_AS = 65001
HIJACKER_AS = 65666
ORIGIN_PREFIX = "198.18.0.0/16"
SUB_PREFIX = "198.18.1.0/24"
ORIGIN_NEXT_HOP = "192.0.2.12"
HIJACKER_NEXT_HOP = "192.0.2.13"

# Debian puts bird and exabgp in /usr/sbin, which an unprivileged user's PATH often lacks.
_SBIN = "/usr/local/sbin:/usr/sbin:/sbin"
PROGRAMS = ("gobgpd", "gobgp", "bird", "exabgp")


def which(name: str) -> str | None:
    """shutil.which, also looking in the sbin directories."""
    return shutil.which(name, path=os.environ.get("PATH", "") + ":" + _SBIN)


def missing_daemons() -> list[str]:
    """Names of the lab's programs that are not installed (Debian: gobgpd bird2 exabgp)."""
    return [name for name in PROGRAMS if which(name) is None]


def loopback_problem() -> str | None:
    """Why the lab's 127.0.0.x addresses cannot be used here (Linux routes all of 127/8 to lo;
    some systems only have 127.0.0.1), or None."""
    for ip in (COLLECTOR_IP, ORIGIN_IP, HIJACKER_IP):
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind((ip, 0))
        except OSError as exc:
            return f"cannot bind {ip}: {exc}"
    return None


class LabError(RuntimeError):
    """The lab did not reach the expected state in time; the message carries the daemon logs."""


def free_port(host: str) -> int:
    """A TCP port nobody listens on at `host` right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def wait_for(what: str, check: Callable[[], Any], timeout: float,
             on_fail: Callable[[], str]) -> Any:
    """Poll `check` until it returns something truthy; raise LabError with logs on timeout."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise LabError(f"timed out after {timeout:.0f}s waiting for {what}\n{on_fail()}")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)


# --- A minimal BGP4MP reader, independent of the code under test -------------------------------

def _prefixes(data: bytes) -> Iterator[str]:
    """IPv4 NLRI / withdrawn-routes field -> "a.b.c.d/len" strings."""
    i = 0
    while i < len(data):
        length = data[i]
        nbytes = (length + 7) // 8
        raw = data[i + 1:i + 1 + nbytes] + bytes(4 - nbytes)
        yield f"{ipaddress.IPv4Address(raw)}/{length}"
        i += 1 + nbytes


def _as_path(attrs: bytes, four_byte: bool) -> tuple[int, ...]:
    i = 0
    while i < len(attrs):
        flags, code = attrs[i], attrs[i + 1]
        if flags & 0x10:
            (alen,) = struct.unpack_from("!H", attrs, i + 2)
            start = i + 4
        else:
            alen = attrs[i + 2]
            start = i + 3
        if code == 2:  # AS_PATH
            hops: list[int] = []
            seg = attrs[start:start + alen]
            j = 0
            width = 4 if four_byte else 2
            while j < len(seg):
                count = seg[j + 1]
                hops += struct.unpack_from(f"!{count}{'I' if four_byte else 'H'}", seg, j + 2)
                j += 2 + count * width
            return tuple(hops)
        i = start + alen
    return ()


def mrt_announcements(path: Path) -> list[tuple[str, int, str, tuple[int, ...]]]:
    """(peer_ip, peer_as, prefix, as_path) for each IPv4 NLRI of each BGP4MP UPDATE in `path`.

    Only the record shapes GoBGP writes for this lab (BGP4MP MESSAGE / MESSAGE_AS4, IPv4 peers);
    used to wait for the dump and to cross-check the reader under test.
    """
    out: list[tuple[str, int, str, tuple[int, ...]]] = []
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return out
    i = 0
    while i + 12 <= len(data):
        _ts, mtype, subtype, length = struct.unpack_from("!IHHI", data, i)
        body = data[i + 12:i + 12 + length]
        i += 12 + length
        if len(body) < length or mtype not in (16, 17) or subtype not in (1, 4):
            continue
        four = subtype == 4
        asw = 4 if four else 2
        peer_as = struct.unpack_from("!I" if four else "!H", body, 0)[0]
        afi = struct.unpack_from("!H", body, 2 * asw + 2)[0]
        if afi != 1:
            continue
        off = 2 * asw + 4
        peer_ip = str(ipaddress.IPv4Address(body[off:off + 4]))
        msg = body[off + 8:]
        if len(msg) < 19 or msg[18] != 2:  # not an UPDATE
            continue
        (wlen,) = struct.unpack_from("!H", msg, 19)
        (alen,) = struct.unpack_from("!H", msg, 21 + wlen)
        attrs = msg[23 + wlen:23 + wlen + alen]
        path_hops = _as_path(attrs, four)
        for prefix in _prefixes(msg[23 + wlen + alen:]):
            out.append((peer_ip, peer_as, prefix, path_hops))
    return out


# --- The lab ------------------------------------------------------------------------------------

GOBGPD_CONF = """\
[global.config]
  as = {collector_as}
  router-id = "{collector_ip}"
  port = {bgp_port}
  local-address-list = ["{collector_ip}"]
{neighbors}
[[mrt-dump]]
  [mrt-dump.config]
    dump-type = "updates"
    file-name = "updates.mrt"
"""

GOBGPD_NEIGHBOR = """
[[neighbors]]
  [neighbors.config]
    neighbor-address = "{ip}"
    peer-as = {asn}
  [neighbors.transport.config]
    passive-mode = true
    local-address = "{collector_ip}"
"""

BIRD_CONF = """\
log stderr all;
router id {ip};
protocol device {{ }}
protocol static announced {{
  ipv4;
  route {prefix} blackhole;
}}
protocol bgp collector {{
  local {ip} port {port} as {asn};
  neighbor {collector_ip} port {bgp_port} as {collector_as};
  multihop 2;
  connect delay time 1;
  connect retry time 1;
  error wait time 1, 5;
  ipv4 {{
    import none;
    export filter {{ bgp_next_hop = {next_hop}; accept; }};
  }};
}}
"""

EXABGP_CONF = """\
process commands {{
  run {python} {feeder} {commands};
  encoder text;
}}
neighbor {collector_ip} {{
  router-id {ip};
  local-address {ip};
  local-as {asn};
  peer-as {collector_as};
  connect {bgp_port};
  family {{ ipv4 unicast; }}
  api {{ processes [ commands ]; }}
}}
"""

# ExaBGP reads announcements from its helper's stdout; this helper forwards whole lines appended
# to a file, so the lab decides when each announcement happens. It exits when its parent does.
FEEDER = """\
import os, sys, time
path, pos, parent = sys.argv[1], 0, os.getppid()
while os.getppid() == parent:
    try:
        with open(path) as f:
            f.seek(pos)
            chunk = f.read()
    except FileNotFoundError:
        chunk = ""
    if chunk.endswith("\\n"):
        sys.stdout.write(chunk)
        sys.stdout.flush()
        pos += len(chunk)
    time.sleep(0.05)
"""


@dataclass
class Daemon:
    name: str
    proc: subprocess.Popen
    log: Path


@dataclass
class BgpLab:
    """Start with `with BgpLab(workdir) as lab:`; every daemon is killed when the block ends."""

    workdir: Path
    bgp_port: int = 0
    api_port: int = 0
    daemons: list[Daemon] = field(default_factory=list)
    # All waits together stop here (time.monotonic()), so a stuck lab costs a bounded time.
    deadline: float | None = None

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.bgp_port = self.bgp_port or free_port(COLLECTOR_IP)
        self.api_port = self.api_port or free_port("127.0.0.1")

    @property
    def mrt_path(self) -> Path:
        return self.workdir / "updates.mrt"

    # -- process handling

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Daemon:
        log = self.workdir / f"{name}.log"
        with log.open("wb") as out:
            # Own session, so that stop() can end the daemon together with its helper processes.
            proc = subprocess.Popen(argv, cwd=self.workdir, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        daemon = Daemon(name, proc, log)
        self.daemons.append(daemon)
        return daemon

    def logs(self) -> str:
        parts = []
        for d in self.daemons:
            text = d.log.read_text(errors="replace") if d.log.exists() else ""
            state = "running" if d.proc.poll() is None else f"exited {d.proc.returncode}"
            parts.append(f"--- {d.name} ({state}), last lines of {d.log.name}:\n"
                         + "\n".join(text.splitlines()[-15:]))
        return "\n".join(parts)

    def stop(self) -> None:
        for d in reversed(self.daemons):
            if d.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(d.proc.pid, signal.SIGTERM)
        for d in reversed(self.daemons):
            try:
                d.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(d.proc.pid, signal.SIGKILL)
                d.proc.wait(timeout=5)
            # Helpers (ExaBGP's feeder) may outlive a daemon that exited; end the whole group.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(d.proc.pid, signal.SIGKILL)

    def __enter__(self) -> BgpLab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _budget(self, timeout: float) -> float:
        if self.deadline is None:
            return timeout
        return max(0.0, min(timeout, self.deadline - time.monotonic()))

    def _alive(self) -> None:
        for d in self.daemons:
            if d.proc.poll() is not None:
                raise LabError(f"{d.name} exited with {d.proc.returncode}\n{self.logs()}")

    # -- the collector's view, through its gRPC API

    def gobgp(self, *args: str) -> Any:
        """Run the gobgp CLI against the collector with JSON output; None if it fails."""
        argv = [which("gobgp") or "gobgp", "-u", "127.0.0.1", "-p", str(self.api_port), "-j", *args]
        run = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
        if run.returncode != 0:
            return None
        try:
            return json.loads(run.stdout or "null")
        except json.JSONDecodeError:
            return None

    def session_state(self, peer_ip: str) -> str:
        self._alive()
        peers = self.gobgp("neighbor") or []
        for peer in peers:
            if peer.get("state", {}).get("neighbor_address") == peer_ip:
                return str(peer["state"].get("session_state", ""))
        return ""

    def adj_in(self, peer_ip: str) -> dict[str, list[int]]:
        """prefix -> AS path of the routes the collector holds from `peer_ip`."""
        self._alive()
        table = self.gobgp("neighbor", peer_ip, "adj-in", "-a", "ipv4") or {}
        routes: dict[str, list[int]] = {}
        for prefix, paths in table.items():
            for path in paths:
                for attr in path.get("attrs", []):
                    if attr.get("type") == 2:  # AS_PATH
                        routes[prefix] = [asn for seg in attr.get("as_paths", [])
                                          for asn in seg.get("asns", [])]
                routes.setdefault(prefix, [])
        return routes

    def wait_established(self, peer_ip: str, timeout: float = 20) -> None:
        wait_for(f"the session with {peer_ip} to be Established",
                 lambda: self.session_state(peer_ip) in ("established", "6"),
                 self._budget(timeout), self.logs)

    def wait_route(self, peer_ip: str, prefix: str, as_path: list[int],
                   timeout: float = 15) -> None:
        wait_for(f"{prefix} path {as_path} from {peer_ip} at the collector",
                 lambda: self.adj_in(peer_ip).get(prefix) == as_path,
                 self._budget(timeout), self.logs)

    def wait_mrt(self, expected: set[tuple[str, str]], timeout: float = 10) -> None:
        """Wait until the dump holds an announcement of each (peer_ip, prefix)."""
        wait_for(f"announcements {sorted(expected)} in {self.mrt_path.name}",
                 lambda: expected <= {(a[0], a[2]) for a in mrt_announcements(self.mrt_path)},
                 self._budget(timeout), self.logs)

    # -- the speakers

    def start_collector(self) -> None:
        neighbors = "".join(GOBGPD_NEIGHBOR.format(ip=ip, asn=asn, collector_ip=COLLECTOR_IP)
                            for ip, asn in ((ORIGIN_IP, ORIGIN_AS), (HIJACKER_IP, HIJACKER_AS)))
        conf = self.workdir / "gobgpd.toml"
        conf.write_text(GOBGPD_CONF.format(collector_as=COLLECTOR_AS, collector_ip=COLLECTOR_IP,
                                           bgp_port=self.bgp_port, neighbors=neighbors))
        self._spawn("gobgpd", [which("gobgpd") or "gobgpd", "-f", str(conf), "-t", "toml", "-p",
                               "--api-hosts", f"127.0.0.1:{self.api_port}", "--pprof-disable"])
        wait_for("gobgpd's API", lambda: (self._alive(), self.gobgp("neighbor") is not None)[1],
                 self._budget(15), self.logs)

    def start_origin(self) -> None:
        """BIRD as AS 65001, announcing ORIGIN_PREFIX from a static route."""
        conf = self.workdir / "bird.conf"
        conf.write_text(BIRD_CONF.format(
            ip=ORIGIN_IP, port=free_port(ORIGIN_IP),
            asn=ORIGIN_AS, prefix=ORIGIN_PREFIX, collector_ip=COLLECTOR_IP,
            bgp_port=self.bgp_port, collector_as=COLLECTOR_AS, next_hop=ORIGIN_NEXT_HOP))
        # The control socket path is relative to the work directory (bird's cwd): a Unix socket
        # path is limited to 107 bytes and TMPDIR can be long.
        self._spawn("bird", [which("bird") or "bird", "-f", "-c", str(conf),
                             "-s", "bird.ctl", "-P", "bird.pid"])

    def start_hijacker(self) -> None:
        """ExaBGP as AS 65666; it announces nothing until announce() is called."""
        feeder = self.workdir / "feeder.py"
        feeder.write_text(FEEDER)
        commands = self.workdir / "commands.txt"
        commands.touch()
        conf = self.workdir / "exabgp.conf"
        conf.write_text(EXABGP_CONF.format(
            python=sys.executable, feeder=feeder, commands=commands, collector_ip=COLLECTOR_IP,
            ip=HIJACKER_IP, asn=HIJACKER_AS, collector_as=COLLECTOR_AS, bgp_port=self.bgp_port))
        env = dict(os.environ)
        env.update({
            # No control pipes (they live under /run), no privilege drop, nothing from /etc.
            "exabgp.api.cli": "false",
            "exabgp.api.ack": "false",
            "exabgp.daemon.user": getpass.getuser(),
            "exabgp.daemon.drop": "false",
            "exabgp.daemon.daemonize": "false",
            "exabgp.log.destination": "stdout",
            "exabgp.tcp.bind": "",
        })
        self._spawn("exabgp", [which("exabgp") or "exabgp", "--env",
                               str(self.workdir / "exabgp.env"), str(conf)], env=env)

    def announce(self, prefix: str, next_hop: str = HIJACKER_NEXT_HOP) -> None:
        """Have the hijacker (ExaBGP) announce `prefix`."""
        with (self.workdir / "commands.txt").open("a") as f:
            f.write(f"announce route {prefix} next-hop {next_hop}\n")

    # -- the whole scenario

    def run_hijack_scenario(self, budget: float = 45) -> Path:
        """Play the three steps of the module docstring within `budget` seconds; return the MRT
        file (complete: the lab waits until it holds all three announcements)."""
        self.deadline = time.monotonic() + budget
        self.start_collector()
        self.start_origin()
        self.start_hijacker()
        self.wait_established(ORIGIN_IP)
        self.wait_route(ORIGIN_IP, ORIGIN_PREFIX, [ORIGIN_AS])
        self.wait_established(HIJACKER_IP)
        self.announce(ORIGIN_PREFIX)
        self.wait_route(HIJACKER_IP, ORIGIN_PREFIX, [HIJACKER_AS])
        self.announce(SUB_PREFIX)
        self.wait_route(HIJACKER_IP, SUB_PREFIX, [HIJACKER_AS])
        self.wait_mrt({(ORIGIN_IP, ORIGIN_PREFIX), (HIJACKER_IP, ORIGIN_PREFIX),
                       (HIJACKER_IP, SUB_PREFIX)})
        return self.mrt_path
