"""BMP (RFC 7854) decoding and the asyncio listener (observatory/routing/bmp*.py).

Crafted messages (tests/observatory/routing/bmp_bytes.py) cover every message type, 2- and 4-byte AS
paths, IPv6 through MP_REACH/MP_UNREACH, ADD-PATH learnt from Peer Up, and the malformed shapes; the
listener is driven over loopback sockets; the lab test has GoBGP export its Adj-RIB-In over BMP to
the listener while ExaBGP and BIRD announce to it (tests/observatory/routing/bgp_lab.py).
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import struct
import threading
import time
from pathlib import Path

import pytest

from sentinelle.observatory.routing.bmp import (
    MAX_MESSAGE,
    BmpError,
    BmpEvent,
    BmpSession,
    read_stream,
)
from sentinelle.observatory.routing.bmp_listener import serve
from sentinelle.observatory.routing.elements import Element
from tests.observatory.routing import bmp_bytes as b
from tests.observatory.routing.bgp_lab import (
    COLLECTOR_AS,
    COLLECTOR_IP,
    GOBGPD_CONF,
    GOBGPD_NEIGHBOR,
    HIJACKER_AS,
    HIJACKER_IP,
    HIJACKER_NEXT_HOP,
    ORIGIN_AS,
    ORIGIN_IP,
    ORIGIN_PREFIX,
    SUB_PREFIX,
    BgpLab,
    free_port,
    loopback_problem,
    missing_daemons,
    wait_for,
    which,
)

P1 = b.peer_header("192.0.2.7", 65001, 1_700_000_000)


def decode_all(data: bytes, session: BmpSession | None = None) -> list[Element | BmpEvent]:
    return list(read_stream(io.BytesIO(data), session=session))


def routes(items: list) -> list[tuple]:
    return [(e.kind, e.time, e.peer_ip, e.peer_asn, e.prefix, e.as_path) for e in items
            if isinstance(e, Element)]


# --- crafted messages --------------------------------------------------------------------------

def test_whole_session_every_message_type() -> None:
    session = BmpSession("10.9.9.9:1234")
    items = decode_all(b.sample_stream(), session)
    assert routes(items) == [
        ("A", 1_700_000_000, "192.0.2.7", 65001, "198.18.0.0/16", (65001, 4200000000)),
        ("A", 1_700_000_001, "2001:db8::7", 4200000001, "2001:db8:100::/48",
         (4200000001, 65003)),
        ("A", 1_700_000_002, "192.0.2.8", 65002, "198.51.100.0/24", (65002,)),
        ("A", 1_700_000_002, "192.0.2.8", 65002, "198.51.100.0/24", (65002,)),
        ("W", 1_700_000_000, "192.0.2.7", 65001, "198.18.0.0/16", ()),
        ("W", 1_700_000_001, "2001:db8::7", 4200000001, "2001:db8:100::/48", ()),
    ]
    events = [(e.kind, e.peer_ip) for e in items if isinstance(e, BmpEvent)]
    assert events == [("initiation", ""), ("peer_up", "192.0.2.7"), ("peer_up", "192.0.2.8"),
                      ("peer_down", "192.0.2.7"), ("termination", "")]
    init = items[0]
    assert isinstance(init, BmpEvent) and init.info["sysName"] == "edge1"
    # the router is named by its sysName from the Initiation on
    assert {e.collector for e in items if isinstance(e, Element)} == {"edge1"}
    first = items[2]
    assert isinstance(first, Element)
    assert first.origin() == 4200000000
    assert first.next_hop == "192.0.2.1"
    assert first.communities == ("65001:7",)
    assert first.raw.startswith(b"\x03") and first.source == "bmp:edge1"
    v6 = items[3]
    assert isinstance(v6, Element) and v6.next_hop == "2001:db8::1"
    down = [e for e in items if isinstance(e, BmpEvent) and e.kind == "peer_down"][0]
    assert down.info["reason"] == "remote system closed, no NOTIFICATION"
    term = items[-1]
    assert isinstance(term, BmpEvent) and term.info["reason"] == "administratively closed"
    stats = session.stats
    assert stats.messages["statistics report"] == 1
    assert stats.messages["route mirroring"] == 1
    assert stats.elements == 6


def test_two_byte_as_path_with_the_a_flag() -> None:
    peer = b.peer_header("192.0.2.9", 64512, 1_700_000_003, flags=b.FLAG_A)
    msg = b.route_monitoring(peer, b.update(attrs=b.ipv4_attrs([64512, 3356, 23456], size=2),
                                            announced=b.nlri("203.0.113.0/24")))
    assert routes(decode_all(msg)) == [
        ("A", 1_700_000_003, "192.0.2.9", 64512, "203.0.113.0/24", (64512, 3356, 23456))]


def test_two_byte_path_merged_with_as4_path() -> None:
    peer = b.peer_header("192.0.2.9", 64512, 1_700_000_003, flags=b.FLAG_A)
    as4 = b.attr(0xC0, 17, struct.pack(">BBI", 2, 1, 4200000000))
    msg = b.route_monitoring(peer, b.update(
        attrs=b.ipv4_attrs([64512, 23456], size=2) + as4, announced=b.nlri("203.0.113.0/24")))
    assert routes(decode_all(msg))[0][5] == (64512, 4200000000)


def test_addpath_needs_the_peer_up_capabilities() -> None:
    peer = b.peer_header("192.0.2.8", 65002, 1_700_000_002)
    rm = b.route_monitoring(peer, b.update(attrs=b.ipv4_attrs([65002]),
                                           announced=b.nlri("198.51.100.0/24", 7)))
    up = b.peer_up(peer, b.bgp_open(65000, b.addpath_cap(1, 1, 1)),
                   b.bgp_open(65002, b.addpath_cap(1, 1, 2)))
    assert [r[4] for r in routes(decode_all(up + rm))] == ["198.51.100.0/24"]
    # without the Peer Up the path identifier is read as prefixes: never the right route
    assert "198.51.100.0/24" not in [r[4] for r in routes(decode_all(rm))]
    # after a Peer Down the peer's ADD-PATH state is forgotten
    assert "198.51.100.0/24" not in [
        r[4] for r in routes(decode_all(up + b.peer_down(peer) + rm))]


def test_zero_timestamp_falls_back_to_now() -> None:
    peer = b.peer_header("192.0.2.7", 65001, 0)
    msg = b.route_monitoring(peer, b.update(attrs=b.ipv4_attrs([65001]),
                                            announced=b.nlri("198.18.0.0/16")))
    before = int(time.time())
    assert routes(decode_all(msg))[0][1] >= before


def test_empty_update_and_invalid_prefix_length() -> None:
    session = BmpSession("r")
    bad = bytes((33,)) + bytes(5)  # /33 in IPv4: dropped and counted, as the MRT reader does
    msg = b.route_monitoring(P1, b.update(attrs=b.ipv4_attrs([65001]), announced=bad))
    # an UPDATE with nothing in it is the IPv4 End-of-RIB marker (RFC 4724): an event, no route
    assert [(e.kind, e.info) for e in decode_all(b.route_monitoring(P1, b.update()) + msg,
                                                 session)] == [
        ("end_of_rib", {"family": "ipv4 unicast"})]
    assert session.stats.invalid_prefixes == 1


# --- malformed input: a clear error naming the offset -------------------------------------------

GOOD = b.initiation()


MALFORMED = [
    (GOOD + GOOD[:3], "truncated common header"),
    (GOOD + GOOD[:-2], "truncated: "),
    (GOOD + b"\x03\xff\xff\xff\xff\x00", f"exceeds the maximum {MAX_MESSAGE}"),
    (GOOD + b"\x01" + GOOD[1:], "version 1"),
    (GOOD + b.message(9, b""), "unknown message type 9"),
    (GOOD + b"\x03\x00\x00\x00\x02\x04", "shorter than the common header"),
    (GOOD + b.message(b.RM, P1[:20]), "too short for the per-peer header"),
    (GOOD + b.message(b.RM, P1 + b"\x00" * 16 + b.update()[16:]), "bad BGP marker"),
    (GOOD + b.message(b.RM, P1 + b.update()[:-1]), "does not fit the message"),
    (GOOD + b.message(b.RM, P1 + b.bgp(1, b"")), "not UPDATE"),
    (GOOD + b.message(b.RM, P1 + b.bgp(2, struct.pack(">HH", 9, 0))), "withdrawn routes"),
    (GOOD + b.message(b.RM, P1 + b.bgp(2, struct.pack(">HH", 0, 9))), "path attributes"),
    (GOOD + b.message(b.PEER_UP, P1 + bytes(20) + b.bgp_open(1)), "received OPEN"),
    (GOOD + b.message(b.INIT, b.tlv(2, b"xyz")[:-2]), "runs past the message"),
    (GOOD + b.message(b.INIT, b.tlv(2, b"x")[:2]), "truncated information TLV"),
]


@pytest.mark.parametrize(("data", "words"), MALFORMED, ids=[w for _, w in MALFORMED])
def test_malformed_message_names_its_offset(data: bytes, words: str) -> None:
    with pytest.raises(BmpError) as info:
        decode_all(data)
    assert info.value.offset == len(GOOD)
    assert f"offset {len(GOOD)}" in str(info.value)
    assert words in str(info.value)


def test_huge_length_is_refused_before_reading() -> None:
    class Guard(io.BytesIO):
        def read(self, n: int | None = -1) -> bytes:
            assert n is not None and 0 <= n <= MAX_MESSAGE, n
            return super().read(n)
    with pytest.raises(BmpError, match="exceeds the maximum"):
        list(read_stream(Guard(b"\x03\x7f\xff\xff\xff\x00" + bytes(100))))


# --- the listener --------------------------------------------------------------------------------

async def _send(port: int, data: bytes, wait_close: bool = True) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    got = b""
    if wait_close:
        got = await asyncio.wait_for(reader.read(), 5)  # b"" once the server closes
    else:
        writer.write_eof()
        await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return got


def test_listener_serves_several_routers_and_drops_a_broken_one(
        caplog: pytest.LogCaptureFixture) -> None:
    elements: list[Element] = []
    events: list[BmpEvent] = []

    async def on_event(ev: BmpEvent) -> None:  # coroutine callbacks are awaited
        events.append(ev)

    async def main() -> None:
        server = await serve("127.0.0.1", 0, elements.append, on_event)
        port = server.sockets[0].getsockname()[1]
        async with server:
            broken = b.initiation("bad") + b"\x02" + b.initiation()[1:]
            await asyncio.gather(
                _send(port, b.sample_stream(), wait_close=False),
                _send(port, broken),  # the server closes it: read() returns
                _send(port, b.initiation("huge") + b"\x03\xff\xff\xff\xff\x00"),
            )
            for _ in range(100):  # the "disconnected" events come just after the close
                if sum(e.kind == "disconnected" for e in events) == 3:
                    break
                await asyncio.sleep(0.02)

    with caplog.at_level(logging.WARNING, "sentinelle.observatory.routing.bmp_listener"):
        asyncio.run(asyncio.wait_for(main(), 20))
    assert len(elements) == 6
    gone = {e.router: e.info for e in events if e.kind == "disconnected"}
    assert "error" not in gone["edge1"]
    offset = len(b.initiation("bad"))
    assert f"at offset {offset}: version 2" in gone["bad"]["error"]
    assert "exceeds the maximum" in gone["huge"]["error"]
    assert sum(e.kind == "connected" for e in events) == 3
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "127.0.0.1:" in logged and f"offset {offset}" in logged


def test_listener_survives_a_failing_callback() -> None:
    seen: list[Element] = []

    def explode(el: Element) -> None:
        raise RuntimeError("consumer bug")

    async def main() -> None:
        server = await serve("127.0.0.1", 0, explode)
        port = server.sockets[0].getsockname()[1]
        async with server:
            await _send(port, b.sample_stream())  # closed after the first element
        server2 = await serve("127.0.0.1", 0, seen.append)
        async with server2:
            await _send(server2.sockets[0].getsockname()[1], b.sample_stream(), False)
            for _ in range(100):
                if len(seen) == 6:
                    break
                await asyncio.sleep(0.02)

    asyncio.run(asyncio.wait_for(main(), 20))
    assert len(seen) == 6


# --- the lab: GoBGP exporting BMP to the listener ------------------------------------------------

GOBGPD_BMP = """
[[bmp-servers]]
  [bmp-servers.config]
    address = "127.0.0.1"
    port = {port}
    route-monitoring-policy = "pre-policy"
"""


class BmpLab(BgpLab):
    """The hijack lab's collector, exporting its Adj-RIB-In over BMP to `bmp_port`."""

    bmp_port: int = 0

    def start_collector(self) -> None:
        neighbors = "".join(GOBGPD_NEIGHBOR.format(ip=ip, asn=asn, collector_ip=COLLECTOR_IP)
                            for ip, asn in ((ORIGIN_IP, ORIGIN_AS), (HIJACKER_IP, HIJACKER_AS)))
        conf = self.workdir / "gobgpd.toml"
        conf.write_text(GOBGPD_CONF.format(collector_as=COLLECTOR_AS, collector_ip=COLLECTOR_IP,
                                           bgp_port=self.bgp_port, neighbors=neighbors)
                        + GOBGPD_BMP.format(port=self.bmp_port))
        self._spawn("gobgpd", [which("gobgpd") or "gobgpd", "-f", str(conf), "-t", "toml", "-p",
                               "--api-hosts", f"127.0.0.1:{self.api_port}", "--pprof-disable"])
        wait_for("gobgpd's API", lambda: (self._alive(), self.gobgp("neighbor") is not None)[1],
                 self._budget(15), self.logs)

    def withdraw(self, prefix: str, next_hop: str = HIJACKER_NEXT_HOP) -> None:
        with (self.workdir / "commands.txt").open("a") as f:
            f.write(f"withdraw route {prefix} next-hop {next_hop}\n")


class ListenerThread:
    """The BMP listener on its own event loop in a thread; what it yields lands in lists."""

    def __init__(self) -> None:
        self.elements: list[Element] = []
        self.events: list[BmpEvent] = []
        self.port = free_port("127.0.0.1")
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(
            serve("127.0.0.1", self.port, self.elements.append, self.events.append))
        self.ready.set()
        self.loop.run_forever()
        self.server.close()
        self.loop.run_until_complete(self.server.wait_closed())
        self.loop.close()

    def __enter__(self) -> ListenerThread:
        self.thread.start()
        assert self.ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    def has(self, kind: str, peer_ip: str, prefix: str) -> list[Element]:
        return [e for e in list(self.elements)
                if (e.kind, e.peer_ip, e.prefix) == (kind, peer_ip, prefix)]


def _lab_missing() -> str | None:
    missing = missing_daemons()
    if missing:
        return f"BMP lab needs {', '.join(missing)} (apt-get install gobgpd bird2 exabgp)"
    return loopback_problem()


def test_lab_gobgp_exports_announce_and_withdraw_over_bmp(tmp_path: Path) -> None:
    problem = _lab_missing()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {problem}")
        pytest.skip(problem)
    with ListenerThread() as listener, BmpLab(tmp_path / "lab") as lab:
        lab.bmp_port = listener.port
        lab.deadline = time.monotonic() + 60

        def element(kind: str, peer_ip: str, prefix: str) -> Element:
            return wait_for(f"BMP {kind} {prefix} from {peer_ip}",
                            lambda: listener.has(kind, peer_ip, prefix),
                            lab._budget(15),
                            lambda: f"{lab.logs()}\nevents: {listener.events}\n"
                                    f"elements: {listener.elements}")[-1]

        lab.start_collector()
        lab.start_origin()
        lab.start_hijacker()
        lab.wait_established(HIJACKER_IP)
        lab.announce(SUB_PREFIX)
        announced = element("A", HIJACKER_IP, SUB_PREFIX)
        assert announced.peer_asn == HIJACKER_AS
        assert announced.as_path == (HIJACKER_AS,)
        assert announced.origin() == HIJACKER_AS
        assert announced.next_hop == HIJACKER_NEXT_HOP
        assert abs(announced.time - time.time()) < 60
        lab.withdraw(SUB_PREFIX)
        withdrawn = element("W", HIJACKER_IP, SUB_PREFIX)
        assert withdrawn.peer_asn == HIJACKER_AS
        # BIRD's announcement of the origin prefix, through the same BMP session
        lab.wait_established(ORIGIN_IP)
        origin = element("A", ORIGIN_IP, ORIGIN_PREFIX)
        assert origin.as_path == (ORIGIN_AS,) and origin.peer_asn == ORIGIN_AS
        ups = {e.peer_ip for e in listener.events if e.kind == "peer_up"}
        assert {HIJACKER_IP, ORIGIN_IP} <= ups
        assert any(e.kind == "initiation" for e in listener.events)
